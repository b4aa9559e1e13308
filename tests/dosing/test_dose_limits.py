"""Dose limits on Plan objects: published ranges (lifted off-label) and hard limits (never lifted).

Building a ``Plan`` applies them (a ``LimitError`` lists every violation); ``violations(...)`` returns that
list, or ``check_plan`` of the plan built (empty) when there is none.
"""

from __future__ import annotations

import dataclasses

import pytest

from ketasim.dosing.limits import (
    ROUTE_LIMITS,
    LimitError,
    LimitViolation,
    Range,
    administration_window_h,
    check_plan,
    limit_parameters,
    route_limits,
)
from ketasim.dosing.plan import Dose, LifeEvent, OtherTreatment, Patient, Plan


def iv(day: float, mg_per_kg: float = 0.5, minutes: float = 40.0) -> Dose:
    return Dose(day=day, mg_per_kg=mg_per_kg, duration_min=minutes)


def check(**kw) -> list[LimitViolation]:
    """The violations of ``Plan(**kw)``: those its construction raised, else ``check_plan`` (then empty)."""
    try:
        plan = Plan(**kw)
    except LimitError as exc:
        return exc.violations
    return check_plan(plan)


def plan_with(*doses: Dose, **kw) -> list[LimitViolation]:
    return check(doses=tuple(doses), horizon_days=60, **kw)


def fields(found: list[LimitViolation]) -> list[str]:
    return [v.field for v in found]


def test_standard_induction_is_within_limits():
    assert plan_with(*(iv(d + 0.375) for d in (0, 2, 4, 7, 9, 11))) == []


@pytest.mark.parametrize("mg_per_kg, ok", [(0.05, False), (0.1, True), (0.5, True), (1.0, True), (1.01, False)])
def test_iv_racemic_range(mg_per_kg, ok):
    found = plan_with(iv(0.375, mg_per_kg))
    assert (found == []) is ok
    if not ok:
        assert found[0].field == "doses[0].dose" and "0.1-1.0 mg/kg" in found[0].allowed and not found[0].hard


def test_fixed_mg_is_compared_per_kg_of_this_patient():
    dose = Dose(day=0.375, amount_mg=90.0)  # 1.29 mg/kg at 70 kg, 0.9 mg/kg at 100 kg
    assert fields(plan_with(dose)) == ["doses[0].dose"]
    assert fields(plan_with(dose, patient=Patient(weight_kg=100.0))) == []


def test_off_label_lifts_dose_and_frequency_but_not_hard_limits():
    daily = [iv(d + 0.375, 1.5) for d in range(10)]
    assert "doses[0].dose" in fields(plan_with(*daily))
    assert any("in any 7 days" in v.allowed for v in plan_with(*daily))
    assert plan_with(*daily, allow_off_label=True) == []
    clash = plan_with(iv(0.375), iv(0.375 + 10 / 1440), allow_off_label=True)
    (v,) = clash
    assert v.hard and v.field == "doses[1].time" and v.related_index == 0
    heavy = plan_with(iv(0.375), allow_off_label=True, patient=Patient(weight_kg=260.0))
    assert fields(heavy) == ["patient.weight_kg"]


def test_one_administration_a_day_and_three_a_week():
    same_day = plan_with(iv(0.375), iv(0.625))
    (v,) = same_day
    assert v.field == "doses[1].date" and "at most 1" in v.allowed
    four = plan_with(*(iv(d + 0.375) for d in (0, 2, 4, 6)))
    (v,) = four
    assert v.dose_index == 3 and "at most 3" in v.allowed
    spaced = plan_with(*(iv(d + 0.375) for d in (0, 2, 4, 7)))  # day 7 starts a new 7-day window
    assert spaced == []


def test_infusion_length():
    assert fields(plan_with(iv(0.375, minutes=1.0))) == ["doses[0].infusion_minutes"]
    assert fields(plan_with(iv(0.375, minutes=100.0))) == []
    assert fields(plan_with(iv(0.375, minutes=120.0))) == ["doses[0].infusion_minutes"]


def spray(day: float, mg: float, devices: int | None = None) -> Dose:
    return Dose(day=day, amount_mg=mg, route="intranasal", drug="esketamine", duration_min=0.0,
                devices=devices if devices is not None else max(1, round(mg / 28.0)))


AD = (OtherTreatment(kind="antidepressant"),)


def test_esketamine_label():
    assert plan_with(spray(0.375, 56), spray(3.375, 84), treatments=AD) == []
    assert fields(plan_with(spray(0.375, 112), treatments=AD)) == ["doses[0].dose"]
    assert fields(plan_with(spray(0.375, 56))) == ["other_treatments"]
    three = plan_with(spray(0.375, 56), spray(2.375, 56), spray(4.375, 56), treatments=AD)
    assert [v.dose_index for v in three] == [2]
    # not a whole number of 28 mg devices: physically impossible, even off-label
    (v,) = plan_with(spray(0.375, 70, devices=2), treatments=AD, allow_off_label=True)
    assert v.hard and "28 mg" in v.allowed
    (v,) = plan_with(spray(0.375, 56, devices=3), treatments=AD)
    assert v.hard and v.field == "doses[0].devices"


def test_route_without_published_range_is_off_label_only():
    oral_esk = Dose(day=0.375, amount_mg=70.0, route="oral", drug="esketamine", mg_per_kg=1.0)
    assert route_limits("esketamine", "oral") is None
    (v,) = plan_with(oral_esk)
    assert v.field == "doses[0].route" and not v.hard
    assert plan_with(oral_esk, allow_off_label=True) == []


def test_patient_ranges_are_hard():
    bad = Patient(weight_kg=20.0, baseline_madrs=61.0, age=10.0,
                  life_events=(LifeEvent(day=-10, amplitude=5.0, fade_days=60),))
    found = check(patient=bad, allow_off_label=True)
    assert {v.field for v in found} == {"patient.weight_kg", "patient.baseline_madrs", "patient.age",
                                        "patient.life_events[0].amplitude"}
    assert all(v.hard for v in found)


def test_nasal_dose_window_covers_its_devices():
    start, end = administration_window_h(spray(1.0, 84))
    assert start == pytest.approx(24.0) and end == pytest.approx(24.0 + 11.0 / 60.0)
    assert administration_window_h(iv(1.0))[1] == pytest.approx(24.0 + 40.0 / 60.0)


def test_every_limit_has_a_source_and_a_status():
    for lim in ROUTE_LIMITS.values():
        assert lim.per_dose.source and lim.frequency_source
        assert lim.per_dose.low < lim.per_dose.high
    rows = limit_parameters()
    assert rows and all(p.source and p.status in ("literature", "assumed") for p in rows)
    assert {p.layer for p in rows} == {"dosing:limits"}


def test_range_text_keeps_decimals():
    assert Range(0.1, 1.0, "mg/kg", "x").text() == "0.1-1.0 mg/kg"
    assert Range(30, 250, "kg", "x").text() == "30-250 kg"


def test_mg_per_kg_doses_follow_the_weight():
    plan = Plan(doses=(iv(0.375, 0.9),), horizon_days=60)
    assert check_plan(plan) == []
    heavier = dataclasses.replace(plan, patient=Patient(weight_kg=120.0))  # still 0.9 mg/kg
    assert check_plan(heavier) == [] and heavier.doses[0].amount_mg == pytest.approx(0.9 * 120.0)
