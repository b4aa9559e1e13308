"""``ketasim claims``: how often the model's qualitative claims hold under the posterior.

The claims the model was designed around (a single infusion's course, six infusions against one, weekly
maintenance, therapy in the ketamine window, lifestyle, tolerance, the bereavement bridge, and switching each
mechanism off) are tests of the evidence, not constraints of the fit: for each posterior draw the typical
patient is simulated under each claim's plan (``ketasim.trials.constraints.claim_margins``), and the command
reports the share of draws under which each claim holds, in plain language. ``--typical`` checks the typical
values (posterior median) alone. A claim that fails is reported, never an error: the exit code is 0 unless
the input is wrong.
"""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ketasim.evidence.draws import DEFAULT_DRAWS
from ketasim.interfaces.cli import app

DISCLAIMER = "Research and decision-support software, not a medical device."

#: Plain-language statement of every claim (keys of ``claim_margins``), the typical patient throughout.
CLAIM_TEXT: dict[str, str] = {
    "single: 24 h drop >= 10": "one infusion lowers the depression score by at least 10 points at 24 hours",
    "single: 24 h drop <= 20": "one infusion lowers the depression score by at most 20 points at 24 hours",
    "single: drop within 4 h >= 8": "one infusion lowers the score by at least 8 points within 4 hours",
    "single: half-life >= 3 d": "half of one infusion's benefit lasts at least 3 days",
    "single: half-life <= 14 d": "half of one infusion's benefit is gone within 14 days",
    "single: < 1/3 left at 4 weeks": "less than a third of one infusion's benefit is left after 4 weeks",
    "six beat one (5 points deeper)": "six infusions over two weeks lower the score 5 points more than one",
    "six last longer than one": "the response to six infusions lasts longer than the response to one",
    "six: response lost after >= 7 d": "after six infusions the response lasts at least 7 days",
    "six: response lost within 56 d": "after six infusions the response is lost within 8 weeks",
    "six: back above 28 at +90 d": "three months after six infusions the score is back above 28",
    "weekly: trough change <= 3": "weekly maintenance keeps the score before each infusion within 3 points",
    "weekly: no loss of response": "weekly maintenance keeps the response throughout",
    "maintenance: 7 d < 14 d": "weekly maintenance keeps the score lower than every two weeks",
    "maintenance: 14 d < 28 d": "maintenance every two weeks keeps the score lower than every four weeks",
    "therapy: more skills in the window": "therapy in the days after the infusions builds more skills than later",
    "therapy: early lasts longer than late": "therapy started early makes the response last longer than late",
    "therapy: early < late": "therapy started early lowers the score more than therapy started late",
    "therapy: late < none": "therapy started late still lowers the score more than no therapy",
    "lifestyle extends the benefit": "lifestyle measures make the response last longer",
    "tolerance: daily < 0.8": "daily dosing for four weeks weakens the drug's effect below 80% of the first dose's",
    "tolerance: weekly > 0.9": "weekly dosing keeps more than 90% of the first dose's effect",
    "bridge stays well": "after a bereavement, induction and tapered maintenance keep a patient well",
    "chronic load relapses (>= 22)": "with a heavy ongoing burden the depression returns (score 22 or more)",
    "chronic load ends > 28": "with a heavy ongoing burden the score ends above 28",
    "knock-out pruning (2 points)": "switching off the loss of new connections lowers the score at three weeks "
                                    "by at least 2 points",
    "knock-out homeostasis (5 points)": "switching off the slow return to the old balance lowers the score at "
                                        "five months by at least 5 points",
    "knock-out load (10 points)": "switching off the ongoing burden lowers the score at ten months by at least "
                                  "10 points",
}


def claims_report(draws: int = DEFAULT_DRAWS, *, typical: bool = False, seed: int = 0,
                  progress=None) -> dict:
    """Share of posterior draws (or the typical values) under which each claim holds, with its plain-language
    statement and the median margin (in the claim's unit: points, days or a ratio)."""
    import numpy as np

    from ketasim.evidence.draws import draw_spec, parameter_sets
    from ketasim.trials.constraints import claim_margins

    spec = draw_spec(None if typical else draws, typical, seed=seed)
    sets = parameter_sets(spec)
    margins: list[dict[str, float]] = []
    for k, ps in enumerate(sets):
        margins.append(claim_margins(ps.params))
        if progress:
            progress(k + 1, len(sets))
    rows = []
    for key in margins[0]:
        m = np.array([d[key] for d in margins])
        rows.append({"claim": key, "statement": CLAIM_TEXT.get(key, key), "share_holding": float((m >= 0).mean()),
                     "draws_holding": int((m >= 0).sum()), "median_margin": float(np.median(m))})
    return {"draws": spec.draws, "parameters": spec.describe().split(";")[0], "claims": rows,
            "disclaimer": DISCLAIMER}


def _verdict(share: float) -> str:
    if share >= 0.9:
        return "supported"
    if share >= 0.5:
        return "uncertain"
    if share > 0.1:
        return "doubtful"
    return "not supported"


@app.command("claims")
def claims_command(
    draws: int = typer.Option(DEFAULT_DRAWS, "--draws", help="Posterior draws to check each claim under."),
    typical: bool = typer.Option(False, "--typical", help="Check the typical values (posterior median) only."),
    seed: int = typer.Option(0, "--seed", help="Seed of the choice of posterior draws."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """How often each of the model's qualitative claims holds under the posterior (plain language)."""
    from ketasim.errors import PlanError

    if not typical and draws < 2:
        raise PlanError("--draws", draws, "a whole number of posterior draws >= 2 (or --typical)")
    console = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console, transient=True, disable=as_json) as bar:
        task = bar.add_task("claims per draw", total=1 if typical else draws)
        report = claims_report(draws, typical=typical, seed=seed,
                               progress=lambda k, n: bar.update(task, completed=k))
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    n = report["draws"] or 1
    table = Table(title=f"the model's claims under {report['parameters']}", caption=DISCLAIMER)
    for col in ("claim", "holds in", "verdict"):
        table.add_column(col, overflow="fold")
    for r in sorted(report["claims"], key=lambda r: -r["share_holding"]):
        table.add_row(r["statement"], f"{r['draws_holding']} of {n} ({r['share_holding']:.0%})",
                      _verdict(r["share_holding"]))
    Console(width=140).print(table)
    held = sum(r["share_holding"] >= 0.9 for r in report["claims"])
    Console().print(f"{held} of {len(report['claims'])} claims hold in at least 90% of the "
                    f"{'posterior draws' if report['draws'] else 'checks'}; the others are not supported as "
                    "strongly by the evidence the model was fitted to.")
