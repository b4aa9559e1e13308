"""Checks of command-line values, run by Typer while it parses the command line (before any work).

``typer.Option(0, "--seed", callback=SEED)`` or ``callback=within(1, 10_000_000, what="virtual
patients")``: a value outside the range (or NaN, or infinite) raises
:class:`~ketasim.errors.OptionError` naming the option, the value and what is allowed, which the
CLI prints as one ``error: ...`` line (exit status 2).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import typer

from ketasim.errors import OptionError

SEED_MAX = 2**32 - 1
#: The documented capacity of ``ketasim population`` (outcomes streamed to disk chunk by chunk).
MAX_PATIENTS = 10_000_000
SCHEDULER_ADDRESS = re.compile(r"^(tcp|tls|ucx|inproc)://[A-Za-z0-9._\-\[\]:]+:(\d{1,5})$")


def option_name(param: typer.CallbackParam) -> str:
    """The long name of an option (``--patients`` rather than ``-n``)."""
    names = [o for o in param.opts if o.startswith("--")] or list(param.opts) or [str(param.name)]
    return names[0]


def _number(x: float) -> str:
    if isinstance(x, int) or float(x).is_integer():
        return f"{int(x):,}"
    return f"{x:g}"


def range_text(lo: float | None, hi: float | None, *, lo_open: bool = False, hi_open: bool = False,
               what: str = "") -> str:
    """``1 to 10,000,000 virtual patients``, ``a number > 0 and at most 10,080 minutes``, ..."""
    unit = f" {what}" if what else ""
    if lo is not None and hi is not None and not lo_open and not hi_open:
        return f"{_number(lo)} to {_number(hi)}{unit}"
    parts = []
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {_number(lo)}")
    if hi is not None:
        parts.append(f"{'<' if hi_open else '<='} {_number(hi)}")
    return f"a finite number {' and '.join(parts)}{unit}".rstrip()


def check_range(option: str, value: Any, lo: float | None = None, hi: float | None = None, *,
                lo_open: bool = False, hi_open: bool = False, what: str = "", also: tuple = ()) -> Any:
    """``value`` if it lies in the range (or is one of ``also``), else :class:`OptionError`."""
    if value is None or value in also:
        return value
    x = value if isinstance(value, int) else float(value)  # ints compare exactly, however large
    ok = isinstance(x, int) or math.isfinite(x)
    if ok and lo is not None:
        ok = x > lo if lo_open else x >= lo
    if ok and hi is not None:
        ok = x < hi if hi_open else x <= hi
    if not ok:
        allowed = range_text(lo, hi, lo_open=lo_open, hi_open=hi_open, what=what)
        if also:
            allowed += " (or " + " or ".join(_number(a) for a in also) + ")"
        shown = value if len(str(value)) <= 40 else f"{str(value)[:20]}... ({len(str(value))} characters)"
        raise OptionError(option, shown, allowed)
    return value


def within(lo: float | None = None, hi: float | None = None, *, what: str = "", lo_open: bool = False,
           hi_open: bool = False, also: tuple = ()) -> Callable[[typer.CallbackParam, Any], Any]:
    """A Typer callback that checks a number (or each of a list of numbers) against a range."""

    def callback(param: typer.CallbackParam, value: Any) -> Any:
        values = value if isinstance(value, list | tuple) else [value]
        for v in values:
            check_range(option_name(param), v, lo, hi, lo_open=lo_open, hi_open=hi_open, what=what, also=also)
        return value

    return callback


SEED = within(0, SEED_MAX, what="(a whole number)")


def scheduler_address(param: typer.CallbackParam, value: str | None) -> str | None:
    """A Dask scheduler address ``tcp://HOST:PORT`` (tls, ucx and inproc too), port 1-65535."""
    if value is None:
        return value
    m = SCHEDULER_ADDRESS.match(value.strip())
    if m is None or not 1 <= int(m.group(2)) <= 65535:
        raise OptionError(option_name(param), value, "a Dask scheduler address such as tcp://10.0.0.5:8786 "
                                                     "(port 1-65535)")
    return value.strip()


def input_file(param: typer.CallbackParam, value: Any) -> Any:
    """A Typer callback: each given path is an existing, readable file (not a folder)."""
    import os
    from pathlib import Path

    for v in value if isinstance(value, list | tuple) else [value]:
        if v is None:
            continue
        p = Path(v)
        what = ("a folder" if p.is_dir() else "missing" if not p.exists() else "not a regular file" if not p.is_file()
                else "not readable" if not os.access(p, os.R_OK) else "")
        if what:
            raise OptionError(option_name(param), str(v), f"an existing file you can read (this one is {what})")
    return value


def text_option(*, max_length: int = 1000) -> Callable[[typer.CallbackParam, Any], Any]:
    """A Typer callback that refuses control characters and very long text (one or a list of values)."""

    def callback(param: typer.CallbackParam, value: Any) -> Any:
        for v in value if isinstance(value, list | tuple) else [value]:
            if v is None:
                continue
            text = str(v)
            if len(text) > max_length:
                raise OptionError(option_name(param), f"{text[:40]}...", f"at most {max_length} characters")
            if any(ord(c) < 32 or ord(c) == 127 for c in text):
                raise OptionError(option_name(param), text, "text without control characters")
        return value

    return callback


FORCE_HELP = ("Replace the output folder even if it holds files ketasim did not write (they are deleted); an "
              "earlier ketasim output is replaced without it.")
