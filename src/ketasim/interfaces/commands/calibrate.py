"""``ketasim calibrate-bands``: the earlier band fit of the population response parameters to every target.

Kept for comparison; ``ketasim calibrate`` (:mod:`ketasim.interfaces.commands.posterior`) fits the posterior.

CMA-ES on the weighted discrepancy between the virtual trials and the published figures, with common
random numbers (fixed virtual cohorts and rating noise), started from the bundled start point
(``ketasim/data/calibration_start.json``: where the global searches from the declared values led, with
their provenance) or, with ``--from-declared --coarse-evaluations N``, a global search from the declared
values. Writes the calibration (parameters, variabilities, measurement fluctuation, the targets at the
optimum, the discrepancy, the date and the command that reproduces it) to ``--out`` (default:
``calibrated.json`` in the working folder). ``--install`` writes the checkout's
``src/ketasim/data/calibrated.json`` instead (the shipped calibration every later result uses), and
only when ketasim is installed editable from that checkout; the installed package is never written
otherwise. While that file is the posterior median written by ``ketasim calibrate --install`` (the shipped
parameters), ``--install`` is refused unless ``--replace-posterior-median`` is given too.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from ketasim.errors import OptionError
from ketasim.interfaces.app import app
from ketasim.interfaces.options import SEED, SEED_MAX, input_file, within

DEFAULT_COARSE = 0
DEFAULT_EVALUATIONS = 500
DEFAULT_OUT = "calibrated.json"
MAX_EVALUATIONS = 100_000
MAX_MINUTES = 7 * 24 * 60.0
MAX_PATIENTS = 100_000
MAX_POPSIZE = 1000


@app.command("calibrate-bands")
def calibrate_command(
    coarse_evaluations: int = typer.Option(DEFAULT_COARSE, "--coarse-evaluations",
                                           callback=within(0, MAX_EVALUATIONS, what="evaluations"),
                                           help="Evaluations of the global search on smaller cohorts (0: skip)."),
    evaluations: int = typer.Option(DEFAULT_EVALUATIONS, "--evaluations",
                                    callback=within(1, MAX_EVALUATIONS, what="evaluations"),
                                    help="Evaluations of the refinement on the full cohorts; the budgets fix the "
                                         "result (reproducible)."),
    minutes: float = typer.Option(27.0, "--minutes", callback=within(0, MAX_MINUTES, lo_open=True, what="minutes"),
                                  help="Safety wall-clock limit; if reached, the best point so far is kept (and the "
                                       "result then depends on the machine's speed)."),
    profile: bool = typer.Option(True, "--profile/--no-profile",
                                 help="Identifiability slices through the optimum (about 100 more evaluations)."),
    start: Path = typer.Option(None, "--start", callback=input_file,
                               help="Start from this calibration JSON (default: the bundled "
                                    "ketasim/data/calibration_start.json)."),
    from_declared: bool = typer.Option(False, "--from-declared",
                                       help="Start from the declared (assumed) values instead of the start file "
                                            "(a global search: give --coarse-evaluations, e.g. 1600)."),
    from_shipped: bool = typer.Option(False, "--from-shipped",
                                      help="Start from the shipped calibration instead of the start file."),
    n_patients: int = typer.Option(0, "--n", callback=within(1, MAX_PATIENTS, what="virtual patients per study",
                                                             also=(0,)),
                                   help="Virtual patients per study (0: the default, 500; SUSTAIN-1 800)."),
    seed: int = typer.Option(0, "--seed", callback=SEED, help="Seed of the virtual cohorts (common random numbers)."),
    optimiser_seed: int = typer.Option(1, "--optimiser-seed", callback=within(1, SEED_MAX, what="(0 would make "
                                                                                                 "CMA-ES seed itself "
                                                                                                 "from the clock)"),
                                       help="Seed of CMA-ES."),
    popsize: int = typer.Option(0, "--popsize", callback=within(2, MAX_POPSIZE, what="points per generation",
                                                                also=(0,)),
                                help="CMA-ES population size (0: cma's choice)."),
    sigma: float = typer.Option(0.2, "--sigma", callback=within(0, 1, lo_open=True, what="(unit cube)"),
                                help="CMA-ES initial step of the coarse search (unit cube)."),
    fine_sigma: float = typer.Option(0.06, "--fine-sigma", callback=within(0, 1, lo_open=True, what="(unit cube)"),
                                     help="CMA-ES initial step of the refinement (unit cube)."),
    studies: str = typer.Option("", "--studies", help="Comma-separated study ids (default: every built-in)."),
    weight: list[str] = typer.Option(None, "--weight",
                                     help="TARGET=W: weight of one target in the discrepancy (default 1; repeatable)."),
    out: Path = typer.Option(None, "--out", help="Where to write the calibration JSON (default: calibrated.json in "
                                                 "the working folder)."),
    install: bool = typer.Option(False, "--install",
                                 help="Write the shipped calibration (src/ketasim/data/calibrated.json of the checkout "
                                      "ketasim is installed editable from; refused for any other install). Refused "
                                      "while that file is the posterior median of 'ketasim calibrate' (the shipped "
                                      "parameters) unless --replace-posterior-median is given too."),
    replace_posterior_median: bool = typer.Option(False, "--replace-posterior-median",
                                                  help="With --install: replace the shipped posterior median by "
                                                       "this band fit on purpose (posterior.parquet is left as it "
                                                       "is and no longer matches calibrated.json)."),
) -> None:
    """Legacy: fit the response parameters to the targets' bands (CMA-ES, claims as penalties); see calibrate."""
    from ketasim.interfaces.outputs import output_file
    from ketasim.trials.calibrate import load_start, start_path
    from ketasim.trials.studies import get_study

    if sum((from_declared, from_shipped, start is not None)) > 1:
        raise OptionError("--start/--from-declared/--from-shipped", "more than one", "at most one starting point")
    if install and out is not None:
        raise OptionError("--install/--out", "both", "one of them: --install writes the shipped calibration, --out "
                                                     "any other file")
    start_record = None if (from_declared or from_shipped) else load_start(start or start_path())
    weights = _weights(weight or [])
    chosen = [get_study(s.strip()) for s in studies.split(",") if s.strip()] or None
    if replace_posterior_median and not install:
        raise OptionError("--replace-posterior-median", "without --install", "only together with --install")
    target, option = (checkout_calibration(), "--install") if install else (out or Path(DEFAULT_OUT), "--out")
    if install and not replace_posterior_median:
        refuse_replacing_posterior_median(target)
    with output_file(target, option=option, inputs=[start] if start is not None else (),
                     allow_package=install) as tmp:
        record, result = _calibrate(tmp, chosen, n_patients, seed, coarse_evaluations, evaluations, sigma, fine_sigma,
                                    popsize, optimiser_seed, minutes, from_shipped, start_record, weights, profile)
    _print_result(record, result, target.absolute())


def checkout_calibration() -> Path:
    """``src/ketasim/data/calibrated.json`` of the checkout ketasim runs from and is installed editable from.

    Raises :class:`~ketasim.errors.OptionError` naming the path when ketasim is not an editable
    install of a checkout (then write with ``--out`` and copy the file by hand).
    """
    from ketasim.interfaces.outputs import package_folder

    package = package_folder()
    shipped = package / "data" / "calibrated.json"
    root = package.parent.parent
    editable = _editable_root()
    if package.parent.name != "src" or not (root / "pyproject.toml").is_file() or editable is None \
            or editable != root:
        installed = f"an editable install from {editable}" if editable is not None else "not an editable install"
        raise OptionError("--install", str(shipped), f"a ketasim installed editable from the checkout it runs from "
                                                     f"(pip install -e CHECKOUT); this one runs from {package} and "
                                                     f"is {installed}: write with --out and copy the file by hand")
    return shipped


def refuse_replacing_posterior_median(shipped: Path) -> None:
    """:class:`OptionError` if ``shipped`` (the calibration ``--install`` would replace) is a posterior median."""
    import json

    try:
        method = str(json.loads(shipped.read_text(encoding="utf-8")).get("method", ""))
    except (OSError, ValueError, AttributeError):
        return  # missing or not a record: nothing of the posterior's to lose
    if method.startswith("posterior median"):
        raise OptionError("--install", str(shipped), "a shipped calibration that is not the posterior median of "
                                                     "'ketasim calibrate' (this one is: the band fit would silently "
                                                     "replace the shipped parameters); write with --out, or add "
                                                     "--replace-posterior-median to replace it on purpose")


def _editable_root() -> Path | None:
    """The folder ketasim is installed editable from (PEP 610 ``direct_url.json``), or None."""
    import json
    from importlib.metadata import PackageNotFoundError, distribution
    from urllib.parse import unquote, urlparse

    try:
        text = distribution("ketasim").read_text("direct_url.json")
    except PackageNotFoundError:
        return None
    try:
        record = json.loads(text or "null")
    except ValueError:
        return None
    if not isinstance(record, dict) or not record.get("dir_info", {}).get("editable"):
        return None
    url = urlparse(str(record.get("url", "")))
    return Path(unquote(url.path)).resolve() if url.scheme == "file" else None


def _calibrate(tmp: Path, chosen, n_patients: int, seed: int, coarse_evaluations: int, evaluations: int,
               sigma: float, fine_sigma: float, popsize: int, optimiser_seed: int, minutes: float, from_shipped: bool,
               start_record, weights: dict[str, float], profile: bool) -> tuple[dict, Any]:
    """Run the calibration and write its record to ``tmp``; return the record and the optimiser's result."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from ketasim.trials.calibrate import (
        Calibration,
        calibrate_two_phase,
        calibration_record,
        profile_slices,
        write_record,
    )

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
    command = "ketasim calibrate-bands " + " ".join(shlex.quote(a) for a in sys.argv[2:]) if len(sys.argv) > 1 \
        else "ketasim calibrate-bands"
    record = calibration_record(cal, result, command.strip(), slices)
    write_record(record, tmp)
    return record, result


def _print_result(record: dict, result: Any, path: Path) -> None:
    from rich.table import Table

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
            raise OptionError("--weight", item, "TARGET=W with TARGET one of " + ", ".join(TARGETS_BY_ID))
        try:
            w = float(value)
        except ValueError:
            w = float("nan")
        if not (w >= 0.0 and w < float("inf")):
            raise OptionError("--weight", item, "TARGET=W with W a finite number >= 0")
        out[name.strip()] = w
    return out
