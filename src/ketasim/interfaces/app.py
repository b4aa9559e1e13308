"""The Typer application every command registers on (``@app.command(...)``).

Kept apart from :mod:`ketasim.interfaces.cli` (which imports every command module and runs the
app) so that a command module can be imported on its own without a circular import.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="ketasim",
    help="Simulate ketamine treatment of depression from dose to rating scale, and plan maintenance. "
    "Research and decision-support software, not a medical device.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from ketasim import __version__

        typer.echo(f"ketasim {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """ketasim: research and decision-support software, not a medical device."""
