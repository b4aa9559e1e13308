"""Event tables in Python: build a :class:`~ketasim.dosing.plan.Plan` from composable pieces.

In the spirit of rxode2's ``et()`` and mrgsolve's ``ev()``: each constructor returns an
:class:`EventTable`, ``+`` combines tables, :func:`repeat` (or the method) repeats one, and
:meth:`EventTable.plan` resolves it into the same :class:`Plan` a plan file gives (same days,
amounts, defaults and dose limits)::

    from ketasim.dosing.events import Dose, Therapy, repeat

    induction = repeat(Dose("2025-01-06", mg_per_kg=0.5), weekdays=("Mon", "Wed", "Fri"), times=6)
    maintenance = repeat(Dose("2025-01-24", mg_per_kg=0.5), every=7)        # to the end of the horizon
    plan = (induction + maintenance + Therapy("2025-01-08 14:00")).plan(
        start_date="2025-01-06", horizon_days=150, patient=Patient(weight_kg=70))

Times (``at``, ``start``, ``end``): a day number from the plan start (a fraction carries its clock
time), a date ``"YYYY-MM-DD"`` or a date and time ``"YYYY-MM-DD HH:MM"``. Doses and sessions given
as a whole day or a date happen at ``time`` (default 09:00, as in plan files). Repeats with no
``times`` run to the end of the horizon, as plan-file series do, and every repeat stops at the
horizon (a weekly dose at 09:00 on the horizon's last day is past it).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ketasim.dosing import series as cal
from ketasim.dosing.plan import Dose as PlanDose
from ketasim.dosing.plan import LifestylePeriod, OtherTreatment, Patient, Plan
from ketasim.errors import PlanError

DEFAULT_TIME = "09:00"
DEFAULT_INFUSION_MIN = 40.0
DEFAULT_HORIZON_AFTER_LAST_DAYS = 90.0
When = float | int | str


@dataclass(frozen=True)
class _Event:
    """One resolved event: ``kind`` dose | therapy | lifestyle | antidepressant | ect | tms, at ``day``."""

    kind: str
    day: float
    fields: tuple[tuple[str, Any], ...] = ()
    end: When | None = None

    def get(self, name: str, default: Any = None) -> Any:
        return dict(self.fields).get(name, default)


@dataclass(frozen=True)
class _Item:
    """A piece of a table: events resolved once the start date and horizon are known."""

    resolve: Callable[[dt.date, float], list[_Event]]


@dataclass(frozen=True)
class EventTable:
    """Unresolved events; combine with ``+``, repeat with :meth:`repeat`, resolve with :meth:`plan`."""

    items: tuple[_Item, ...] = ()

    def __add__(self, other: EventTable) -> EventTable:
        if not isinstance(other, EventTable):
            return NotImplemented
        return EventTable(self.items + other.items)

    def repeat(self, *, every: float | None = None, times: int | None = None,
               weekdays: Sequence[str] | None = None, every_weeks: int = 1) -> EventTable:
        """See :func:`repeat`."""
        return repeat(self, every=every, times=times, weekdays=weekdays, every_weeks=every_weeks)

    def events(self, start_date: dt.date, horizon_days: float) -> list[_Event]:
        return [e for item in self.items for e in item.resolve(start_date, horizon_days)]

    def plan(self, *, start_date: dt.date | str, patient: Patient | None = None, horizon_days: float | None = None,
             name: str = "plan", description: str = "", allow_off_label: bool = False,
             pk_models: dict[str, str] | None = None) -> Plan:
        """The :class:`Plan` of these events, checked against the dose limits (``ketasim.dosing.limits``)."""
        start = _date(start_date, "start_date")
        patient = patient or Patient()
        if horizon_days is None:
            last = max([e.day for e in self.events(start, math.inf)] + [0.0])
            horizon_days = float(math.ceil(last + DEFAULT_HORIZON_AFTER_LAST_DAYS))
        if not (math.isfinite(horizon_days) and horizon_days > 0):
            raise PlanError("horizon_days", horizon_days, "a positive number of days")
        events = self.events(start, horizon_days)
        for e in events:
            if e.kind in ("dose", "therapy", "ect", "tms") and not 0 <= e.day < horizon_days:
                raise PlanError(f"{e.kind} on day {e.day:g}", e.day,
                                f"a day within the horizon (0 to {horizon_days:g})")
        doses = sorted((_dose(e, patient.weight_kg) for e in events if e.kind == "dose"), key=lambda d: d.day)
        lifestyle = tuple(LifestylePeriod(start_day=e.day, end_day=_end(e, start, horizon_days),
                                          level=e.get("level"), label=e.get("label"))
                          for e in events if e.kind == "lifestyle")
        treatments = [OtherTreatment("antidepressant", start_day=e.day,
                                     end_day=None if e.end is None else _day(e.end, start, None, "end"),
                                     label=e.get("label")) for e in events if e.kind == "antidepressant"]
        for kind in ("ect", "tms"):
            days = sorted(e.day for e in events if e.kind == kind)
            if days:
                treatments.append(OtherTreatment(kind, start_day=days[0], session_days=tuple(days),  # type: ignore[arg-type]
                                                 label=kind.upper()))
        plan = Plan(name=name, patient=patient, doses=tuple(doses),
                    therapy_days=tuple(sorted(e.day for e in events if e.kind == "therapy")), lifestyle=lifestyle,
                    treatments=tuple(treatments), horizon_days=float(horizon_days), start_date=start,
                    pk_models=dict(pk_models or {}), allow_off_label=allow_off_label, description=description)
        return checked(plan)


def checked(plan: Plan) -> Plan:
    """``plan`` if it keeps the dose limits and the model's domain, else the first violation as a PlanError."""
    from ketasim.dosing.limits import OFF_LABEL_HINT, check_plan

    violations = check_plan(plan)
    if violations:
        v = min(violations, key=lambda v: not v.hard)
        raise PlanError(v.field, v.value, v.allowed + ("" if v.hard else f"; {OFF_LABEL_HINT}"))
    return plan


# --- times -------------------------------------------------------------------------------------------------

def _date(text: dt.date | str, what: str) -> dt.date:
    if isinstance(text, dt.date):
        return text
    try:
        return dt.date.fromisoformat(str(text))
    except ValueError:
        raise PlanError(what, text, "a date YYYY-MM-DD") from None


def _minutes(clock: str, what: str) -> int:
    try:
        t = dt.time.fromisoformat(clock)
    except (TypeError, ValueError):
        raise PlanError(what, clock, "a clock time HH:MM from 00:00 to 23:59") from None
    return t.hour * 60 + t.minute


def _day(at: When, start: dt.date, time: str | None, what: str) -> float:
    """Plan day of ``at`` (as plan files count it: whole days plus minutes / 1440)."""
    if isinstance(at, bool) or not isinstance(at, (int, float, str)):
        raise PlanError(what, at, "a day number, 'YYYY-MM-DD' or 'YYYY-MM-DD HH:MM'")
    if isinstance(at, str):
        date_part, _, clock = at.strip().partition(" ")
        base = float((_date(date_part, what) - start).days)
        if clock:
            return base + _minutes(clock, what) / 1440.0
    else:
        if not math.isfinite(at):
            raise PlanError(what, at, "a finite number of days from the start")
        if at != math.floor(at):
            return float(at)
        base = float(at)
    return base + (_minutes(time, what) / 1440.0 if time is not None else 0.0)


def _end(e: _Event, start: dt.date, horizon: float) -> float:
    return horizon if e.end is None else _day(e.end, start, None, "end")


# --- constructors -------------------------------------------------------------------------------------------

def _single(kind: str, at: When, time: str | None, end: When | None = None, **fields: Any) -> EventTable:
    items = tuple(sorted(fields.items()))
    return EventTable((_Item(lambda start, horizon: [_Event(kind, _day(at, start, time, kind), items, end)]),))


def Dose(at: When, *, mg: float | None = None, mg_per_kg: float | None = None, route: str = "iv",
         drug: str = "racemic", minutes: float | None = None, phase: str = "induction", devices: int | None = None,
         time: str = DEFAULT_TIME) -> EventTable:
    """One administration of ``mg`` or ``mg_per_kg`` (recomputed for the patient's weight), as a plan-file dose.

    IV infusions last ``minutes`` (default 40); other routes are instantaneous. Esketamine nasal spray
    uses one 28 mg device per 28 mg unless ``devices`` says otherwise.
    """
    if (mg is None) == (mg_per_kg is None):
        raise PlanError("Dose", f"mg={mg}, mg_per_kg={mg_per_kg}", "exactly one of mg or mg_per_kg")
    if route != "iv" and minutes is not None:
        raise PlanError("Dose.minutes", minutes, f"no infusion minutes for route {route} (infusions are IV only)")
    return _single("dose", at, time, mg=mg, mg_per_kg=mg_per_kg, route=route, drug=drug,
                   minutes=DEFAULT_INFUSION_MIN if route == "iv" and minutes is None else (minutes or 0.0),
                   phase=phase, devices=devices)


def _dose(e: _Event, weight_kg: float) -> PlanDose:
    mg_per_kg = e.get("mg_per_kg")
    amount = mg_per_kg * weight_kg if mg_per_kg is not None else e.get("mg")
    devices = e.get("devices")
    if devices is None:
        devices = 1
        if e.get("route") == "intranasal" and e.get("drug") == "esketamine":
            n = amount / 28.0
            devices = max(1, round(n)) if abs(n - round(n)) < 1e-9 else 1
    return PlanDose(day=e.day, amount_mg=float(amount), route=e.get("route"), drug=e.get("drug"),
                    duration_min=float(e.get("minutes")), phase=e.get("phase"), devices=int(devices),
                    mg_per_kg=mg_per_kg)


def Therapy(at: When, *, time: str = DEFAULT_TIME) -> EventTable:
    """One psychotherapy session."""
    return _single("therapy", at, time)


def ECT(at: When, *, time: str = DEFAULT_TIME) -> EventTable:
    """One ECT session."""
    return _single("ect", at, time)


def TMS(at: When, *, time: str = DEFAULT_TIME) -> EventTable:
    """One TMS session."""
    return _single("tms", at, time)


def Lifestyle(start: When, end: When | None = None, *, level: float = 1.0, label: str = "lifestyle") -> EventTable:
    """A period of healthy lifestyle at ``level`` (0-1) from ``start`` to ``end`` (default: the horizon)."""
    return _single("lifestyle", start, None, level=float(level), label=label, end=end)


def Antidepressant(start: When = 0.0, end: When | None = None, *, label: str = "oral antidepressant") -> EventTable:
    """An oral antidepressant taken from ``start`` (to ``end``, default: throughout)."""
    return _single("antidepressant", start, None, label=label, end=end)


def repeat(table: EventTable, *, every: float | None = None, times: int | None = None,
           weekdays: Sequence[str] | None = None, every_weeks: int = 1) -> EventTable:
    """``table`` repeated ``times`` times in all (default: up to the end of the horizon).

    ``every`` days apart (a whole number of days, as plan-file ``every_days``), or on ``weekdays``
    (``("Mon", "Wed", "Fri")``) of every ``every_weeks``-th week, from the week of each event.
    """
    if (every is None) == (weekdays is None):
        raise PlanError("repeat", f"every={every}, weekdays={weekdays}", "exactly one of every=N days or weekdays")
    if times is not None and not (isinstance(times, int) and 1 <= times <= cal.MAX_DATES):
        raise PlanError("repeat.times", times, f"a whole number from 1 to {cal.MAX_DATES}")
    if every is not None and not (isinstance(every, int | float) and math.isfinite(every) and every >= 1
                                  and float(every).is_integer()):
        raise PlanError("repeat.every", every, "a whole number of days >= 1")
    if weekdays is not None:
        for w in weekdays:
            try:
                cal.weekday_index(w)
            except ValueError:
                raise PlanError("repeat.weekdays", w, "weekdays Mon, Tue, Wed, Thu, Fri, Sat, Sun") from None

    def resolve(start: dt.date, horizon: float) -> list[_Event]:
        out: list[_Event] = []
        last = None if math.isinf(horizon) else start + dt.timedelta(days=int(math.floor(horizon)))
        if last is None and times is None:
            last = start + dt.timedelta(days=int(cal.MAX_DATES))
        for e in table.events(start, horizon):
            whole = math.floor(e.day)
            first = start + dt.timedelta(days=whole)
            if weekdays is not None:
                dates = cal.weekday_dates(first, weekdays, count=times, until=last, every_weeks=every_weeks)
            else:
                dates = cal.interval_dates(first, int(every), count=times, until=last)  # type: ignore[arg-type]
            minutes = round((e.day - whole) * 1440.0)  # the clock time, in whole minutes as plan-file series
            days = [float((d - start).days) + minutes / 1440.0 for d in dates]
            out += [replace(e, day=day) for day in days if day <= horizon]  # cut at the horizon itself
        return out

    return EventTable((_Item(resolve),))


__all__ = ["ECT", "TMS", "Antidepressant", "Dose", "EventTable", "Lifestyle", "Therapy", "checked", "repeat"]
