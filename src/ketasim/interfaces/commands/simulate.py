"""``ketasim simulate PLAN.yaml --out DIR``: one patient, every layer, the outcomes and the report figure.

Writes ``DIR/timeseries.csv`` (the trajectory table: day, date, scales, concentrations and every
model state), ``DIR/summary.json`` (:func:`ketasim.outcomes.summarize` plus the plan, the
disclaimer and the off-label flag) and ``DIR/report.png``, then prints the key outcomes.
``--nonmem-out FILE`` also writes the simulated NONMEM dataset (one observation a day).
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from ketasim.interfaces.app import app
from ketasim.interfaces.nonmem_options import NONMEM_NOISE_HELP, NONMEM_OUT_HELP, NONMEM_SCALE_HELP, scale_option
from ketasim.interfaces.options import FORCE_HELP


class Method(StrEnum):
    fast = "fast"
    reference = "reference"


def run_simulation(plan_file: Path, out: Path, *, method: str = "fast", overrides: dict[str, float] | None = None,
                   figure: bool = True, force: bool = False, nonmem_out: Path | None = None,
                   nonmem_scale: str = "madrs", nonmem_noise: bool = False) -> dict[str, Any]:
    """Simulate ``plan_file``, write the three outputs to ``out`` (and the NONMEM dataset ``nonmem_out``: one
    observation a day, residual noise seeded 0) and return the summary written.

    Every output is written through :func:`ketasim.interfaces.outputs.output_set` (complete or not at all,
    checked before the simulation).
    """
    from ketasim.dosing.planfile import load_plan
    from ketasim.formats.nonmem import check_scale
    from ketasim.interfaces.outputs import output_set
    from ketasim.parameters import vector_with

    plan = load_plan(plan_file)
    params = vector_with(overrides or {})
    if nonmem_out is not None:
        nonmem_scale = check_scale(nonmem_scale)
    with output_set(out, {"--nonmem-out": nonmem_out}, force=force, inputs=[plan_file]) as (folder, where):
        assert folder is not None
        nonmem = None if nonmem_out is None else (where["--nonmem-out"], nonmem_out, nonmem_scale, nonmem_noise)
        return _simulate_into(plan, plan_file, folder, params, method=method, overrides=overrides, figure=figure,
                              nonmem=nonmem)


def _simulate_into(plan: Any, plan_file: Path, out: Path, params: Any, *, method: str,
                   overrides: dict[str, float] | None, figure: bool,
                   nonmem: tuple[Path, Path, str, bool] | None) -> dict[str, Any]:
    """``nonmem``: (where to write, the path given, scale, noise) of the NONMEM dataset, or None."""
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
    if nonmem is not None:
        from ketasim.formats.nonmem import simulation_records, write_nonmem
        from ketasim.interfaces.outputs import shown_path

        written, given, scale, noise = nonmem
        write_nonmem(simulation_records(traj, scale=scale, noise=noise), written)
        files.append(shown_path(written, out, given))
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
    nonmem_out: Path = typer.Option(None, "--nonmem-out", help=NONMEM_OUT_HELP),
    nonmem_scale: str = typer.Option("madrs", "--nonmem-scale", callback=scale_option, help=NONMEM_SCALE_HELP),
    nonmem_noise: bool = typer.Option(False, "--nonmem-noise", help=NONMEM_NOISE_HELP),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
) -> None:
    """Simulate one patient under a plan: time series, outcomes and the report figure."""
    from ketasim.parameters import parse_overrides

    overrides = parse_overrides(param)
    console = Console()
    with console.status(f"simulating {plan_file.name} ({method.value})"):
        summary = run_simulation(plan_file, out, method=method.value, overrides=overrides, force=force,
                                 nonmem_out=nonmem_out, nonmem_scale=nonmem_scale, nonmem_noise=nonmem_noise)
    print_summary(summary, out, console)
