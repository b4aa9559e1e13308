"""The one place the clinic checks a session's dose: through the project's dose-limit validator.

:func:`check_session_dose` builds the administration as a :class:`~ketasim.dosing.plan.Dose` of a
:class:`~ketasim.dosing.plan.Plan` that also holds the patient's sessions of the previous 7 days
(:class:`EarlierSession`), and calls :func:`ketasim.dosing.limits.check_plan`: the per-administration
rules and the ones that need the other doses (administrations per day and per 7 days, overlaps).
Only the rules the new session breaks count; the earlier sessions were checked when they were
recorded. Hard limits are always refused; published ranges are refused unless the clinician sets
the off-label flag, and then the reasons are recorded with the session.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ketasim.clinic.db import ClinicError
from ketasim.dosing.limits import ESKETAMINE_DEVICE_MG, LimitError, LimitViolation, check_plan
from ketasim.dosing.plan import DRUGS, ROUTES, Dose, OtherTreatment, Patient, Plan

SESSION_CLOCK_DAY = 0.375  # 09:00 on the plan's day 0: the clock time does not matter for one dose
MG_PER_KG_AGREEMENT = 0.01  # dose_mg and dose_mg_per_kg given together must agree within 1%
# The validator's field names (``doses[0].dose``) as the clinic's forms and API name them.
_FIELD_NAMES = {"dose": "dose_mg", "devices": "dose_mg", "infusion_minutes": "infusion_minutes", "route": "route",
                "date": "given_at", "device_interval_minutes": "dose_mg"}


#: How far back the earlier sessions count: the 7 calendar days ending on the session's day.
LOOKBACK_DAYS = 7


@dataclass(frozen=True)
class EarlierSession:
    """A session already recorded for the patient: its local (clinic time zone) start, as stored."""

    at: dt.datetime
    route: str
    drug: str
    dose_mg: float
    infusion_minutes: float | None


@dataclass(frozen=True)
class DoseCheck:
    dose_mg: float
    dose_mg_per_kg: float
    off_label_reasons: tuple[str, ...]

    @property
    def off_label(self) -> bool:
        return bool(self.off_label_reasons)


def resolve_amount(dose_mg: float | None, dose_mg_per_kg: float | None, weight_kg: float) -> float:
    """The dose in mg from ``dose_mg`` and/or ``dose_mg_per_kg`` (both given: they must agree within 1%)."""
    for name, v in (("dose_mg", dose_mg), ("dose_mg_per_kg", dose_mg_per_kg)):
        if v is not None and not (math.isfinite(v) and v > 0):
            raise ClinicError(f"{name} = {v!r}: allowed a positive number", field=name)
    if dose_mg is None and dose_mg_per_kg is None:
        raise ClinicError("dose_mg = None: allowed the dose in mg or in mg/kg (dose_mg_per_kg)", field="dose_mg")
    if dose_mg_per_kg is None:
        assert dose_mg is not None
        return float(dose_mg)
    from_kg = dose_mg_per_kg * weight_kg
    if dose_mg is not None and abs(dose_mg - from_kg) > MG_PER_KG_AGREEMENT * from_kg:
        raise ClinicError(f"dose_mg = {dose_mg:g} and dose_mg_per_kg = {dose_mg_per_kg:g}: allowed values that agree "
                          f"within 1% for {weight_kg:g} kg ({dose_mg_per_kg:g} mg/kg = {from_kg:.1f} mg)",
                          field="dose_mg")
    return float(dose_mg if dose_mg is not None else from_kg)


def check_session_dose(*, route: str, drug: str, dose_mg: float | None, dose_mg_per_kg: float | None,
                       weight_kg: float, infusion_minutes: float | None, on_antidepressant: bool,
                       allow_off_label: bool, at: dt.datetime | None = None,
                       earlier: Sequence[EarlierSession] = ()) -> DoseCheck:
    """Check one session's dose against the published limits; a :class:`ClinicError` names the field.

    ``at`` is the session's local start and ``earlier`` the patient's sessions before it (those of the
    previous :data:`LOOKBACK_DAYS` calendar days count), so that the limits per day and per 7 days apply.
    """
    if route not in ROUTES:
        raise ClinicError(f"route = {route!r}: allowed {' | '.join(ROUTES)}", field="route")
    if drug not in DRUGS:
        raise ClinicError(f"drug = {drug!r}: allowed {' | '.join(DRUGS)}", field="drug")
    if not (isinstance(weight_kg, int | float) and math.isfinite(weight_kg) and weight_kg > 0):
        raise ClinicError(f"weight_kg = {weight_kg!r}: allowed the patient's weight in kg", field="weight_kg")
    if infusion_minutes is not None and not (math.isfinite(infusion_minutes) and infusion_minutes >= 0):
        raise ClinicError(f"infusion_minutes = {infusion_minutes!r}: allowed 0 or more minutes",
                          field="infusion_minutes")
    amount = resolve_amount(dose_mg, dose_mg_per_kg, weight_kg)
    violations = _violations(route, drug, amount, weight_kg, infusion_minutes, on_antidepressant, at, earlier)
    hard = [text for text, is_hard, _ in violations if is_hard]
    soft = [text for text, is_hard, _ in violations if not is_hard]
    first_field = next((f for _, is_hard, f in violations if is_hard or not allow_off_label), None)
    if hard:
        raise ClinicError("; ".join(hard) + " (a hard limit: never lifted)", field=first_field)
    if soft and not allow_off_label:
        raise ClinicError("; ".join(soft) + " (outside the published range: tick 'off-label' to record it anyway)",
                          field=first_field)
    return DoseCheck(dose_mg=amount, dose_mg_per_kg=amount / weight_kg, off_label_reasons=tuple(soft))


def _dose(route: str, drug: str, amount: float, infusion_minutes: float | None, day: float) -> Dose:
    minutes = (40.0 if infusion_minutes is None else float(infusion_minutes)) if route == "iv" else 0.0
    devices = max(1, round(amount / ESKETAMINE_DEVICE_MG)) if (drug, route) == ("esketamine", "intranasal") else 1
    return Dose(day=day, amount_mg=amount, route=route, drug=drug,  # type: ignore[arg-type]
                duration_min=minutes, devices=devices)


def _violations(route: str, drug: str, amount: float, weight_kg: float, infusion_minutes: float | None,
                on_antidepressant: bool, at: dt.datetime | None = None,
                earlier: Sequence[EarlierSession] = ()) -> list[tuple[str, bool, str]]:
    """(message, hard, clinic field) for every rule the new dose breaks (with the earlier sessions in the plan).

    Days of the plan: local time since midnight of the first day of the look-back, so that the plan's calendar
    days are the clinic's."""
    treatments = (OtherTreatment("antidepressant"),) if on_antidepressant else ()
    start = None if at is None else at.date() - dt.timedelta(days=LOOKBACK_DAYS - 1)
    window = [] if start is None or at is None else [e for e in earlier if start <= e.at.date() and e.at <= at]

    def day_of(when: dt.datetime) -> float:
        assert start is not None
        return (when.replace(tzinfo=None) - dt.datetime.combine(start, dt.time())).total_seconds() / 86400.0

    window.sort(key=lambda e: e.at)
    try:
        dose = _dose(route, drug, amount, infusion_minutes, SESSION_CLOCK_DAY if at is None else day_of(at))
        doses = [_dose(e.route, e.drug, e.dose_mg, e.infusion_minutes, day_of(e.at)) for e in window] + [dose]
        # built off-label, so that only hard limits refuse it here; check_plan then lists what that lifts
        dated = {} if start is None else {"start_date": start}
        plan = Plan(name="session", patient=Patient(weight_kg=float(weight_kg)), doses=tuple(doses),
                    treatments=treatments, horizon_days=float(math.floor(dose.day)) + 1.0, allow_off_label=True,
                    **dated)
        found: list[LimitViolation] = check_plan(plan, allow_off_label=False)
    except LimitError as exc:
        found = exc.violations
    new = len(window)  # the index of the new session among the plan's doses
    out = []
    for v in found:
        if v.dose_index is not None and v.dose_index != new and v.related_index != new:
            continue  # a rule an earlier session breaks on its own: checked when it was recorded
        clinic_field = "weight_kg" if v.field.startswith("patient.") else _FIELD_NAMES.get(v.key or "", "dose_mg")
        if v.field == "other_treatments":
            clinic_field = "drug"
        out.append((f"{clinic_field} = {v.value}: allowed {_plain(v.allowed, window, new)}", v.hard, clinic_field))
    return out


def _plain(allowed: str, window: Sequence[EarlierSession], new: int) -> str:
    """The validator's text with ``doses[k]`` named as the clinic names it (the session of a date and time)."""
    def name(m: re.Match) -> str:
        k = int(m.group(1))
        return "this session" if k >= new else f"the session of {window[k].at:%Y-%m-%d %H:%M}"

    return re.sub(r"doses\[(\d+)\]", name, allowed)
