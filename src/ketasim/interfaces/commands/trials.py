"""``ketasim trials``: virtual clinical trials against the published targets.

``ketasim trials`` runs every built-in study (the trials of the clinical targets) with the parameters in
force and prints, for each target, the published value and band, the simulated value with its 95%
Monte-Carlo interval, the number of virtual patients behind it and whether it falls in the band. By default
every study also runs once per posterior draw (``--draws D``, 100; ``ketasim.trials.predictive``), and each
figure gets its 50% and 90% posterior predictive intervals and whether the published value lies inside
(``ppi50``, ``ppi90``, ``within_ppi90``; the JSON's ``coverage`` sums them up); ``--typical`` skips the draws.
``--study FILE.yaml`` runs a user study instead (repeatable); ``--json`` prints JSON; ``--report DIR``
writes the validation report (tables, figures, identifiability and sensitivity) to ``DIR``;
``--nonmem-out FILE`` the simulated studies as a NONMEM dataset (STUDY and ARM columns).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from ketasim.evidence.draws import DEFAULT_DRAWS, MAX_DRAWS, DrawSpec, draw_spec, split_patients
from ketasim.interfaces.app import app
from ketasim.interfaces.nonmem_options import NONMEM_NOISE_HELP, NONMEM_OUT_HELP
from ketasim.interfaces.options import FORCE_HELP, SEED, SEED_MAX, check_range, input_file, within

MAX_TRIAL_PATIENTS = 100_000
MAX_SOBOL = 4096
MAX_OTHER_COHORTS = 50

DISCLAIMER = "Research and decision-support software, not a medical device."
TRIAL_PATIENTS_PER_DRAW = 10  # fewest virtual patients per study and draw when --draws is not given


def _studies(files: list[Path] | None, ids: str):
    from ketasim.trials.studies import BUILTIN_STUDIES, get_study
    from ketasim.trials.studyfile import load_study

    extra_targets = {}
    if files:
        studies = []
        for f in files:
            st, targets = load_study(f)
            studies.append(st)
            extra_targets.update({t.id: t for t in targets})
        return studies, extra_targets
    if ids:
        return [get_study(s.strip()) for s in ids.split(",") if s.strip()], extra_targets
    return list(BUILTIN_STUDIES.values()), extra_targets


@app.command("trials")
def trials_command(
    study: list[Path] = typer.Option(None, "--study", callback=input_file,
                                     help="A study YAML file (repeatable); default: built-ins."),
    studies: str = typer.Option("", "--studies", help="Comma-separated built-in study ids (default: all)."),
    n_patients: int = typer.Option(0, "--n", callback=within(1, MAX_TRIAL_PATIENTS, what="virtual patients per study",
                                                             also=(0,)),
                                   help="Virtual patients per study (0: the default, 1000; SUSTAIN-1 2000)."),
    seed: int = typer.Option(2024, "--seed", callback=SEED, help="Seed of the virtual cohorts and rating noise."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    report: Path = typer.Option(None, "--report", help="Write the validation report to this directory."),
    sensitivity_n: int = typer.Option(64, "--sensitivity-n", callback=within(0, MAX_SOBOL, what="(0: no Sobol "
                                                                                               "analysis)"),
                                      help="Sobol base sample size of the report."),
    other_cohorts: int = typer.Option(4, "--other-cohorts", callback=within(0, MAX_OTHER_COHORTS, what="cohorts"),
                                      help="The report also reruns every study with this many other cohorts "
                                           "(seeds after --seed) and shows how often each target is in band."),
    nonmem_out: Path = typer.Option(None, "--nonmem-out", help=NONMEM_OUT_HELP + " DV on each study's scale at its "
                                    "visits; columns STUDY and ARM."),
    nonmem_noise: bool = typer.Option(False, "--nonmem-noise", help=NONMEM_NOISE_HELP + " These are the scores "
                                      "the trials' outcomes come from."),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
    draws: int = typer.Option(None, "--draws", callback=within(2, MAX_DRAWS, what="posterior draws"),
                              help="Posterior draws of the population parameters behind the predictive intervals: "
                              "every study once per draw, the --n patients split evenly over the draws (default "
                              f"{DEFAULT_DRAWS}, fewer when a draw would get under {TRIAL_PATIENTS_PER_DRAW} "
                              "patients)."),
    typical: bool = typer.Option(False, "--typical", help="The typical values (posterior median) only: no "
                                 "posterior draws, no predictive intervals."),
) -> None:
    """Run virtual trials and compare every figure with its published value and band."""
    from ketasim.interfaces.outputs import output_set
    from ketasim.trials.runner import REPORT_PATIENTS

    chosen, extra = _studies(study, studies)
    n = n_patients if n_patients > 0 else REPORT_PATIENTS
    spec = draw_spec(draws, typical, n_patients=n, per_draw=TRIAL_PATIENTS_PER_DRAW, seed=seed)
    if not spec.typical:
        split_patients(n, spec.draws, field="--n")
    if report is not None:
        check_range("--seed", seed + other_cohorts, 0, SEED_MAX, what="(--seed plus --other-cohorts)")
    if nonmem_out is not None:
        from ketasim.formats.nonmem import check_dataset_size

        check_dataset_size(sum(n * sum(len(st.visits) + len(a.plan.doses) for a in st.arms) for st in chosen),
                           "--nonmem-out")
    with output_set(report, {"--nonmem-out": nonmem_out}, force=force, option="--report",
                    inputs=study or ()) as (folder, where):
        _trials(chosen, extra, study, n, seed, as_json, None if folder is None else (folder, report),
                sensitivity_n, other_cohorts, (where["--nonmem-out"], nonmem_noise) if nonmem_out else None, spec)
    if nonmem_out is not None and not as_json:
        Console(stderr=True).print(f"NONMEM dataset written to {nonmem_out}")


def _trials(chosen, extra, study, n: int, seed: int, as_json: bool, report: tuple[Path, Path] | None,
            sensitivity_n: int, other_cohorts: int, nonmem: tuple[Path, bool] | None, spec: DrawSpec) -> None:
    """``report``: (temporary folder, the folder given); ``nonmem``: (where to write, noise) or None;
    ``spec``: the posterior draws (``ketasim.evidence.draws``)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from ketasim.trials.predictive import coverage, run_trials_predictive

    console = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console, transient=True, disable=as_json) as bar:
        task = bar.add_task("virtual trials", total=len(chosen) * (1 + spec.draws))
        results, rows = run_trials_predictive(chosen, n, seed, spec=spec, targets=extra,
                                              progress=lambda sid, k, d: bar.update(task, advance=1,
                                                                                    description=sid))
    user_rows = [] if not study else _user_outcomes(results, extra)
    if nonmem is not None:
        from ketasim.formats.nonmem import trials_records, write_nonmem

        write_nonmem(trials_records(results, noise=nonmem[1]), nonmem[0])
    if report is not None:
        from ketasim.trials.report import write_report

        folder, final = report
        path = write_report(folder, results, rows, seed=seed, sensitivity_n=sensitivity_n,
                            progress=None if as_json else console,
                            other_seeds=[seed + k for k in range(1, max(other_cohorts, 0) + 1)])
        if not as_json:
            console.print(f"report written to {final / path.relative_to(folder)}")
    if as_json:
        payload = {"disclaimer": DISCLAIMER, "seed": seed, "draws": spec.draws, "uncertainty": spec.describe(),
                   "targets": [r.as_dict() for r in rows], "coverage": coverage(rows)}
        if user_rows:
            payload["outcomes"] = user_rows
        typer.echo(json.dumps(payload, indent=2))
        return
    _print_table(rows, user_rows, spec)


def _user_outcomes(results, extra) -> list[dict]:
    out = []
    for res in results:
        for k, e in res.outcomes.items():
            if k in extra:
                continue
            out.append({"study": res.study.id, "id": k, "simulated": e.value, "interval": [e.low, e.high],
                        "n_patients": e.n})
    return out


def _fmt(x: float | None, unit: str = "") -> str:
    if x is None:
        return "-"
    return f"{x:.3g}{unit}" if abs(x) < 10 else f"{x:.1f}{unit}"


def _print_table(rows, user_rows, spec: DrawSpec) -> None:
    from rich.table import Table

    from ketasim.trials.predictive import coverage

    table = Table(title="virtual trials vs published targets", caption=DISCLAIMER)
    cols = ["target", "published", "band", "simulated", "95% MC interval", "n", "in band"]
    if not spec.typical:
        cols += ["90% predictive interval", "inside"]
    for col in cols:
        table.add_column(col, overflow="fold")
    n_ok = 0
    for r in rows:
        d = r.as_dict()
        n_ok += d["within_band"]
        cells = [d["id"], _fmt(d["published"]), f"{_fmt(d['band'][0])} to {_fmt(d['band'][1])}",
                 _fmt(d["simulated"]), f"{_fmt(d['interval'][0])} to {_fmt(d['interval'][1])}",
                 str(d["n_patients"]), "[green]yes[/green]" if d["within_band"] else "[red]MISS[/red]"]
        if not spec.typical:
            cells += ["-" if d["ppi90"] is None else f"{_fmt(d['ppi_low'])} to {_fmt(d['ppi_high'])}",
                      "yes" if d["within_ppi90"] else "no"]
        table.add_row(*cells)
    for u in user_rows:
        table.add_row(f"{u['study']}:{u['id']}", "-", "-", _fmt(u["simulated"]),
                      f"{_fmt(u['interval'][0])} to {_fmt(u['interval'][1])}", str(u["n_patients"]), "-",
                      *(["-", "-"] if not spec.typical else []))
    Console(width=180).print(table)
    if rows:
        Console().print(f"{n_ok} of {len(rows)} targets within their band (simulated at the typical values).")
        cov = coverage(rows)["fit_set"]
        if cov["targets"]:
            Console().print(f"{cov['within_ppi90']} of {cov['targets']} published values inside their 90% "
                            f"posterior predictive interval, {cov['within_ppi50']} inside the 50% interval.")
    Console().print(spec.describe() + ".")
