"""Times: stored in UTC, entered and shown in the clinic's time zone (an IANA name such as Europe/Berlin)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ketasim.clinic.db import ClinicError, utcnow

EARLIEST = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
FUTURE_MARGIN = dt.timedelta(hours=1)  # a record may be dated at most this far after now (clock skew)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ClinicError(f"timezone = {name!r}: allowed an IANA time zone name such as Europe/Berlin or UTC",
                          field="timezone") from None


def to_utc(value: dt.datetime | dt.date, tz: ZoneInfo, *, default_time: dt.time, field: str = "date",
           allow_future: bool = False) -> dt.datetime:
    """A date or date-time as entered (naive = clinic time; aware = as given) in UTC, within 1900..now."""
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, default_time)
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    out = value.astimezone(dt.UTC)
    if out < EARLIEST:
        raise ClinicError(f"{field} = {value.isoformat()}: allowed a date from 1900 on", field=field)
    if not allow_future and out > utcnow() + FUTURE_MARGIN:
        raise ClinicError(f"{field} = {value.isoformat()}: allowed a date and time that has passed (records are "
                          "entered after the fact)", field=field)
    return out


def local(value: dt.datetime | None, tz: ZoneInfo) -> dt.datetime | None:
    return None if value is None else value.astimezone(tz)


def local_today(tz: ZoneInfo) -> dt.date:
    return utcnow().astimezone(tz).date()


def format_local(value: dt.datetime | None, tz: ZoneInfo, *, with_time: bool = True) -> str:
    """``2025-01-06 09:30`` in the clinic's time zone (empty for None)."""
    if value is None:
        return ""
    t = value.astimezone(tz)
    return t.strftime("%Y-%m-%d %H:%M") if with_time else t.strftime("%Y-%m-%d")
