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
field, the value received and what is allowed.
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

from ketasim.dosing.plan import DRUGS, ROUTES, Dose, LifeEvent, OtherTreatment, Patient, Plan
from ketasim.errors import PlanError

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

# Plausible single doses in mg/kg by route (racemic or esketamine), for a history of doses given.
# Wider than the label ranges (ketasim.dosing limits), narrow enough to catch a typing error
# such as 350 mg IV for 35 mg. Esketamine intranasal is checked in mg (Spravato 28-84 mg).
PLAUSIBLE_MG_PER_KG: dict[str, tuple[float, float]] = {
    "iv": (0.05, 2.0), "im": (0.05, 2.0), "oral": (0.1, 5.0), "sublingual": (0.1, 5.0), "intranasal": (0.1, 3.0),
}
PLAUSIBLE_INTRANASAL_ESKETAMINE_MG = (14.0, 112.0)
PLAUSIBLE_IV_DURATION_MIN = (1.0, 240.0)
PLAUSIBLE_WEIGHT_KG = (30.0, 250.0)
PLAUSIBLE_AGE = (12.0, 110.0)
LIFE_EVENT_AMPLITUDE = (0.0, 3.0)
LIFE_EVENT_FADE_DAYS = (7.0, 730.0)
DEFAULT_FADE_DAYS = 90.0
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
        out = []
        for e in self.of_kind("dose", past=past):
            assert e.dose_mg is not None and e.route is not None
            phase = "induction" if self.day_of(e.when) < self.today_day else "maintenance"
            dur = (e.duration_min if e.duration_min is not None else 40.0) if e.route == "iv" else 0.0
            devices = 1
            if e.route == "intranasal" and (e.drug or "esketamine") == "esketamine":
                devices = max(1, int(round(e.dose_mg / 28.0)))
            out.append(Dose(day=self.day_of(e.when), amount_mg=float(e.dose_mg), route=e.route,  # type: ignore[arg-type]
                            drug=(e.drug or "racemic"), duration_min=float(dur), phase=phase,  # type: ignore[arg-type]
                            devices=devices))
        return tuple(out)

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
        and ``extra_therapy_days`` add candidate future treatment. ``horizon_days`` is rounded up to whole
        days (default: the day after the last event or ``today``).
        """
        if patient is None:
            patient = Patient(weight_kg=self.weight_kg, life_events=self.life_events(), age=self.age)
        patient = replace(patient, weight_kg=self.weight_kg, age=self.age)
        past = None if include_planned else True
        doses = tuple(sorted((*self.doses(past=past), *extra_doses), key=lambda d: d.day))
        therapy = tuple(sorted((*self.therapy_days(past=past), *extra_therapy_days)))
        if horizon_days is None:
            horizon_days = max([self.today_day, *(d.day + 1 for d in doses), *(t + 1 for t in therapy)])
        horizon_days = float(math.ceil(horizon_days))  # a plan's horizon is whole days
        return Plan(name=self.name, patient=patient, doses=doses, therapy_days=therapy, treatments=self.treatments(),
                    horizon_days=float(horizon_days), start_date=self.start_date, allow_off_label=self.allow_off_label,
                    description=f"history of {self.name}", source_file=self.source_file)

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
    if not isinstance(h.weight_kg, (int, float)) or math.isnan(h.weight_kg) or not (
            PLAUSIBLE_WEIGHT_KG[0] <= h.weight_kg <= PLAUSIBLE_WEIGHT_KG[1]):
        lo, hi = PLAUSIBLE_WEIGHT_KG
        raise PlanError("weight_kg", h.weight_kg, f"a weight of {lo:g}-{hi:g} kg", file=f)
    if h.age is not None and not (PLAUSIBLE_AGE[0] <= h.age <= PLAUSIBLE_AGE[1]):
        raise PlanError("age", h.age, f"an age of {PLAUSIBLE_AGE[0]:g}-{PLAUSIBLE_AGE[1]:g} years (or empty)", file=f)
    if not h.events:
        raise PlanError("events", "none", "at least one score and one dose", file=f)
    for i, e in enumerate(h.events):
        _validate_event(e, i, h.weight_kg, f, h.allow_off_label)
    events = tuple(sorted(h.events, key=lambda e: e.when))
    scores = [e for e in events if e.kind == "score"]
    if not scores:
        raise PlanError("kind", "no score rows", "at least one score (the patient's own data)", file=f)
    doses = [e for e in events if e.kind == "dose"]
    drugs = {e.drug for e in doses}
    if len(drugs) > 1:
        raise PlanError("drug", ", ".join(sorted(str(d) for d in drugs)),
                        "one drug per history (racemic or esketamine)", file=f)
    today = h.today or max(e.when for e in scores).date()
    if today < events[0].when.date():
        raise PlanError("today", today.isoformat(), f"a date on or after the first event ({events[0].when.date()})",
                        file=f)
    if not any(e.when.date() <= today for e in scores):
        raise PlanError("today", today.isoformat(), "a date on or after the first score", file=f)
    return replace(h, events=events, today=today, _validated=True)


def _validate_event(e: HistoryEvent, i: int, weight: float, f: str | None, off_label: bool) -> None:
    w = _where(e, i)
    if e.kind not in KINDS:
        raise PlanError(_field(e, i, "kind"), e.kind, " | ".join(KINDS), file=f, **w)
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
        if e.route == "intranasal" and e.drug == "esketamine":
            lo, hi = PLAUSIBLE_INTRANASAL_ESKETAMINE_MG
            if not (lo <= e.dose_mg <= hi) and not off_label:
                raise PlanError(_field(e, i, "dose_mg"), e.dose_mg,
                                f"intranasal esketamine {lo:g}-{hi:g} mg per session", file=f, **w)
        else:
            lo, hi = PLAUSIBLE_MG_PER_KG[e.route]
            mgkg = e.dose_mg / weight
            if not (lo <= mgkg <= hi) and not off_label:
                raise PlanError(_field(e, i, "dose_mg"), e.dose_mg,
                                f"{e.route} doses of {lo:g}-{hi:g} mg/kg, i.e. {lo * weight:.0f}-{hi * weight:.0f} mg "
                                f"for {weight:g} kg (this is {mgkg:.2f} mg/kg)", file=f, **w)
        if e.route == "iv" and e.duration_min is not None:
            lo, hi = PLAUSIBLE_IV_DURATION_MIN
            if not (lo <= e.duration_min <= hi):
                raise PlanError(_field(e, i, "duration_min"), e.duration_min,
                                f"an IV infusion of {lo:g}-{hi:g} min", file=f, **w)
        if e.duration_min is not None and e.duration_min < 0:
            raise PlanError(_field(e, i, "duration_min"), e.duration_min, "0 or more minutes", file=f, **w)
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


def read_history_csv(path: str | Path, *, today: dt.date | str | None = None, name: str | None = None,
                     allow_off_label: bool = False) -> PatientHistory:
    """Read a CSV event log (header row with at least the columns ``date, kind``; see the module docstring)."""
    p = Path(path)
    if not p.exists():
        raise PlanError("history file", str(p), "an existing CSV or YAML file")
    text = p.read_text()
    lines = [ln for ln in text.splitlines()]
    # Skip comment lines ('# ...') but keep the line numbers of the file.
    kept = [(n + 1, ln) for n, ln in enumerate(lines) if ln.strip() and not ln.lstrip().startswith("#")]
    if not kept:
        raise PlanError("header", "empty file", f"a header row with the columns {', '.join(COLUMNS)}", file=p.name)
    reader = csv.reader([ln for _, ln in kept])
    rows = list(reader)
    header = [h.strip().lower() for h in rows[0]]
    for required in ("date", "kind"):
        if required not in header:
            raise PlanError("header", ",".join(rows[0]), f"the columns {', '.join(COLUMNS)} (missing {required!r})",
                            file=p.name, line=kept[0][0])
    unknown = [h for h in header if h not in COLUMNS and h not in OPTIONAL_COLUMNS]
    if unknown:
        raise PlanError("header", unknown[0], f"one of {', '.join((*COLUMNS, *OPTIONAL_COLUMNS))}",
                        file=p.name, line=kept[0][0])
    records, line_numbers = [], []
    for (lineno, _), row in zip(kept[1:], rows[1:], strict=True):
        if len(row) > len(header):
            raise PlanError("row", ",".join(row), f"at most {len(header)} comma-separated fields (the header's)",
                            file=p.name, line=lineno)
        records.append(dict(zip(header, row, strict=False)))
        line_numbers.append(lineno)
    return history_from_records(records, name=name or p.stem, today=today, file=p.name, lines=line_numbers,
                                allow_off_label=allow_off_label)


def read_history_yaml(path: str | Path, *, today: dt.date | str | None = None, name: str | None = None,
                      allow_off_label: bool = False) -> PatientHistory:
    """Read the YAML form: ``patient: {weight_kg, age}``, optional ``today`` and ``name``, and ``events: [...]``."""
    import yaml

    p = Path(path)
    if not p.exists():
        raise PlanError("history file", str(p), "an existing CSV or YAML file")
    text = p.read_text()
    try:
        doc = yaml.safe_load(text)
        node = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise PlanError("yaml", str(getattr(exc, "problem", exc)), "valid YAML", file=p.name,
                        line=mark.line + 1 if mark else None) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("events"), list):
        raise PlanError("events", type(doc.get("events") if isinstance(doc, dict) else doc).__name__,
                        "a list of events under the key 'events'", file=p.name)
    lines = _yaml_event_lines(node)
    patient = doc.get("patient") or {}
    if not isinstance(patient, dict):
        raise PlanError("patient", patient, "a mapping with weight_kg and age", file=p.name)
    for i, ev in enumerate(doc["events"]):
        if not isinstance(ev, dict):
            raise PlanError(f"events[{i}]", ev, "a mapping of column: value", file=p.name,
                            line=lines[i] if i < len(lines) else None)
    w = _number(patient.get("weight_kg"), "patient.weight_kg", p.name, None)
    a = _number(patient.get("age"), "patient.age", p.name, None)
    t = today if today is not None else doc.get("today")
    if isinstance(t, dt.date):
        t = t.isoformat()
    return history_from_records(doc["events"], weight_kg=w, age=a, name=name or str(doc.get("name") or p.stem),
                                today=t, file=p.name, lines=lines if len(lines) == len(doc["events"]) else None,
                                allow_off_label=allow_off_label or bool(doc.get("allow_off_label", False)))


def _yaml_event_lines(node: Any) -> list[int]:
    """1-based line of each item of the top-level ``events`` sequence."""
    try:
        for key, value in node.value:
            if key.value == "events":
                return [item.start_mark.line + 1 for item in value.value]
    except (AttributeError, TypeError):
        pass
    return []


def read_history(path: str | Path, *, today: dt.date | str | None = None, name: str | None = None,
                 allow_off_label: bool = False) -> PatientHistory:
    """Read a history from ``.csv`` or ``.yaml``/``.yml``."""
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return read_history_csv(path, today=today, name=name, allow_off_label=allow_off_label)
    if suffix in (".yaml", ".yml"):
        return read_history_yaml(path, today=today, name=name, allow_off_label=allow_off_label)
    raise PlanError("history file", str(path), "a .csv, .yaml or .yml file")
