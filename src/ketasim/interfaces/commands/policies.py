"""``ketasim policies --out DIR``: maintenance policies compared on a virtual population over a year.

Fixed intervals (7, 14, 21, 28 days), taper, symptom-triggered and forecast-triggered policies,
each with and without psychotherapy (``ketasim.planning.policies``). Writes ``DIR/policies.csv``
(one row per policy: infusions per year, days in remission, relapses, with Monte-Carlo standard
errors, and whether the policy is on the Pareto frontier), ``DIR/policy_patients.csv`` (one row
per patient and policy), ``DIR/frontier.csv`` (the trade-off stated: each policy's mean utility, days in
remission - lambda x infusions, over a grid of lambda, with the oracle fixed interval) and ``DIR/pareto.png``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from rich.console import Console

from ketasim.interfaces.app import app
from ketasim.interfaces.options import FORCE_HELP, SEED, SEED_MAX, check_range, within

MIN_PATIENTS, MAX_PATIENTS = 2, 2_000  # about 0.9 MB and 0.3 s per patient (measured): 2 GB, 10 min
MIN_PARTICLES, MAX_PARTICLES = 8, 512


def run_policies(out: Path, *, patients: int = 100, seed: int = 0, particles: int = 32, therapy: bool = True,
                 progress=None, force: bool = False):
    """Simulate the default policies and write the outputs; return the results.

    ``out`` is written through :func:`ketasim.interfaces.outputs.output_folder` (complete or not at all).
    """
    from ketasim.interfaces.outputs import output_folder

    check_range("--patients", patients, MIN_PATIENTS, MAX_PATIENTS, what="virtual patients")
    check_range("--particles", particles, MIN_PARTICLES, MAX_PARTICLES, what="particles per patient")
    check_range("--seed", seed, 0, SEED_MAX)
    with output_folder(out, force=force) as folder:
        return _policies_into(folder, patients=patients, seed=seed, particles=particles, therapy=therapy,
                              progress=progress)


def _policies_into(out: Path, *, patients: int, seed: int, particles: int, therapy: bool, progress):
    from ketasim.planning.policies import (
        PolicySetting,
        default_policies,
        plot_policies,
        policy_frontier,
        simulate_policies,
    )

    setting = PolicySetting(n_particles=particles)
    t0 = time.perf_counter()
    res = simulate_policies(default_policies(therapy=therapy), n_patients=patients, seed=seed, setting=setting,
                            progress=progress)
    res.summary.to_csv(out / "policies.csv", index=False, float_format="%.4g")
    res.patients.to_csv(out / "policy_patients.csv", index=False, float_format="%.4g")
    policy_frontier(res).to_csv(out / "frontier.csv", index=False, float_format="%.4g")
    plot_policies(res, str(out / "pareto.png"))
    meta = {"patients": patients, "seed": seed, "particles_per_patient": particles,
            "seconds": round(time.perf_counter() - t0, 1),
            "note": "research and decision-support software, not a medical device"}
    (out / "policies.json").write_text(json.dumps(meta, indent=2))
    return res


@app.command("policies")
def policies_command(
    out: Path = typer.Option(Path("policies-out"), "--out", help="Output directory."),
    patients: int = typer.Option(100, callback=within(MIN_PATIENTS, MAX_PATIENTS, what="virtual patients"),
                                 help=f"Virtual patients, the same ones under every policy ({MIN_PATIENTS}-"
                                      f"{MAX_PATIENTS:,})."),
    seed: int = typer.Option(0, callback=SEED, help="Random seed of the population and the ratings."),
    particles: int = typer.Option(32, callback=within(MIN_PARTICLES, MAX_PARTICLES, what="particles per patient"),
                                  help=f"Posterior particles per patient for the forecast-triggered policies "
                                       f"({MIN_PARTICLES}-{MAX_PARTICLES})."),
    therapy: bool = typer.Option(True, help="Also run every policy with psychotherapy."),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
) -> None:
    """Compare maintenance policies on a virtual population: infusions per year vs days in remission and relapses.

    Research and decision-support software, not a medical device.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    console = Console(width=max(Console().width, 110))
    with Progress(TextColumn("[bold]simulating a year of visits"), BarColumn(), TextColumn("{task.completed}/"
                  "{task.total} visits"), TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task("visits", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        res = run_policies(out, patients=patients, seed=seed, particles=particles, therapy=therapy,
                           progress=progress, force=force)
    table = Table(title=f"Maintenance policies, {patients} virtual patients, one year")
    for col in ("policy", "infusions/yr", "days in remission", "relapses/pt-yr", "with relapse", "Pareto"):
        table.add_column(col)
    for _, r in res.summary.iterrows():
        table.add_row(r.policy, f"{r.infusions_per_year:.1f}", f"{r.days_in_remission:.0f} ± "
                      f"{1.96 * r.days_in_remission_se:.0f}", f"{r.relapses_per_patient_year:.2f}",
                      f"{r.share_with_relapse:.0%}", "yes" if r.pareto else "")
    console.print(table)
    from ketasim.planning.policies import policy_frontier

    fr = policy_frontier(res)
    for lam, g in fr.groupby("lambda"):
        b = g[g.best].iloc[0]
        console.print(f"  one infusion worth {lam:g} days in remission: most benefit with {b.policy} "
                      f"(utility {b.utility:.0f} ± {1.96 * b.utility_se:.0f})")
    console.print(f"wrote {out / 'policies.csv'}, {out / 'policy_patients.csv'}, {out / 'frontier.csv'}, "
                  f"{out / 'pareto.png'}")
    console.print("[dim]Research and decision-support software, not a medical device.[/dim]")
