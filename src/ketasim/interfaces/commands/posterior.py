"""``ketasim calibrate`` (the posterior over the population parameters) and ``ketasim posterior``.

``ketasim calibrate --out DIR`` runs the fit of ``ketasim.evidence.fit`` (emulated likelihood of the whole
evidence base, MCMC) into ``DIR``: ``posterior.parquet`` (the draws, one column per parameter),
``posterior.json`` (provenance, timings, diagnostics, the emulator's check) and ``calibrated.json`` (the
posterior median, the point estimate). It checkpoints as it goes; ``--resume`` continues an interrupted run.
``ketasim posterior --summary`` prints the shipped posterior: means, 90% intervals, R-hat and ESS.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ketasim.errors import PlanError
from ketasim.interfaces.app import app

DISCLAIMER = "Research and decision-support software, not a medical device."


@app.command("calibrate")
def calibrate_command(
    out: Path = typer.Option(..., "--out", help="Folder for posterior.parquet, posterior.json, calibrated.json."),
    resume: bool = typer.Option(False, "--resume", help="Continue from OUT/checkpoint.npz."),
    waves: str = typer.Option("300,200,200", "--waves", help="Simulations per design wave (comma-separated)."),
    validation: int = typer.Option(40, "--validation", help="Posterior draws simulated to check the emulator."),
    steps: int = typer.Option(16000, "--steps", help="MCMC steps of the final sampling (the first half burn-in)."),
    draws: int = typer.Option(400, "--draws", help="Posterior draws written (at least 200 ship)."),
    n_patients: int = typer.Option(0, "--n", help="Virtual patients per study (default 300; SUSTAIN-1 800)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the virtual cohorts (common random numbers)."),
    design_seed: int = typer.Option(1, "--design-seed", help="Seed of the design and of the sampler."),
) -> None:
    """Fit the posterior of the population parameters to the whole evidence base (emulator + MCMC)."""
    from ketasim.evidence.fit import FitConfig, run_fit

    try:
        wave_sizes = tuple(int(w) for w in waves.split(",") if w.strip())
    except ValueError:
        raise PlanError("--waves", waves, "comma-separated whole numbers, e.g. 300,200,200") from None
    if not wave_sizes or min(wave_sizes) < 2:
        raise PlanError("--waves", waves, "one or more waves of at least 2 simulations")
    if steps < 10 or draws < 1 or validation < 0 or n_patients < 0:
        raise PlanError("--steps/--draws/--validation/--n", (steps, draws, validation, n_patients),
                        "steps >= 10, draws >= 1, validation >= 0, n >= 0")
    config = FitConfig(seed=seed, design_seed=design_seed, waves=wave_sizes, validation=validation,
                       steps=steps, burn=steps // 2, draws=draws, n_patients=n_patients)
    if out.exists() and not out.is_dir():
        raise PlanError("--out", str(out), "a folder (it is a file)")
    command = "ketasim calibrate " + " ".join(shlex.quote(a) for a in sys.argv[2:])
    console = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console) as bar:
        tasks: dict[str, int] = {}

        def progress(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total)
            bar.update(tasks[name], completed=done)

        record = run_fit(out, config, resume=resume, command=command.strip(), progress=progress)
    sec = record["seconds"]
    Console().print(f"posterior written to {out} ({record['simulations']} simulations of the evidence base, "
                    f"{sec['wall_total'] / 60:.1f} min wall, {sec['cpu_total'] / 60:.1f} min CPU); emulator check: "
                    f"{record['validation']['share_within_2sd']:.0%} of simulated summaries within 2 SD of the "
                    "emulator at posterior draws")


@app.command("posterior")
def posterior_command(
    summary: bool = typer.Option(True, "--summary/--no-summary", help="Means, 90% intervals, R-hat and ESS."),
    path: Path = typer.Option(None, "--path", help="A posterior.parquet (default: the shipped one)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Summarise the posterior over the population parameters."""
    import json

    from ketasim.evidence.posterior import load_posterior

    post = load_posterior(path)
    table = post.summary()
    if as_json:
        typer.echo(json.dumps({"disclaimer": DISCLAIMER, "draws": post.n_draws, "provenance": {
            k: post.provenance.get(k) for k in ("date", "command", "method", "seconds", "validation")},
            "summary": table.reset_index().to_dict(orient="records")}, indent=1, default=float))
        return
    if not summary:
        return
    t = Table(title=f"posterior: {post.n_draws} draws ({post.provenance.get('date', '')})", caption=DISCLAIMER)
    for col in ("parameter", "mean", "5%", "median", "95%", "R-hat", "ESS", "prior range"):
        t.add_column(col)
    for name, row in table.iterrows():
        t.add_row(str(name), f"{row['mean']:.4g}", f"{row['q05']:.4g}", f"{row['median']:.4g}", f"{row['q95']:.4g}",
                  "-" if row["rhat"] != row["rhat"] else f"{row['rhat']:.3f}",
                  "-" if row["ess_bulk"] != row["ess_bulk"] else f"{row['ess_bulk']:.0f}", row["prior"])
    Console(width=160).print(t)
    Console().print(f"method: {post.provenance.get('method', '')}")
