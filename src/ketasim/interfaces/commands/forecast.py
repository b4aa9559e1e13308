"""``ketasim forecast HISTORY.csv --out DIR``: one real patient's forecast and maintenance recommendation.

Reads the patient's event log (CSV or YAML, see ``ketasim.planning.history``), weights virtual
patients of the calibrated population by how well they reproduce the patient's own scores, and
writes ``DIR/forecast.csv`` (daily predicted score with 50/80/95% bands and the relapse risk),
``DIR/forecast.png`` (past scores, doses and the banded forecast), ``DIR/intervals.csv`` and
``DIR/intervals.png`` (which maintenance interval keeps this patient well) and ``DIR/recommendation.json``
(schema ``ketasim/data/recommendation.schema.json``: next session date, relapse risk by date, bridge
probability, the intervals, and the decision-support statement).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from ketasim.errors import OptionError
from ketasim.interfaces.app import app
from ketasim.interfaces.options import FORCE_HELP, SEED, SEED_MAX, check_range, within

MIN_HORIZON, MAX_HORIZON = 14, 730
MIN_PARTICLES, MAX_PARTICLES = 100, 100_000
MIN_DRAWS, MAX_DRAWS = 1, 400


def run_forecast(history_file: Path, out: Path, *, today: str | None = None, risk: float = 0.10,
                 horizon_days: int = 182, particles: int = 2000, every_days: float | None = None, force: bool = False,
                 dose_mg: float | None = None, seed: int = 0, figure: bool = True, draws: int = 100,
                 typical: bool = False) -> dict[str, Any]:
    """Forecast for the history in ``history_file``; write the three outputs to ``out``; return the recommendation.

    ``out`` is written through :func:`ketasim.interfaces.outputs.output_folder` (complete or not at all).
    """
    from ketasim.interfaces.outputs import output_folder
    from ketasim.planning.forecast import with_extra_maintenance
    from ketasim.planning.history import read_history

    check_range("--risk", risk, 0, 1, lo_open=True, hi_open=True, what="(a probability)")
    check_range("--horizon", horizon_days, MIN_HORIZON, MAX_HORIZON, what="days")
    check_range("--particles", particles, MIN_PARTICLES, MAX_PARTICLES, what="virtual patients")
    check_range("--every", every_days, 1, 180, what="days between planned maintenance sessions")
    check_range("--seed", seed, 0, SEED_MAX)
    check_range("--draws", draws, MIN_DRAWS, MAX_DRAWS, what="draws of the shipped posterior")
    history = read_history(history_file, today=today)
    extra = ()
    if dose_mg is not None and every_days is None:
        raise OptionError("--dose-mg", dose_mg, "a dose for the sessions added by --every (give --every too)")
    if every_days is not None:
        extra = with_extra_maintenance(history, every_days, dose_mg=dose_mg, horizon_days=horizon_days)
    with output_folder(out, force=force, inputs=[history_file]) as folder:
        return _forecast_into(folder, history, history_file, horizon_days=horizon_days, risk=risk,
                              particles=particles, extra=extra, seed=seed, figure=figure, draws=draws,
                              typical=typical, dose_mg=dose_mg)


def _forecast_into(out: Path, history: Any, history_file: Path, *, horizon_days: int, risk: float, particles: int,
                   extra: Any, seed: int, figure: bool, draws: int = 100, typical: bool = False,
                   dose_mg: float | None = None) -> dict[str, Any]:
    import pandas as pd

    from ketasim.planning.forecast import forecast, interval_rows_flat, plot_forecast, plot_intervals
    from ketasim.planning.world import world_for

    fc = forecast(history, horizon_days=horizon_days, risk=risk, n_particles=particles, extra_doses=extra, seed=seed,
                  world=world_for(draws, typical=typical), interval_dose_mg=dose_mg)
    table = fc.table()
    table["date"] = [d.isoformat() for d in table["date"]]
    table.insert(2, "scale", table.attrs["scale"])
    table.to_csv(out / "forecast.csv", index=False, float_format="%.4g")
    rec = fc.recommendation()
    rec["history_file"] = str(history_file)
    pd.DataFrame(interval_rows_flat(fc.intervals or [])).to_csv(out / "intervals.csv", index=False)
    (out / "recommendation.json").write_text(json.dumps(rec, indent=2))
    if figure:
        plot_forecast(fc, str(out / "forecast.png"))
        plot_intervals(fc, str(out / "intervals.png"))
    return rec


@app.command("forecast")
def forecast_command(
    history: Path = typer.Argument(..., help="The patient's event log (.csv, .yaml)."),
    out: Path = typer.Option(Path("forecast-out"), "--out", help="Output directory."),
    today: str = typer.Option(None, help="Date of the forecast (default: the last score's date); later rows "
                              "are the planned treatment."),
    risk: float = typer.Option(0.10, callback=within(0, 1, lo_open=True, hi_open=True, what="(a probability)"),
                               help="Acceptable chance of relapse before the next session (0-1)."),
    horizon: int = typer.Option(182, callback=within(MIN_HORIZON, MAX_HORIZON, what="days"),
                                help=f"Forecast horizon in days ({MIN_HORIZON}-{MAX_HORIZON})."),
    particles: int = typer.Option(2000, callback=within(MIN_PARTICLES, MAX_PARTICLES, what="virtual patients"),
                                  help="Virtual patients drawn from the population prior."),
    every: float = typer.Option(None, callback=within(1, 180, what="days between planned maintenance sessions"),
                                help="Add planned maintenance sessions every N days after the last dose."),
    dose_mg: float = typer.Option(None, "--dose-mg", help="Dose in mg of the sessions added by --every (default: "
                                  "the amount of the last dose); checked against the published limits for the "
                                  "patient's weight."),
    seed: int = typer.Option(0, callback=SEED, help="Random seed."),
    draws: int = typer.Option(100, callback=within(MIN_DRAWS, MAX_DRAWS, what="draws of the shipped posterior"),
                              help=f"Draws of the shipped posterior over the population parameters ({MIN_DRAWS}-"
                              f"{MAX_DRAWS})."),
    typical: bool = typer.Option(False, "--typical", help="Population parameters at the point estimate (no "
                                 "parameter uncertainty)."),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
) -> None:
    """Forecast one patient's scores from their own history, and recommend the next maintenance session.

    Decision support from research software, not medical advice and not a medical device.
    """
    console = Console()
    with console.status("fitting the patient's posterior and forecasting..."):
        rec = run_forecast(history, out, today=today, risk=risk, horizon_days=horizon, particles=particles, force=force,
                           every_days=every, dose_mg=dose_mg, seed=seed, draws=draws, typical=typical)
    console.print(f"[bold]{rec['patient']}[/bold] (today {rec['today']}, {rec['scale']})")
    console.print(f"  {rec['headline']}")
    console.print(f"  {rec['last_observed']['note']}")
    console.print(f"  relapse: {rec['relapse_definition']}")
    console.print(f"  chance of no relapse for 6 months without further doses: {rec['bridge_probability']:.0%}")
    if rec["intervals"]:
        from rich.table import Table

        t = Table(title="Which interval keeps this patient well (next year, 80% ranges)")
        for col in ("session every", "sessions", "days in remission", "relapses", "chance of any relapse"):
            t.add_column(col, justify="right")
        for r in rec["intervals"]:
            rem, rel = r["days_in_remission"], r["relapses"]
            t.add_row(f"{r['interval_days']} days", f"{r['sessions_per_year']:.0f}",
                      f"{rem['mean']:.0f} ({rem['q10']:.0f}-{rem['q90']:.0f})",
                      f"{rel['mean']:.1f} ({rel['q10']:.0f}-{rel['q90']:.0f})", f"{r['p_any_relapse']:.0%}")
        console.print(t)
        console.print(f"  {rec['interval_advice']}")
    p = rec["posterior"]
    console.print(f"  from {p['particles_simulated']} virtual patients over {p['population_draws']} population draws "
                  f"(effective sample size {p['effective_sample_size']:g})")
    console.print(f"  wrote {out / 'forecast.csv'}, {out / 'forecast.png'}, {out / 'intervals.csv'}, "
                  f"{out / 'intervals.png'}, {out / 'recommendation.json'}")
    if rec.get("allow_off_label"):
        console.print("  [yellow]doses outside published ranges were allowed[/yellow]")
    console.print(f"[dim]{rec['disclaimer']}[/dim]")
