"""Errors a user can act on. The CLI prints them as one line, never as a traceback."""

from __future__ import annotations

from typing import Any


class KetasimError(Exception):
    """Base class of every error caused by user input."""


class PlanError(KetasimError):
    """A plan (or history, or study) field holds a value that is not allowed.

    The message names the file and line when known, the field, the value received and what
    is allowed: ``plan.yaml, line 12: doses[2].mg_per_kg = 1.5: allowed 0.1-1.0 mg/kg per IV
    infusion (set allow_off_label: true to lift dose limits)``.
    """

    def __init__(self, field: str, value: Any, allowed: str, *, file: str | None = None,
                 line: int | None = None) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        self.file = file
        self.line = line
        where = ", ".join(x for x in (file, f"line {line}" if line is not None else None) if x)
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}{field} = {value!r}: allowed {allowed}")


class SimulationError(KetasimError):
    """The integrator could not finish (for example, too many steps in one segment)."""


class OptionError(PlanError):
    """A command-line option holds a value that is not allowed (``--seed = -1: allowed 0 to 4294967295``)."""


class OutputError(OptionError):
    """The output named by an option (``--out``) cannot be written; raised before any work starts."""
