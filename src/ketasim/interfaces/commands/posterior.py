"""``ketasim calibrate`` (the posterior over the population parameters) and ``ketasim posterior``.

``ketasim calibrate --out DIR`` runs the fit of ``ketasim.evidence.fit`` (emulated likelihood of the whole
evidence base, MCMC) into ``DIR``: ``posterior.parquet`` (the draws, one column per parameter),
``posterior.json`` (provenance, timings, diagnostics, the emulator's check) and ``calibrated.json`` (the
posterior median, the point estimate). It works in ``DIR.partial`` and checkpoints as it goes: an interrupted
run keeps that folder and the same command continues from it; ``--restart`` discards it. The complete folder is
renamed to ``DIR``. ``--install`` then copies ``calibrated.json`` and ``posterior.parquet`` over the shipped ones
(only when asked, only into an editable checkout).
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

from ketasim.errors import OptionError, PlanError
from ketasim.interfaces.app import app
from ketasim.interfaces.options import FORCE_HELP, SEED, input_file, within

MAX_WAVE = 20_000
MAX_WAVES = 10
MAX_VALIDATION = 10_000
MAX_STEPS = 10_000_000
MAX_DRAWS = 100_000
MAX_STUDY_PATIENTS = 100_000

DISCLAIMER = "Research and decision-support software, not a medical device."


def parse_waves(option: str, text: str) -> tuple[int, ...]:
    """``"300,200,200"`` -> ``(300, 200, 200)``: 1 to :data:`MAX_WAVES` waves of 2 to :data:`MAX_WAVE` simulations."""
    from ketasim.interfaces.options import check_range

    try:
        sizes = tuple(int(w) for w in str(text).split(",") if w.strip())
    except ValueError:
        raise OptionError(option, text, "comma-separated whole numbers, e.g. 300,200,200") from None
    if not 1 <= len(sizes) <= MAX_WAVES:
        raise OptionError(option, text, f"1 to {MAX_WAVES} waves, e.g. 300,200,200")
    for w in sizes:
        check_range(option, w, 2, MAX_WAVE, what="simulations per wave")
    return sizes


def wave_sizes(param: typer.CallbackParam, value: str) -> tuple[int, ...]:
    """A Typer callback: :func:`parse_waves` while the command line is parsed."""
    from ketasim.interfaces.options import option_name

    return value if isinstance(value, tuple) else parse_waves(option_name(param), value)


@app.command("calibrate")
def calibrate_command(
    out: Path = typer.Option(..., "--out", help="Folder for posterior.parquet, posterior.json, calibrated.json. The "
                             "work goes into OUT.partial beside it (kept if interrupted; running the same command "
                             "again continues from its checkpoint) and is renamed to OUT when complete."),
    restart: bool = typer.Option(False, "--restart", help="Discard OUT.partial of an interrupted run and start over."),
    waves: str = typer.Option("300,200,200", "--waves", callback=wave_sizes,
                              help=f"Simulations per design wave (comma-separated; 2 to {MAX_WAVE:,} each, at most "
                                   f"{MAX_WAVES} waves)."),
    validation: int = typer.Option(40, "--validation", callback=within(0, MAX_VALIDATION, what="draws"),
                                   help="Posterior draws simulated to check the emulator."),
    steps: int = typer.Option(16000, "--steps", callback=within(10, MAX_STEPS, what="steps"),
                              help="MCMC steps of the final sampling (the first half burn-in)."),
    draws: int = typer.Option(400, "--draws", callback=within(1, MAX_DRAWS, what="draws"),
                              help="Posterior draws written (at least 200 ship)."),
    n_patients: int = typer.Option(0, "--n", callback=within(1, MAX_STUDY_PATIENTS, what="virtual patients per study",
                                                             also=(0,)),
                                   help="Virtual patients per study (0: the default, 300; SUSTAIN-1 800)."),
    seed: int = typer.Option(0, "--seed", callback=SEED, help="Seed of the virtual cohorts (common random numbers)."),
    design_seed: int = typer.Option(1, "--design-seed", callback=SEED, help="Seed of the design and of the sampler."),
    install: bool = typer.Option(False, "--install", help="When the fit is complete, also install it as the shipped "
                                 "parameters: calibrated.json (the posterior median) and posterior.parquet into "
                                 "src/ketasim/data/ of the checkout ketasim is installed editable from (refused for "
                                 "any other install). Without it nothing shipped changes."),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
) -> None:
    """Fit the posterior of the population parameters to the whole evidence base (emulator + MCMC)."""
    from ketasim.evidence.fit import FitConfig, run_fit
    from ketasim.interfaces.outputs import resumable_folder

    wave_tuple = waves if isinstance(waves, tuple) else parse_waves("--waves", waves)
    config = FitConfig(seed=seed, design_seed=design_seed, waves=wave_tuple, validation=validation,
                       steps=steps, burn=steps // 2, draws=draws, n_patients=n_patients)
    shipped = _shipped_targets() if install else None  # refused before any work when it cannot be done
    command = "ketasim calibrate " + " ".join(shlex.quote(a) for a in sys.argv[2:])
    console = Console(stderr=True)
    with resumable_folder(out, force=force, restart=restart) as (work, resumed):
        if resumed:
            console.print(f"continuing the interrupted fit in {work}")
        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                      TimeElapsedColumn(), console=console) as bar:
            tasks: dict[str, int] = {}

            def progress(name: str, done: int, total: int) -> None:
                if name not in tasks:
                    tasks[name] = bar.add_task(name, total=total)
                bar.update(tasks[name], completed=done)

            try:
                record = run_fit(work, config, resume=resumed, command=command.strip(), progress=progress)
            except PlanError as exc:
                if exc.field != "--resume":
                    raise
                raise OptionError("--out", str(out), f"the settings of the interrupted fit in {work} ({exc.allowed}); "
                                  "give those settings, or --restart to discard it") from None
    sec = record["seconds"]
    share = record["validation"].get("share_within_2sd")
    check = ("emulator not checked (--validation 0)" if share is None or share != share else
             f"emulator check: {share:.0%} of simulated summaries within 2 SD of the emulator at posterior draws")
    Console().print(f"posterior written to {out} ({record['simulations']} simulations of the evidence base, "
                    f"{sec['wall_total'] / 60:.1f} min wall, {sec['cpu_total'] / 60:.1f} min CPU); {check}")
    if shipped is not None:
        _install(out, shipped)
        Console().print(f"installed as the shipped parameters: {', '.join(str(p) for p in shipped.values())}")


def _shipped_targets() -> dict[str, Path]:
    """The shipped files ``--install`` replaces (after the checks of :func:`calibrate.checkout_calibration`)."""
    from ketasim.interfaces.commands.calibrate import checkout_calibration

    calibrated = checkout_calibration()
    return {"calibrated.json": calibrated, "posterior.parquet": calibrated.with_name("posterior.parquet")}


def _install(out: Path, shipped: dict[str, Path]) -> None:
    """Copy the fit's files over the shipped ones, each complete or not at all."""
    import shutil
    from contextlib import ExitStack

    from ketasim.interfaces.outputs import output_file

    with ExitStack() as stack:
        for name, target in shipped.items():
            tmp = stack.enter_context(output_file(target, option="--install", allow_package=True))
            shutil.copyfile(out / name, tmp)


@app.command("posterior")
def posterior_command(
    summary: bool = typer.Option(True, "--summary/--no-summary", help="Means, 90% intervals, R-hat and ESS."),
    path: Path = typer.Option(None, "--path", callback=input_file, help="A posterior.parquet (default: the shipped "
                              "one)."),
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
