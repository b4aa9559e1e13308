"""``ketasim population PLAN.yaml --patients 10000 --seed 1 --out DIR``: a virtual population under one plan.

Writes to ``DIR``:

* ``outcomes.parquet`` and ``outcomes.csv``: one row per virtual patient (response and remission
  24 h after the first dose and at the end of induction, relapse days by the SUSTAIN-1 rule and by
  loss of response (``inf`` = no relapse within the horizon), days in remission, mean MADRS...);
* ``patients.parquet``: the virtual patients (covariates, PK factors, loads, response parameters);
* ``summary.json``: rates with Monte Carlo (Wilson 95%) intervals, Kaplan-Meier median days to
  relapse, run information, the disclaimer;
* ``madrs_bands.csv`` and ``madrs_bands.png`` (median MADRS with 50% and 90% bands and a few
  sampled patients), ``relapse_km.png`` (Kaplan-Meier curves of time to relapse).

``--nonmem-out FILE`` also writes the simulated NONMEM dataset and ``--netcdf FILE.nc|.zarr`` the
labelled daily trajectories; these keep the patients and their trajectories in memory, within the
caps of :func:`ketasim.formats.nonmem.check_dataset_size` and :func:`ketasim.formats.arrays.check_cells`.

``--scheduler tcp://HOST:PORT`` runs the chunks on a Dask cluster (same numbers as a local run).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from ketasim.errors import OptionError, PlanError
from ketasim.evidence.draws import MAX_DRAWS, DrawSpec, draw_spec, split_patients
from ketasim.interfaces.app import app
from ketasim.interfaces.nonmem_options import (
    NETCDF_HELP,
    NONMEM_NOISE_HELP,
    NONMEM_OUT_HELP,
    NONMEM_SCALE_HELP,
    dataset_option,
    scale_option,
)
from ketasim.interfaces.options import (
    FORCE_HELP,
    MAX_PATIENTS,
    MODEL_HELP,
    SEED,
    SEED_MAX,
    check_range,
    model_option,
    scheduler_address,
    within,
)

MAX_CHUNK = 65_536


def parse_spreads(items: list[str] | None, pk_model: str | None = None) -> dict[str, float]:
    """``["k_form=0.5", ...]`` -> ``{"k_form": 0.5}`` (spreads of random effects; 0 turns one off).

    The target must be a source of variability or a response parameter, and the spread within the
    bounds of that spread (``ketasim params --layer population``).
    """
    from ketasim.parameters import IDX
    from ketasim.population.variability import DEFAULT_PK_MODEL, PATIENT_TARGETS, PK_TARGETS, default_variability

    effects = {e.target: e for e in default_variability(pk_model or DEFAULT_PK_MODEL)}
    known = list(dict.fromkeys([*effects, *PK_TARGETS, *PATIENT_TARGETS, *IDX]))
    out: dict[str, float] = {}
    for item in items or []:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise OptionError("--omega", item, "target=spread, e.g. --omega k_form=0.5")
        if name not in known:
            raise OptionError("--omega target", name, "a source of variability: " + ", ".join(known))
        try:
            value = float(text)
        except ValueError:
            raise OptionError(f"--omega {name}", text.strip(), "a number >= 0") from None
        effect = effects.get(name)
        lo, hi = effect.spread.bounds if effect is not None and effect.spread.bounds else (0.0, 2.0)
        unit = effect.spread.unit.removeprefix("1 (").removesuffix(")") if effect is not None else "SD of log"
        if not (math.isfinite(value) and lo <= value <= hi):
            raise OptionError(f"--omega {name}", value, f"{lo:g} to {hi:g} ({unit}; 0 switches it off)")
        out[name] = value
    return out


def _json_safe(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_json_safe(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if hasattr(x, "item"):
        return _json_safe(x.item())
    return x


def run_population(plan_file: Path, out: Path, *, patients: int, seed: int, scheduler: str | None = None,
                   chunk_size: int | None = None, overrides: dict[str, float] | None = None,
                   spreads: dict[str, float] | None = None, progress: bool = True,
                   figures: bool = True, force: bool = False, nonmem_out: Path | None = None,
                   nonmem_scale: str = "madrs", nonmem_noise: bool = False,
                   netcdf: Path | None = None, draws: DrawSpec | None = None, model: str = "v1",
                   life_events: bool = True) -> dict[str, Any]:
    """Simulate the population, write every output to ``out`` (and the NONMEM dataset ``nonmem_out``: one
    observation a day per patient, residual noise seeded by ``seed``; and the labelled trajectories
    ``netcdf``, ``.nc`` or ``.zarr``) and return the summary written. The patients and figures come from the
    typical values; ``draws`` (``ketasim.evidence.draws``; None: the typical values only) adds the posterior
    predictive interval of every headline figure (``ketasim.population.predictive``). ``model``: the response
    structure (``ketasim.population.structures``); ``life_events=False`` switches v2's course of life off.

    The per-patient tables are streamed to ``out`` chunk by chunk (the patients are not kept in
    memory unless a dataset is asked for), so a run is bounded by
    :data:`~ketasim.interfaces.options.MAX_PATIENTS`, not by memory; a run that would not fit in
    memory anyway, a dataset over its cap, and an output that cannot be written
    (:func:`ketasim.interfaces.outputs.output_set`) are refused before it starts.
    """
    from ketasim.dosing.planfile import load_plan
    from ketasim.formats.arrays import DATASET_OUTPUTS, check_cells, check_dataset_path
    from ketasim.formats.nonmem import check_dataset_size, check_scale
    from ketasim.interfaces.outputs import output_set
    from ketasim.parameters import vector_with
    from ketasim.population.run import DEFAULT_CHUNK, check_memory

    check_range("--patients", patients, 1, MAX_PATIENTS, what="virtual patients")
    check_range("--seed", seed, 0, SEED_MAX)
    check_range("--chunk-size", chunk_size, 1, MAX_CHUNK, what="patients per chunk")
    draws = draws or DrawSpec(0, model=model)
    if model != "v1" and not draws.typical:
        raise PlanError("draws", draws.draws, f"no posterior draws with structure {model}: the shipped posterior "
                        "is of structure v1")
    if not draws.typical:
        split_patients(patients, draws.draws, field="--patients")
    plan = load_plan(plan_file)
    params = vector_with(overrides or {})
    n_days = math.floor(plan.horizon_days) + 1
    if nonmem_out is not None:
        nonmem_scale = check_scale(nonmem_scale)
        check_dataset_size(patients * (n_days + len(plan.doses)), "--nonmem-out")
    if netcdf is not None:
        check_dataset_path(netcdf)
        check_cells(patients * n_days * len(DATASET_OUTPUTS), "--netcdf")
    outputs = DATASET_OUTPUTS if netcdf is not None else ("madrs",)
    keep = nonmem_out is not None or netcdf is not None
    check_memory(patients, n_days, len(outputs) if keep else 1, keep_trajectories=keep, keep_patients=keep,
                 chunk_size=chunk_size or DEFAULT_CHUNK, field="--patients")
    extras = {"--nonmem-out": nonmem_out, "--netcdf": netcdf}
    store = ["--netcdf"] if netcdf is not None and netcdf.suffix.lower() == ".zarr" else []  # a Zarr store: a folder
    with output_set(out, extras, force=force, inputs=[plan_file], folder_extras=store) as (folder, where):
        assert folder is not None
        return _population_into(plan, plan_file, folder, patients=patients, seed=seed, scheduler=scheduler,
                                chunk_size=chunk_size, params=params, overrides=overrides, spreads=spreads,
                                progress=progress, figures=figures, outputs=outputs, keep=keep,
                                datasets=_Datasets(where, extras, nonmem_scale, nonmem_noise), draws=draws,
                                model=model, life_events=life_events)


class _Datasets:
    """Where the asked-for datasets go (``where``: option -> path to write) and how DV is made."""

    def __init__(self, where: dict[str, Path], given: dict[str, Path | None], scale: str, noise: bool) -> None:
        self.where, self.given, self.scale, self.noise = where, given, scale, noise

    def write(self, res: Any, plan: Any, folder: Path, seed: int) -> list[str]:
        """Write them from ``res`` (patients and trajectories kept); return their names for the summary."""
        from ketasim.formats.arrays import population_dataset, write_dataset
        from ketasim.formats.nonmem import population_records, write_nonmem
        from ketasim.interfaces.outputs import shown_path

        names = []
        if "--netcdf" in self.where:
            given = Path(self.given["--netcdf"])  # type: ignore[arg-type]
            write_dataset(population_dataset(res, plan=plan), self.where["--netcdf"], suffix=given.suffix)
            names.append(shown_path(self.where["--netcdf"], folder, given))
        if "--nonmem-out" in self.where:
            write_nonmem(population_records(plan, res.patients, res.days, res.trajectory("madrs"), scale=self.scale,
                                            noise=self.noise, seed=seed), self.where["--nonmem-out"])
            names.append(shown_path(self.where["--nonmem-out"], folder, self.given["--nonmem-out"]))  # type: ignore[arg-type]
        return names


def _population_into(plan: Any, plan_file: Path, out: Path, *, patients: int, seed: int, scheduler: str | None,
                     chunk_size: int | None, params: Any, overrides: dict[str, float] | None,
                     spreads: dict[str, float] | None, progress: bool, figures: bool, outputs: tuple[str, ...],
                     keep: bool, datasets: _Datasets, draws: DrawSpec, model: str = "v1",
                     life_events: bool = True) -> dict[str, Any]:
    from ketasim.interfaces.population_figures import plot_madrs_bands, plot_relapse_km
    from ketasim.population import simulate_population

    tables = StreamedTables(out)
    try:
        res = simulate_population(plan, patients, seed=seed, params=params, variability=spreads or None,
                                  chunk_size=chunk_size, scheduler=scheduler, progress=progress,
                                  keep_patients=keep, keep_trajectories=keep, outputs=outputs, on_chunk=tables.add,
                                  model=model, life_events=life_events)
    finally:
        tables.close()
    files = list(tables.files)
    bands = res.madrs_bands()
    bands.insert(1, "date", [plan.date_of(d).isoformat() for d in bands["day"]])
    bands.to_csv(out / "madrs_bands.csv", index=False, float_format="%.4g")
    files.append("madrs_bands.csv")
    if figures:
        plot_madrs_bands(res, out / "madrs_bands.png", plan=plan)
        plot_relapse_km(res, out / "relapse_km.png", plan=plan)
        files += ["madrs_bands.png", "relapse_km.png"]
    files += datasets.write(res, plan, out, seed)
    summary = {"plan": plan.name, "plan_file": str(plan_file), "description": plan.description,
               "parameter_overrides": dict(overrides or {}), "variability_overrides": dict(spreads or {}),
               "scheduler": scheduler, "seconds": round(res.seconds, 3),
               "patient_years": round(patients * plan.horizon_days / 365.25, 3), **res.summary(),
               "off_label": bool(plan.allow_off_label), "files": files + ["summary.json"]}
    _add_uncertainty(summary, plan, patients, seed, draws, overrides, spreads, progress)
    if plan.allow_off_label:
        from ketasim.outcomes.summary import OFF_LABEL_NOTE

        summary["off_label_note"] = OFF_LABEL_NOTE
    (out / "summary.json").write_text(json.dumps(_json_safe(summary), indent=2) + "\n", encoding="utf-8")
    return summary


def _add_uncertainty(summary: dict[str, Any], plan: Any, patients: int, seed: int, draws: DrawSpec,
                     overrides: dict[str, float] | None, spreads: dict[str, float] | None, progress: bool) -> None:
    """The posterior predictive intervals of the headline figures (or a note that there are none)."""
    if draws.typical:
        summary["uncertainty"] = {"draws": 0, "description": draws.describe()}
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from ketasim.population.predictive import add_predictive, population_predictive

    with Progress(TextColumn("posterior draws"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), transient=True, disable=not progress) as bar:
        task = bar.add_task("draws", total=draws.draws)
        intervals = population_predictive(plan, patients, seed, draws, overrides=overrides, spreads=spreads,
                                          progress=lambda k, n: bar.update(task, completed=k))
    add_predictive(summary, intervals, draws, patients // draws.draws)


class StreamedTables:
    """``outcomes.parquet``, ``outcomes.csv`` and ``patients.parquet`` written chunk by chunk, in patient order."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.writers: dict[str, Any] = {}
        self.schemas: dict[str, Any] = {}
        self.files: list[str] = []

    def _parquet(self, name: str, frame: Any) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        if name not in self.writers:
            self.schemas[name] = table.schema
            self.writers[name] = pq.ParquetWriter(self.folder / name, table.schema)
            self.files.append(name)
        self.writers[name].write_table(table.cast(self.schemas[name]))

    def add(self, start: int, outcomes: Any, patients: Any) -> None:
        """Append one chunk (``start``: index of its first patient)."""
        self._parquet("outcomes.parquet", outcomes)
        first = "outcomes.csv" not in self.files
        outcomes.to_csv(self.folder / "outcomes.csv", mode="w" if first else "a", header=first, index=False,
                        float_format="%.6g")
        if first:
            self.files.append("outcomes.csv")
        self._parquet("patients.parquet", patients.to_frame())

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()
        self.writers.clear()


def _pct(r: dict[str, Any]) -> str:
    if r.get("n", 0) == 0 or r.get("rate") is None or not math.isfinite(r["rate"]):
        return "n/a"
    text = f"{100 * r['rate']:.1f}% (95% MC {100 * r['ci_low']:.1f}-{100 * r['ci_high']:.1f}; n = {r['n']:,})"
    if r.get("ppi_low") is not None:
        text += f"; 90% predictive {100 * r['ppi_low']:.1f}-{100 * r['ppi_high']:.1f}"
    return text


def _days(m: dict[str, Any]) -> str:
    med = m.get("median_days")
    if med is None or (isinstance(med, float) and math.isnan(med)):
        return "n/a"
    if math.isinf(med):
        return "not reached within the horizon"
    hi = m.get("ci_high")
    hi_s = "not reached" if hi is None or math.isinf(hi) else f"{hi:.0f}"
    return f"{med:.0f} days (95% {m.get('ci_low', float('nan')):.0f}-{hi_s})"


def print_population_summary(summary: dict[str, Any], out: Path, console: Console | None = None) -> None:
    """Key rates as a table, the files written and the disclaimer."""
    from rich.table import Table

    console = console or Console()
    t = Table(title=f"ketasim population: {summary['plan']} ({summary['n_patients']:,} virtual patients, "
                    f"seed {summary['seed']})", show_header=False, title_justify="left")
    t.add_column("outcome", style="bold")
    t.add_column("value")
    t.add_row("response 24 h after the first dose", _pct(summary["response_day1"]))
    t.add_row("remission 24 h after the first dose", _pct(summary["remission_day1"]))
    t.add_row("response at the end of induction", _pct(summary["response_end_induction"]))
    t.add_row("remission at the end of induction", _pct(summary["remission_end_induction"]))
    for key, label in (("relapse_sustain", "SUSTAIN-1"), ("relapse_loss_of_response", "loss of response")):
        r = summary[key]
        t.add_row(f"relapse among responders ({label})", _pct(r))
        t.add_row(f"median days to relapse ({label})", _days(r["median_days_to_relapse"]))
    dir_ = summary["days_in_remission"]
    if dir_["mean"] is not None and math.isfinite(dir_["mean"]):
        t.add_row("days in remission (mean)", f"{dir_['mean']:.1f} of {summary['horizon_days']:g}")
    from ketasim.population.classes import CLASS_LABELS  # not at import: it loads the engine (numba)
    for name, row in summary.get("by_class", {}).items():
        label = CLASS_LABELS[name].split(":")[0]
        t.add_row(f"{label}s: share of patients", f"{100 * row['share']:.1f}%")
        t.add_row(f"{label}s: response at the end of induction", _pct(row["response_end_induction"]))
        t.add_row(f"{label}s: relapse among responders (SUSTAIN-1)", _pct(row["relapse_sustain"]))
    console.print(t)
    console.print(f"{summary['patient_years']:,} patient-years in {summary['seconds']:.1f} s")
    console.print(summary["uncertainty"]["description"])
    console.print(f"wrote {', '.join(str(out / f) for f in summary['files'])}")
    if summary.get("off_label"):
        from ketasim.interfaces.report import OFF_LABEL_WARNING

        console.print(f"[bold red]{OFF_LABEL_WARNING}[/]")
    console.print(f"[dim]{summary['disclaimer']}[/]")


@app.command("population")
def population_command(
    plan_file: Path = typer.Argument(..., help="YAML plan file applied to every virtual patient."),
    patients: int = typer.Option(1000, "--patients", "-n", callback=within(1, MAX_PATIENTS, what="virtual patients"),
                                 help=f"Number of virtual patients (1 to {MAX_PATIENTS:,}; the tables are streamed "
                                      "to disk)."),
    seed: int = typer.Option(0, "--seed", callback=SEED, help="Seed of the population (same seed, same patients)."),
    out: Path = typer.Option(Path("ketasim-population"), "--out", "-o", help="Output directory (created)."),
    scheduler: str = typer.Option(None, "--scheduler", callback=scheduler_address,
                                  help="Dask scheduler address tcp://HOST:PORT to run the population on a cluster."),
    chunk_size: int = typer.Option(None, "--chunk-size", callback=within(1, MAX_CHUNK, what="patients per chunk"),
                                   help=f"Patients per chunk (default 4096, at most {MAX_CHUNK:,})."),
    param: list[str] = typer.Option([], "--param", help="Override a typical response parameter, name=value "
                                    "(repeatable; see ketasim params)."),
    omega: list[str] = typer.Option([], "--omega", help="Override a between-patient spread, target=value "
                                    "(repeatable; 0 switches a source of variability off)."),
    model: str = typer.Option("v1", "--model", callback=model_option, help=MODEL_HELP),
    no_life_events: bool = typer.Option(False, "--no-life-events", help="v2: no life events during the plan."),
    no_figures: bool = typer.Option(False, "--no-figures", help="Skip the PNG figures."),
    nonmem_out: Path = typer.Option(None, "--nonmem-out", help=NONMEM_OUT_HELP),
    nonmem_scale: str = typer.Option("madrs", "--nonmem-scale", callback=scale_option, help=NONMEM_SCALE_HELP),
    nonmem_noise: bool = typer.Option(False, "--nonmem-noise", help=NONMEM_NOISE_HELP + " Seeded by --seed."),
    netcdf: Path = typer.Option(None, "--netcdf", callback=dataset_option, help=NETCDF_HELP),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
    draws: int = typer.Option(None, "--draws", callback=within(2, MAX_DRAWS, what="posterior draws"),
                              help="Posterior draws of the population parameters behind the predictive intervals "
                              "(default 100, or one per patient when fewer; the patients split evenly over them)."),
    typical: bool = typer.Option(False, "--typical", help="The typical values (posterior median) only: no "
                                 "posterior draws, Monte-Carlo intervals only."),
) -> None:
    """Simulate a virtual population under a plan: outcomes per patient, rates with intervals, figures."""
    from ketasim.parameters import parse_overrides

    overrides = parse_overrides(param)
    spreads = parse_spreads(omega)
    console = Console()
    summary = run_population(plan_file, out, patients=patients, seed=seed, scheduler=scheduler,
                             chunk_size=chunk_size, overrides=overrides, spreads=spreads, progress=True,
                             figures=not no_figures, force=force, nonmem_out=nonmem_out, nonmem_scale=nonmem_scale,
                             nonmem_noise=nonmem_noise, netcdf=netcdf, model=model, life_events=not no_life_events,
                             draws=draw_spec(draws, typical, n_patients=patients, seed=seed, model=model))
    print_population_summary(summary, out, console)
