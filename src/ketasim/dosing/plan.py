"""A resolved treatment plan: the patient and every dated intervention, as Python objects.

Times are days from the plan's start (``day`` 0 = ``start_date`` at midnight; fractions of a
day give the clock time). Plan files (``ketasim.dosing.planfile``) expand series such as
"6 infusions Mon-Wed-Fri" into these objects; Python users can build them directly.

Every object checks itself when built, so a plan built in Python obeys the same rules as a plan file:
each field's type and finiteness (a :class:`~ketasim.errors.PlanError` naming the field, the value and
what is allowed), and ``Plan(...)`` applies :func:`ketasim.dosing.limits.check_plan` (a
:class:`~ketasim.dosing.limits.LimitError`; dose limits are lifted by ``allow_off_label=True``).

>>> Plan(doses=(Dose(day=0.375, mg_per_kg=5.0),))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ketasim.dosing.limits.LimitError: doses[0].dose = '5 mg/kg': allowed 0.1-1.0 mg/kg per IV racemic ketamine dose ...
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from ketasim.dosing import limits
from ketasim.errors import PlanError

Route = Literal["iv", "im", "oral", "sublingual", "intranasal"]
Drug = Literal["racemic", "esketamine"]
Phase = Literal["induction", "maintenance"]
TreatmentKind = Literal["antidepressant", "ect", "tms"]

ROUTES: tuple[str, ...] = ("iv", "im", "oral", "sublingual", "intranasal")
DRUGS: tuple[str, ...] = ("racemic", "esketamine")
PHASES: tuple[str, ...] = ("induction", "maintenance")
TREATMENT_KINDS: tuple[str, ...] = ("antidepressant", "ect", "tms")


def _set(obj: Any, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)


def _number(where: str, value: Any, *, optional: bool = False) -> float | None:
    """``value`` as a finite float; PlanError naming ``where`` otherwise (None allowed when ``optional``)."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise PlanError(where, value, "a number" + (" or None" if optional else ""))
    x = float(value)
    if not math.isfinite(x):
        raise PlanError(where, value, "a finite number")
    return x


def _whole(where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and not isinstance(value, bool) and float(value).is_integer():
            return int(value)
        raise PlanError(where, value, "a whole number")
    return int(value)


def _text(where: str, value: Any, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise PlanError(where, value, "text (str)")
    return value


def _choice(where: str, value: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise PlanError(where, value, "one of " + ", ".join(allowed))
    return value


def _items(where: str, value: Any, kind: type | None = None) -> tuple:
    """A tuple from a tuple, list or array; with ``kind``, every item must be one."""
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
        raise PlanError(where, value, "a tuple or list")
    out = tuple(value)
    if kind is not None:
        for i, item in enumerate(out):
            if not isinstance(item, kind):
                raise PlanError(f"{where}[{i}]", item, f"a {kind.__name__}")
    return out


def _days(where: str, value: Any) -> tuple[float, ...]:
    items = _items(where, value)
    limit = limits.CAPACITY["sessions"]
    if len(items) > limit:
        raise PlanError(where, f"{len(items):,} days", f"at most {limit:,}")
    return tuple(_number(f"{where}[{i}]", x) for i, x in enumerate(items))  # type: ignore[misc]


@dataclass(frozen=True)
class LifeEvent:
    """A dated stressor that raises the load by ``amplitude`` and fades with ``fade_days``.

    Use a day <= 0 for an event that happened before treatment (the bereavement that
    brought the patient in); its load at day 0 counts towards the baseline severity.
    """

    day: float
    amplitude: float
    fade_days: float = 90.0
    label: str = "life event"

    def __post_init__(self) -> None:
        for name in ("day", "amplitude", "fade_days"):
            _set(self, name, _number(f"LifeEvent.{name}", getattr(self, name)))
        _text("LifeEvent.label", self.label)


@dataclass(frozen=True)
class Patient:
    """The virtual patient: weight (kg), untreated MADRS, chronic load and dated life events."""

    weight_kg: float = 70.0
    baseline_madrs: float = 33.0
    chronic_load: float = 0.5
    life_events: tuple[LifeEvent, ...] = ()
    age: float | None = None
    sex: Literal["female", "male"] | None = None

    def __post_init__(self) -> None:
        for name in ("weight_kg", "baseline_madrs", "chronic_load"):
            _set(self, name, _number(f"patient.{name}", getattr(self, name)))
        _set(self, "age", _number("patient.age", self.age, optional=True))
        if self.sex is not None:
            _choice("patient.sex", self.sex, ("female", "male"))
        _set(self, "life_events", _items("patient.life_events", self.life_events, LifeEvent))


@dataclass(frozen=True)
class Dose:
    """One administration: ``amount_mg`` (a fixed amount), or ``mg_per_kg`` (scaled by the patient's
    weight), or both when they agree within 1% for the plan's patient. ``duration_min`` 0 is a bolus.

    For intranasal esketamine ``devices`` sprays are given ``device_interval_min`` apart,
    each delivering ``amount_mg / devices``. Inside a :class:`Plan` a dose per kg always carries the
    amount for the plan's patient (``amount_mg = mg_per_kg x weight_kg``, recomputed when the patient changes).
    ``Dose(...)`` refuses what no plan may hold (:func:`ketasim.dosing.limits.intrinsic_violations`); the
    published ranges depend on the patient and are the plan's to check.
    """

    day: float
    amount_mg: float | None = None
    route: Route = "iv"
    drug: Drug = "racemic"
    duration_min: float = 40.0
    phase: Phase = "induction"
    devices: int = 1
    device_interval_min: float = 5.0
    mg_per_kg: float | None = None  # as written in the plan, for reports
    amount_for_weight_kg: float | None = field(default=None, compare=False, repr=False)  # set by Plan

    def __post_init__(self) -> None:
        _set(self, "day", _number("dose.day", self.day))
        _set(self, "amount_mg", _number("dose.amount_mg", self.amount_mg, optional=True))
        _set(self, "mg_per_kg", _number("dose.mg_per_kg", self.mg_per_kg, optional=True))
        if self.amount_mg is None and self.mg_per_kg is None:
            raise PlanError("dose", "no amount", "amount_mg (mg) or mg_per_kg (mg/kg)")
        _choice("dose.route", self.route, ROUTES)
        _choice("dose.drug", self.drug, DRUGS)
        _choice("dose.phase", self.phase, PHASES)
        _set(self, "duration_min", _number("dose.duration_min", self.duration_min))
        _set(self, "devices", _whole("dose.devices", self.devices))
        _set(self, "device_interval_min", _number("dose.device_interval_min", self.device_interval_min))
        _set(self, "amount_for_weight_kg", _number("dose.amount_for_weight_kg", self.amount_for_weight_kg,
                                                   optional=True))
        problems = limits.intrinsic_violations(self)
        if problems:
            raise limits.LimitError(problems)

    def for_weight(self, weight_kg: float) -> Dose:
        """This dose for a patient of ``weight_kg``: a dose per kg gets its amount; a fixed amount is kept.

        Raises :class:`~ketasim.dosing.limits.LimitError` when ``amount_mg`` and ``mg_per_kg`` were both
        given and disagree for this weight by more than 1%.
        """
        if self.mg_per_kg is None:
            return self
        amount = self.mg_per_kg * weight_kg
        derived = (self.amount_for_weight_kg is not None and self.amount_mg is not None
                   and math.isclose(self.amount_mg, self.mg_per_kg * self.amount_for_weight_kg, rel_tol=1e-12))
        if not derived:
            problem = limits.amount_disagreement(self, weight_kg)
            if problem is not None:
                raise limits.LimitError([problem])
        if self.amount_mg == amount and self.amount_for_weight_kg == weight_kg:
            return self
        return replace(self, amount_mg=amount, amount_for_weight_kg=weight_kg)


@dataclass(frozen=True)
class LifestylePeriod:
    """A period of healthy lifestyle (sleep, exercise) at ``level`` in [0, 1]."""

    start_day: float
    end_day: float
    level: float = 1.0
    label: str = "lifestyle"

    def __post_init__(self) -> None:
        for name in ("start_day", "end_day", "level"):
            _set(self, name, _number(f"lifestyle.{name}", getattr(self, name)))
        _text("lifestyle.label", self.label)


@dataclass(frozen=True)
class OtherTreatment:
    """An oral antidepressant taken over [start_day, end_day), or ECT/TMS sessions on ``session_days``."""

    kind: TreatmentKind
    start_day: float = 0.0
    end_day: float | None = None
    session_days: tuple[float, ...] = ()
    label: str = ""

    def __post_init__(self) -> None:
        _choice("other_treatments.kind", self.kind, TREATMENT_KINDS)
        _set(self, "start_day", _number("other_treatments.start_day", self.start_day))
        _set(self, "end_day", _number("other_treatments.end_day", self.end_day, optional=True))
        _set(self, "session_days", _days("other_treatments.session_days", self.session_days))
        _text("other_treatments.label", self.label)


@dataclass(frozen=True)
class Plan:
    """Everything the simulator needs for one patient.

    ``pk_models`` maps a drug to a PK model name (see ``ketasim.exposure.models``); missing
    drugs use the default model of their route. ``allow_off_label`` records that dose limits
    were lifted: every output then says so.

    Building a plan checks it (:func:`ketasim.dosing.limits.check_plan`): hard limits always, dose limits
    unless ``allow_off_label``; doses per kg get the amount for ``patient`` (:meth:`Dose.for_weight`).
    """

    name: str = "plan"
    patient: Patient = field(default_factory=Patient)
    doses: tuple[Dose, ...] = ()
    therapy_days: tuple[float, ...] = ()
    lifestyle: tuple[LifestylePeriod, ...] = ()
    treatments: tuple[OtherTreatment, ...] = ()
    horizon_days: float = 90.0
    start_date: dt.date = dt.date(2025, 1, 6)
    pk_models: dict[str, str] = field(default_factory=dict)
    allow_off_label: bool = False
    description: str = ""
    source_file: str | None = None

    def __post_init__(self) -> None:
        _text("name", self.name)
        _text("description", self.description)
        _text("source_file", self.source_file, optional=True)
        if not isinstance(self.patient, Patient):
            raise PlanError("patient", self.patient, "a Patient")
        if isinstance(self.start_date, dt.datetime) or not isinstance(self.start_date, dt.date):
            raise PlanError("start_date", self.start_date, "a datetime.date")
        _set(self, "horizon_days", _number("horizon_days", self.horizon_days))
        if not isinstance(self.allow_off_label, bool):
            raise PlanError("allow_off_label", self.allow_off_label, "True or False")
        if not isinstance(self.pk_models, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in self.pk_models.items()):
            raise PlanError("pk_models", self.pk_models, "a dict of drug name -> PK model name")
        doses = _items("doses", self.doses, Dose)
        if len(doses) > limits.CAPACITY["doses"]:
            raise PlanError("doses", f"{len(doses):,} doses", f"at most {limits.CAPACITY['doses']:,} in one plan")
        resolved, problems = [], []
        for i, d in enumerate(doses):
            try:
                resolved.append(d.for_weight(self.patient.weight_kg))
            except limits.LimitError as exc:
                problems += [replace(v, field=f"doses[{i}].{v.field}", dose_index=i) for v in exc.violations]
        if problems:
            raise limits.LimitError(problems, file=self.source_file)
        _set(self, "doses", tuple(resolved))
        _set(self, "therapy_days", _days("therapy_days", self.therapy_days))
        _set(self, "lifestyle", _items("lifestyle", self.lifestyle, LifestylePeriod))
        _set(self, "treatments", _items("treatments", self.treatments, OtherTreatment))
        self._check_pk_models()
        problems = limits.check_plan(self)
        if problems:
            raise limits.LimitError(problems, file=self.source_file)

    def date_of(self, day: float) -> dt.date:
        """Calendar date of plan day ``day``."""
        return self.start_date + dt.timedelta(days=int(day // 1))

    def day_of(self, date: dt.date) -> float:
        """Plan day of a calendar date (midnight)."""
        return float((date - self.start_date).days)

    def _check_pk_models(self) -> None:
        """Each named PK model exists, is a model of its drug and offers the routes of that drug's doses."""
        from ketasim.exposure.models import PK_MODELS  # the models live above the plan in the data flow

        for drug, name in self.pk_models.items():
            where = f"pk_models[{drug!r}]"
            if drug not in DRUGS:
                raise PlanError("pk_models", drug, f"a drug: {', '.join(DRUGS)}")
            model = PK_MODELS.get(name)
            if model is None or model.drug != drug:
                same = ", ".join(n for n, m in PK_MODELS.items() if m.drug == drug)
                raise PlanError(where, name, f"a PK model of {drug} ({same})")
            missing = sorted({d.route for d in self.doses if d.drug == drug} - set(model.routes))
            if missing:
                able = ", ".join(n for n, m in PK_MODELS.items() if m.drug == drug and set(missing) <= set(m.routes))
                raise PlanError(where, name, f"a model offering route {', '.join(missing)} ({able or 'none'})")

    def with_horizon(self, horizon_days: float) -> Plan:
        """The plan simulated to ``horizon_days``: doses, sessions, lifestyle periods and life events at or
        after it are left out (the rule by which a plan file cuts its series at the horizon)."""
        h = float(horizon_days)
        treatments = tuple(replace(t, session_days=tuple(s for s in t.session_days if s < h)) if t.session_days
                           else t for t in self.treatments)
        return replace(
            self, horizon_days=h, doses=tuple(d for d in self.doses if d.day < h),
            therapy_days=tuple(s for s in self.therapy_days if s < h),
            lifestyle=tuple(lp for lp in self.lifestyle if lp.start_day < h),
            treatments=tuple(t for t in treatments if t.kind == "antidepressant" or t.session_days),
            patient=replace(self.patient, life_events=tuple(e for e in self.patient.life_events if e.day <= h)))

    def without(self, *, therapy: bool = False, lifestyle: bool = False, maintenance: bool = False,
                treatments: bool = False) -> Plan:
        """The same plan with the named strategies removed (for attributing gains)."""
        return replace(
            self,
            therapy_days=() if therapy else self.therapy_days,
            lifestyle=() if lifestyle else self.lifestyle,
            doses=tuple(d for d in self.doses if not (maintenance and d.phase == "maintenance")),
            treatments=() if treatments else self.treatments,
        )

    @property
    def n_interventions(self) -> int:
        """Doses plus psychotherapy and ECT/TMS sessions (the clinic's 'interventions')."""
        return len(self.doses) + len(self.therapy_days) + sum(len(t.session_days) for t in self.treatments)

