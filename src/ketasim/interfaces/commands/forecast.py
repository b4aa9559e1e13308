"""``ketasim forecast HISTORY.csv --out DIR``: one real patient's forecast and maintenance recommendation.

Reads the patient's event log (CSV or YAML, see ``ketasim.planning.history``), weights virtual
patients of the calibrated population by how well they reproduce the patient's own scores, and
writes ``DIR/forecast.csv`` (daily predicted score with 50/80/95% bands and the relapse risk),
``DIR/forecast.png`` (past scores, doses and the banded forecast) and ``DIR/recommendation.json``
(next session date, relapse risk by date, bridge probability, and the decision-support statement).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from ketasim.errors import PlanError
from ketasim.interfaces.app import app


def run_forecast(history_file: Path, out: Path, *, today: str | None = None, risk: float = 0.10,
                 horizon_days: int = 182, particles: int = 2000, every_days: float | None = None,
                 dose_mg: float | None = None, seed: int = 0, figure: bool = True) -> dict[str, Any]:
    """Forecast for the history in ``history_file``; write the three outputs to ``out``; return the recommendation."""
    from ketasim.planning.forecast import forecast, plot_forecast, with_extra_maintenance
    from ketasim.planning.history import read_history

    history = read_history(history_file, today=today)
    if particles < 100:
        raise PlanError("--particles", particles, "100 or more virtual patients")
    if horizon_days < 14 or horizon_days > 730:
        raise PlanError("--horizon", horizon_days, "14-730 days")
    extra = ()
    if every_days is not None:
        if not 1 <= every_days <= 180:
            raise PlanError("--every", every_days, "1-180 days between planned maintenance sessions")
        extra = with_extra_maintenance(history, every_days, dose_mg=dose_mg, horizon_days=horizon_days)
    fc = forecast(history, horizon_days=horizon_days, risk=risk, n_particles=particles, extra_doses=extra, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    table = fc.table()
    table["date"] = [d.isoformat() for d in table["date"]]
    table.insert(2, "scale", table.attrs["scale"])
    table.to_csv(out / "forecast.csv", index=False, float_format="%.4g")
    rec = fc.recommendation()
    rec["history_file"] = str(history_file)
    (out / "recommendation.json").write_text(json.dumps(rec, indent=2))
    if figure:
        plot_forecast(fc, str(out / "forecast.png"))
    return rec


@app.command("forecast")
def forecast_command(
    history: Path = typer.Argument(..., help="The patient's event log (.csv, .yaml)."),
    out: Path = typer.Option(Path("forecast-out"), "--out", help="Output directory."),
    today: str = typer.Option(None, help="Date of the forecast (default: the last score's date); later rows "
                              "are the planned treatment."),
    risk: float = typer.Option(0.10, help="Acceptable chance of relapse before the next session (0-1)."),
    horizon: int = typer.Option(182, help="Forecast horizon in days."),
    particles: int = typer.Option(2000, help="Virtual patients drawn from the population prior."),
    every: float = typer.Option(None, help="Add planned maintenance sessions every N days after the last dose."),
    dose_mg: float = typer.Option(None, help="Dose of the added sessions (default: the last dose)."),
    seed: int = typer.Option(0, help="Random seed."),
) -> None:
    """Forecast one patient's scores from their own history, and recommend the next maintenance session.

    Decision support from research software, not medical advice and not a medical device.
    """
    console = Console()
    with console.status("fitting the patient's posterior and forecasting..."):
        rec = run_forecast(history, out, today=today, risk=risk, horizon_days=horizon, particles=particles,
                           every_days=every, dose_mg=dose_mg, seed=seed)
    console.print(f"[bold]{rec['patient']}[/bold] (today {rec['today']}, {rec['scale']})")
    cur = rec["current_madrs_estimate"]
    console.print(f"  current MADRS estimate: {cur['median']} (80%: {cur['q10']}-{cur['q90']})")
    console.print(f"  {rec['next_session_advice']}")
    console.print(f"  bridge probability (no relapse for 6 months without further doses): "
                  f"{rec['bridge_probability']:.0%}")
    console.print(f"  wrote {out / 'forecast.csv'}, {out / 'forecast.png'}, {out / 'recommendation.json'}")
    if rec.get("allow_off_label"):
        console.print("  [yellow]doses outside published ranges were allowed[/yellow]")
    console.print(f"[dim]{rec['disclaimer']}[/dim]")
