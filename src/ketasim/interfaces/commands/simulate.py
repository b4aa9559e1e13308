"""``ketasim simulate PLAN.yaml --out DIR``: one patient, every layer, the outcomes and the report figure.

Writes ``DIR/timeseries.csv`` (the trajectory table: day, date, scales, concentrations and every
model state), ``DIR/summary.json`` (:func:`ketasim.outcomes.summarize` plus the plan, the
disclaimer and the off-label flag) and ``DIR/report.png``, then prints the key outcomes.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from ketasim.errors import PlanError
from ketasim.interfaces.app import app
from ketasim.interfaces.options import FORCE_HELP


class Method(StrEnum):
    fast = "fast"
    reference = "reference"


def parse_overrides(items: list[str] | None) -> dict[str, float]:
    """``["k_prune=0.002", ...]`` -> ``{"k_prune": 0.002}``, checked against the names and bounds.

    Every mistake is a :class:`PlanError` naming the parameter and what is allowed.
    """
    from ketasim.parameters import IDX, response_parameters

    known = {p.name: p for p in response_parameters()}
    out: dict[str, float] = {}
    for item in items or []:
        name, sep, text = item.partition("=")
        name, text = name.strip(), text.strip()
        if not sep or not name:
            raise PlanError("--param", item, "name=value, e.g. --param k_prune=0.002")
        if name not in IDX:
            raise PlanError("--param name", name, f"one of the response parameters: {', '.join(IDX)}")
        try:
            value = float(text)
        except ValueError:
            raise PlanError(f"--param {name}", text, f"a number ({known[name].unit})") from None
        bounds = known[name].bounds
        if bounds is not None and not bounds[0] <= value <= bounds[1]:
            raise PlanError(f"--param {name}", value,
                            f"{bounds[0]:.4g} to {bounds[1]:.4g} {known[name].unit} (the parameter's bounds)")
        out[name] = value
    return out


def run_simulation(plan_file: Path, out: Path, *, method: str = "fast", overrides: dict[str, float] | None = None,
                   figure: bool = True, force: bool = False) -> dict[str, Any]:
    """Simulate ``plan_file``, write the three outputs to ``out`` and return the summary written.

    ``out`` is written through :func:`ketasim.interfaces.outputs.output_folder` (complete or not at all).
    """
    from ketasim.dosing.planfile import load_plan
    from ketasim.interfaces.outputs import output_folder
    from ketasim.parameters import vector_with

    plan = load_plan(plan_file)
    params = vector_with(overrides or {})
    with output_folder(out, force=force, inputs=[plan_file]) as folder:
        return _simulate_into(plan, plan_file, folder, params, method=method, overrides=overrides, figure=figure)


def _simulate_into(plan: Any, plan_file: Path, out: Path, params: Any, *, method: str,
                   overrides: dict[str, float] | None, figure: bool) -> dict[str, Any]:
    from ketasim.interfaces.report import plot_trajectory
    from ketasim.outcomes import summarize
    from ketasim.simulate import simulate

    traj = simulate(plan, params, method=method)
    table = traj.table.copy()
    table["date"] = [d.isoformat() for d in table["date"]]
    table.to_csv(out / "timeseries.csv", index=False, float_format="%.6g")
    summary = summarize(traj)
    summary = {
        "plan": plan.name,
        "description": plan.description,
        "plan_file": str(plan_file),
        "method": method,
        "parameter_overrides": dict(overrides or {}),
        **summary,
        "off_label": bool(plan.allow_off_label),
    }
    files = ["timeseries.csv", "summary.json"]
    if figure:
        plot_trajectory(traj, out / "report.png")
        files.append("report.png")
    summary["files"] = files
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def print_summary(summary: dict[str, Any], out: Path, console: Console | None = None) -> None:
    """The key outcomes as a rich table, the files written and the disclaimer."""
    from rich.table import Table

    from ketasim.interfaces.report import DISCLAIMER, OFF_LABEL_WARNING, outcome_rows

    console = console or Console()
    table = Table(title=f"ketasim simulate: {summary['plan']}", show_header=False, title_justify="left")
    table.add_column("outcome", style="bold")
    table.add_column("value")
    for label, value in outcome_rows(summary):
        table.add_row(label, value)
    console.print(table)
    if summary.get("parameter_overrides"):
        console.print("parameters overridden: " + ", ".join(f"{k}={v:g}" for k, v in
                                                            summary["parameter_overrides"].items()))
    console.print(f"wrote {', '.join(str(out / f) for f in summary['files'])}")
    if summary.get("off_label"):
        console.print(f"[bold red]{OFF_LABEL_WARNING}[/]")
    console.print(f"[dim]{DISCLAIMER}[/]")


@app.command("simulate")
def simulate_command(
    plan_file: Path = typer.Argument(..., help="YAML plan file (see the bundled examples: ketasim demo)."),
    out: Path = typer.Option(Path("ketasim-out"), "--out", "-o", help="Directory for timeseries.csv, "
                             "summary.json and report.png (created if missing)."),
    method: Method = typer.Option(Method.fast, "--method", help="fast: compiled integrator; reference: SciPy "
                                  "DOP853 at rtol 1e-10 (slower, the yardstick)."),
    param: list[str] = typer.Option([], "--param", help="Override a response parameter, name=value "
                                    "(repeatable; see ketasim params)."),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
) -> None:
    """Simulate one patient under a plan: time series, outcomes and the report figure."""
    overrides = parse_overrides(param)
    console = Console()
    with console.status(f"simulating {plan_file.name} ({method.value})"):
        summary = run_simulation(plan_file, out, method=method.value, overrides=overrides, force=force)
    print_summary(summary, out, console)
