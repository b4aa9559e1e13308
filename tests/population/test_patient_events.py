"""A patient's own life events (a realised course of life) in the batch engine: the same law as the plan's dated
events, checked against the SciPy reference with the events written into the plan."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ketasim.dosing.plan import Dose, LifeEvent, Patient, Plan
from ketasim.engine.batch import PatientEvents, integrate_batch, pack_templates, plan_template
from ketasim.errors import PlanError
from ketasim.parameters import default_vector
from ketasim.simulate import simulate

EVENTS = [(-40.0, 0.3, 60.0), (5.3, 0.4, 30.0), (50.77, 0.6, 90.0), (50.771, 0.1, 10.0)]


def _plan() -> Plan:
    doses = tuple(Dose(day=d + 0.375, amount_mg=35.0, mg_per_kg=0.5) for d in (0, 2, 4, 7, 9, 11))
    return Plan(name="series", patient=Patient(chronic_load=0.3), doses=doses, horizon_days=90)


def _run(plan: Plan, events: PatientEvents | None, days: np.ndarray, n: int = 1):
    p = np.tile(default_vector(), (n, 1))
    one = np.ones(n)
    return integrate_batch(pack_templates([plan_template(plan)]), np.zeros(n, dtype=np.int64), p,
                           weight_kg=70.0 * one, pk_cl=one, pk_v=one, pk_ka=one, baseline_madrs=33.0 * one,
                           chronic_load=0.3 * one, acute_load_scale=one, grid_h=days * 24.0, patient_events=events)


def test_patient_events_match_the_reference_with_the_events_in_the_plan():
    plan = _plan()
    days = np.arange(0.0, 91.0)
    events = tuple(LifeEvent(d, a, f) for d, a, f in EVENTS)
    with_events = replace(plan, patient=replace(plan.patient, life_events=events))
    ref = simulate(with_events, default_vector(), method="reference", times_h=days * 24.0).table["madrs"].to_numpy()
    pe = PatientEvents(np.array([0, len(EVENTS)]), np.array([e[0] * 24 for e in EVENTS]),
                       np.array([e[1] for e in EVENTS]), np.array([e[2] * 24 for e in EVENTS]))
    fast = _run(plan, pe, days).grid[0, :, 0]
    assert np.max(np.abs(fast - ref)) < 0.05
    # the events matter: without them the course differs by more than the tolerance
    assert np.max(np.abs(_run(plan, None, days).grid[0, :, 0] - ref)) > 1.0


def test_each_patient_gets_only_its_own_events():
    plan = _plan()
    days = np.arange(0.0, 91.0)
    pe = PatientEvents(np.array([0, 0, 1]), np.array([20.0 * 24]), np.array([0.8]), np.array([60.0 * 24]))
    res = _run(plan, pe, days, n=2).grid[:, :, 0]
    alone = _run(plan, None, days).grid[0, :, 0]
    assert np.allclose(res[0], alone, atol=1e-4)
    assert res[1, 40] > alone[40] + 3.0


def test_patient_event_offsets_must_match_the_patients():
    with pytest.raises(PlanError, match="patient_events"):
        _run(_plan(), PatientEvents.none(3), np.arange(0.0, 5.0))
