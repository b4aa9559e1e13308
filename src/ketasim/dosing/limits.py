"""Published dose ranges and physical limits that a treatment plan must respect.

Two kinds of rule, checked by :func:`check_plan` on a resolved :class:`~ketasim.dosing.plan.Plan` (which
every ``Plan(...)`` runs when it is built, raising :class:`LimitError`) and by :func:`check_dose` on one
administration (for readers of other formats: histories, the clinic, NONMEM datasets):

- **Dose limits** (``hard=False``): the per-administration range of each drug and route as published
  (mg/kg, or fixed mg for intranasal sprays), the infusion length, the number of administrations per
  day and per 7 days, and the esketamine label (28/56/84 mg from 28 mg devices taken 5 min apart, at
  most twice weekly, with an oral antidepressant). ``allow_off_label: true`` lifts them.
- **Hard limits** (``hard=True``): what is physically impossible or outside the model's domain: a dose
  of 0 mg, overlapping administrations, a Spravato dose that is not a whole number of 28 mg devices,
  a weight outside 30-250 kg, a MADRS outside its 0-60 scale, a dose or session outside the horizon, more
  events than the documented capacity (:data:`CAPACITY`). Never lifted.

Every range carries its source and a status (``literature`` or ``assumed``), like a model parameter;
:func:`limit_parameters` lists them as :class:`~ketasim.parameters.Parameter` rows for ``ketasim params``.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ketasim.errors import PlanError
from ketasim.parameters import HOURS_PER_DAY, Parameter, Status

if TYPE_CHECKING:
    from ketasim.dosing.plan import Dose, Plan

OFF_LABEL_HINT = "set allow_off_label: true to lift dose limits"
OFF_LABEL_HINT_PYTHON = "pass allow_off_label=True to lift dose limits"
AMOUNT_AGREEMENT = 0.01  # amount_mg and mg_per_kg x weight_kg of one dose agree within 1%
ESKETAMINE_DEVICE_MG = 28.0  # one Spravato nasal spray device (two sprays), US prescribing information
HARD_MAX_MG_PER_KG = 10.0  # model domain, any route: above anaesthetic induction doses
HARD_MAX_INFUSION_MIN = 1440.0  # model domain: an infusion of at most a day
HARD_MAX_DEVICES = 10  # nasal devices in one administration (Spravato uses 1-3)
HARD_MAX_DEVICE_INTERVAL_MIN = 60.0  # between two devices of one administration


@dataclass(frozen=True)
class Range:
    """A closed interval ``[low, high]`` in ``unit`` with its source and status."""

    low: float
    high: float
    unit: str
    source: str
    status: Status = "literature"

    def contains(self, x: float) -> bool:
        return self.low - 1e-9 <= x <= self.high + 1e-9

    def text(self) -> str:
        """``0.1-1.0 mg/kg``: both ends with the same number of decimals."""
        decimals = max(len(f"{x:g}".partition(".")[2]) for x in (self.low, self.high))
        return f"{self.low:.{decimals}f}-{self.high:.{decimals}f} {self.unit}".rstrip()


@dataclass(frozen=True)
class RouteLimits:
    """Published use of one drug by one route.

    ``per_dose`` is in mg/kg (``per_dose.unit == "mg/kg"``) or in mg; ``fixed_mg`` lists the only
    amounts a labelled product allows (Spravato). ``infusion_min`` applies to IV only.
    """

    drug: str
    route: str
    per_dose: Range
    max_per_day: int
    max_per_7_days: int
    frequency_source: str
    frequency_status: Status = "literature"
    fixed_mg: tuple[float, ...] = ()
    infusion_min: Range | None = None
    device_interval_min: float | None = None

    @property
    def label(self) -> str:
        drug = "racemic ketamine" if self.drug == "racemic" else "esketamine"
        return f"{_ROUTE_NAMES[self.route]} {drug}"


_ROUTE_NAMES = {"iv": "IV", "im": "IM", "oral": "oral", "sublingual": "sublingual", "intranasal": "intranasal"}

_FAVA = ("Fava 2020 Mol Psychiatry 25:1592 (single 40-min IV infusions of 0.1, 0.2, 0.5 and 1.0 mg/kg); "
         "Andrade 2017 J Clin Psychiatry 78:e852 (0.1-0.75 mg/kg)")
_ANDRADE_RATE = "Andrade 2017 J Clin Psychiatry 78:e852 (IV sessions of 2-100 min; 40 min conventional)"
_IV_FREQUENCY = ("Murrough 2013 Biol Psychiatry 74:250 (Mon-Wed-Fri); Singh 2016 Am J Psychiatry 173:816 "
                 "(0.5 mg/kg two or three times weekly)")
_SPRAVATO = ("Spravato (esketamine) US prescribing information 2019: 56 mg on day 1, then 56 or 84 mg twice "
             "weekly in weeks 1-4, weekly in weeks 5-8, then weekly or every 2 weeks; 28 mg per device, 5 min "
             "between devices; with an oral antidepressant (Daly 2019 JAMA Psychiatry 76:893)")

ROUTE_LIMITS: dict[tuple[str, str], RouteLimits] = {
    ("racemic", "iv"): RouteLimits(
        "racemic", "iv", Range(0.1, 1.0, "mg/kg", _FAVA), 1, 3, _IV_FREQUENCY,
        infusion_min=Range(2.0, 100.0, "min", _ANDRADE_RATE)),
    ("racemic", "im"): RouteLimits(
        "racemic", "im",
        Range(0.1, 0.5, "mg/kg", "Chilukuri 2014 Indian J Psychol Med 36:71 (0.25 and 0.5 mg/kg IM); "
              "Loo 2016 Acta Psychiatr Scand 134:48 (0.1-0.5 mg/kg IV, IM, SC)"),
        1, 3, "assumed: as IV", "assumed"),
    ("racemic", "oral"): RouteLimits(
        "racemic", "oral",
        Range(0.25, 3.0, "mg/kg", "Andrade 2019 J Clin Psychiatry 80(2), oral ketamine practical "
              "considerations (0.25-7.0 mg/kg per session); Domany 2019 Br J Psychiatry 214:20 "
              "(1 mg/kg three times weekly); "
              "upper bound 3.0 mg/kg assumed", "assumed"),
        1, 7, "Irwin 2013 J Palliat Med 16:958 (daily oral 0.5 mg/kg for 28 days)"),
    ("racemic", "sublingual"): RouteLimits(
        "racemic", "sublingual",
        Range(0.1, 1.0, "mg/kg", "Lara 2013 Int J Neuropsychopharmacol 16:2111 (10 mg, about 0.15 mg/kg); "
              "upper bound assumed", "assumed"),
        1, 3, "Lara 2013 Int J Neuropsychopharmacol 16:2111 (every 2-3 days or weekly)"),
    ("racemic", "intranasal"): RouteLimits(
        "racemic", "intranasal",
        Range(10.0, 100.0, "mg", "Lapidus 2014 Biol Psychiatry 76:970 (50 mg intranasal); range assumed",
              "assumed"),
        1, 3, "assumed: as IV", "assumed"),
    ("esketamine", "intranasal"): RouteLimits(
        "esketamine", "intranasal", Range(28.0, 84.0, "mg", _SPRAVATO), 1, 2, _SPRAVATO,
        fixed_mg=(28.0, 56.0, 84.0), device_interval_min=5.0),
    ("esketamine", "iv"): RouteLimits(
        "esketamine", "iv",
        Range(0.1, 0.5, "mg/kg", "Singh 2016 Biol Psychiatry 80:424 (0.20 and 0.40 mg/kg over 40 min); "
              "margins to 0.1-0.5 assumed", "assumed"),
        1, 3, "assumed: as racemic IV", "assumed",
        infusion_min=Range(2.0, 100.0, "min", "assumed: as racemic IV", "assumed")),
}
"""Published (or clearly assumed) use by drug and route. A pair missing here (esketamine IM, oral,
sublingual) has no published antidepressant range in our references: off-label only."""

# Patient and plan ranges: the domain of the model, never lifted.
PATIENT_RANGES: dict[str, Range] = {
    "weight_kg": Range(30.0, 250.0, "kg", "assumed: adult range of the allometric PK models", "assumed"),
    "baseline_madrs": Range(0.0, 60.0, "MADRS points", "Montgomery & Asberg 1979 Br J Psychiatry 134:382 "
                            "(10 items scored 0-6)"),
    "chronic_load": Range(0.0, 3.0, "load units", "assumed: load 1 = a severe persistent stressor", "assumed"),
    "age": Range(18.0, 100.0, "years", "assumed: the trials behind the model enrolled adults", "assumed"),
}
LIFE_EVENT_RANGES: dict[str, Range] = {
    "amplitude": Range(0.0, 3.0, "load units", "assumed: bereavement about 1-1.5", "assumed"),
    "fade_days": Range(1.0, 3650.0, "days", "assumed", "assumed"),
}
LIFESTYLE_LEVEL = Range(0.0, 1.0, "", "definition: 0 none, 1 full healthy lifestyle (sleep, exercise)")
HORIZON_DAYS = Range(1.0, 3650.0, "days", "assumed: up to ten years", "assumed")

# Capacity: bounds on every count and date an input may hold, so that no input can exhaust memory or time.
# A plan at capacity compiles and simulates in seconds (benchmarks/capacity.py measures it).
EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2199, 12, 31)
DATE_RANGE_TEXT = f"a date from {EARLIEST_DATE.isoformat()} to {LATEST_DATE.isoformat()}"
CAPACITY: dict[str, int] = {
    "doses": 10_000,  # administrations in one plan (ten years of daily doses is 3,650)
    "sessions": 10_000,  # psychotherapy, ECT and TMS sessions together
    "life_events": 1_000,
    "lifestyle": 1_000,  # lifestyle periods
    "other_treatments": 100,
}
EARLIEST_EVENT_DAY = -3650.0  # life events and medication up to ten years before the plan starts


class LimitError(PlanError):
    """A plan breaks one or more rules of :func:`check_plan`; ``violations`` lists them all (hard first).

    The message is the first violation, with the hint to lift dose limits when only those are broken.
    """

    def __init__(self, violations: list[LimitViolation], *, file: str | None = None,
                 hint: str = OFF_LABEL_HINT_PYTHON) -> None:
        self.violations = sorted(violations, key=lambda v: not v.hard)
        v = self.violations[0]
        super().__init__(v.field, v.value, v.allowed if v.hard else f"{v.allowed}; {hint}", file=file)


@dataclass(frozen=True)
class LimitViolation:
    """One broken rule. ``dose_index`` points into ``plan.doses`` when a dose is at fault;
    ``key`` is the dose attribute as a plan file names it (``dose``, ``infusion_minutes``, ``time``...)."""

    field: str
    value: object
    allowed: str
    hard: bool
    dose_index: int | None = None
    key: str | None = None
    related_index: int | None = None  # the other dose of a clash, named as doses[k] in ``allowed``


def route_limits(drug: str, route: str) -> RouteLimits | None:
    """The published use of ``drug`` by ``route``, or None (off-label only)."""
    return ROUTE_LIMITS.get((drug, route))


def format_dose(dose: Dose) -> str:
    """The dose as a person writes it: ``0.5 mg/kg`` or ``56 mg``."""
    if dose.mg_per_kg is not None:
        return f"{dose.mg_per_kg:g} mg/kg"
    return f"{dose.amount_mg:g} mg"


def administration_window_h(dose: Dose) -> tuple[float, float]:
    """[start, end) of one administration in hours: the infusion, or the devices of a nasal dose.

    An instantaneous dose (bolus, IM, oral) occupies one minute, so two at the same time overlap.
    """
    t0 = dose.day * HOURS_PER_DAY
    if dose.route == "iv" and dose.duration_min > 0:
        return t0, t0 + dose.duration_min / 60.0
    if dose.route == "intranasal" and dose.devices > 1:
        return t0, t0 + ((dose.devices - 1) * dose.device_interval_min + 1.0) / 60.0
    return t0, t0 + 1.0 / 60.0


def _clock(plan: Plan, hours: float) -> str:
    """``2025-01-06 09:40`` for plan hour ``hours``."""
    minutes = int(round(hours * 60.0))
    day, minute_of_day = divmod(minutes, 24 * 60)
    return f"{plan.date_of(day).isoformat()} {minute_of_day // 60:02d}:{minute_of_day % 60:02d}"


def check_patient(plan: Plan) -> list[LimitViolation]:
    """Patient and plan-wide ranges (hard limits: the model's domain)."""
    out: list[LimitViolation] = []
    p = plan.patient
    for name, rng in PATIENT_RANGES.items():
        value = getattr(p, name)
        if value is None:
            continue
        if not (math.isfinite(value) and rng.contains(value)):
            out.append(LimitViolation(f"patient.{name}", value, rng.text(), True))
    for i, ev in enumerate(p.life_events):
        for name, rng in LIFE_EVENT_RANGES.items():
            value = getattr(ev, name)
            if not (math.isfinite(value) and rng.contains(value)):
                out.append(LimitViolation(f"patient.life_events[{i}].{name}", value, rng.text(), True))
    for i, lp in enumerate(plan.lifestyle):
        if not LIFESTYLE_LEVEL.contains(lp.level):
            out.append(LimitViolation(f"lifestyle[{i}].level", lp.level, "0-1 (0 none, 1 full)", True))
        if lp.end_day <= lp.start_day:
            out.append(LimitViolation(f"lifestyle[{i}].end", lp.end_day, f"a day after its start {lp.start_day:g}",
                                      True))
    for i, tr in enumerate(plan.treatments):
        if tr.end_day is not None and tr.end_day <= tr.start_day:
            out.append(LimitViolation(f"other_treatments[{i}].end", tr.end_day,
                                      f"a day after its start {tr.start_day:g}", True))
    return out


def check_schedule(plan: Plan) -> list[LimitViolation]:
    """Dates and counts: the horizon in whole days within :data:`HORIZON_DAYS`, a start date within
    :data:`EARLIEST_DATE` - :data:`LATEST_DATE`, every dose and session in ``[0, horizon)`` (the horizon is
    the end of the simulation: an event at or after it would have no effect), counts within :data:`CAPACITY`."""
    out: list[LimitViolation] = []
    h = plan.horizon_days
    if not (math.isfinite(h) and HORIZON_DAYS.contains(h)):
        return [LimitViolation("horizon_days", h, HORIZON_DAYS.text(), True)]
    if h != math.floor(h):
        out.append(LimitViolation("horizon_days", h, "a whole number of days", True))
    if not EARLIEST_DATE <= plan.start_date <= LATEST_DATE - dt.timedelta(days=int(HORIZON_DAYS.high)):
        out.append(LimitViolation("start_date", plan.start_date.isoformat(),
                                  f"a date from {EARLIEST_DATE.isoformat()} to "
                                  f"{(LATEST_DATE - dt.timedelta(days=int(HORIZON_DAYS.high))).isoformat()}", True))
    counts = {"doses": len(plan.doses), "sessions": len(plan.therapy_days) + sum(len(t.session_days)
                                                                                 for t in plan.treatments),
              "life_events": len(plan.patient.life_events), "lifestyle": len(plan.lifestyle),
              "other_treatments": len(plan.treatments)}
    for name, n in counts.items():
        if n > CAPACITY[name]:
            what = "therapy_days" if name == "sessions" else name
            out.append(LimitViolation(what, f"{n:,} {name.replace('_', ' ')}", f"at most {CAPACITY[name]:,} "
                                      f"{name.replace('_', ' ')} in one plan", True))
    if out:
        return out
    within = f"a day from 0 to before the end of the horizon (day {h:g}); lengthen horizon_days"
    for i, d in enumerate(plan.doses):
        if d.day >= h:
            out.append(LimitViolation(f"doses[{i}].date", d.day, within, True, i, "date"))
    for i, s in enumerate(plan.therapy_days):
        if not 0 <= s < h:
            out.append(LimitViolation(f"therapy_days[{i}]", s, within, True))
    for i, tr in enumerate(plan.treatments):
        for k, s in enumerate(tr.session_days):
            if not 0 <= s < h:
                out.append(LimitViolation(f"other_treatments[{i}].sessions[{k}]", s, within, True))
        if tr.start_day < EARLIEST_EVENT_DAY:
            out.append(LimitViolation(f"other_treatments[{i}].start", tr.start_day,
                                      f"a day from {EARLIEST_EVENT_DAY:g} (ten years before the start)", True))
    for i, ev in enumerate(plan.patient.life_events):
        if not EARLIEST_EVENT_DAY <= ev.day <= h:
            out.append(LimitViolation(f"patient.life_events[{i}].day", ev.day,
                                      f"a day from {EARLIEST_EVENT_DAY:g} (ten years before the start) to the "
                                      f"horizon ({h:g})", True))
    for i, lp in enumerate(plan.lifestyle):
        if lp.start_day < EARLIEST_EVENT_DAY or lp.start_day >= h:
            out.append(LimitViolation(f"lifestyle[{i}].start", lp.start_day,
                                      f"a day from {EARLIEST_EVENT_DAY:g} to before the horizon ({h:g})", True))
    return out


def dose_amount_mg(dose: Dose, weight_kg: float) -> float:
    """The amount of ``dose`` for a patient of ``weight_kg``: ``mg_per_kg x weight_kg`` when written per kg."""
    if dose.mg_per_kg is not None:
        return dose.mg_per_kg * weight_kg
    return float(dose.amount_mg) if dose.amount_mg is not None else math.nan


def amount_disagreement(dose: Dose, weight_kg: float, prefix: str = "", index: int | None = None
                        ) -> LimitViolation | None:
    """A dose that gives both ``amount_mg`` and ``mg_per_kg`` must agree for the patient within 1%
    (:data:`AMOUNT_AGREEMENT`): ``|amount_mg - mg_per_kg x weight_kg| <= 0.01 mg_per_kg x weight_kg``."""
    if dose.mg_per_kg is None or dose.amount_mg is None:
        return None
    expected = dose.mg_per_kg * weight_kg
    if abs(dose.amount_mg - expected) <= AMOUNT_AGREEMENT * abs(expected):
        return None
    return LimitViolation(f"{prefix}dose", f"amount_mg={dose.amount_mg:g} and mg_per_kg={dose.mg_per_kg:g}",
                          f"an amount that agrees with the dose per kg within 1% for this patient "
                          f"({dose.mg_per_kg:g} mg/kg x {weight_kg:g} kg = {expected:.4g} mg), or only one of "
                          "amount_mg and mg_per_kg", True, index, "dose")


def intrinsic_violations(dose: Dose, prefix: str = "", index: int | None = None) -> list[LimitViolation]:
    """The hard rules one administration breaks whatever the patient: a dose above 0 (and at most
    :data:`HARD_MAX_MG_PER_KG` when written per kg), a day on or after the start, an infusion of 0 to
    :data:`HARD_MAX_INFUSION_MIN` minutes, 1 to :data:`HARD_MAX_DEVICES` devices at most
    :data:`HARD_MAX_DEVICE_INTERVAL_MIN` apart."""
    out: list[LimitViolation] = []
    d = dose
    written = format_dose(d)
    for value in (d.amount_mg, d.mg_per_kg):
        if value is not None and not (math.isfinite(value) and value > 0):
            out.append(LimitViolation(f"{prefix}dose", written, "a dose above 0 mg", True, index, "dose"))
            break
    if d.mg_per_kg is not None and d.mg_per_kg > HARD_MAX_MG_PER_KG:
        out.append(LimitViolation(f"{prefix}dose", written, _HARD_MAX_TEXT, True, index, "dose"))
    if not (math.isfinite(d.day) and d.day >= 0):
        out.append(LimitViolation(f"{prefix}date", d.day, "a day on or after the plan start (day 0)", True,
                                  index, "date"))
    if not (math.isfinite(d.duration_min) and 0 <= d.duration_min <= HARD_MAX_INFUSION_MIN):
        out.append(LimitViolation(f"{prefix}infusion_minutes", f"{d.duration_min:g} min",
                                  f"0 (bolus) to {HARD_MAX_INFUSION_MIN:g} minutes (even with allow_off_label)", True,
                                  index, "infusion_minutes"))
    if not 1 <= d.devices <= HARD_MAX_DEVICES:
        out.append(LimitViolation(f"{prefix}devices", d.devices, f"1 to {HARD_MAX_DEVICES} devices", True, index,
                                  "devices"))
    if not (math.isfinite(d.device_interval_min) and 0 < d.device_interval_min <= HARD_MAX_DEVICE_INTERVAL_MIN):
        out.append(LimitViolation(f"{prefix}device_interval_minutes", d.device_interval_min,
                                  f"above 0 and at most {HARD_MAX_DEVICE_INTERVAL_MIN:g} minutes between devices",
                                  True, index, "device_interval_minutes"))
    return out


_HARD_MAX_TEXT = (f"at most {HARD_MAX_MG_PER_KG:g} mg/kg by any route: the model covers sub-anaesthetic doses "
                  "only (even with allow_off_label)")


def _dose_rules(d: Dose, weight: float, prefix: str, index: int | None) -> list[LimitViolation]:
    """Every rule of one administration for a patient of ``weight`` kg, hard and off-label."""
    out = intrinsic_violations(d, prefix, index)
    disagreement = amount_disagreement(d, weight, prefix, index)
    if disagreement is not None:
        out.append(disagreement)
    if out:
        return out
    amount = dose_amount_mg(d, weight)
    mg_per_kg = amount / weight
    written = format_dose(d)
    if mg_per_kg > HARD_MAX_MG_PER_KG:
        out.append(LimitViolation(f"{prefix}dose", f"{written} (= {mg_per_kg:.3g} mg/kg at {weight:g} kg)",
                                  _HARD_MAX_TEXT, True, index, "dose"))
    if d.drug == "esketamine" and d.route == "intranasal":
        n_dev = amount / ESKETAMINE_DEVICE_MG
        if abs(n_dev - round(n_dev)) > 1e-6:
            out.append(LimitViolation(f"{prefix}dose", written, "a whole number of 28 mg Spravato devices "
                                      "(28, 56, 84 mg)", True, index, "dose"))
        elif d.devices != round(n_dev):
            out.append(LimitViolation(f"{prefix}devices", d.devices,
                                      f"{round(n_dev)} devices for {amount:g} mg (28 mg per device)", True, index,
                                      "devices"))
    return out + _off_label(weight, prefix, index, d, amount, mg_per_kg, written)


def check_dose(dose: Dose, *, weight_kg: float, allow_off_label: bool = False) -> list[LimitViolation]:
    """The rules one administration breaks for a patient of ``weight_kg``: hard ones always, the published
    per-administration range, infusion length and device interval unless ``allow_off_label``.

    Rules that need the other doses (overlaps, administrations per day and per 7 days) are
    :func:`check_plan`'s. Fields are named as in a plan file (``dose``, ``infusion_minutes``, ``route``...).

    >>> from ketasim.dosing.plan import Dose
    >>> [v.allowed.split(" (")[0] for v in check_dose(Dose(day=0, mg_per_kg=1.5), weight_kg=70)]
    ['0.1-1.0 mg/kg per IV racemic ketamine dose']
    """
    if not (isinstance(weight_kg, (int, float)) and math.isfinite(weight_kg)
            and PATIENT_RANGES["weight_kg"].contains(weight_kg)):
        return [LimitViolation("weight_kg", weight_kg, PATIENT_RANGES["weight_kg"].text(), True)]
    found = _dose_rules(dose, float(weight_kg), "", None)
    return [v for v in found if v.hard or not allow_off_label]


def check_doses(plan: Plan) -> list[LimitViolation]:
    """Every dose rule, hard and off-label, in the order of ``plan.doses``: :func:`check_dose` for each, then
    overlaps, frequency and the esketamine label's oral antidepressant.

    Equations: mg/kg of a fixed dose = amount_mg / weight_kg; the 7-day count of dose ``i`` is the
    number of doses on calendar days ``[day_i - 6, day_i]``.
    """
    out: list[LimitViolation] = []
    weight = plan.patient.weight_kg
    if not (math.isfinite(weight) and weight > 0):
        return out  # reported by check_patient
    doses = plan.doses
    for i, d in enumerate(doses):
        out += _dose_rules(d, weight, f"doses[{i}].", i)
    windows = [administration_window_h(d) for d in doses]
    order = sorted(range(len(doses)), key=lambda k: windows[k][0])
    for n in range(1, len(order)):
        i, prev = order[n], order[n - 1]
        if windows[i][0] < windows[prev][1] - 1e-9:
            out.append(LimitViolation(
                f"doses[{i}].time", _clock(plan, windows[i][0]),
                f"a start after the previous administration ends (doses[{prev}] runs "
                f"{_clock(plan, windows[prev][0])} to {_clock(plan, windows[prev][1])})", True, i, "time",
                related_index=prev))
    out += _frequency(plan, order)
    if any(d.drug == "esketamine" and d.route == "intranasal" for d in doses) and not any(
            t.kind == "antidepressant" for t in plan.treatments):
        out.append(LimitViolation("other_treatments", "no oral antidepressant",
                                  f"an oral antidepressant with esketamine nasal spray, as labelled ({_SPRAVATO})",
                                  False))
    return out


def _off_label(weight: float, prefix: str, i: int | None, d: Dose, amount: float, mg_per_kg: float,
               written: str) -> list[LimitViolation]:
    lim = route_limits(d.drug, d.route)
    if lim is None:
        drug = "racemic ketamine" if d.drug == "racemic" else "esketamine"
        routes = ", ".join(r for (dr, r) in ROUTE_LIMITS if dr == d.drug)
        return [LimitViolation(f"{prefix}route", d.route,
                               f"a route with a published antidepressant dose range for {drug} ({routes})",
                               False, i, "route")]
    out: list[LimitViolation] = []
    rng = lim.per_dose
    if lim.fixed_mg:
        if not any(abs(amount - f) < 1e-6 for f in lim.fixed_mg):
            allowed = ", ".join(f"{f:g}" for f in lim.fixed_mg)
            out.append(LimitViolation(f"{prefix}dose", written, f"{allowed} mg per {lim.label} dose ({rng.source})",
                                      False, i, "dose"))
    else:
        x = mg_per_kg if rng.unit == "mg/kg" else amount
        if not rng.contains(x):
            shown = written if (rng.unit == "mg/kg") == (d.mg_per_kg is not None) else (
                f"{written} (= {x:.3g} {rng.unit} at {weight:g} kg)")
            out.append(LimitViolation(f"{prefix}dose", shown,
                                      f"{rng.text()} per {lim.label} dose ({rng.source})", False, i, "dose"))
    if lim.infusion_min is not None and d.route == "iv" and not lim.infusion_min.contains(d.duration_min):
        out.append(LimitViolation(f"{prefix}infusion_minutes", f"{d.duration_min:g} min",
                                  f"{lim.infusion_min.text()} per {lim.label} infusion ({lim.infusion_min.source})",
                                  False, i, "infusion_minutes"))
    if lim.device_interval_min is not None and d.devices > 1 and d.device_interval_min < lim.device_interval_min:
        out.append(LimitViolation(f"{prefix}device_interval_minutes", d.device_interval_min,
                                  f"at least {lim.device_interval_min:g} min between devices ({lim.frequency_source})",
                                  False, i, "device_interval_minutes"))
    return out


def _frequency(plan: Plan, order: list[int]) -> list[LimitViolation]:
    """Administrations per calendar day and per 7 days, counted among the doses up to each one
    (``days`` is sorted, so each count is a difference of positions)."""
    out: list[LimitViolation] = []
    days = [int(math.floor(plan.doses[i].day)) for i in order]
    for n, i in enumerate(order):
        d = plan.doses[i]
        lim = route_limits(d.drug, d.route)
        max_day, max_week = (lim.max_per_day, lim.max_per_7_days) if lim else (1, 3)
        source = lim.frequency_source if lim else "assumed"
        what = lim.label if lim else "ketamine"
        same_day = n - bisect.bisect_left(days, days[n], 0, n) + 1
        week = n - bisect.bisect_left(days, days[n] - 6, 0, n) + 1
        date = plan.date_of(d.day).isoformat()
        if same_day > max_day:
            out.append(LimitViolation(f"doses[{i}].date", date,
                                      f"at most {max_day} {what} administration a day ({source})", False, i, "date"))
        elif week > max_week:
            out.append(LimitViolation(f"doses[{i}].date", date,
                                      f"at most {max_week} {what} administrations in any 7 days ({source}); "
                                      f"this is number {week} in the 7 days ending {date}",
                                      False, i, "date"))
    return out


def check_plan(plan: Plan, *, allow_off_label: bool | None = None) -> list[LimitViolation]:
    """All violations of ``plan``: hard ones always; dose limits unless ``allow_off_label`` (default: the
    plan's own flag). A caller that records off-label use (the clinic) builds the plan with
    ``allow_off_label=True`` and lists what it lifts with ``check_plan(plan, allow_off_label=False)``.

    The schedule (horizon, dates, counts) is checked first; a plan that breaks it is not checked further
    (so that a plan past the capacity costs no more than counting).
    """
    lifted = plan.allow_off_label if allow_off_label is None else allow_off_label
    found = check_schedule(plan) or check_patient(plan) + check_doses(plan)
    return [v for v in found if v.hard or not lifted]


def limit_parameters() -> list[Parameter]:
    """The dose limits as parameter rows (layer ``dosing:limits``) for ``ketasim params``."""
    rows: list[Parameter] = []
    for (drug, route), lim in ROUTE_LIMITS.items():
        base = f"limits.{drug}.{route}"
        r = lim.per_dose
        rows += [
            Parameter(f"{base}.min_per_dose", r.low, r.unit, r.source, r.status,
                      f"lowest published dose, {lim.label}", "dosing:limits"),
            Parameter(f"{base}.max_per_dose", r.high, r.unit, r.source, r.status,
                      f"highest published dose, {lim.label}", "dosing:limits"),
            Parameter(f"{base}.max_per_7_days", float(lim.max_per_7_days), "administrations", lim.frequency_source,
                      lim.frequency_status, f"most administrations in any 7 days, {lim.label}", "dosing:limits"),
        ]
        if lim.infusion_min is not None:
            m = lim.infusion_min
            rows += [
                Parameter(f"{base}.min_infusion", m.low, m.unit, m.source, m.status,
                          f"shortest infusion, {lim.label}", "dosing:limits"),
                Parameter(f"{base}.max_infusion", m.high, m.unit, m.source, m.status,
                          f"longest infusion, {lim.label}", "dosing:limits"),
            ]
    for name, rng in PATIENT_RANGES.items():
        rows += [Parameter(f"limits.patient.{name}.min", rng.low, rng.unit, rng.source, rng.status,
                           f"lowest {name} in the model's domain", "dosing:limits"),
                 Parameter(f"limits.patient.{name}.max", rng.high, rng.unit, rng.source, rng.status,
                           f"highest {name} in the model's domain", "dosing:limits")]
    return rows
