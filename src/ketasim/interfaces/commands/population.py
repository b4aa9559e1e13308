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

``--scheduler tcp://HOST:PORT`` runs the chunks on a Dask cluster (same numbers as a local run).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from ketasim.errors import PlanError
from ketasim.interfaces.cli import app
from ketasim.interfaces.nonmem_options import NONMEM_NOISE_HELP, NONMEM_OUT_HELP, NONMEM_SCALE_HELP
from ketasim.parameters import parse_overrides
from ketasim.population.classes import CLASS_LABELS


def parse_spreads(items: list[str] | None) -> dict[str, float]:
    """``["k_form=0.5", ...]`` -> ``{"k_form": 0.5}`` (spreads of random effects; 0 turns one off)."""
    out: dict[str, float] = {}
    for item in items or []:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise PlanError("--omega", item, "target=spread, e.g. --omega k_form=0.5")
        try:
            value = float(text)
        except ValueError:
            raise PlanError(f"--omega {name.strip()}", text, "a number >= 0") from None
        if not (value >= 0 and math.isfinite(value)):
            raise PlanError(f"--omega {name.strip()}", value, "a number >= 0")
        out[name.strip()] = value
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
                   figures: bool = True, nonmem_out: Path | None = None, nonmem_scale: str = "madrs",
                   nonmem_noise: bool = False, netcdf: Path | None = None, model: str = "v1",
                   life_events: bool = True) -> dict[str, Any]:
    """Simulate the population, write every output to ``out`` (and the NONMEM dataset ``nonmem_out``: one
    observation a day per patient, residual noise seeded by ``seed``; and the labelled trajectories
    ``netcdf``, ``.nc`` or ``.zarr``) and return the summary written. ``model``: the response structure
    (``ketasim.population.structures``); ``life_events=False`` switches v2's course of life off."""
    from ketasim.dosing.planfile import load_plan
    from ketasim.formats.arrays import (
        DATASET_OUTPUTS,
        check_cells,
        check_dataset_path,
        population_dataset,
        write_dataset,
    )
    from ketasim.formats.nonmem import check_dataset_size, check_scale, population_records, write_nonmem
    from ketasim.interfaces.population_figures import plot_madrs_bands, plot_relapse_km
    from ketasim.parameters import vector_with
    from ketasim.population import simulate_population

    plan = load_plan(plan_file)
    if patients < 1:
        raise PlanError("--patients", patients, "a whole number >= 1")
    if nonmem_out is not None:
        nonmem_scale = check_scale(nonmem_scale)
        check_dataset_size(patients * (math.floor(plan.horizon_days) + 1 + len(plan.doses)), "--nonmem-out")
    if netcdf is not None:
        check_dataset_path(netcdf)
        check_cells(patients * (math.floor(plan.horizon_days) + 1) * len(DATASET_OUTPUTS), "--netcdf")
    params = vector_with(overrides or {})
    res = simulate_population(plan, patients, seed=seed, params=params, variability=spreads or None,
                              chunk_size=chunk_size, scheduler=scheduler, progress=progress,
                              keep_trajectories=nonmem_out is not None or netcdf is not None,
                              outputs=DATASET_OUTPUTS if netcdf is not None else ("madrs",), model=model,
                              life_events=life_events)
    out.mkdir(parents=True, exist_ok=True)
    if netcdf is not None:
        write_dataset(population_dataset(res, plan=plan), netcdf)
    if nonmem_out is not None:
        write_nonmem(population_records(plan, res.patients, res.days, res.trajectory("madrs"), scale=nonmem_scale,
                                        noise=nonmem_noise, seed=seed), nonmem_out)
    res.outcomes.to_parquet(out / "outcomes.parquet", index=False)
    res.outcomes.to_csv(out / "outcomes.csv", index=False, float_format="%.6g")
    files = ["outcomes.parquet", "outcomes.csv"]
    if res.patients is not None:
        res.patients.to_frame().to_parquet(out / "patients.parquet", index=False)
        files.append("patients.parquet")
    bands = res.madrs_bands()
    bands.insert(1, "date", [plan.date_of(d).isoformat() for d in bands["day"]])
    bands.to_csv(out / "madrs_bands.csv", index=False, float_format="%.4g")
    files.append("madrs_bands.csv")
    if figures:
        plot_madrs_bands(res, out / "madrs_bands.png", plan=plan)
        plot_relapse_km(res, out / "relapse_km.png", plan=plan)
        files += ["madrs_bands.png", "relapse_km.png"]
    summary = {"plan": plan.name, "plan_file": str(plan_file), "description": plan.description,
               "parameter_overrides": dict(overrides or {}), "variability_overrides": dict(spreads or {}),
               "scheduler": scheduler, "seconds": round(res.seconds, 3),
               "patient_years": round(patients * plan.horizon_days / 365.25, 3), **res.summary(),
               "off_label": bool(plan.allow_off_label),
               "files": files + ["summary.json"] + [str(f) for f in (nonmem_out, netcdf) if f is not None]}
    if plan.allow_off_label:
        summary["off_label_note"] = "doses outside published ranges were allowed in this plan (allow_off_label)"
    (out / "summary.json").write_text(json.dumps(_json_safe(summary), indent=2) + "\n", encoding="utf-8")
    return summary


def _pct(r: dict[str, Any]) -> str:
    if r.get("n", 0) == 0 or r.get("rate") is None or not math.isfinite(r["rate"]):
        return "n/a"
    return f"{100 * r['rate']:.1f}% (95% MC {100 * r['ci_low']:.1f}-{100 * r['ci_high']:.1f}; n = {r['n']:,})"


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
    for name, row in summary.get("by_class", {}).items():
        label = CLASS_LABELS[name].split(":")[0]
        t.add_row(f"{label}s: share of patients", f"{100 * row['share']:.1f}%")
        t.add_row(f"{label}s: response at the end of induction", _pct(row["response_end_induction"]))
        t.add_row(f"{label}s: relapse among responders (SUSTAIN-1)", _pct(row["relapse_sustain"]))
    console.print(t)
    console.print(f"{summary['patient_years']:,} patient-years in {summary['seconds']:.1f} s")
    console.print(f"wrote {', '.join(str(out / f) for f in summary['files'])}")
    if summary.get("off_label"):
        console.print("[bold red]OFF-LABEL: doses outside published ranges were allowed in this plan "
                      "(allow_off_label)[/]")
    console.print(f"[dim]{summary['disclaimer']}[/]")


@app.command("population")
def population_command(
    plan_file: Path = typer.Argument(..., help="YAML plan file applied to every virtual patient."),
    patients: int = typer.Option(1000, "--patients", "-n", help="Number of virtual patients."),
    seed: int = typer.Option(0, "--seed", help="Seed of the population (same seed, same patients)."),
    out: Path = typer.Option(Path("ketasim-population"), "--out", "-o", help="Output directory (created)."),
    scheduler: str = typer.Option(None, "--scheduler", help="Dask scheduler address tcp://HOST:PORT to run the "
                                  "population on a cluster."),
    chunk_size: int = typer.Option(None, "--chunk-size", help="Patients per chunk (default 4096)."),
    param: list[str] = typer.Option([], "--param", help="Override a typical response parameter, name=value "
                                    "(repeatable; see ketasim params)."),
    omega: list[str] = typer.Option([], "--omega", help="Override a between-patient spread, target=value "
                                    "(repeatable; 0 switches a source of variability off)."),
    model: str = typer.Option("v1", "--model", help="Response structure: v1 (the calibrated default: one typical "
                              "patient, wide spreads) or v2 (patient classes and a modelled course of life; not "
                              "yet calibrated)."),
    no_life_events: bool = typer.Option(False, "--no-life-events", help="v2: no life events during the plan."),
    no_figures: bool = typer.Option(False, "--no-figures", help="Skip the PNG figures."),
    nonmem_out: Path = typer.Option(None, "--nonmem-out", help=NONMEM_OUT_HELP),
    nonmem_scale: str = typer.Option("madrs", "--nonmem-scale", help=NONMEM_SCALE_HELP),
    nonmem_noise: bool = typer.Option(False, "--nonmem-noise", help=NONMEM_NOISE_HELP + " Seeded by --seed."),
    netcdf: Path = typer.Option(None, "--netcdf", help="Also write every patient's daily trajectories (the four "
                                "scales and the main states) with the patients' parameters as a labelled dataset: "
                                "FILE.nc (NetCDF) or FILE.zarr (Zarr)."),
) -> None:
    """Simulate a virtual population under a plan: outcomes per patient, rates with intervals, figures."""
    overrides = parse_overrides(param)
    spreads = parse_spreads(omega)
    console = Console()
    summary = run_population(plan_file, out, patients=patients, seed=seed, scheduler=scheduler,
                             chunk_size=chunk_size, overrides=overrides, spreads=spreads, progress=True,
                             figures=not no_figures, nonmem_out=nonmem_out, nonmem_scale=nonmem_scale,
                             nonmem_noise=nonmem_noise, netcdf=netcdf, model=model, life_events=not no_life_events)
    print_population_summary(summary, out, console)
