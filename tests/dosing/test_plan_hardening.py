"""Regression tests of issue 9 (inputs): plans that crashed, series past the horizon, limits that Python plans
bypassed, and plan files that gave a traceback instead of a clean error."""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import pytest

from ketasim.dosing.limits import LimitError, check_dose
from ketasim.dosing.plan import Dose, OtherTreatment, Patient, Plan
from ketasim.dosing.planfile import parse_plan
from ketasim.engine.compile import compile_plan, expand_doses
from ketasim.errors import KetasimError, PlanError
from ketasim.parameters import default_vector
from ketasim.simulate import simulate

H14 = "start_date: 2025-01-06\nhorizon_days: 14\n"


def error(text: str) -> str:
    with pytest.raises(PlanError) as info:
        parse_plan(text, "plan.yaml")
    return str(info.value)


# --- series and the horizon ------------------------------------------------------------------------------------

def test_weekly_psychotherapy_to_a_14_day_horizon_compiles():
    plan = parse_plan(H14 + "psychotherapy:\n  series: {start: 2025-01-06, every_days: 7}\n")
    assert plan.therapy_days == pytest.approx((0.375, 7.375))  # not 14.375: the horizon ends at day 14 00:00
    compile_plan(plan, default_vector())
    m = simulate(plan).table["madrs"].to_numpy()
    assert np.all(np.isfinite(m)) and m.min() >= 0 and m.max() <= 60


def test_weekly_dose_series_to_a_14_day_horizon_has_no_dose_on_day_14():
    plan = parse_plan(H14 + "doses:\n  - {series: maintenance, start: 2025-01-06, every_days: 7, dose: 0.5 mg/kg}\n")
    assert [d.day for d in plan.doses] == pytest.approx([0.375, 7.375])


def test_ect_and_tms_series_are_cut_at_the_horizon_like_every_series():
    text = H14 + ("other_treatments:\n  - kind: ect\n"
                  "    series: {start: 2025-01-06, weekdays: [Mon, Wed, Fri], count: 30}\n"
                  "  - kind: tms\n    series: {start: 2025-01-13, every_days: 1, time: '23:00'}\n")
    ect, tms = parse_plan(text).treatments
    assert ect.session_days == pytest.approx((0.375, 2.375, 4.375, 7.375, 9.375, 11.375))
    assert max(tms.session_days) < 14 and len(tms.session_days) == 7  # days 7-13 at 23:00
    assert all(s < 14 for s in ect.session_days + tms.session_days)


def test_explicit_dose_or_session_at_the_end_of_the_horizon_is_refused():
    msg = error(H14 + "doses:\n  - {date: '2025-01-20 00:00', dose: 0.5 mg/kg}\n")
    assert "line 4: doses[0].date" in msg and "before the end of the horizon" in msg
    msg = error(H14 + "other_treatments:\n  - {kind: ect, sessions: ['2025-01-20 09:00']}\n")
    assert "line 4: other_treatments[0].sessions[0]" in msg and "lengthen horizon_days" in msg


def test_python_plan_refuses_sessions_past_the_horizon_instead_of_dropping_them():
    with pytest.raises(LimitError, match=r"other_treatments\[0\].sessions\[1\] = 20.0"):
        Plan(treatments=(OtherTreatment("ect", session_days=(2.0, 20.0)),), horizon_days=14)
    with pytest.raises(LimitError, match=r"therapy_days\[0\] = 14.375"):
        Plan(therapy_days=(14.375,), horizon_days=14)
    with pytest.raises(LimitError, match=r"doses\[0\].date = 14.375"):
        Plan(doses=(Dose(14.375, mg_per_kg=0.5),), horizon_days=14)
    cut = Plan(doses=(Dose(0.375, mg_per_kg=0.5), Dose(20.375, mg_per_kg=0.5)), therapy_days=(3.0, 19.0),
               treatments=(OtherTreatment("ect", session_days=(2.0, 20.0)),), horizon_days=30).with_horizon(14)
    assert len(cut.doses) == 1 and cut.therapy_days == (3.0,) and cut.treatments[0].session_days == (2.0,)


def test_fractional_horizon_is_refused_early_with_file_line_and_field():
    assert error("start_date: 2025-01-06\nhorizon_days: 17.5\n") == \
        "plan.yaml, line 2: horizon_days = 17.5: allowed a whole number of days (this is 17.5 days)"
    with pytest.raises(LimitError, match="horizon_days = 17.5: allowed a whole number of days"):
        Plan(horizon_days=17.5)


# --- plan files that gave a traceback ------------------------------------------------------------------------

@pytest.mark.parametrize("text, words", [
    (H14 + "name: a\x00b\n", ["line 3", "U+0000", "control characters"]),
    (H14 + "name: a\x1bb\n", ["line 3", "U+001B"]),
    (H14 + "patient: &p {weight_kg: 70, x: *p}\n", ["line 3", "recursive alias"]),
    (H14 + "name: " + "[" * 3000 + "]" * 3000 + "\n", ["line 3", "levels of nesting"]),
    ("start_date: 0000-01-06\nhorizon_days: 14\n", ["line 1", "start_date = '0000-01-06'", "1900-01-01"]),
    ("start_date: 9999-01-06\nhorizon_days: 14\n", ["line 1", "start_date = '9999-01-06'", "2199-12-31"]),
    (H14 + "doses:\n  - {series: maintenance, start: 2025-01-06, every_days: 1e9, dose: 0.5 mg/kg}\n",
     ["line 4", "doses[0].every_days", "whole number"]),
    (H14 + "doses:\n  - {series: maintenance, start: 2025-01-06, every_days: 1000000000, dose: 0.5 mg/kg}\n",
     ["line 4", "doses[0].every_days", "1 to 3650"]),
    ("start_date: 2025-01-06\nhorizon_days: 1e308\ndoses:\n"
     "  - {series: maintenance, start: 2025-01-06, every_days: 7, dose: 0.5 mg/kg}\n",
     ["line 2", "horizon_days = 1e+308", "1-3650 days"]),
    (H14 + "doses:\n  - {day: 1e300, dose: 0.5 mg/kg}\n", ["line 4", "doses[0].day", "-3650 to 3650"]),
    (H14 + "allow_off_label: true\ndoses:\n  - {date: 2025-01-06, dose: 0.5 mg/kg, infusion_minutes: 1e300}\n",
     ["line 5", "infusion_minutes", "1440 minutes"]),
])
def test_plan_files_that_crashed_are_refused_cleanly(text, words):
    msg = error(text)
    assert msg.startswith("plan.yaml, ") and all(w in msg for w in words), msg


def test_alias_bomb_in_a_plan_costs_no_more_than_the_bound():
    levels = ["x0: &x0 [a, a, a, a, a, a, a, a, a, a]"]
    levels += [f"x{k}: &x{k} [" + ", ".join([f"*x{k - 1}"] * 10) + "]" for k in range(1, 8)]
    t0 = time.perf_counter()
    msg = error(H14 + "description: hi\n" + "\n".join(levels) + "\n")
    assert "aliases" in msg and time.perf_counter() - t0 < 2.0


# --- dose limits for plans built in Python ---------------------------------------------------------------------

def test_python_plan_applies_the_dose_limits():
    with pytest.raises(LimitError, match=r"doses\[0\].dose = '5 mg/kg': allowed 0.1-1.0 mg/kg .*allow_off_label=True"):
        Plan(doses=(Dose(0.375, mg_per_kg=5.0),))
    with pytest.raises(LimitError, match=r"doses\[0\].dose = '350 mg \(= 5 mg/kg at 70 kg\)'"):
        Plan(doses=(Dose(0.375, 350.0),))
    assert Plan(doses=(Dose(0.375, mg_per_kg=5.0),), allow_off_label=True).allow_off_label
    with pytest.raises(LimitError, match="at most 10 mg/kg"):  # 20 mg/kg: hard, even off-label
        Plan(doses=(Dose(0.375, 1400.0),), allow_off_label=True)


def test_simulate_refuses_nothing_the_plan_accepted():
    tr = simulate(Plan(doses=(Dose(0.375, mg_per_kg=0.5),), horizon_days=10))
    assert np.all(np.isfinite(tr.table["madrs"]))


def test_amount_and_mg_per_kg_must_agree_for_the_patient():
    ok = Plan(doses=(Dose(0.375, 35.3, mg_per_kg=0.5),))  # within 1% of 35 mg
    assert ok.doses[0].amount_mg == pytest.approx(35.0)
    with pytest.raises(LimitError, match=r"doses\[0\].dose = 'amount_mg=36 and mg_per_kg=0.5'.*35 mg"):
        Plan(doses=(Dose(0.375, 36.0, mg_per_kg=0.5),))
    with pytest.raises(LimitError, match="amount_mg=35 and mg_per_kg=0.5.*50 mg"):
        Plan(patient=Patient(weight_kg=100.0), doses=(Dose(0.375, 35.0, mg_per_kg=0.5),))


def test_populations_rescale_mg_per_kg_and_keep_fixed_amounts():
    plan = Plan(doses=(Dose(0.375, mg_per_kg=0.5), Dose(2.375, 35.0)), horizon_days=10)
    heavy = dataclasses.replace(plan, patient=Patient(weight_kg=100.0))  # as a virtual patient of 100 kg
    assert [d.amount_mg for d in heavy.doses] == pytest.approx([50.0, 35.0])
    assert [d.amount_mg for d in expand_doses(plan.doses, 50.0)] == pytest.approx([25.0, 35.0])
    back = dataclasses.replace(heavy, patient=Patient(weight_kg=70.0))
    assert back.doses == plan.doses


@pytest.mark.parametrize("kwargs, field", [
    ({"day": math.nan, "amount_mg": 35.0}, "dose.day"), ({"day": 0.0}, "dose"),
    ({"day": 0.0, "amount_mg": "35"}, "dose.amount_mg"), ({"day": 0.0, "amount_mg": -1.0}, "dose"),
    ({"day": 0.0, "amount_mg": 35.0, "route": "rectal"}, "dose.route"),
    ({"day": 0.0, "amount_mg": 35.0, "devices": 0}, "devices"), ({"day": -1.0, "amount_mg": 35.0}, "date"),
    ({"day": 0.0, "mg_per_kg": 20.0}, "dose"),
])
def test_dose_construction_refuses_what_no_plan_may_hold(kwargs, field):
    with pytest.raises(PlanError) as info:
        Dose(**kwargs)
    assert info.value.field == field


@pytest.mark.parametrize("kwargs, field", [
    ({"doses": [1, 2]}, "doses[0]"), ({"horizon_days": math.inf}, "horizon_days"),
    ({"patient": Patient(weight_kg=500.0)}, "patient.weight_kg"), ({"therapy_days": (math.nan,)}, "therapy_days[0]"),
    ({"horizon_days": "90"}, "horizon_days"), ({"allow_off_label": "yes"}, "allow_off_label"),
])
def test_plan_construction_refuses_wrong_types_and_values(kwargs, field):
    with pytest.raises(KetasimError) as info:
        Plan(**kwargs)
    assert info.value.field == field


def test_check_dose_for_one_administration():
    (v,) = check_dose(Dose(0.0, 105.0), weight_kg=70.0)  # 1.5 mg/kg IV
    assert v.field == "dose" and not v.hard and "0.1-1.0 mg/kg" in v.allowed
    assert check_dose(Dose(0.0, 105.0), weight_kg=70.0, allow_off_label=True) == []
    (v,) = check_dose(Dose(0.0, 1400.0), weight_kg=70.0, allow_off_label=True)
    assert v.hard and "10 mg/kg" in v.allowed
    (v,) = check_dose(Dose(0.0, 35.0, mg_per_kg=0.8), weight_kg=70.0)
    assert v.hard and "amount_mg=35 and mg_per_kg=0.8" in v.value
    assert [v.field for v in check_dose(Dose(0.0, 35.0), weight_kg=10.0)] == ["weight_kg"]


def test_engines_keep_the_plan_valid_for_its_own_patient():
    """A fixed 140 mg infusion is 1.0 mg/kg for a 140 kg patient (on label) but 2 mg/kg at 70 kg: the batch
    engine's template and the population's plan key must not re-check the plan at a reference weight."""
    from ketasim.engine.batch import plan_template
    from ketasim.population import simulate_population
    from ketasim.population.run import plan_key

    plan = Plan(patient=Patient(weight_kg=140.0), doses=(Dose(0.375, 140.0), Dose(2.375, mg_per_kg=1.0)),
                horizon_days=7)
    assert plan_template(plan).plan is plan
    heavier = dataclasses.replace(plan, patient=Patient(weight_kg=150.0))
    assert heavier.doses[1].amount_mg == pytest.approx(150.0)
    assert plan_key(heavier) == plan_key(plan)  # the dose per kg is keyed by mg/kg, not by the amount
    m = simulate_population(plan, 4, seed=0, keep_trajectories=True).trajectory("madrs")
    assert m.shape[0] == 4 and np.all(np.isfinite(m)) and m.min() >= 0 and m.max() <= 60


def test_off_label_use_can_be_listed_for_a_plan_that_allows_it():
    """What the clinic records: the plan is built off-label, and check_plan lists what that lifted."""
    from ketasim.dosing.limits import check_plan

    plan = Plan(doses=(Dose(0.375, 105.0),), horizon_days=5, allow_off_label=True)  # 1.5 mg/kg IV
    assert check_plan(plan) == []
    (v,) = check_plan(plan, allow_off_label=False)
    assert not v.hard and "0.1-1.0 mg/kg" in v.allowed
    with pytest.raises(LimitError) as info:  # a hard limit: even the off-label plan is refused
        Plan(doses=(Dose(0.375, 800.0),), horizon_days=5, allow_off_label=True)
    assert all(v.hard for v in info.value.violations)
