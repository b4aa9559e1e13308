"""YAML treatment plan files -> :class:`~ketasim.dosing.plan.Plan`, validated with file and line.

The format is documented in ``docs/plan-format.md``; the bundled examples are in
``ketasim/examples``. In short::

    name: induction-six
    start_date: 2025-01-06
    horizon_days: 150
    patient: {weight_kg: 70, baseline_madrs: 33, chronic_load: 0.5}
    doses:
      - {series: induction, count: 6, weekdays: [Mon, Wed, Fri], start: 2025-01-06, dose: 0.5 mg/kg}

Reading happens in three steps. (1) :func:`ketasim.formats.yamlio.read_yaml` (the one YAML reader) keeps
dates and clock times as text and records the line of every mapping key and sequence item. (2) Pydantic models
(``extra="forbid"``, strict types) check the structure; their error locations are mapped back to
lines. (3) Dates, units and series are resolved into days from ``start_date`` and the result is
checked against :mod:`ketasim.dosing.limits`. Every problem is a :class:`~ketasim.errors.PlanError`
naming the file, the line, the field path (``doses[2].dose``), the value and what is allowed.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainValidator, ValidationError
from pydantic_core import PydanticCustomError

from ketasim.dosing import series as cal
from ketasim.dosing.limits import (
    CAPACITY,
    DATE_RANGE_TEXT,
    EARLIEST_DATE,
    EARLIEST_EVENT_DAY,
    ESKETAMINE_DEVICE_MG,
    HORIZON_DAYS,
    LATEST_DATE,
    OFF_LABEL_HINT,
    LimitError,
    LimitViolation,
    format_dose,
)
from ketasim.dosing.plan import Dose, LifeEvent, LifestylePeriod, OtherTreatment, Patient, Plan
from ketasim.errors import PlanError
from ketasim.formats.yamlio import FieldPath, LineMap, field_name, field_path, read_text_file, read_yaml

DEFAULT_TIME = "09:00"
DEFAULT_INFUSION_MIN = 40.0
DEFAULT_DEVICE_INTERVAL_MIN = 5.0
DEFAULT_ROUTE = {"racemic": "iv", "esketamine": "intranasal"}
DEFAULT_HORIZON_AFTER_LAST_DAYS = 90.0
MAX_INTERVAL_DAYS = int(HORIZON_DAYS.high)  # every_days, every_weeks x 7 and taper gaps
MAX_DAY_NUMBER = HORIZON_DAYS.high  # |day| of a day number (days from start_date)


def _read_yaml(text: str, file: str) -> tuple[Any, LineMap]:
    data, src = read_yaml(text, file=file)
    src.root = "<plan>"
    if data is None:
        raise PlanError("<plan>", "", "a YAML mapping with at least start_date", file=file, line=1)
    if not isinstance(data, dict):
        raise PlanError("<plan>", data, "a YAML mapping of keys (name, start_date, patient, doses, ...)",
                        file=file, line=1)
    return data, src

# ---------------------------------------------------------------------------------------------
# 2. The file schema (structure and types only; values are checked in step 3 and in limits.py)
# ---------------------------------------------------------------------------------------------

def _custom(allowed: str) -> PydanticCustomError:
    return PydanticCustomError("ketasim", "{allowed}", {"allowed": allowed})


def _when(v: Any) -> str | float:
    """A date ``YYYY-MM-DD``, a date and time ``YYYY-MM-DD HH:MM``, or a number of days from start."""
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        raise _custom("a date YYYY-MM-DD (optionally with HH:MM), or a number of days from start_date")
    return v if isinstance(v, str) else float(v)


def _number_or_text(v: Any) -> float | str:
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        raise _custom("a number, or a number with its unit (e.g. '40 min')")
    return v if isinstance(v, str) else float(v)


def _dose_text(v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        raise _custom("a dose with its unit, e.g. '0.5 mg/kg' or '56 mg'")
    return str(v)


def _date_str(v: Any) -> str:
    if not isinstance(v, str):
        raise _custom("a date YYYY-MM-DD, e.g. 2025-01-06")
    return v


def _as_list(v: Any) -> Any:
    return [] if v is None else [v] if isinstance(v, dict) else v


def _none_to_empty(v: Any) -> Any:
    return [] if v is None else v


def _clock_str(v: Any) -> str:
    if not isinstance(v, str):
        raise _custom('a clock time HH:MM, quoted ("09:00")')
    return v


When = Annotated[str | float, PlainValidator(_when)]
Quantity = Annotated[float | str, PlainValidator(_number_or_text)]
DoseText = Annotated[str, PlainValidator(_dose_text)]
Clock = Annotated[str, PlainValidator(_clock_str)]
DateText = Annotated[str, PlainValidator(_date_str)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class LifeEventSpec(_Spec):
    """A dated stressor: ``{date: 2024-12-07, kind: bereavement, amplitude: 1.2, fade_days: 120}``."""

    kind: str
    date: When | None = None
    day: float | None = None
    amplitude: float
    fade_days: Quantity = 90.0


class PatientSpec(_Spec):
    weight_kg: float = 70.0
    baseline_madrs: float = 33.0
    chronic_load: float = 0.5
    age: float | None = None
    sex: Literal["female", "male"] | None = None
    life_events: Annotated[list[LifeEventSpec], BeforeValidator(_none_to_empty)] = []


class ScheduleSpec(_Spec):
    """A calendar rule: weekdays (every ``every_weeks`` weeks), ``every_days``, or ``intervals_days``."""

    start: When
    count: int | None = None
    until: When | None = None
    weekdays: list[str] | None = None
    every_weeks: int | None = None
    every_days: int | None = None
    intervals_days: list[int] | None = None
    then: Literal["stop", "hold"] | None = None
    time: Clock | None = None


class _DoseFields(_Spec):
    route: Literal["iv", "im", "oral", "sublingual", "intranasal"] | None = None
    dose: DoseText
    infusion_minutes: Quantity | None = None
    devices: int | None = None
    device_interval_minutes: Quantity | None = None
    label: str | None = None


class DoseSpec(_DoseFields):
    """One administration: ``{date: 2025-01-06, time: "09:00", route: iv, dose: 0.5 mg/kg}``."""

    date: When | None = None
    day: float | None = None
    time: Clock | None = None
    phase: Literal["induction", "maintenance"] = "induction"


class DoseSeriesSpec(ScheduleSpec, _DoseFields):
    """Repeated administrations: ``series`` induction, maintenance or taper, and a calendar rule."""

    series: Literal["induction", "maintenance", "taper"]


class PsychotherapySpec(_Spec):
    label: str = "psychotherapy"
    sessions: Annotated[list[When], BeforeValidator(_none_to_empty)] = []
    series: Annotated[list[ScheduleSpec], BeforeValidator(_as_list)] = []


class LifestyleSpec(_Spec):
    start: When
    end: When | None = None
    level: float = 1.0
    label: str = "lifestyle"


class AntidepressantSpec(_Spec):
    kind: Literal["antidepressant"]
    start: When = 0.0
    end: When | None = None
    label: str = "oral antidepressant"


class NeurostimulationSpec(_Spec):
    kind: Literal["ect", "tms"]
    sessions: Annotated[list[When], BeforeValidator(_none_to_empty)] = []
    series: Annotated[list[ScheduleSpec], BeforeValidator(_as_list)] = []
    label: str = ""


class PlanSpec(_Spec):
    """The top level of a plan file."""

    name: str | None = None
    description: str = ""
    start_date: DateText
    horizon_days: Quantity | None = None
    horizon_weeks: float | None = None
    drug: Literal["racemic", "esketamine"] = "racemic"
    pk_model: str | None = None
    allow_off_label: bool = False
    patient: PatientSpec = PatientSpec()
    doses: Annotated[list[dict[str, Any]], BeforeValidator(_none_to_empty)] = []
    psychotherapy: PsychotherapySpec | None = None
    lifestyle: Annotated[list[LifestyleSpec], BeforeValidator(_none_to_empty)] = []
    other_treatments: Annotated[list[dict[str, Any]], BeforeValidator(_none_to_empty)] = []


_TYPE_WORDS = {
    "float_type": "a number", "int_type": "a whole number", "string_type": "text (quote it if needed)",
    "bool_type": "true or false", "list_type": "a list ([a, b] or one '- item' per line)",
    "dict_type": "a mapping of keys", "model_type": "a mapping of keys", "int_from_float": "a whole number",
}


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that holds the last element of ``loc``."""
    import typing

    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)) or part not in current.model_fields:
            return None
        ann = current.model_fields[part].annotation
        while True:
            args = [a for a in typing.get_args(ann) if a is not type(None)]
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                break
            if not args:
                break
            ann = next((a for a in args if isinstance(a, type) and issubclass(a, BaseModel)), args[0])
        current = ann
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _validate(model: type[BaseModel], data: Any, prefix: FieldPath, src: LineMap) -> Any:
    """``model.model_validate(data)``; the first error becomes a PlanError with file and line."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)

        def sort_key(e: dict[str, Any]) -> int:
            return src.line((*prefix, *e["loc"])) or 0

        e = min(errors, key=sort_key)
        loc = tuple(e["loc"])
        path = (*prefix, *loc)
        kind = e["type"]
        if kind == "extra_forbidden":
            owner = _model_at(model, loc)
            keys = ", ".join(owner.model_fields) if owner else "the documented keys"
            raise src.error(path, loc[-1], f"a known key: {keys} (see docs/plan-format.md)") from None
        if kind == "missing":
            raise src.error(path, "(missing)", "a value: this key is required") from None
        if kind == "literal_error":
            raise src.error(path, e["input"], f"one of {e['ctx']['expected']}") from None
        if kind == "ketasim":
            raise src.error(path, e["input"], e["ctx"]["allowed"]) from None
        allowed = _TYPE_WORDS.get(kind, e["msg"])
        raise src.error(path, e["input"], allowed) from None


# ---------------------------------------------------------------------------------------------
# 3. Values: dates, clock times, units, series
# ---------------------------------------------------------------------------------------------

_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2}))?$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")
_DOSE_UNITS = {"mg": "mg", "mg/kg": "mg/kg", "mgkg": "mg/kg", "mg/kgbw": "mg/kg", "mg/kgbodyweight": "mg/kg"}
_DURATION_MIN = {"min": 1.0, "mins": 1.0, "minute": 1.0, "minutes": 1.0, "m": 1.0, "h": 60.0, "hr": 60.0,
                 "hrs": 60.0, "hour": 60.0, "hours": 60.0, "d": 1440.0, "day": 1440.0, "days": 1440.0,
                 "w": 10080.0, "wk": 10080.0, "week": 10080.0, "weeks": 10080.0}
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


def _parse_date(text: str, path: FieldPath, src: LineMap) -> tuple[dt.date, float | None]:
    """``(date, clock hours or None)`` from ``YYYY-MM-DD`` or ``YYYY-MM-DD HH:MM``."""
    m = _DATE.match(text.strip())
    if not m:
        raise src.error(path, text, "a date YYYY-MM-DD (e.g. 2025-01-06), optionally with a time HH:MM")
    y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if not EARLIEST_DATE.year <= y <= LATEST_DATE.year:
        raise src.error(path, text, DATE_RANGE_TEXT)
    if not 1 <= mo <= 12:
        raise src.error(path, text, "a real calendar date: months run 01-12")
    try:
        date = dt.date(y, mo, d)
    except ValueError:
        last = ((dt.date(y + mo // 12, mo % 12 + 1, 1)) - dt.timedelta(days=1)).day
        raise src.error(path, text, f"a real calendar date: {_MONTHS[mo - 1]} {y} has days 1-{last}") from None
    clock = None
    if m.group(4) is not None:
        clock = _parse_clock(f"{m.group(4)}:{m.group(5)}", path, src)
    return date, clock


def _parse_clock(text: Any, path: FieldPath, src: LineMap) -> float:
    """Hours after midnight from ``HH:MM`` (00:00-23:59)."""
    m = _TIME.match(str(text).strip())
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise src.error(path, text, "a clock time HH:MM from 00:00 to 23:59, quoted (\"09:00\")")
    return int(m.group(1)) + int(m.group(2)) / 60.0


def _quantity(value: float | str, units: dict[str, float], default_unit: str, path: FieldPath,
              src: LineMap) -> float:
    """A number in ``default_unit``, or a string ``'<number> <unit>'`` converted with ``units``."""
    if isinstance(value, float):
        return value
    m = _QUANTITY.match(value)
    allowed_units = ", ".join(sorted(set(units)))
    if not m:
        raise src.error(path, value, f"a number of {default_unit}, or a number with a unit ({allowed_units})")
    unit = m.group(2).lower().replace(" ", "")
    if unit == "":
        return float(m.group(1))
    if unit not in units:
        raise src.error(path, value, f"a number of {default_unit}, or a number with one of the units "
                        f"{allowed_units}")
    return float(m.group(1)) * units[unit]


@dataclass(frozen=True)
class _DoseAmount:
    value: float
    unit: str  # "mg" or "mg/kg"
    text: str


def _parse_dose(text: str, path: FieldPath, src: LineMap) -> _DoseAmount:
    m = _QUANTITY.match(text)
    if not m:
        raise src.error(path, text, "a dose with its unit, e.g. '0.5 mg/kg' or '56 mg'")
    unit_text = m.group(2)
    if unit_text == "":
        raise src.error(path, text, "a dose with its unit: mg/kg or mg (e.g. '0.5 mg/kg' or '35 mg')")
    unit = _DOSE_UNITS.get(unit_text.lower().replace(" ", ""))
    if unit is None:
        raise src.error(path, text, f"the unit mg/kg or mg (got '{unit_text}'; convert g, mcg or mL to mg)")
    value = float(m.group(1))
    if not math.isfinite(value) or value <= 0:
        raise src.error(path, text, "a dose above 0")
    return _DoseAmount(value, unit, text.strip())


@dataclass(frozen=True)
class _Origin:
    """Where a resolved dose came from: its entry in the file and, for a series, its rank."""

    path: FieldPath
    rank: int | None = None
    written: str = ""


class _Resolver:
    """Step 3: turns validated specs into plan objects, with file and line in every error."""

    def __init__(self, src: LineMap, start: dt.date, drug: str, weight_kg: float) -> None:
        self.src = src
        self.start = start
        self.drug = drug
        self.weight = weight_kg
        self.horizon_end: float | None = None  # plan days, set once known
        self.n_sessions = 0  # psychotherapy, ECT and TMS sessions resolved so far

    def count(self, what: str, n: int, path: FieldPath) -> None:
        """Refuse at the entry that takes the plan past its capacity (:data:`~ketasim.dosing.limits.CAPACITY`)."""
        if n > CAPACITY[what]:
            raise self.src.error(path, f"{n:,} {what} so far", f"at most {CAPACITY[what]:,} {what} in one plan "
                                 "(psychotherapy, ECT and TMS sessions count together)" if what == "sessions"
                                 else f"at most {CAPACITY[what]:,} {what} in one plan")

    # -- dates ---------------------------------------------------------------------------------
    def day(self, when: str | float, path: FieldPath, *, time: str | None = None, default_time: str | None = None,
            not_before_start: bool = True, within_horizon: bool = False) -> float:
        """Plan day of a date / date-time / day number, plus the clock ``time`` (or ``default_time``).

        Clock times are whole minutes: ``day = whole_days + minutes / 1440``.
        """
        minutes: int | None
        if isinstance(when, str):
            date, clock = _parse_date(when, path, self.src)
            base = float((date - self.start).days)
            minutes = None if clock is None else round(clock * 60.0)
        elif not (math.isfinite(when) and abs(when) <= MAX_DAY_NUMBER):
            raise self.src.error(path, when, f"a number of days from start_date, from -{MAX_DAY_NUMBER:g} to "
                                 f"{MAX_DAY_NUMBER:g}")
        elif when != math.floor(when):
            base, minutes = float(when), 0  # a fractional day number carries its own clock time
        else:
            base, minutes = float(when), None
        if time is not None:
            if minutes is not None:
                raise self.src.error(path, when, "a date or a whole day without a clock time when 'time' is "
                                     "also given")
            minutes = round(_parse_clock(time, (*path[:-1], "time"), self.src) * 60.0)
        elif minutes is None and default_time is not None:
            minutes = round(_parse_clock(default_time, path, self.src) * 60.0)
        day = base + (minutes or 0) / 1440.0
        if not_before_start and day < 0:
            raise self.src.error(path, when, f"a date on or after start_date {self.start.isoformat()}")
        if not EARLIEST_EVENT_DAY <= day <= MAX_DAY_NUMBER:
            raise self.src.error(path, when, f"a date from {EARLIEST_EVENT_DAY:g} to {MAX_DAY_NUMBER:g} days "
                                 f"after start_date {self.start.isoformat()}")
        if within_horizon and self.horizon_end is not None and day >= self.horizon_end:
            end = self.start + dt.timedelta(days=int(self.horizon_end))
            raise self.src.error(path, when, f"a time before the end of the horizon ({self.start.isoformat()} "
                                 f"00:00 to {end.isoformat()} 00:00); lengthen horizon_days")
        return day

    # -- series --------------------------------------------------------------------------------
    def schedule(self, spec: ScheduleSpec, path: FieldPath, *, default_time: str = DEFAULT_TIME,
                 taper: bool = False) -> list[float]:
        """Plan days of a calendar rule, cut at the horizon: every date and time before its end
        (``day < horizon_days``), as for explicit doses and sessions."""
        src = self.src
        first = self.day(spec.start, (*path, "start"), time=spec.time, default_time=default_time)
        minutes = round((first - math.floor(first)) * 1440.0)
        start_date = self.start + dt.timedelta(days=int(math.floor(first)))
        rules = [k for k in ("weekdays", "every_days", "intervals_days") if getattr(spec, k) is not None]
        if spec.every_weeks is not None and "weekdays" not in rules:
            rules.append("every_weeks")
        if len(rules) != 1:
            allowed = ("exactly one rule: weekdays: [Mon, Wed, Fri] (with every_weeks), every_days: N, "
                       "every_weeks: N, or intervals_days: [7, 14, 21]")
            raise src.error(path, ", ".join(rules) or "no rule", allowed)
        rule = rules[0]
        if taper and rule != "intervals_days":
            raise src.error((*path, "series"), "taper", "a taper with intervals_days: [7, 14, 21, 28] "
                            "(use series: maintenance for a fixed interval)")
        if spec.count is not None and not 1 <= spec.count <= cal.MAX_DATES:
            raise src.error((*path, "count"), spec.count, f"a whole number from 1 to {cal.MAX_DATES}")
        until_day = None
        if spec.until is not None:
            until_day = math.floor(self.day(spec.until, (*path, "until")))
            if until_day < math.floor(first):
                raise src.error((*path, "until"), spec.until, f"a date on or after the series start {start_date}")
        if spec.then is not None and rule != "intervals_days":
            raise src.error((*path, "then"), spec.then, "'then' only with intervals_days (a taper)")
        assert self.horizon_end is not None
        horizon_day = int(math.floor(self.horizon_end))
        limit_day = horizon_day if until_day is None else min(until_day, horizon_day)
        until = self.start + dt.timedelta(days=limit_day)
        if rule == "weekdays":
            names = spec.weekdays or []
            for i, w in enumerate(names):
                try:
                    cal.weekday_index(w)
                except ValueError:
                    raise src.error((*path, "weekdays", i), w, "a weekday: Mon, Tue, Wed, Thu, Fri, Sat, Sun") from None
            if not names or len({cal.weekday_index(w) for w in names}) != len(names):
                raise src.error((*path, "weekdays"), names, "one or more different weekdays, e.g. [Mon, Wed, Fri]")
            every = spec.every_weeks or 1
            if not 1 <= every <= MAX_INTERVAL_DAYS // 7:
                raise src.error((*path, "every_weeks"), every, f"a whole number of weeks from 1 to "
                                f"{MAX_INTERVAL_DAYS // 7}")
            dates = cal.weekday_dates(start_date, names, count=spec.count, until=until, every_weeks=every)
        elif rule in ("every_days", "every_weeks"):
            n = spec.every_days if rule == "every_days" else (spec.every_weeks or 0) * 7
            if not 1 <= n <= MAX_INTERVAL_DAYS:
                top = MAX_INTERVAL_DAYS if rule == "every_days" else MAX_INTERVAL_DAYS // 7
                raise src.error((*path, rule), getattr(spec, rule), f"a whole number from 1 to {top}")
            dates = cal.interval_dates(start_date, n, count=spec.count, until=until)
        else:
            gaps = spec.intervals_days or []
            if not gaps or min(gaps) < 1 or max(gaps) > MAX_INTERVAL_DAYS or len(gaps) > cal.MAX_DATES:
                raise src.error((*path, "intervals_days"), gaps if len(gaps) <= 20 else f"{len(gaps)} gaps",
                                f"a list of at most {cal.MAX_DATES} whole days from 1 to {MAX_INTERVAL_DAYS}, "
                                "e.g. [7, 14, 21, 28]")
            dates = cal.taper_dates(start_date, gaps, then=spec.then or "stop", count=spec.count, until=until)
        days = [float((d - self.start).days) + minutes / 1440.0 for d in dates]
        days = [d for d in days if d < self.horizon_end]
        if not days:
            raise src.error((*path, "start"), spec.start, "a series with at least one date and time before the end "
                            f"of the horizon (day {self.horizon_end:g})")
        return days

    # -- doses ---------------------------------------------------------------------------------
    def doses(self, entries: list[dict[str, Any]]) -> list[tuple[Dose, _Origin]]:
        out: list[tuple[Dose, _Origin]] = []
        for i, raw in enumerate(entries):
            path: FieldPath = ("doses", i)
            if not isinstance(raw, dict):
                raise self.src.error(path, raw, "a mapping: {date: ..., dose: ...} or {series: induction, ...}")
            if "series" in raw:
                spec = _validate(DoseSeriesSpec, raw, path, self.src)
                days = self.schedule(spec, path, taper=spec.series == "taper")
                self.count("doses", len(out) + len(days), path)
                phase = "induction" if spec.series == "induction" else "maintenance"
                for rank, day in enumerate(days):
                    out.append((self.dose(spec, path, day, phase), _Origin(path, rank, spec.dose)))
            else:
                spec = _validate(DoseSpec, raw, path, self.src)
                if (spec.date is None) == (spec.day is None):
                    raise self.src.error(path, "date and day" if spec.date is not None else "neither",
                                         "exactly one of date: YYYY-MM-DD or day: N (days from start_date)")
                key = "date" if spec.date is not None else "day"
                when = spec.date if spec.date is not None else spec.day
                assert when is not None
                day = self.day(when, (*path, key), time=spec.time, default_time=DEFAULT_TIME, within_horizon=True)
                out.append((self.dose(spec, path, day, spec.phase), _Origin(path, None, spec.dose)))
        return out

    def dose(self, spec: DoseSpec | DoseSeriesSpec, path: FieldPath, day: float, phase: str) -> Dose:
        src = self.src
        route = spec.route or DEFAULT_ROUTE[self.drug]
        amount = _parse_dose(spec.dose, (*path, "dose"), src)
        if self.drug == "esketamine" and route == "intranasal" and amount.unit != "mg":
            raise src.error((*path, "dose"), spec.dose, "esketamine nasal spray in mg: 28, 56 or 84 mg "
                            "(28 mg per device)")
        mg_per_kg = amount.value if amount.unit == "mg/kg" else None
        amount_mg = amount.value * self.weight if amount.unit == "mg/kg" else amount.value
        if spec.infusion_minutes is not None and route != "iv":
            raise src.error((*path, "infusion_minutes"), spec.infusion_minutes,
                            f"no infusion_minutes for route {route} (infusions are IV only)")
        duration = DEFAULT_INFUSION_MIN if route == "iv" else 0.0
        if spec.infusion_minutes is not None:
            duration = _quantity(spec.infusion_minutes, _DURATION_MIN, "minutes", (*path, "infusion_minutes"), src)
            if not math.isfinite(duration) or duration < 0:
                raise src.error((*path, "infusion_minutes"), spec.infusion_minutes, "0 (bolus) or more minutes")
        if route != "intranasal":
            for key in ("devices", "device_interval_minutes"):
                if getattr(spec, key) is not None:
                    raise src.error((*path, key), getattr(spec, key), "devices only for route intranasal")
        devices = 1
        if route == "intranasal":
            if spec.devices is not None:
                devices = spec.devices
                if devices < 1:
                    raise src.error((*path, "devices"), devices, "1 or more devices")
            elif self.drug == "esketamine":
                n = amount_mg / ESKETAMINE_DEVICE_MG
                devices = max(1, round(n)) if abs(n - round(n)) < 1e-9 else 1
        interval = DEFAULT_DEVICE_INTERVAL_MIN
        if spec.device_interval_minutes is not None:
            interval = _quantity(spec.device_interval_minutes, _DURATION_MIN, "minutes",
                                 (*path, "device_interval_minutes"), src)
            if not math.isfinite(interval) or interval <= 0:
                raise src.error((*path, "device_interval_minutes"), spec.device_interval_minutes,
                                "a positive number of minutes")
        try:
            return Dose(day=day, amount_mg=amount_mg, route=route, drug=self.drug, duration_min=duration,  # type: ignore[arg-type]
                        phase=phase, devices=devices, device_interval_min=interval, mg_per_kg=mg_per_kg)  # type: ignore[arg-type]
        except LimitError as exc:
            v = exc.violations[0]
            key = v.key if v.key in ("dose", "infusion_minutes", "devices", "device_interval_minutes") else "dose"
            raise src.error((*path, key), getattr(spec, key, None) or v.value, v.allowed) from None

    # -- sessions ------------------------------------------------------------------------------
    def sessions(self, dates: list[str | float], series: list[ScheduleSpec], path: FieldPath) -> list[float]:
        days = [self.day(w, (*path, "sessions", i), default_time=DEFAULT_TIME, within_horizon=True)
                for i, w in enumerate(dates)]
        for j, spec in enumerate(series):
            days += self.schedule(spec, (*path, "series", j))
            self.count("sessions", self.n_sessions + len(days), (*path, "series", j))
        self.n_sessions += len(days)
        return sorted(days)


def _last_day(spec: PlanSpec, res: _Resolver) -> float:
    """Latest plan day any entry mentions (for the default horizon); series count from their start."""
    days = [0.0]
    whens: list[tuple[Any, FieldPath]] = []
    for i, raw in enumerate(spec.doses):
        if isinstance(raw, dict):
            for key in ("date", "day", "start", "until"):
                if isinstance(raw.get(key), (str, int, float)) and not isinstance(raw.get(key), bool):
                    whens.append((raw[key], ("doses", i, key)))
    for w, p in whens:
        try:
            days.append(res.day(float(w) if not isinstance(w, str) else w, p, not_before_start=False))
        except PlanError:
            continue
    return max(days)


def _horizon(spec: PlanSpec, res: _Resolver) -> float:
    """The horizon in whole days within :data:`~ketasim.dosing.limits.HORIZON_DAYS`, checked before any
    series is expanded."""
    src = res.src
    if spec.horizon_days is not None and spec.horizon_weeks is not None:
        raise src.error(("horizon_weeks",), spec.horizon_weeks, "either horizon_days or horizon_weeks, not both")
    if spec.horizon_days is not None:
        days = _quantity(spec.horizon_days, {k: v / 1440.0 for k, v in _DURATION_MIN.items()}, "days",
                         ("horizon_days",), src)
    elif spec.horizon_weeks is not None:
        days = spec.horizon_weeks * 7.0
    else:
        days = math.ceil(_last_day(spec, res) + DEFAULT_HORIZON_AFTER_LAST_DAYS)
    key = "horizon_weeks" if spec.horizon_weeks is not None else "horizon_days"
    written = spec.horizon_weeks if spec.horizon_weeks is not None else spec.horizon_days
    if written is None:
        if not HORIZON_DAYS.contains(days):
            raise src.error(("doses",), f"horizon {days:g} days (the latest date + "
                            f"{DEFAULT_HORIZON_AFTER_LAST_DAYS:g} days)", f"a horizon of {HORIZON_DAYS.text()}: "
                            "give horizon_days, or dates closer to start_date")
        return days
    if not (math.isfinite(days) and HORIZON_DAYS.contains(days)):
        raise src.error((key,), written, f"a horizon of {HORIZON_DAYS.text()}")
    if days != math.floor(days):
        raise src.error((key,), written, f"a whole number of days (this is {days:g} days)")
    return days


def _raise_violation(v: LimitViolation, doses: list[Dose], start: dt.date, origins: list[_Origin],
                     src: LineMap) -> None:
    """The violation as a PlanError at the line of the entry (or series) the dose came from."""
    hint = "" if v.hard else f"; {OFF_LABEL_HINT}"
    if v.dose_index is not None:
        o = origins[v.dose_index]
        d = doses[v.dose_index]
        key = v.key or "dose"
        if o.rank is not None and key in ("date", "time"):
            key = "start"
        path = (*o.path, key)
        value = v.value
        if key == "dose" and o.written and o.written != format_dose(d):
            value = o.written
        if o.rank is not None:
            when = (start + dt.timedelta(days=math.floor(d.day))).isoformat()
            value = (f"{when} (dose {o.rank + 1} of the series)" if v.key == "date"
                     else f"{value} (dose {o.rank + 1} of the series, {when})")
        allowed = v.allowed
        if v.related_index is not None:
            r = origins[v.related_index]
            name = field_name(r.path) + (f" (dose {r.rank + 1} of its series)" if r.rank is not None else "")
            allowed = allowed.replace(f"doses[{v.related_index}]", name)
        raise PlanError(field_name(path), value, f"{allowed}{hint}", file=src.file, line=src.line(path))
    path = field_path(v.field)
    if v.field == "other_treatments" and path not in src.lines:
        path = ("drug",) if ("drug",) in src.lines else ("doses",)
    raise PlanError(v.field, v.value, f"{v.allowed}{hint}", file=src.file, line=src.line(path))


def _check_compiles(plan: Plan, src: LineMap) -> None:
    """The plan must compile with the default parameters (e.g. a load the baseline MADRS can explain)."""
    from ketasim.engine.compile import compile_plan
    from ketasim.parameters import default_vector

    try:
        compile_plan(plan, default_vector())
    except PlanError as exc:
        raise PlanError(exc.field, exc.value, exc.allowed, file=src.file,
                        line=src.line(field_path(exc.field))) from None


def parse_plan(text: str, source: str = "<string>") -> Plan:
    """A :class:`Plan` from the YAML ``text`` of a plan file; ``source`` names it in errors."""
    data, src = _read_yaml(text, source)
    return plan_from_data(data, src, source=source)


def plan_from_data(data: Any, lines: LineMap | None = None, *, source: str = "<string>") -> Plan:
    """A :class:`Plan` from the parsed mapping of a plan (a plan file's content, or a plan written inside
    another file, such as a study's arm); ``lines`` (from :func:`~ketasim.formats.yamlio.read_yaml`) gives the
    line of each field in errors."""
    src = lines if lines is not None else LineMap(source, root="<plan>")
    if not isinstance(data, dict):
        raise src.error((), data, "a mapping of keys (name, start_date, patient, doses, ...)")
    spec: PlanSpec = _validate(PlanSpec, data, (), src)
    start, _ = _parse_date(spec.start_date, ("start_date",), src)
    p = spec.patient
    res = _Resolver(src, start, spec.drug, p.weight_kg)
    res.horizon_end = _horizon(spec, res)

    events = []
    for i, ev in enumerate(p.life_events):
        path: FieldPath = ("patient", "life_events", i)
        if (ev.date is None) == (ev.day is None):
            raise src.error(path, "date and day" if ev.date is not None else "neither",
                            "exactly one of date: YYYY-MM-DD or day: N (negative before start_date)")
        when = ev.date if ev.date is not None else ev.day
        assert when is not None
        day = res.day(when, (*path, "date" if ev.date is not None else "day"), not_before_start=False)
        fade = _quantity(ev.fade_days, {k: v / 1440.0 for k, v in _DURATION_MIN.items()}, "days",
                         (*path, "fade_days"), src)
        events.append(LifeEvent(day=day, amplitude=ev.amplitude, fade_days=fade, label=ev.kind))
    patient = Patient(weight_kg=p.weight_kg, baseline_madrs=p.baseline_madrs, chronic_load=p.chronic_load,
                      life_events=tuple(events), age=p.age, sex=p.sex)

    resolved = res.doses(spec.doses)
    resolved.sort(key=lambda pair: pair[0].day)
    doses = [d for d, _ in resolved]
    origins = [o for _, o in resolved]

    therapy: list[float] = []
    if spec.psychotherapy is not None:
        therapy = res.sessions(spec.psychotherapy.sessions, spec.psychotherapy.series, ("psychotherapy",))

    lifestyle = []
    for i, ls in enumerate(spec.lifestyle):
        path = ("lifestyle", i)
        s = res.day(ls.start, (*path, "start"))
        e = res.horizon_end if ls.end is None else res.day(ls.end, (*path, "end"))
        if e <= s:
            raise src.error((*path, "end"), ls.end, f"a date after the period's start ({ls.start})")
        lifestyle.append(LifestylePeriod(start_day=s, end_day=e, level=ls.level, label=ls.label))

    treatments = []
    for i, raw in enumerate(spec.other_treatments):
        path = ("other_treatments", i)
        kind = raw.get("kind") if isinstance(raw, dict) else None
        if kind == "antidepressant":
            ad = _validate(AntidepressantSpec, raw, path, src)
            s = res.day(ad.start, (*path, "start"), not_before_start=False)
            e = None if ad.end is None else res.day(ad.end, (*path, "end"), not_before_start=False)
            if e is not None and e <= s:
                raise src.error((*path, "end"), ad.end, f"a date after the start ({ad.start})")
            treatments.append(OtherTreatment(kind="antidepressant", start_day=s, end_day=e, label=ad.label))
        elif kind in ("ect", "tms"):
            ns = _validate(NeurostimulationSpec, raw, path, src)
            days = res.sessions(ns.sessions, ns.series, path)
            if not days:
                raise src.error(path, kind, "at least one session: sessions: [dates] or series: {...}")
            treatments.append(OtherTreatment(kind=kind, start_day=days[0], session_days=tuple(days),
                                             label=ns.label or kind.upper()))
        else:
            raise src.error((*path, "kind"), kind, "one of 'antidepressant', 'ect', 'tms'")

    try:
        plan = Plan(
            name=spec.name or (Path(source).stem if source != "<string>" else "plan"),
            patient=patient,
            doses=tuple(doses),
            therapy_days=tuple(therapy),
            lifestyle=tuple(lifestyle),
            treatments=tuple(treatments),
            horizon_days=float(res.horizon_end),
            start_date=start,
            pk_models={spec.drug: spec.pk_model} if spec.pk_model is not None else {},
            allow_off_label=spec.allow_off_label,
            description=spec.description.strip(),
            source_file=source if source != "<string>" else None,
        )
    except LimitError as exc:
        def line_of(v: LimitViolation) -> int:
            if v.dose_index is not None:
                return src.line(origins[v.dose_index].path) or 0
            return src.line(field_path(v.field)) or 0

        _raise_violation(min(exc.violations, key=lambda v: (not v.hard, line_of(v))), doses, start, origins, src)
    except PlanError as exc:  # the PK model: named, of this drug, offering the routes used
        raise src.error(("pk_model",) if exc.field.startswith("pk_models") else field_path(exc.field), exc.value,
                        exc.allowed) from None
    _check_compiles(plan, src)
    return plan


def load_plan(path: str | Path) -> Plan:
    """Read and validate the plan file at ``path`` (errors name the file and the line)."""
    return parse_plan(read_text_file(path, what="plan file"), source=str(Path(path)))


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------

def _date_text(plan: Plan, day: float) -> str:
    return plan.date_of(day).isoformat()


def _clock_text(day: float) -> str:
    minutes = int(round((day - math.floor(day)) * 1440.0))
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _when_out(plan: Plan, day: float) -> str | float:
    """A whole day as a date, anything else as a number of days."""
    return _date_text(plan, day) if float(day).is_integer() and day >= 0 else float(day)


def plan_to_yaml(plan: Plan) -> str:
    """The plan as a plan file with explicit dates (series written out); ``parse_plan`` reads it back."""
    drugs = {d.drug for d in plan.doses} or {"racemic"}
    drug = sorted(drugs)[0]
    doc: dict[str, Any] = {"name": plan.name}
    if plan.description:
        doc["description"] = plan.description
    doc["start_date"] = plan.start_date.isoformat()
    doc["horizon_days"] = float(plan.horizon_days)
    doc["drug"] = drug
    if drug in plan.pk_models:
        doc["pk_model"] = plan.pk_models[drug]
    doc["allow_off_label"] = bool(plan.allow_off_label)
    p = plan.patient
    patient: dict[str, Any] = {"weight_kg": float(p.weight_kg), "baseline_madrs": float(p.baseline_madrs),
                               "chronic_load": float(p.chronic_load)}
    if p.age is not None:
        patient["age"] = float(p.age)
    if p.sex is not None:
        patient["sex"] = p.sex
    if p.life_events:
        patient["life_events"] = [{"kind": e.label, "day": float(e.day), "amplitude": float(e.amplitude),
                                   "fade_days": float(e.fade_days)} for e in p.life_events]
    doc["patient"] = patient
    doses = []
    for d in plan.doses:
        entry: dict[str, Any] = {"date": _date_text(plan, d.day), "time": _clock_text(d.day), "route": d.route,
                                 "dose": format_dose(d)}
        if d.route == "iv":
            entry["infusion_minutes"] = float(d.duration_min)
        if d.route == "intranasal":
            entry["devices"] = int(d.devices)
            entry["device_interval_minutes"] = float(d.device_interval_min)
        entry["phase"] = d.phase
        doses.append(entry)
    doc["doses"] = doses
    if plan.therapy_days:
        doc["psychotherapy"] = {"sessions": [f"{_date_text(plan, s)} {_clock_text(s)}" for s in plan.therapy_days]}
    if plan.lifestyle:
        doc["lifestyle"] = [{"start": _when_out(plan, lp.start_day), "end": _when_out(plan, lp.end_day),
                             "level": float(lp.level), "label": lp.label} for lp in plan.lifestyle]
    treatments: list[dict[str, Any]] = []
    for t in plan.treatments:
        if t.kind == "antidepressant":
            item: dict[str, Any] = {"kind": t.kind, "start": float(t.start_day), "label": t.label or "antidepressant"}
            if t.end_day is not None:
                item["end"] = float(t.end_day)
        else:
            item = {"kind": t.kind, "sessions": [f"{_date_text(plan, s)} {_clock_text(s)}" for s in t.session_days],
                    "label": t.label}
        treatments.append(item)
    if treatments:
        doc["other_treatments"] = treatments
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=110)


def example_paths() -> list[Path]:
    """The bundled example plan files (``ketasim/examples/*.yaml``), sorted by name."""
    from importlib import resources

    folder = resources.files("ketasim") / "examples"
    return sorted(Path(str(p)) for p in folder.iterdir() if p.name.endswith(".yaml"))

