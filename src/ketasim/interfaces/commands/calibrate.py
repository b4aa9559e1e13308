"""``ketasim calibrate``: fit the population response parameters to every clinical target at once.

CMA-ES on the weighted discrepancy between the virtual trials and the published figures, with common
random numbers (fixed virtual cohorts and rating noise), started from the bundled start point
(``ketasim/data/calibration_start.json``: where the global searches from the declared values led, with
their provenance) or, with ``--from-declared --coarse-evaluations N``, a global search from the declared
values. Writes the calibration (parameters, variabilities, measurement fluctuation, the targets at the
optimum, the discrepancy, the date and the command that reproduces it) to ``--out`` (default: the
shipped ``ketasim/data/calibrated.json``).
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

DEFAULT_COARSE = 0
DEFAULT_EVALUATIONS = 500


@app.command("calibrate")
def calibrate_command(
    coarse_evaluations: int = typer.Option(DEFAULT_COARSE, "--coarse-evaluations",
                                           help="Evaluations of the global search on smaller cohorts (0: skip)."),
    evaluations: int = typer.Option(DEFAULT_EVALUATIONS, "--evaluations",
                                    help="Evaluations of the refinement on the full cohorts; the budgets fix the "
                                         "result (reproducible)."),
    minutes: float = typer.Option(27.0, "--minutes",
                                  help="Safety wall-clock limit; if reached, the best point so far is kept (and the "
                                       "result then depends on the machine's speed)."),
    profile: bool = typer.Option(True, "--profile/--no-profile",
                                 help="Identifiability slices through the optimum (about 100 more evaluations)."),
    start: Path = typer.Option(None, "--start",
                               help="Start from this calibration JSON (default: the bundled "
                                    "ketasim/data/calibration_start.json)."),
    from_declared: bool = typer.Option(False, "--from-declared",
                                       help="Start from the declared (assumed) values instead of the start file "
                                            "(a global search: give --coarse-evaluations, e.g. 1600)."),
    from_shipped: bool = typer.Option(False, "--from-shipped",
                                      help="Start from the shipped calibration instead of the start file."),
    n_patients: int = typer.Option(0, "--n", help="Virtual patients per study (default: 500; SUSTAIN-1 800)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the virtual cohorts (common random numbers)."),
    optimiser_seed: int = typer.Option(1, "--optimiser-seed", help="Seed of CMA-ES."),
    popsize: int = typer.Option(0, "--popsize", help="CMA-ES population size (default: cma's choice)."),
    sigma: float = typer.Option(0.2, "--sigma", help="CMA-ES initial step of the coarse search (unit cube)."),
    fine_sigma: float = typer.Option(0.06, "--fine-sigma", help="CMA-ES initial step of the refinement (unit cube)."),
    studies: str = typer.Option("", "--studies", help="Comma-separated study ids (default: every built-in)."),
    weight: list[str] = typer.Option(None, "--weight",
                                     help="TARGET=W: weight of one target in the discrepancy (default 1; repeatable)."),
    out: Path = typer.Option(None, "--out", help="Where to write the calibration JSON (default: shipped file)."),
) -> None:
    """Calibrate the response parameters, their variabilities and the symptom fluctuation to the targets."""
    from ketasim.trials.calibrate import (
        Calibration,
        calibrate_two_phase,
        calibration_record,
        load_start,
        profile_slices,
        shipped_path,
        start_path,
        write_record,
    )
    from ketasim.trials.studies import get_study

    if evaluations < 1:
        raise PlanError("--evaluations", evaluations, "at least 1")
    if coarse_evaluations < 0:
        raise PlanError("--coarse-evaluations", coarse_evaluations, "0 or more")
    if minutes <= 0:
        raise PlanError("--minutes", minutes, "a positive number of minutes")
    if n_patients < 0:
        raise PlanError("--n", n_patients, "a positive number of virtual patients")
    if sum((from_declared, from_shipped, start is not None)) > 1:
        raise PlanError("--start/--from-declared/--from-shipped", "more than one", "at most one starting point")
    start_record = None if (from_declared or from_shipped) else load_start(start or start_path())
    weights = _weights(weight or [])
    chosen = [get_study(s.strip()) for s in studies.split(",") if s.strip()] or None
    console = Console(stderr=True)
    console.print("Setting up the virtual cohorts (common random numbers)...")
    total = coarse_evaluations + evaluations
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} evals"),
                  TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task("calibrating", total=total)

        def progress(phase: str, n: int, best: float, seconds: float) -> None:
            bar.update(task, completed=min(n, total), description=f"{phase}: best discrepancy {best:.2f}")

        if coarse_evaluations > 0:
            cal, result = calibrate_two_phase(chosen, n_patients or None, seed,
                                              coarse_evaluations=coarse_evaluations, fine_evaluations=evaluations,
                                              sigma0=sigma, fine_sigma=fine_sigma, popsize=popsize or None,
                                              optimiser_seed=optimiser_seed, max_seconds=minutes * 60.0,
                                              from_shipped=from_shipped, start=start_record, weights=weights,
                                              progress=progress)
        else:
            cal = Calibration(studies=chosen, n_patients=n_patients or None, seed=seed, from_shipped=from_shipped,
                              start=start_record, weights=weights)
            result = cal.run(max_evaluations=evaluations, max_seconds=minutes * 60.0, sigma0=fine_sigma,
                             popsize=popsize or None, optimiser_seed=optimiser_seed,
                             progress=lambda n, d, sec: progress("fine", n, d, sec))
        slices = None
        if profile:
            ptask = bar.add_task("identifiability slices", total=len(cal.free) * 6)
            slices = profile_slices(cal, result.best, progress=lambda k, n: bar.update(ptask, completed=k))
    command = "ketasim calibrate " + " ".join(shlex.quote(a) for a in sys.argv[2:]) if len(sys.argv) > 1 \
        else "ketasim calibrate"
    record = calibration_record(cal, result, command.strip(), slices)
    path = write_record(record, out if out is not None else shipped_path())
    table = Table(title=f"calibration: discrepancy {result.start.discrepancy:.2f} -> {result.best.discrepancy:.2f} "
                        f"({result.evaluations} evaluations, {result.seconds / 60:.1f} min, {result.stop_reason})")
    for col in ("parameter", "value"):
        table.add_column(col)
    for key, value in result.values().items():
        table.add_row(key, f"{value:.4g}")
    Console().print(table)
    Console().print(f"{record['within_band']} of {record['n_targets']} targets within band; written to {path}")
    if "time budget" in result.stop_reason:
        Console().print("[yellow]stopped by the time limit before the evaluation budget: the result depends on this "
                        "machine's speed; rerun with more --minutes to reproduce the shipped set exactly[/yellow]")


def _weights(items: list[str]) -> dict[str, float]:
    """``["id=w", ...]`` -> ``{id: w}``; names the bad item and what is allowed."""
    from ketasim.trials.targets import TARGETS_BY_ID

    out: dict[str, float] = {}
    for item in items:
        name, _, value = item.partition("=")
        if name.strip() not in TARGETS_BY_ID:
            raise PlanError("--weight", item, "TARGET=W with TARGET one of " + ", ".join(TARGETS_BY_ID))
        try:
            w = float(value)
        except ValueError:
            w = float("nan")
        if not (w >= 0.0 and w < float("inf")):
            raise PlanError("--weight", item, "TARGET=W with W a finite number >= 0")
        out[name.strip()] = w
    return out
