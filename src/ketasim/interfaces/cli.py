"""The ``ketasim`` command line. Each command lives in ``ketasim.interfaces.commands``.

User mistakes (:class:`ketasim.errors.KetasimError`) print one ``error: ...`` line and exit
with status 2; a traceback is a bug.
"""

from __future__ import annotations

import importlib
import sys

import typer

from ketasim.errors import KetasimError

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


# Command modules register themselves on ``app`` when imported. A module that is not there
# (yet) is skipped so that the others still work.
COMMAND_MODULES = ("params", "simulate", "explain", "demo", "population", "export_sbml", "trials", "calibrate",
                   "posterior", "forecast", "policies", "import_nonmem", "clinic", "warmup")
for _name in COMMAND_MODULES:
    try:
        importlib.import_module(f"ketasim.interfaces.commands.{_name}")
    except ModuleNotFoundError as exc:  # pragma: no cover - only while a command is being written
        if exc.name != f"ketasim.interfaces.commands.{_name}":
            raise


def main() -> None:
    """Entry point: run the app, turning user errors into one line on stderr (exit status 2)."""
    from ketasim.interfaces.commands.warmup import compile_if_needed

    try:
        compile_if_needed(sys.argv[1:])
        app()
    except KetasimError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
