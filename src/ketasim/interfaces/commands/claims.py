"""``ketasim claims``: how often the model's qualitative claims hold under the posterior.

The claims the model was designed around (a single infusion's course, six infusions against one, weekly
maintenance, therapy in the ketamine window, lifestyle, tolerance, the bereavement bridge, and switching each
mechanism off) are tests of the evidence, not constraints of the fit: for each posterior draw the typical
patient is simulated under each claim's plan (``ketasim.evidence.predictive.claim_probabilities``), and the command
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
    from ketasim.evidence.predictive import claim_probabilities

    if not typical and draws < 2:
        raise PlanError("--draws", draws, "a whole number of posterior draws >= 2 (or --typical)")
    console = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console, transient=True, disable=as_json) as bar:
        task = bar.add_task("claims per draw", total=1 if typical else draws)
        report = claim_probabilities(draws, typical=typical, seed=seed,
                                     progress=lambda k, n: bar.update(task, completed=k))
    report["disclaimer"] = DISCLAIMER
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
