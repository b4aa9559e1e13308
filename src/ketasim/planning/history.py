"""A real patient's history: a dated event log (CSV, YAML or Python objects), validated row by row.

One row per event. Columns (CSV header, YAML keys, :class:`HistoryEvent` fields):

    date          ISO date or date-time: 2025-01-06 or 2025-01-06 09:30 (date only: doses at 10:00,
                  scores at 09:00, i.e. before that day's dose; therapy at 14:00)
    kind          dose | score | therapy | life_event | treatment
    scale         score rows: PHQ-9, MADRS, QIDS-SR16 or HDRS-17
    value         score rows: the total score; life_event rows: the load it adds (0-3, optional:
                  unknown amplitudes are inferred from the population prior)
    route         dose rows: iv, im, oral, sublingual, intranasal
    dose_mg       dose rows: the total dose in mg
    duration_min  dose rows: infusion duration (IV; 40 min if empty)
    note          free text (the label of a life event; for a treatment row, its type if the
                  ``treatment`` column is absent)
    weight_kg     the patient's weight (on the first row, or the same on every row)
    age           the patient's age in years (optional, same rule)

Optional columns: ``drug`` (racemic | esketamine; intranasal doses default to esketamine),
``fade_days`` (life events: months-long fading time, 90 days if empty), ``treatment``
(antidepressant | antidepressant_stop | ect | tms).

Rows may come in any order; they are sorted by date. Every error names the file, the line (CSV:
the line of the file; YAML: the line of the event) or the row index for Python objects, the
field (the column), the value received and what is allowed.

Files are UTF-8, with or without a byte-order mark (Excel's "CSV UTF-8"), read by
:func:`ketasim.formats.yamlio.read_text_file` (CSV) and :func:`ketasim.formats.yamlio.read_yaml` (YAML).
Doses must respect the published limits (:func:`ketasim.dosing.limits.check_dose` and the frequency rules
of :func:`~ketasim.dosing.limits.check_plan`) unless ``allow_off_label``. Capacity: events within
:data:`HISTORY_SPAN_DAYS` of the first (life events up to ten years before it), dates from 1900 to 2199,
at most :data:`MAX_SCORES` scores, each event once.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from ketasim.dosing.limits import (
    DATE_RANGE_TEXT,
    EARLIEST_DATE,
    EARLIEST_EVENT_DAY,
    HORIZON_DAYS,
    LATEST_DATE,
    PATIENT_RANGES,
    LimitError,
    LimitViolation,
    check_dose,
)
from ketasim.dosing.plan import DRUGS, ROUTES, Dose, LifeEvent, OtherTreatment, Patient, Plan
from ketasim.errors import PlanError
from ketasim.formats.yamlio import read_text_file, read_yaml

Kind = Literal["dose", "score", "therapy", "life_event", "treatment"]
KINDS: tuple[str, ...] = ("dose", "score", "therapy", "life_event", "treatment")
TREATMENTS: tuple[str, ...] = ("antidepressant", "antidepressant_stop", "ect", "tms")
COLUMNS: tuple[str, ...] = ("date", "kind", "scale", "value", "route", "dose_mg", "duration_min", "note")
OPTIONAL_COLUMNS: tuple[str, ...] = ("weight_kg", "age", "drug", "fade_days", "treatment")

# Canonical scale keys (the column names of ``simulate``'s table) and their display names.
SCALE_NAMES: dict[str, str] = {"madrs": "MADRS", "phq9": "PHQ-9", "qids_sr16": "QIDS-SR16", "hdrs17": "HDRS-17"}
_SCALE_ALIASES: dict[str, str] = {
    "madrs": "madrs", "phq9": "phq9", "qidssr16": "qids_sr16", "qidssr": "qids_sr16", "qids": "qids_sr16",
    "hdrs17": "hdrs17", "hamd17": "hdrs17", "hamd": "hdrs17", "hdrs": "hdrs17",
}
# Score ranges of the instruments (total scores).
SCALE_RANGES: dict[str, tuple[float, float]] = {"madrs": (0, 60), "phq9": (0, 27), "qids_sr16": (0, 27),
                                                "hdrs17": (0, 52)}

WEIGHT_KG = PATIENT_RANGES["weight_kg"]
AGE = PATIENT_RANGES["age"]
LIFE_EVENT_AMPLITUDE = (0.0, 3.0)
LIFE_EVENT_FADE_DAYS = (7.0, 730.0)
DEFAULT_FADE_DAYS = 90.0
MAX_FORECAST_DAYS = 730  # the longest forecast horizon (ketasim forecast --horizon)
HISTORY_SPAN_DAYS = int(HORIZON_DAYS.high) - MAX_FORECAST_DAYS  # 8 years: a history and its forecast fit one plan
MAX_SCORES = 5_000  # ten years of daily scores is 3,650
MAX_FIELD_CHARS = 10_000  # one CSV field (a note)
OFF_LABEL_HINT = "allow_off_label=True (or allow_off_label: true in a YAML history) lifts dose limits"
# The column of a history that holds what a dose rule names.
_COLUMN_OF = {"dose": "dose_mg", "devices": "dose_mg", "device_interval_minutes": "dose_mg",
              "infusion_minutes": "duration_min", "route": "route", "date": "date", "time": "date"}
DEFAULT_CLOCK = {"dose": dt.time(10, 0), "score": dt.time(9, 0), "therapy": dt.time(14, 0),
                 "life_event": dt.time(0, 0), "treatment": dt.time(9, 0)}


def scale_key(name: str) -> str | None:
    """Canonical key (``madrs``, ``phq9``, ``qids_sr16``, ``hdrs17``) of a scale name, or None if unknown."""
    return _SCALE_ALIASES.get(re.sub(r"[^a-z0-9]", "", str(name).lower()))


@dataclass(frozen=True)
class HistoryEvent:
    """One dated event of a patient's history. ``when`` is a date-time; see the module docstring."""

    when: dt.datetime
    kind: Kind
    scale: str | None = None
    value: float | None = None
    route: str | None = None
    dose_mg: float | None = None
    duration_min: float | None = None
    note: str = ""
    drug: str | None = None
    fade_days: float | None = None
    treatment: str | None = None
    line: int | None = None  # where it came from, for error messages


@dataclass(frozen=True)
class PatientHistory:
    """A validated event log plus the patient's weight and age, sorted by date.

    ``today`` is the date of the forecast: events after it are the *planned* treatment
    (future doses, therapy sessions); default: the date of the last score.
    """

    weight_kg: float
    events: tuple[HistoryEvent, ...]
    age: float | None = None
    name: str = "patient"
    today: dt.date | None = None
    source_file: str | None = None
    allow_off_label: bool = False
    _validated: bool = field(default=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self._validated:
            checked = validate_history(self)
            object.__setattr__(self, "events", checked.events)
            object.__setattr__(self, "today", checked.today)
            object.__setattr__(self, "_validated", True)

    # --- views ------------------------------------------------------------------------
    @property
    def start_date(self) -> dt.date:
        """Date of the first score, dose, session or treatment (life events may precede it)."""
        return min(e.when for e in self.events if e.kind != "life_event").date()

    @property
    def start(self) -> dt.datetime:
        """Midnight of :attr:`start_date`: day 0 of the plans built from this history.

        A life event before it gets a negative day: its load at day 0 is part of the untreated
        severity (``ketasim.dosing.plan.LifeEvent``).
        """
        return dt.datetime.combine(self.start_date, dt.time(0, 0))

    @property
    def today_day(self) -> float:
        """Plan day at the end of ``today`` (midnight after it)."""
        assert self.today is not None
        return float((self.today - self.start_date).days + 1)

    def day_of(self, when: dt.datetime | dt.date) -> float:
        """Plan day (fractional) of a date-time."""
        if not isinstance(when, dt.datetime):
            when = dt.datetime.combine(when, dt.time(0, 0))
        return (when - self.start).total_seconds() / 86400.0

    def date_of(self, day: float) -> dt.date:
        return self.start_date + dt.timedelta(days=int(math.floor(day)))

    def of_kind(self, kind: str, *, past: bool | None = None) -> tuple[HistoryEvent, ...]:
        """Events of one kind; ``past`` True/False keeps those up to / after ``today``."""
        out = tuple(e for e in self.events if e.kind == kind)
        if past is None:
            return out
        return tuple(e for e in out if (self.day_of(e.when) < self.today_day) == past)

    @property
    def scores(self) -> tuple[HistoryEvent, ...]:
        """Scores observed up to ``today``."""
        return self.of_kind("score", past=True)

    @property
    def drug(self) -> str:
        doses = self.of_kind("dose")
        return doses[0].drug if doses and doses[0].drug else "racemic"

    def score_table(self) -> Any:
        """Observed scores as a pandas DataFrame: date, day, scale, value."""
        import pandas as pd

        return pd.DataFrame({"date": [e.when for e in self.scores], "day": [self.day_of(e.when) for e in self.scores],
                             "scale": [e.scale for e in self.scores], "value": [e.value for e in self.scores]})

    def baseline_score(self) -> HistoryEvent | None:
        """The last score before the first dose (the untreated severity), if any."""
        doses = self.of_kind("dose")
        first_dose = doses[0].when if doses else dt.datetime.max
        before = [e for e in self.scores if e.when <= first_dose]
        return before[-1] if before else None

    # --- to the simulator -------------------------------------------------------------
    def doses(self, *, past: bool | None = None) -> tuple[Dose, ...]:
        """Dose rows as :class:`~ketasim.dosing.plan.Dose` objects (days from ``start``)."""
        return tuple(_dose_of(e, self.day_of(e.when), "induction" if self.day_of(e.when) < self.today_day
                              else "maintenance") for e in self.of_kind("dose", past=past))

    def therapy_days(self, *, past: bool | None = None) -> tuple[float, ...]:
        return tuple(self.day_of(e.when) for e in self.of_kind("therapy", past=past))

    def life_events(self, amplitudes: Sequence[float] | None = None,
                    fade_days: Sequence[float] | None = None) -> tuple[LifeEvent, ...]:
        """Life-event rows as :class:`LifeEvent` objects; unknown amplitudes/fading come from the arguments."""
        out = []
        for i, e in enumerate(self.of_kind("life_event")):
            amp = e.value if e.value is not None else (amplitudes[i] if amplitudes is not None else 1.0)
            fade = e.fade_days if e.fade_days is not None else (
                fade_days[i] if fade_days is not None else DEFAULT_FADE_DAYS)
            out.append(LifeEvent(day=self.day_of(e.when), amplitude=float(amp), fade_days=float(fade),
                                 label=e.note or "life event"))
        return tuple(out)

    def treatments(self) -> tuple[OtherTreatment, ...]:
        """Antidepressant periods (start/stop rows) and ECT/TMS sessions."""
        out: list[OtherTreatment] = []
        start: float | None = None
        ect, tms = [], []
        for e in self.of_kind("treatment"):
            d = self.day_of(e.when)
            if e.treatment == "antidepressant" and start is None:
                start = d
            elif e.treatment == "antidepressant_stop" and start is not None:
                out.append(OtherTreatment("antidepressant", start_day=start, end_day=d))
                start = None
            elif e.treatment == "ect":
                ect.append(d)
            elif e.treatment == "tms":
                tms.append(d)
        if start is not None:
            out.append(OtherTreatment("antidepressant", start_day=start))
        if ect:
            out.append(OtherTreatment("ect", session_days=tuple(ect)))
        if tms:
            out.append(OtherTreatment("tms", session_days=tuple(tms)))
        return tuple(out)

    def to_plan(self, patient: Patient | None = None, *, horizon_days: float | None = None,
                extra_doses: Iterable[Dose] = (), extra_therapy_days: Iterable[float] = (),
                include_planned: bool = True) -> Plan:
        """The history as a :class:`Plan` (day 0 = midnight of the first event).

        ``patient`` supplies the latent attributes (baseline MADRS, chronic load, life-event
        amplitudes) a history does not record; its weight is replaced by the recorded one.
        ``include_planned`` keeps the doses and sessions dated after ``today``; ``extra_doses``
        and ``extra_therapy_days`` add candidate future treatment. ``horizon_days`` (rounded up to whole
        days) ends the plan: what the history holds at or after it is left out (:meth:`Plan.with_horizon`);
        default: the day after the last event or ``today``.
        """
        if patient is None:
            patient = Patient(weight_kg=self.weight_kg, life_events=self.life_events(), age=self.age)
        patient = replace(patient, weight_kg=self.weight_kg, age=self.age)
        past = None if include_planned else True
        doses = tuple(sorted((*self.doses(past=past), *extra_doses), key=lambda d: d.day))
        therapy = tuple(sorted((*self.therapy_days(past=past), *extra_therapy_days)))
        treatments = self.treatments()
        last = max([self.today_day, *(d.day + 1 for d in doses), *(t + 1 for t in therapy),
                    *(s + 1 for t in treatments for s in t.session_days), *(e.day for e in patient.life_events)])
        plan = Plan(name=self.name, patient=patient, doses=doses, therapy_days=therapy, treatments=treatments,
                    horizon_days=float(math.ceil(last)), start_date=self.start_date,
                    allow_off_label=self.allow_off_label, description=f"history of {self.name}",
                    source_file=self.source_file)
        return plan if horizon_days is None else plan.with_horizon(float(math.ceil(horizon_days)))

    # --- writing ------------------------------------------------------------------------
    def to_records(self) -> list[dict[str, Any]]:
        """One dict per event with the CSV columns (weight and age on the first row)."""
        rows = []
        for i, e in enumerate(self.events):
            rows.append({
                "date": e.when.strftime("%Y-%m-%d %H:%M"), "kind": e.kind,
                "scale": SCALE_NAMES.get(e.scale or "", ""), "value": _fmt(e.value), "route": e.route or "",
                "dose_mg": _fmt(e.dose_mg), "duration_min": _fmt(e.duration_min), "note": e.note,
                "weight_kg": _fmt(self.weight_kg) if i == 0 else "", "age": _fmt(self.age) if i == 0 else "",
                "drug": e.drug or "", "fade_days": _fmt(e.fade_days), "treatment": e.treatment or "",
            })
        return rows

    def to_csv(self, path: str | Path | None = None) -> str:
        """Write (or return) the CSV text."""
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=[*COLUMNS, *OPTIONAL_COLUMNS], lineterminator="\n")
        w.writeheader()
        w.writerows(self.to_records())
        text = buf.getvalue()
        if path is not None:
            Path(path).write_text(text)
        return text

    def to_yaml(self, path: str | Path | None = None) -> str:
        """Write (or return) the YAML form: ``patient`` (weight, age), ``today`` and ``events``."""
        import yaml

        events = []
        for r in self.to_records():
            r = {k: v for k, v in r.items() if v != "" and k not in ("weight_kg", "age")}
            for k in ("value", "dose_mg", "duration_min", "fade_days"):
                if k in r:
                    r[k] = float(r[k])
            events.append(r)
        doc = {"name": self.name, "patient": {"weight_kg": self.weight_kg, "age": self.age},
               "today": self.today.isoformat() if self.today else None, "events": events}
        text = yaml.safe_dump(doc, sort_keys=False)
        if path is not None:
            Path(path).write_text(text)
        return text


def _fmt(x: float | None) -> str:
    if x is None:
        return ""
    return f"{x:g}"


# --- validation ------------------------------------------------------------------------------------------------


def _where(e: HistoryEvent, i: int) -> dict[str, Any]:
    return {"line": e.line} if e.line is not None else {}


def _field(e: HistoryEvent, i: int, name: str) -> str:
    return name if e.line is not None else f"events[{i}].{name}"


def validate_history(h: PatientHistory) -> PatientHistory:
    """Check every event; return the history sorted by date with ``today`` set.

    Raises :class:`PlanError` naming the file, line (or row index), field, value and what is allowed.
    """
    f = h.source_file
    if isinstance(h.weight_kg, bool) or not isinstance(h.weight_kg, (int, float)) or not (
            math.isfinite(h.weight_kg) and WEIGHT_KG.contains(h.weight_kg)):
        raise PlanError("weight_kg", h.weight_kg, f"a weight of {WEIGHT_KG.text()}", file=f)
    if h.age is not None and (isinstance(h.age, bool) or not isinstance(h.age, (int, float))
                              or not (math.isfinite(h.age) and AGE.contains(h.age))):
        raise PlanError("age", h.age, f"an age of {AGE.text()} (or empty)", file=f)
    if not isinstance(h.events, (tuple, list)) or not h.events:
        raise PlanError("events", "none", "at least one score and one dose", file=f)
    for i, e in enumerate(h.events):
        if not isinstance(e, HistoryEvent):
            raise PlanError(f"events[{i}]", e, "a HistoryEvent", file=f)
        _validate_event(e, i, h.weight_kg, f, h.allow_off_label)
    _check_once(h.events, f)
    events = tuple(sorted(h.events, key=lambda e: e.when))
    scores = [e for e in events if e.kind == "score"]
    if not scores:
        raise PlanError("kind", "no score rows", "at least one score (the patient's own data)", file=f)
    if len(scores) > MAX_SCORES:
        raise PlanError("kind", f"{len(scores):,} score rows", f"at most {MAX_SCORES:,} scores", file=f)
    _check_span(h.events, f)
    # Racemic ketamine and esketamine may both appear (IV infusions at the clinic, nasal spray later): the
    # forecaster runs both PK systems side by side (``ketasim.planning.mixed_drugs``).
    today = h.today or max(e.when for e in scores).date()
    first = min(e.when for e in events if e.kind != "life_event").date()
    if isinstance(today, dt.datetime) or not isinstance(today, dt.date):
        raise PlanError("today", today, "a date (datetime.date)", file=f)
    if today < events[0].when.date():
        raise PlanError("today", today.isoformat(), f"a date on or after the first event ({events[0].when.date()})",
                        file=f)
    if (today - first).days > HISTORY_SPAN_DAYS:
        raise PlanError("today", today.isoformat(), f"a date within {HISTORY_SPAN_DAYS} days of the first event "
                        f"({first.isoformat()})", file=f)
    if not any(e.when.date() <= today for e in scores):
        raise PlanError("today", today.isoformat(), "a date on or after the first score", file=f)
    checked = replace(h, events=events, today=today, _validated=True)
    _check_dose_rules(checked)
    return checked


def _row(e: HistoryEvent, i: int) -> str:
    """How an error names another row: its line in the file, or its index."""
    return f"line {e.line}" if e.line is not None else f"events[{i}]"


# Two rows of one kind with these fields equal describe the same event (a duplicate would count twice).
_SAME_EVENT = {"score": ("when", "scale"), "dose": ("when",), "therapy": ("when",), "life_event": ("when", "note"),
               "treatment": ("when", "treatment")}


def _check_once(events: Sequence[HistoryEvent], f: str | None) -> None:
    """Each event once: a second row with the same kind, date-time (and scale, label or treatment) is refused,
    naming both rows."""
    seen: dict[tuple, tuple[HistoryEvent, int]] = {}
    for i, e in enumerate(events):
        key = (e.kind, *(getattr(e, k) for k in _SAME_EVENT[e.kind]))
        if key in seen:
            other, j = seen[key]
            what = {"score": f"{SCALE_NAMES.get(e.scale or '', e.scale)} score", "dose": "dose"}.get(e.kind, e.kind)
            raise PlanError(_field(e, i, "date"), e.when.strftime("%Y-%m-%d %H:%M"),
                            f"one {what} row per date and time ({_row(other, j)} has the same; a duplicate row "
                            "would count twice)", file=f, **_where(e, i))
        seen[key] = (e, i)


def _check_span(events: Sequence[HistoryEvent], f: str | None) -> None:
    """Dates within the capacity: years 1900-2199, treatment and scores within :data:`HISTORY_SPAN_DAYS` of the
    first of them, life events from ten years before it."""
    for i, e in enumerate(events):
        if not EARLIEST_DATE <= e.when.date() <= LATEST_DATE:
            raise PlanError(_field(e, i, "date"), e.when.strftime("%Y-%m-%d"), DATE_RANGE_TEXT, file=f,
                            **_where(e, i))
    first = min(e.when for e in events if e.kind != "life_event")
    earliest = first + dt.timedelta(days=EARLIEST_EVENT_DAY)
    latest = first + dt.timedelta(days=HISTORY_SPAN_DAYS)
    for i, e in enumerate(events):
        low = earliest if e.kind == "life_event" else first
        if not low <= e.when <= latest:
            raise PlanError(_field(e, i, "date"), e.when.strftime("%Y-%m-%d"),
                            f"a date from {low.date().isoformat()} to {latest.date().isoformat()}: a history spans "
                            f"at most {HISTORY_SPAN_DAYS} days ({HISTORY_SPAN_DAYS // 365} years) from its first "
                            f"score or treatment ({first.date().isoformat()})"
                            + (", life events up to ten years before it" if e.kind == "life_event" else ""),
                            file=f, **_where(e, i))


def _dose_of(e: HistoryEvent, day: float, phase: str) -> Dose:
    """The dose row ``e`` as a :class:`Dose` on plan day ``day`` (esketamine sprays: one 28 mg device each)."""
    assert e.dose_mg is not None and e.route is not None
    dur = (e.duration_min if e.duration_min is not None else 40.0) if e.route == "iv" else 0.0
    devices = 1
    if e.route == "intranasal" and (e.drug or "esketamine") == "esketamine":
        devices = max(1, int(round(e.dose_mg / 28.0)))
    return Dose(day=day, amount_mg=float(e.dose_mg), route=e.route, drug=(e.drug or "racemic"),  # type: ignore[arg-type]
                duration_min=float(dur), phase=phase, devices=devices)  # type: ignore[arg-type]


def _violation_error(v: LimitViolation, e: HistoryEvent | None, i: int, weight: float, f: str | None,
                     related: tuple[HistoryEvent, int] | None = None) -> PlanError:
    """A dose rule broken by row ``e`` (None: by the history as a whole), in the history's columns."""
    allowed = v.allowed if v.hard else f"{v.allowed}; {OFF_LABEL_HINT}"
    if e is None:
        if v.field == "other_treatments":
            return PlanError("treatment", "no antidepressant row", f"{allowed} (a treatment row 'antidepressant')",
                             file=f)
        return PlanError(v.field.removeprefix("patient."), v.value, allowed, file=f)
    column = _COLUMN_OF.get(v.key or "dose", "dose_mg")
    value: Any = getattr(e, column, None) if column != "date" else e.when.strftime("%Y-%m-%d %H:%M")
    if column == "dose_mg" and e.dose_mg is not None:
        allowed = f"{allowed} ({e.dose_mg:g} mg is {e.dose_mg / weight:.3g} mg/kg for {weight:g} kg)"
    if related is not None:
        allowed = f"{allowed.split(' (doses[')[0]} ({_row(*related)} gives the dose before it)"
    return PlanError(_field(e, i, column), value, allowed, file=f, **_where(e, i))


def _check_dose_rules(h: PatientHistory) -> None:
    """The rules that need all the doses (overlaps, per day and per 7 days, esketamine with an antidepressant),
    through the one validator: the history's plan is built, and its first violation named by row."""
    index = {id(e): i for i, e in enumerate(h.events)}
    rows = list(h.of_kind("dose"))
    try:
        h.to_plan()
    except LimitError as exc:
        def order(v: LimitViolation) -> tuple[bool, float]:
            return (not v.hard, h.day_of(rows[v.dose_index].when) if v.dose_index is not None else -1.0)

        v = min(exc.violations, key=order)
        e = rows[v.dose_index] if v.dose_index is not None else None
        related = None
        if v.related_index is not None:
            r = rows[v.related_index]
            related = (r, index[id(r)])
        raise _violation_error(v, e, index[id(e)] if e is not None else 0, h.weight_kg, h.source_file,
                               related) from None


def _finite_or_none(e: HistoryEvent, i: int, name: str, f: str | None) -> None:
    x = getattr(e, name)
    if x is not None and (isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x)):
        raise PlanError(_field(e, i, name), x, "a finite number (or empty)", file=f, **_where(e, i))


def _validate_event(e: HistoryEvent, i: int, weight: float, f: str | None, off_label: bool) -> None:
    w = _where(e, i)
    if not isinstance(e.when, dt.datetime) or e.when.tzinfo is not None:
        raise PlanError(_field(e, i, "date"), e.when, "a date-time (datetime.datetime) in local time, without a "
                        "time zone", file=f, **w)
    if e.kind not in KINDS:
        raise PlanError(_field(e, i, "kind"), e.kind, " | ".join(KINDS), file=f, **w)
    for name in ("value", "dose_mg", "duration_min", "fade_days"):
        _finite_or_none(e, i, name, f)
    if e.kind == "score":
        if e.scale is None or e.scale not in SCALE_RANGES:
            raise PlanError(_field(e, i, "scale"), e.scale, "PHQ-9, MADRS, QIDS-SR16 or HDRS-17", file=f, **w)
        lo, hi = SCALE_RANGES[e.scale]
        if e.value is None or not (lo <= e.value <= hi):
            raise PlanError(_field(e, i, "value"), e.value,
                            f"a {SCALE_NAMES[e.scale]} total score of {lo:g}-{hi:g}", file=f, **w)
    elif e.kind == "dose":
        if e.route not in ROUTES:
            raise PlanError(_field(e, i, "route"), e.route, " | ".join(ROUTES), file=f, **w)
        if e.drug not in DRUGS:
            raise PlanError(_field(e, i, "drug"), e.drug, " | ".join(DRUGS), file=f, **w)
        if e.dose_mg is None or not e.dose_mg > 0:
            raise PlanError(_field(e, i, "dose_mg"), e.dose_mg, "a positive dose in mg", file=f, **w)
        if e.duration_min is not None and e.duration_min < 0:
            raise PlanError(_field(e, i, "duration_min"), e.duration_min, "0 or more minutes", file=f, **w)
        try:
            found = check_dose(_dose_of(e, 0.0, "induction"), weight_kg=weight, allow_off_label=off_label)
        except LimitError as exc:
            found = exc.violations
        if found:
            raise _violation_error(min(found, key=lambda v: not v.hard), e, i, weight, f)
    elif e.kind == "life_event":
        if e.value is not None and not (LIFE_EVENT_AMPLITUDE[0] <= e.value <= LIFE_EVENT_AMPLITUDE[1]):
            raise PlanError(_field(e, i, "value"), e.value,
                            f"a load of {LIFE_EVENT_AMPLITUDE[0]:g}-{LIFE_EVENT_AMPLITUDE[1]:g} "
                            "(or empty: inferred from the scores)", file=f, **w)
        if e.fade_days is not None and not (LIFE_EVENT_FADE_DAYS[0] <= e.fade_days <= LIFE_EVENT_FADE_DAYS[1]):
            raise PlanError(_field(e, i, "fade_days"), e.fade_days,
                            f"{LIFE_EVENT_FADE_DAYS[0]:g}-{LIFE_EVENT_FADE_DAYS[1]:g} days (or empty)", file=f, **w)
    elif e.kind == "treatment":
        if e.treatment not in TREATMENTS:
            raise PlanError(_field(e, i, "treatment"), e.treatment, " | ".join(TREATMENTS), file=f, **w)


# --- parsing -----------------------------------------------------------------------------------------------


def _parse_date(text: Any, kind: str, field_name: str, f: str | None, line: int | None) -> dt.datetime:
    if isinstance(text, dt.datetime):
        return text
    if isinstance(text, dt.date):
        return dt.datetime.combine(text, DEFAULT_CLOCK.get(kind, dt.time(9, 0)))
    s = str(text).strip()
    for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        try:
            return dt.datetime.strptime(s, fmt)
        except ValueError:
            pass
    try:
        d = dt.datetime.strptime(s, "%Y-%m-%d").date()
    except ValueError:
        raise PlanError(field_name, s, "an ISO date (2025-01-06) or date-time (2025-01-06 09:30)",
                        file=f, line=line) from None
    return dt.datetime.combine(d, DEFAULT_CLOCK.get(kind, dt.time(9, 0)))


def _number(raw: Any, field_name: str, f: str | None, line: int | None) -> float | None:
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return None
    if isinstance(raw, bool):
        raise PlanError(field_name, raw, "a number (or empty)", file=f, line=line)
    try:
        x = float(raw)
    except (TypeError, ValueError):
        raise PlanError(field_name, raw, "a number (or empty)", file=f, line=line) from None
    if not math.isfinite(x):
        raise PlanError(field_name, raw, "a finite number (or empty)", file=f, line=line)
    return x


def _text(raw: Any) -> str | None:
    if raw is None:
        return None
    s = str(raw).strip()
    return s or None


def event_from_record(rec: Mapping[str, Any], *, file: str | None = None, line: int | None = None,
                      index: int | None = None) -> HistoryEvent:
    """Parse one row (a dict of column -> text or value) into a :class:`HistoryEvent`."""
    def fld(name: str) -> str:
        return name if line is not None or index is None else f"events[{index}].{name}"

    kind = (_text(rec.get("kind")) or "").lower().replace("-", "_").replace(" ", "_")
    if kind not in KINDS:
        raise PlanError(fld("kind"), rec.get("kind"), " | ".join(KINDS), file=file, line=line)
    if _text(rec.get("date")) is None:
        raise PlanError(fld("date"), rec.get("date"), "an ISO date (2025-01-06) or date-time (2025-01-06 09:30)",
                        file=file, line=line)
    when = _parse_date(rec.get("date"), kind, fld("date"), file, line)
    scale = None
    if kind == "score":
        raw_scale = _text(rec.get("scale"))
        scale = scale_key(raw_scale) if raw_scale else None
        if scale is None:
            raise PlanError(fld("scale"), raw_scale, "PHQ-9, MADRS, QIDS-SR16 or HDRS-17", file=file, line=line)
    route = (_text(rec.get("route")) or "").lower() or None
    drug = (_text(rec.get("drug")) or "").lower() or None
    if kind == "dose" and drug is None:
        drug = "esketamine" if route == "intranasal" else "racemic"
    treatment = None
    if kind == "treatment":
        treatment = (_text(rec.get("treatment")) or (_text(rec.get("note")) or "").split(" ")[0]).lower()
        treatment = treatment.replace("-", "_")
    return HistoryEvent(
        when=when, kind=kind,  # type: ignore[arg-type]
        scale=scale,
        value=_number(rec.get("value"), fld("value"), file, line),
        route=route if kind == "dose" else None,
        dose_mg=_number(rec.get("dose_mg"), fld("dose_mg"), file, line) if kind == "dose" else None,
        duration_min=_number(rec.get("duration_min"), fld("duration_min"), file, line) if kind == "dose" else None,
        note=_text(rec.get("note")) or "",
        drug=drug if kind == "dose" else None,
        fade_days=_number(rec.get("fade_days"), fld("fade_days"), file, line) if kind == "life_event" else None,
        treatment=treatment,
        line=line,
    )


def _constant(values: list[tuple[int | None, float]], name: str, f: str | None) -> float | None:
    """The one value of a per-patient column given on one or more rows; conflicting values are an error."""
    if not values:
        return None
    first = values[0][1]
    for line, v in values[1:]:
        if v != first:
            raise PlanError(name, v, f"the same {name} on every row that gives it ({first:g} on an earlier row)",
                            file=f, line=line)
    return first


def history_from_records(records: Sequence[Mapping[str, Any]], *, weight_kg: float | None = None,
                         age: float | None = None, name: str = "patient", today: dt.date | str | None = None,
                         file: str | None = None, lines: Sequence[int] | None = None,
                         allow_off_label: bool = False) -> PatientHistory:
    """Build and validate a history from row dicts (CSV rows or YAML events)."""
    events = []
    weights: list[tuple[int | None, float]] = []
    ages: list[tuple[int | None, float]] = []
    for i, rec in enumerate(records):
        line = lines[i] if lines is not None else None

        def fld(n: str, i: int = i, line: int | None = line) -> str:
            return n if line is not None else f"events[{i}].{n}"

        events.append(event_from_record(rec, file=file, line=line, index=i))
        w = _number(rec.get("weight_kg"), fld("weight_kg"), file, line)
        if w is not None:
            weights.append((line, w))
        a = _number(rec.get("age"), fld("age"), file, line)
        if a is not None:
            ages.append((line, a))
    w = weight_kg if weight_kg is not None else _constant(weights, "weight_kg", file)
    if w is None:
        raise PlanError("weight_kg", None, "the patient's weight in kg (a weight_kg column filled on the first row)",
                        file=file)
    a = age if age is not None else _constant(ages, "age", file)
    if isinstance(today, str):
        try:
            today = dt.date.fromisoformat(today)
        except ValueError:
            raise PlanError("today", today, "an ISO date (2025-03-01)", file=file) from None
    return PatientHistory(weight_kg=float(w), events=tuple(events), age=a, name=name, today=today, source_file=file,
                          allow_off_label=allow_off_label)


def _csv_rows(text: str, file: str) -> tuple[list[str], list[dict[str, str]], list[int], int]:
    """(header, records, line of each record, line of the header) of a CSV event log.

    Comment lines (``# ...``) and blank lines are skipped; a field may not span lines (an unclosed quote
    would swallow the rows after it), a column may not be given twice, a field holds at most
    :data:`MAX_FIELD_CHARS` characters.
    """
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    header_line = 0
    records: list[dict[str, str]] = []
    lines: list[int] = []
    end = 0
    while True:
        first = end + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise _csv_error(exc, text, first, header, file) from None
        end = reader.line_num
        if not row or all(not c.strip() for c in row) or row[0].lstrip().startswith("#"):
            continue
        for j, cell in enumerate(row):
            column = header[j] if header is not None and j < len(header) else f"column {j + 1}"
            if "\n" in cell or "\r" in cell:
                raise PlanError(column, cell[:40] + ("..." if len(cell) > 40 else ""),
                                "a field on one line (is a quote \" opened here and never closed?)", file=file,
                                line=first)
            if len(cell) > MAX_FIELD_CHARS:
                raise PlanError(column, f"{len(cell):,} characters", f"at most {MAX_FIELD_CHARS:,} characters",
                                file=file, line=first)
        if header is None:
            header, header_line = [h.strip().lower() for h in row], first
            _check_header(header, row, file, first)
            continue
        if len(row) > len(header):
            raise PlanError("row", ",".join(row)[:80], f"at most {len(header)} comma-separated fields (the header's)",
                            file=file, line=first)
        records.append(dict(zip(header, row, strict=False)))
        lines.append(first)
    if header is None:
        raise PlanError("header", "empty file", f"a header row with the columns {', '.join(COLUMNS)}", file=file)
    return header, records, lines, header_line


def _csv_error(exc: csv.Error, text: str, line: int, header: list[str] | None, file: str) -> PlanError:
    """The CSV reader's error as the row (line) and the column at fault: a quote never closed, or a field
    too long to read."""
    lines = text.splitlines()
    cells = lines[line - 1].split(",") if line - 1 < len(lines) else []

    def column(j: int | None) -> str:
        if j is None:
            return "row"
        return header[j] if header is not None and j < len(header) else f"column {j + 1}"

    if "field larger than field limit" in str(exc):
        j = next((k for k, c in enumerate(cells) if len(c) > MAX_FIELD_CHARS), None)
        return PlanError(column(j), "a field of more than 131,072 characters",
                         f"at most {MAX_FIELD_CHARS:,} characters a field", file=file, line=line)
    j = next((k for k, c in enumerate(cells) if c.lstrip().startswith('"') and c.count('"') % 2 == 1), None)
    return PlanError(column(j), 'a quote " that is never closed' if "end of data" in str(exc) else str(exc),
                     "comma-separated fields with quotes in pairs", file=file, line=line)


def _check_header(header: list[str], row: list[str], file: str, line: int) -> None:
    known = (*COLUMNS, *OPTIONAL_COLUMNS)
    if len(header) == 1 and (";" in header[0] or "\t" in header[0]):
        raise PlanError("header", row[0][:80], f"comma-separated columns ({', '.join(COLUMNS)}): this file uses "
                        "semicolons or tabs; save it as CSV with commas", file=file, line=line)
    for required in ("date", "kind"):
        if required not in header:
            raise PlanError("header", ",".join(row)[:120], f"the columns {', '.join(COLUMNS)} (missing {required!r})",
                            file=file, line=line)
    for j, h in enumerate(header):
        if h not in known:
            raise PlanError("header", h, f"one of {', '.join(known)}", file=file, line=line)
        if h in header[:j]:
            raise PlanError("header", h, f"each column once (column {header.index(h) + 1} is also {h!r})",
                            file=file, line=line)


def read_history_csv(path: str | Path, *, today: dt.date | str | None = None, name: str | None = None,
                     allow_off_label: bool = False) -> PatientHistory:
    """Read a CSV event log (header row with at least the columns ``date, kind``; see the module docstring)."""
    p = Path(path)
    text = read_text_file(p, what="history file", name=p.name)
    _, records, lines, _ = _csv_rows(text, p.name)
    return history_from_records(records, name=name or p.stem, today=today, file=p.name, lines=lines,
                                allow_off_label=allow_off_label)


_YAML_KEYS = ("name", "patient", "today", "events", "allow_off_label")
_YAML_PATIENT_KEYS = ("weight_kg", "age")


def read_history_yaml(path: str | Path, *, today: dt.date | str | None = None, name: str | None = None,
                      allow_off_label: bool = False) -> PatientHistory:
    """Read the YAML form: ``patient: {weight_kg, age}``, optional ``today``, ``name`` and ``allow_off_label``,
    and ``events: [...]`` (each event a mapping of the CSV columns)."""
    p = Path(path)
    doc, lm = read_yaml(read_text_file(p, what="history file", name=p.name), file=p.name)
    lm.root = "<history>"
    if not isinstance(doc, dict) or not isinstance(doc.get("events"), list):
        found = doc.get("events") if isinstance(doc, dict) else doc
        raise lm.error(("events",), type(found).__name__, "a list of events under the key 'events'")
    for key in doc:
        if key not in _YAML_KEYS:
            raise lm.error((key,), key, f"one of {', '.join(_YAML_KEYS)}")
    patient = doc.get("patient") or {}
    if not isinstance(patient, dict):
        raise lm.error(("patient",), patient, "a mapping with weight_kg and age")
    for key in patient:
        if key not in _YAML_PATIENT_KEYS:
            raise lm.error(("patient", key), key, f"one of {', '.join(_YAML_PATIENT_KEYS)}")
    known = (*COLUMNS, *OPTIONAL_COLUMNS)
    for i, ev in enumerate(doc["events"]):
        if not isinstance(ev, dict):
            raise lm.error(("events", i), ev, "a mapping of column: value")
        for key in ev:
            if key not in known:
                raise lm.error(("events", i, key), key, f"one of {', '.join(known)}")
    for key in ("name", "today"):
        if doc.get(key) is not None and not isinstance(doc[key], str):
            raise lm.error((key,), doc[key], "text" if key == "name" else "an ISO date (2025-03-01)")
    if not isinstance(doc.get("allow_off_label", False), bool):
        raise lm.error(("allow_off_label",), doc["allow_off_label"], "true or false")
    w = _number(patient.get("weight_kg"), "patient.weight_kg", p.name, lm.line(("patient", "weight_kg")))
    a = _number(patient.get("age"), "patient.age", p.name, lm.line(("patient", "age")))
    t = today if today is not None else doc.get("today")
    lines = [lm.lines[("events", i)] for i in range(len(doc["events"]))]
    return history_from_records(doc["events"], weight_kg=w, age=a, name=name or str(doc.get("name") or p.stem),
                                today=t, file=p.name, lines=lines,
                                allow_off_label=allow_off_label or bool(doc.get("allow_off_label", False)))


def read_history(path: str | Path, *, today: dt.date | str | None = None, name: str | None = None,
                 allow_off_label: bool = False) -> PatientHistory:
    """Read a history from ``.csv`` or ``.yaml``/``.yml``."""
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return read_history_csv(path, today=today, name=name, allow_off_label=allow_off_label)
    if suffix in (".yaml", ".yml"):
        return read_history_yaml(path, today=today, name=name, allow_off_label=allow_off_label)
    raise PlanError("history file", str(path), "a .csv, .yaml or .yml file")
