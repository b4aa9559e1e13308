"""``ketasim params``: every model parameter with value, unit, source and status."""

from __future__ import annotations

import json

import typer
from rich.console import Console

from ketasim.errors import OptionError
from ketasim.interfaces.app import app
from ketasim.interfaces.options import text_option


@app.command("params")
def params_command(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    layer: str = typer.Option("", callback=text_option(max_length=200),
                              help="Only parameters whose layer starts with this (e.g. 'synapses', 'exposure')."),
) -> None:
    """Print every model parameter: value, unit, source and status (literature / calibrated / assumed)."""
    from rich.table import Table

    from ketasim.parameters import all_parameters
    from ketasim.trials.cohort import trial_parameters

    every = [*all_parameters(), *trial_parameters()]
    rows = [p for p in every if p.layer.startswith(layer)]
    if not rows:
        layers = ", ".join(dict.fromkeys(p.layer for p in every))
        raise OptionError("--layer", layer, f"the start of a layer name: {layers}")
    if as_json:
        typer.echo(json.dumps([p.__dict__ for p in rows], indent=2, default=list))
        return
    table = Table(title="ketasim parameters", show_lines=False)
    for col in ("layer", "name", "value", "unit", "status", "source"):
        table.add_column(col, overflow="fold")
    for p in rows:
        table.add_row(p.layer, p.name, f"{p.value:.4g}", p.unit, p.status, p.source)
    Console(width=200).print(table)
