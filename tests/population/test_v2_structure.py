"""Response structure v2: patient classes as a mixture, each patient's own course of life, and relapse driven by
named mechanisms (issue 11, items 1 and 2)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from ketasim.dosing.plan import Dose, Patient, Plan
from ketasim.engine.batch import PatientEvents
from ketasim.errors import PlanError
from ketasim.parameters import default_vector
from ketasim.population import simulate_population
from ketasim.population.classes import CLASS_NAMES, DURABLE, NONRESPONDER, TRANSIENT, ClassModel
from ketasim.population.life_course import LifeCourse, as_life_events, event_rate_per_year
from ketasim.population.patients import VirtualPatients, sample_patients
from ketasim.population.structures import V2, population_model
from ketasim.simulate import simulate


def _series_then_weekly(horizon: float = 150.0) -> Plan:
    """Six infusions over two weeks, then one a week (responders stay in response unless something moves them)."""
    days = [0, 2, 4, 7, 9, 11] + list(np.arange(18.0, horizon, 7.0))
    doses = tuple(Dose(day=float(d) + 0.375, amount_mg=35.0, mg_per_kg=0.5, duration_min=40.0,
                       phase="induction" if i < 6 else "maintenance") for i, d in enumerate(days))
    return Plan(name="series-weekly", patient=Patient(), doses=doses, horizon_days=horizon)


# --- classes -----------------------------------------------------------------------------------------

def test_class_shares_of_a_large_draw_match_the_class_model():
    vp = sample_patients(20_000, seed=4, model="v2")
    shares = V2.classes.shares()  # type: ignore[union-attr]
    drawn = np.bincount(vp.klass, minlength=3) / len(vp)
    for k, name in enumerate(CLASS_NAMES):
        assert abs(drawn[k] - shares[name]) < 0.02, name


def test_older_patients_are_more_often_non_responders_when_age_matters():
    cm = ClassModel(age_effect=1.0)
    p = cm.probabilities(np.array([25.0, 45.0, 65.0]))
    assert np.allclose(p.sum(axis=1), 1.0)
    assert p[0, NONRESPONDER] < p[1, NONRESPONDER] < p[2, NONRESPONDER]
    assert abs(p[1, NONRESPONDER] - cm.share_nonresponder) < 1e-12


def test_a_patients_class_does_not_depend_on_how_the_population_is_cut():
    whole = sample_patients(2100, seed=9, model="v2")
    part = sample_patients(100, seed=9, model="v2", start=2000)
    assert np.array_equal(whole.klass[2000:], part.klass)
    assert np.allclose(whole.params[2000:], part.params)


def test_v1_has_no_classes_and_is_the_default():
    assert population_model(None).name == "v1"
    a, b = sample_patients(300, seed=2), sample_patients(300, seed=2, model="v1")
    assert np.all(a.klass == -1)
    assert np.array_equal(a.params, b.params)
    with pytest.raises(PlanError, match="model"):
        sample_patients(3, seed=1, model="v3")


def test_classes_move_the_parameters_and_the_spreads_within_a_class_are_moderate():
    vp = sample_patients(6000, seed=5, model="v2")
    cm = V2.classes
    assert cm is not None
    k_form, k_hom = vp.param("k_form"), vp.param("k_hom")
    med = {k: np.median(k_form[vp.klass == k]) for k in range(3)}
    assert med[NONRESPONDER] < 0.2 * med[TRANSIENT]
    assert med[DURABLE] == pytest.approx(med[TRANSIENT], rel=0.1)
    tau = {k: np.median(1.0 / (24.0 * k_hom[vp.klass == k])) for k in range(3)}
    assert tau[TRANSIENT] == pytest.approx(cm.tau_hom_transient, rel=0.1)
    assert tau[DURABLE] == pytest.approx(cm.tau_hom_durable, rel=0.1)
    # within a class the SD(log) is the declared one (none above 1), not the wide v1 spread
    assert all(e.spread.value <= 1.0 for e in V2.variability("kamp2020") if e.distribution == "lognormal")
    sd = np.std(np.log(k_form[vp.klass == TRANSIENT]))
    assert sd < 0.6
    assert np.all(vp.param("mu_G") == 0.0)


def test_class_survives_the_patients_table():
    vp = sample_patients(50, seed=3, model="v2")
    back = VirtualPatients.from_frame(vp.to_frame())
    assert np.array_equal(back.klass, vp.klass)
    with pytest.raises(PlanError, match="class"):
        VirtualPatients.from_frame(pd.DataFrame({"class": ["durable", "sometimes"]}))


def test_class_model_refuses_values_outside_its_bounds():
    with pytest.raises(PlanError, match="share_nonresponder"):
        ClassModel(share_nonresponder=1.5)


# --- course of life ---------------------------------------------------------------------------------

def test_life_events_arrive_at_the_declared_rate_with_the_declared_share_of_major_events():
    lc = LifeCourse(life_event_rate=2.0, major_event_share=0.25)
    ids = np.arange(4000)
    events, major = lc.draw(1, ids, 730.0)
    rate = event_rate_per_year(events, 730.0)
    assert rate.mean() == pytest.approx(2.0, rel=0.03)
    assert major.mean() == pytest.approx(0.25, abs=0.02)
    assert np.all((events.t_h > 0) & (events.t_h <= 730.0 * 24))
    big = np.median(events.amp[major]) / np.median(events.amp[~major])
    assert big == pytest.approx(lc.major_event_load / lc.life_event_load, rel=0.1)


def test_a_patients_events_do_not_depend_on_the_horizon_or_the_others():
    lc = LifeCourse(life_event_rate=3.0)
    long, _ = lc.draw(7, np.arange(1500), 400.0)
    short, _ = lc.draw(7, np.array([1200, 3]), 100.0)
    for j, pid in enumerate((1200, 3)):
        t_long = long.t_h[long.off[pid]:long.off[pid + 1]]
        t_short = short.t_h[short.off[j]:short.off[j + 1]]
        assert np.array_equal(t_short, t_long[t_long <= 100.0 * 24])


def test_life_course_off_draws_nothing():
    events, _ = LifeCourse.off().draw(1, np.arange(10), 365.0)
    assert events.t_h.size == 0 and events.off.size == 11


def test_a_drawn_course_of_life_as_dated_events_gives_the_reference_engine_the_same_course():
    plan = _series_then_weekly(90.0)
    lc = LifeCourse(life_event_rate=4.0, major_event_share=0.5)
    events, major = lc.draw(3, np.arange(20), plan.horizon_days)
    i = int(np.argmax(np.diff(events.off)))  # the patient with most events
    assert events.off[i + 1] - events.off[i] >= 2
    one = PatientEvents(np.array([0, events.off[i + 1] - events.off[i]]), events.t_h[events.off[i]:events.off[i + 1]],
                        events.amp[events.off[i]:events.off[i + 1]], events.tau_h[events.off[i]:events.off[i + 1]])
    dated = replace(plan, patient=replace(plan.patient, life_events=as_life_events(events, i, major)))
    days = np.arange(0.0, 91.0)
    ref = simulate(dated, default_vector(), method="reference", times_h=days * 24.0).table["madrs"].to_numpy()
    vp = VirtualPatients.typical(1, patient=plan.patient)
    res = simulate_population(plan, patients=vp, days=days, keep_trajectories=True, life_events=False)
    from ketasim.engine.batch import integrate_batch, pack_templates, plan_template

    fast = integrate_batch(pack_templates([plan_template(plan)]), np.zeros(1, dtype=np.int64), vp.params,
                           weight_kg=vp.weight_kg, pk_cl=vp.pk_cl, pk_v=vp.pk_v, pk_ka=vp.pk_ka,
                           baseline_madrs=vp.baseline_madrs, chronic_load=vp.chronic_load,
                           acute_load_scale=vp.acute_load_scale, grid_h=days * 24.0, patient_events=one).grid[0, :, 0]
    assert np.max(np.abs(fast - ref)) < 0.05
    assert np.max(np.abs(res.trajectory("madrs")[0] - ref)) > 0.5  # the events change the course


# --- relapse driven by named mechanisms ----------------------------------------------------------------

def _relapse(**kw) -> float:
    kw.setdefault("model", V2)
    s = simulate_population(_series_then_weekly(), 1500, seed=11, **kw).summary()
    return float(s["relapse_sustain"]["rate"])


def test_relapse_is_driven_by_life_events_homeostasis_and_the_durable_class():
    base = _relapse()
    assert _relapse(life_events=False) < base - 0.03  # the course of life causes relapses
    more_events = replace(V2, life_course=replace(V2.life_course, life_event_rate=3.0))
    assert _relapse(model=more_events) > base + 0.03
    assert _relapse(switches={"homeostasis": False}) < base - 0.1  # the homeostatic return of transient responders
    durable = replace(V2, classes=replace(V2.classes, durable_share=0.9))
    assert _relapse(model=durable) < base - 0.1


def test_population_outcomes_and_summary_report_each_class():
    res = simulate_population(_series_then_weekly(60.0), 600, seed=2, model="v2")
    assert set(res.outcomes["class"]) == set(CLASS_NAMES)
    assert "life_events" in res.outcomes
    by = res.summary()["by_class"]
    assert sum(by[c]["share"] for c in CLASS_NAMES) == pytest.approx(1.0)
    assert by["non_responder"]["response_end_induction"]["rate"] < by["durable"]["response_end_induction"]["rate"]
    assert res.info["model"] == "v2" and res.info["life_events"] is True
    assert "class" not in simulate_population(_series_then_weekly(30.0), 20, seed=2).outcomes


def test_a_virtual_patient_with_its_course_of_life_is_one_patient_for_the_reference_engine_and_sbml():
    from ketasim.formats.sbml import to_sbml
    from ketasim.population.patients import patient_plan

    plan = _series_then_weekly(120.0)
    res = simulate_population(plan, 40, seed=8, model="v2", keep_trajectories=True)
    vp = res.patients
    assert vp is not None
    n_events = res.outcomes["life_events"].to_numpy()
    i = int(np.argmax(n_events))
    assert n_events[i] >= 1
    one, params, pk = patient_plan(plan, vp, i)
    assert len(one.patient.life_events) == n_events[i]
    ref = simulate(one, params, method="reference", times_h=res.days * 24.0, pk_variability=pk).table["madrs"]
    assert np.max(np.abs(ref.to_numpy() - res.trajectory("madrs")[i])) < 0.1
    xml = to_sbml(one, params)
    assert f"event{n_events[i]}_time" in xml
