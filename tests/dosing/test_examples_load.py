"""The bundled example plans: the eleven situations of the seed text, each loads and simulates."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from ketasim.dosing.planfile import example_paths, load_plan
from ketasim.simulate import simulate

NAMES = {
    "single-infusion", "induction-six", "induction-weekly-maintenance", "induction-taper",
    "induction-psychotherapy", "late-psychotherapy", "induction-lifestyle", "daily-dosing-tolerance",
    "bereavement-bridge", "chronic-load", "esketamine-nasal",
}
PATHS = {p.stem: p for p in example_paths()}


def test_exactly_the_eleven_examples():
    assert set(PATHS) == NAMES


@pytest.mark.parametrize("name", sorted(NAMES))
def test_example_loads_and_simulates(name):
    plan = load_plan(PATHS[name])
    assert plan.name == name and len(plan.description) > 80 and plan.doses
    assert plan.horizon_days >= 120
    traj = simulate(plan)
    madrs = traj.table["madrs"].to_numpy()
    assert np.all(np.isfinite(madrs)) and madrs.min() >= 0 and madrs.max() <= 60
    assert traj.madrs_at_day(0) == pytest.approx(plan.patient.baseline_madrs, abs=0.5)


def load(name: str):
    return load_plan(PATHS[name])


INDUCTION_VARIANTS = ("induction-six", "induction-weekly-maintenance", "induction-taper", "induction-psychotherapy",
                      "late-psychotherapy", "induction-lifestyle", "bereavement-bridge", "chronic-load")


def test_compared_examples_share_patient_and_induction():
    ref = load("induction-six")
    induction = [d for d in ref.doses if d.phase == "induction"]
    assert len(induction) == 6
    assert [ref.date_of(d.day).strftime("%a") for d in induction] == ["Mon", "Wed", "Fri"] * 2
    assert ref.date_of(induction[-1].day) - ref.date_of(induction[0].day) <= dt.timedelta(days=21)
    for name in INDUCTION_VARIANTS:
        plan = load(name)
        assert [d for d in plan.doses if d.phase == "induction"] == induction, name
        assert (plan.patient.weight_kg, plan.patient.baseline_madrs) == (70, 33), name
        if name not in ("bereavement-bridge", "chronic-load"):
            assert plan.patient == ref.patient, name


def test_maintenance_and_taper_are_maintenance_phase():
    weekly = [d for d in load("induction-weekly-maintenance").doses if d.phase == "maintenance"]
    assert len(weekly) >= 10 and np.allclose(np.diff([d.day for d in weekly]), 7.0)
    taper = [d for d in load("induction-taper").doses if d.phase == "maintenance"]
    assert list(np.diff([d.day for d in taper])) == pytest.approx([7, 14, 21, 28])


def test_psychotherapy_inside_the_window_versus_late():
    early, late = load("induction-psychotherapy"), load("late-psychotherapy")
    last_infusion = max(d.day for d in early.doses)
    assert len(early.therapy_days) == len(late.therapy_days) == 12
    assert early.therapy_days[0] <= last_infusion + 7  # during or just after the induction
    assert late.therapy_days[0] - max(d.day for d in late.doses) >= 7 * 7.5  # about 8 weeks after
    assert np.allclose(np.diff(early.therapy_days), 7.0) and np.allclose(np.diff(late.therapy_days), 7.0)
    assert early.horizon_days == late.horizon_days


def test_lifestyle_and_daily_dosing():
    assert load("induction-lifestyle").lifestyle
    daily = load("daily-dosing-tolerance")
    assert daily.allow_off_label and len(daily.doses) >= 14
    assert np.allclose(np.diff([d.day for d in daily.doses]), 1.0)


def test_bereavement_and_chronic_load_differ_in_the_load_only():
    bridge, chronic = load("bereavement-bridge"), load("chronic-load")
    assert bridge.doses == chronic.doses and bridge.horizon_days == chronic.horizon_days == 365
    (event,) = bridge.patient.life_events
    assert event.label == "bereavement" and event.day < 0 and event.amplitude >= 1.0 and event.fade_days >= 30
    assert bridge.patient.chronic_load < chronic.patient.chronic_load and not chronic.patient.life_events
    assert max(d.day for d in bridge.doses) < 120  # a bridge of a few months, then no treatment
    load0 = bridge.patient.chronic_load + event.amplitude * math.exp(event.day / event.fade_days)
    assert load0 == pytest.approx(chronic.patient.chronic_load, abs=0.1)  # similar severity at the start


def test_esketamine_follows_the_label():
    plan = load("esketamine-nasal")
    assert {d.drug for d in plan.doses} == {"esketamine"} and {d.route for d in plan.doses} == {"intranasal"}
    assert plan.doses[0].amount_mg == 56 and plan.doses[0].devices == 2
    assert {d.amount_mg for d in plan.doses} <= {56.0, 84.0}
    assert all(d.devices == round(d.amount_mg / 28) and d.device_interval_min == 5.0 for d in plan.doses)
    assert any(t.kind == "antidepressant" and t.start_day <= 0 for t in plan.treatments)
    days = np.array([d.day for d in plan.doses])
    gaps = np.diff(days)
    assert np.sum(days < 28) == 8  # twice weekly in weeks 1-4
    assert np.allclose(gaps[(days[:-1] >= 28) & (days[:-1] < 52)], 7.0)  # weekly in weeks 5-8
    assert np.allclose(gaps[days[:-1] >= 56], 14.0)  # every two weeks from week 9
    assert not plan.allow_off_label
