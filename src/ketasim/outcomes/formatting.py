"""How numbers and dates are written for people: one helper for every report, so one value prints one way.

Summaries keep scores to 2 decimals (:func:`ketasim.outcomes.summary.summarize`); a raw value and
its stored copy must print alike, so every score is first rounded to those 2 decimals and then,
half up, to the decimals shown (6.949 and its stored 6.95 both print as 7.0, never one as 6.9).
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import ROUND_HALF_UP, Decimal

#: Decimals that summaries keep.
STORED_DECIMALS = 2
#: Names of the rating scales as people write them, by column name.
SCALE_NAMES = {"madrs": "MADRS", "hdrs17": "HDRS-17", "phq9": "PHQ-9", "qids_sr16": "QIDS-SR16"}


def number(x: float | None, decimals: int = 1, *, signed: bool = False, missing: str = "n/a") -> str:
    """``x`` with ``decimals`` decimals, rounded half up from its stored 2-decimal value (``missing`` for None/NaN)."""
    if x is None or not math.isfinite(float(x)):
        return missing
    stored = Decimal(repr(round(float(x), max(STORED_DECIMALS, decimals))))
    text = str(stored.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))
    if text.startswith("-") and Decimal(text) == 0:
        text = text[1:]
    return f"+{text}" if signed and not text.startswith("-") else text


def score(x: float | None, *, signed: bool = False) -> str:
    """A rating-scale score or a change of score in points, one decimal (``7.0``, ``-17.5``)."""
    return number(x, 1, signed=signed)


def date_text(when: dt.date | dt.datetime | str) -> str:
    """``18 Jan 2025`` for a date, a datetime or ``YYYY-MM-DD`` text."""
    if isinstance(when, str):
        when = dt.date.fromisoformat(when[:10])
    return f"{when.day} {when:%b %Y}"
