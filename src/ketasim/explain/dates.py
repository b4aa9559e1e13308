"""Dates as users give them (plan day, ``datetime.date``, ISO text) turned into plan days."""

from __future__ import annotations

import datetime as dt

from ketasim.dosing.plan import Plan
from ketasim.errors import PlanError


def as_day(plan: Plan, when: float | int | dt.date | str, field: str) -> float:
    """Plan day of ``when``: a number is a plan day, a date (or ``YYYY-MM-DD``) is midnight of that date."""
    if isinstance(when, str):
        try:
            when = dt.date.fromisoformat(when.strip())
        except ValueError:
            raise PlanError(field, when, "a plan day (number) or a date written YYYY-MM-DD") from None
    if isinstance(when, dt.datetime):
        day = plan.day_of(when.date()) + (when.hour + when.minute / 60.0) / 24.0
    elif isinstance(when, dt.date):
        day = plan.day_of(when)
    else:
        try:
            day = float(when)
        except (TypeError, ValueError):
            raise PlanError(field, when, "a plan day (number) or a date") from None
    if not (0.0 <= day <= plan.horizon_days):
        last = plan.date_of(plan.horizon_days).isoformat()
        raise PlanError(field, when, f"a day from 0 to {plan.horizon_days:g} (dates {plan.start_date.isoformat()} "
                                     f"to {last})")
    return day


def short_date(plan: Plan, day: float) -> str:
    """``3 Feb 2025`` for plan day ``day``."""
    from ketasim.outcomes.formatting import date_text

    return date_text(plan.date_of(day))
