"""Calendar rules that expand a series ("6 infusions Mon-Wed-Fri") into dates.

Three rules, each from a first date ``start`` and ending after ``count`` dates or on ``until``
(inclusive), whichever comes first:

- :func:`weekday_dates`: the given weekdays of every ``every_weeks``-th week (induction, weekly therapy);
- :func:`interval_dates`: every ``every_days`` days (maintenance);
- :func:`taper_dates`: gaps that stretch, ``intervals_days = [7, 14, 21, 28]``, then stop or hold the last gap.

>>> import datetime as dt
>>> [d.strftime("%a %d") for d in weekday_dates(dt.date(2025, 1, 6), ("Mon", "Wed", "Fri"), count=6)]
['Mon 06', 'Wed 08', 'Fri 10', 'Mon 13', 'Wed 15', 'Fri 17']
>>> [d.day for d in taper_dates(dt.date(2025, 1, 1), (7, 14), then="stop")]
[1, 8, 22]
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

WEEKDAYS: tuple[str, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_FULL = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MAX_DATES = 5000  # a series longer than this is a mistake (ten years of daily doses is 3650)


def weekday_index(name: str) -> int:
    """0 for Monday ... 6 for Sunday; accepts ``Mon``, ``monday``, ``MON``. ValueError otherwise."""
    key = name.strip().lower()
    for i, full in enumerate(_FULL):
        if key in (full, full[:3]):
            return i
    raise ValueError(name)


def _done(out: list[dt.date], count: int | None) -> bool:
    return (count is not None and len(out) >= count) or len(out) >= MAX_DATES


def weekday_dates(start: dt.date, weekdays: Sequence[str], *, count: int | None = None,
                  until: dt.date | None = None, every_weeks: int = 1) -> list[dt.date]:
    """Dates on or after ``start`` falling on ``weekdays``, in the week of ``start`` and every
    ``every_weeks``-th week after it (weeks run Monday to Sunday)."""
    if count is None and until is None:
        raise ValueError("a weekday series needs count or until")
    wanted = sorted({weekday_index(w) for w in weekdays})
    monday = start - dt.timedelta(days=start.weekday())
    out: list[dt.date] = []
    week = 0
    while not _done(out, count):
        for wd in wanted:
            d = monday + dt.timedelta(weeks=week * every_weeks, days=wd)
            if d < start:
                continue
            if (until is not None and d > until) or _done(out, count):
                return out
            out.append(d)
        week += 1
    return out


def interval_dates(start: dt.date, every_days: int, *, count: int | None = None,
                   until: dt.date | None = None) -> list[dt.date]:
    """``start``, ``start + every_days``, ... (``every_days`` >= 1)."""
    if count is None and until is None:
        raise ValueError("an interval series needs count or until")
    if every_days < 1:
        raise ValueError("every_days must be at least 1")
    out: list[dt.date] = []
    d = start
    while not _done(out, count) and (until is None or d <= until):
        out.append(d)
        d += dt.timedelta(days=every_days)
    return out


def taper_dates(start: dt.date, intervals_days: Sequence[int], *, then: str = "stop", count: int | None = None,
                until: dt.date | None = None) -> list[dt.date]:
    """``start``, then one date after each gap of ``intervals_days``; ``then="hold"`` keeps
    repeating the last gap until ``count`` or ``until``."""
    if then not in ("stop", "hold"):
        raise ValueError("then must be 'stop' or 'hold'")
    if then == "hold" and count is None and until is None:
        raise ValueError("a held taper needs count or until")
    if not intervals_days or min(intervals_days) < 1:
        raise ValueError("intervals_days must be whole days >= 1")
    out: list[dt.date] = []
    d = start
    gaps = list(intervals_days)
    k = 0
    while not _done(out, count) and (until is None or d <= until):
        out.append(d)
        if k < len(gaps):
            d += dt.timedelta(days=gaps[k])
            k += 1
        elif then == "hold":
            d += dt.timedelta(days=gaps[-1])
        else:
            break
    return out
