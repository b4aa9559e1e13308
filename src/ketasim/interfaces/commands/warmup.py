"""``ketasim warmup``: compile every engine once into numba's on-disk cache.

Without it, the first command that simulates compiles the engines it needs (9-20 s on a small
machine), and from a terminal says so first on one line with a spinner; later runs load the compiled code
from the cache.
"""

from __future__ import annotations

import typer

from ketasim.interfaces.app import app

#: Commands that run an engine (the others answer without compiled code).
ENGINE_COMMANDS = frozenset({"simulate", "explain", "demo", "population", "trials", "calibrate", "calibrate-bands",
                             "claims", "posterior", "forecast", "policies"})
COMPILING = "compiling the engine (first run only)..."


@app.command("warmup")
def warmup_command() -> None:
    """Compile every engine once (numba's on-disk cache), so that no later command waits for it."""
    from ketasim.engine.warmup import marker_path, warm_up

    def report(name: str, seconds: float) -> None:
        typer.echo(f"  {name}: {seconds:.1f} s")

    typer.echo("compiling (or loading from the cache) every engine:")
    total = sum(warm_up(report).values())
    typer.echo(f"done in {total:.1f} s; compiled code cached in {marker_path().parent}")


def compile_if_needed(argv: list[str]) -> None:
    """Before a command that simulates, run from a terminal: compile the engines under a one-line message with a
    spinner if the cache of this version has not been filled yet. Nothing is printed otherwise; a run whose
    stderr is not a terminal (a script, a pipe, a test) compiles what it needs on first use, silently."""
    words = [a for a in argv if not a.startswith("-")]
    if not words or words[0] not in ENGINE_COMMANDS or "--help" in argv:
        return
    from rich.console import Console

    console = Console(stderr=True)
    if not console.is_terminal:
        return
    from ketasim.engine.warmup import is_warm, warm_up

    if not is_warm():
        with console.status(COMPILING, spinner="dots"):
            warm_up()
        console.print(f"{COMPILING} done")
