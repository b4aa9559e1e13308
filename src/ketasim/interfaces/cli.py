"""The ``ketasim`` command line. Each command lives in ``ketasim.interfaces.commands`` and registers on
:data:`ketasim.interfaces.app.app`.

User mistakes (:class:`ketasim.errors.KetasimError`) print one ``error: ...`` line and exit
with status 2; a traceback is a bug.
"""

from __future__ import annotations

import importlib
import signal
import sys
import threading

import typer

from ketasim.errors import KetasimError
from ketasim.interfaces.app import app

# Command modules register themselves on ``app`` when imported. A module that is not there
# (yet) is skipped so that the others still work.
COMMAND_MODULES = ("params", "simulate", "explain", "demo", "population", "export_sbml", "trials", "calibrate",
                   "posterior", "claims", "forecast", "policies", "import_nonmem", "clinic", "warmup")
for _name in COMMAND_MODULES:
    try:
        importlib.import_module(f"ketasim.interfaces.commands.{_name}")
    except ModuleNotFoundError as exc:  # pragma: no cover - only while a command is being written
        if exc.name != f"ketasim.interfaces.commands.{_name}":
            raise


class Interrupted(BaseException):
    """SIGINT or SIGTERM received by the command line (a BaseException, like KeyboardInterrupt)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_interrupted(signum: int, frame: object) -> None:
    raise Interrupted(signum)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _message(exc: BaseException, text: str) -> str:
    """``text`` and the exception's notes (what happened to the outputs) on one line."""
    return "; ".join(_one_line(x) for x in (text, *getattr(exc, "__notes__", ())) if x)


def _usage_errors() -> tuple[type[Exception], ...]:
    """Click's usage errors (Typer vendors click from 0.2x on; earlier versions use click itself)."""
    kinds = []
    for module, name in (("typer", "TyperException"), ("click", "ClickException")):
        try:
            kinds.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            continue
    return tuple(kinds)


def main(args: list[str] | None = None) -> None:
    """Entry point: run the app; a user error is one ``error: ...`` line on stderr and exit status 2.

    Usage errors (an unknown option, a value of the wrong type or out of range) are user errors too.
    SIGINT and SIGTERM end the command through :class:`Interrupted`, so that every output folder
    is cleaned up (exit status 130 and 143).
    """
    handlers = {}
    if threading.current_thread() is threading.main_thread():
        handlers = {s: signal.signal(s, _raise_interrupted) for s in (signal.SIGINT, signal.SIGTERM)}
    from ketasim.interfaces.commands.warmup import compile_if_needed

    try:
        compile_if_needed(sys.argv[1:] if args is None else list(args))
        code = app(args=args, standalone_mode=False)
    except KetasimError as exc:
        typer.echo(f"error: {_message(exc, str(exc))}", err=True)
        sys.exit(2)
    except Exception as exc:
        if not isinstance(exc, _usage_errors()):
            raise
        if type(exc).__name__ == "NoArgsIsHelpError":  # ``ketasim`` alone: the help, as Typer prints it
            try:
                app(args=["--help"])
            except SystemExit:
                pass
        else:  # click's usage errors: an unknown option, a bad value, a missing argument
            typer.echo(f"error: {_message(exc, exc.format_message())}", err=True)
        sys.exit(2)
    except Interrupted as exc:
        typer.echo(f"error: {_message(exc, f'interrupted ({exc})')}", err=True)
        sys.exit(128 + exc.signum)
    finally:
        for s, handler in handlers.items():
            signal.signal(s, handler)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
