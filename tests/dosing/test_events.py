"""Event tables: the Python twin of a plan file gives an equal Plan; the pieces compose as documented."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ketasim.dosing.events import ECT, TMS, Antidepressant, Dose, Lifestyle, Therapy, repeat
from ketasim.dosing.plan import Patient, Plan
from ketasim.dosing.planfile import example_paths, load_plan
from ketasim.errors import PlanError

PATIENT = Patient(weight_kg=70, baseline_madrs=33, chronic_load=0.5)
SIX = repeat(Dose("2025-01-06", mg_per_kg=0.5, minutes=40), weekdays=("Mon", "Wed", "Fri"), times=6)


def example(name: str) -> Plan:
    path = next(p for p in example_paths() if p.stem == name)
    return replace(load_plan(path), source_file=None)


def twin(yaml_plan: Plan, table, **kw) -> Plan:
    return table.plan(start_date=yaml_plan.start_date, patient=yaml_plan.patient, horizon_days=yaml_plan.horizon_days,
                      name=yaml_plan.name, description=yaml_plan.description, **kw)


def test_weekly_maintenance_twin_equals_the_plan_file() -> None:
    plan = example("induction-weekly-maintenance")
    weekly = Dose("2025-01-24", mg_per_kg=0.5, phase="maintenance").repeat(every=7)  # no times: to the horizon
    table = SIX + weekly
    assert twin(plan, table) == plan


def test_psychotherapy_and_lifestyle_twins_equal_the_plan_files() -> None:
    plan = example("induction-psychotherapy")
    assert twin(plan, SIX + repeat(Therapy("2025-01-09", time="14:00"), weekdays=("Thu",), times=12)) == plan
    plan = example("induction-lifestyle")
    assert twin(plan, SIX + Lifestyle("2025-01-06", level=0.8, label="exercise, sleep and diet")) == plan


def test_esketamine_twin_with_its_antidepressant_equals_the_plan_file() -> None:
    plan = example("esketamine-nasal")
    spray = {"route": "intranasal", "drug": "esketamine"}
    table = (Dose("2025-01-06", mg=56, **spray) + Dose("2025-01-09", mg=56, **spray)
             + repeat(Dose("2025-01-13", mg=84, **spray), weekdays=("Mon", "Thu"), times=6)
             + repeat(Dose("2025-02-03", mg=84, phase="maintenance", **spray), every=7, times=4)
             + repeat(Dose("2025-03-03", mg=84, phase="maintenance", **spray), every=14)
             + Antidepressant("2025-01-06", label=plan.treatments[0].label))
    assert twin(plan, table) == plan


def test_combining_repeating_and_sessions() -> None:
    table = (Dose(0, mg=35) + Dose(2.5, mg=35) + repeat(ECT(10), every=2, times=3) + TMS("2025-01-20 16:30")
             + Antidepressant(0, 30))
    plan = table.plan(start_date="2025-01-06", patient=PATIENT, horizon_days=40, allow_off_label=True)
    assert [d.day for d in plan.doses] == [0.375, 2.5]  # a whole day at 09:00; a fraction is its own clock
    kinds = {t.kind: t for t in plan.treatments}
    assert kinds["ect"].session_days == (10.375, 12.375, 14.375)
    assert kinds["tms"].session_days == (14 + 16.5 / 24,)
    assert kinds["antidepressant"].end_day == 30
    weekly = repeat(Dose(0, mg=35), every=7)
    assert len(weekly.plan(start_date="2025-01-06", patient=PATIENT, horizon_days=28).doses) == 4  # 28.375 > 28
    assert len(weekly.plan(start_date="2025-01-06", patient=PATIENT, horizon_days=29).doses) == 5


def test_limits_apply_as_to_plan_files() -> None:
    with pytest.raises(PlanError, match=r"doses\[0\].dose = '1.5 mg/kg': allowed 0.1-1.0 mg/kg .*allow_off_label"):
        Dose(0, mg_per_kg=1.5).plan(start_date="2025-01-06", patient=PATIENT, horizon_days=10)
    assert Dose(0, mg_per_kg=1.5).plan(start_date="2025-01-06", patient=PATIENT, horizon_days=10,
                                       allow_off_label=True).allow_off_label
    with pytest.raises(PlanError, match="within the horizon"):
        Dose(20, mg=35).plan(start_date="2025-01-06", patient=PATIENT, horizon_days=10)


@pytest.mark.parametrize(("build", "field"), [
    (lambda: Dose(0), "Dose"),
    (lambda: Dose(0, mg=35, route="oral", minutes=10), "Dose.minutes"),
    (lambda: repeat(Dose(0, mg=35), every=1.5), "repeat.every"),
    (lambda: repeat(Dose(0, mg=35), every=7, times=0), "repeat.times"),
    (lambda: repeat(Dose(0, mg=35), weekdays=("Funday",)), "repeat.weekdays"),
    (lambda: repeat(Dose(0, mg=35)), "repeat"),
    (lambda: Dose("2025-02-30", mg=35).plan(start_date="2025-01-06", horizon_days=60), "dose"),
    (lambda: Dose("2025-01-07 25:00", mg=35).plan(start_date="2025-01-06", horizon_days=60), "dose"),
])
def test_mistakes_are_plan_errors(build, field: str) -> None:
    with pytest.raises(PlanError) as info:
        build()
    assert info.value.field == field
