"""simulate_population: API, chunking, plan lists, weights, outcomes and summaries."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from randomplans import patient_plan

from ketasim.dosing.plan import Dose, LifeEvent, Patient, Plan
from ketasim.engine.compile import PKVariability, compile_plan
from ketasim.errors import PlanError
from ketasim.outcomes import days_in_remission, summarize
from ketasim.population import (
    OUTCOME_COLUMNS,
    VirtualPatients,
    outcome_visits,
    simulate_population,
    wilson_interval,
)
from ketasim.receptor.occupancy import occupancy
from ketasim.simulate import simulate


def series(horizon: float = 45.0, maintenance: bool = False) -> Plan:
    doses = [Dose(day=d + 0.375, amount_mg=35.0, mg_per_kg=0.5) for d in (0, 2, 4, 7, 9, 11) if d < horizon]
    if maintenance:
        doses += [Dose(day=d + 0.375, amount_mg=35.0, mg_per_kg=0.5, phase="maintenance")
                  for d in range(18, int(horizon), 7)]
    return Plan(name="series", patient=Patient(life_events=(LifeEvent(-20.0, 0.3, 60.0),)), doses=tuple(doses),
                horizon_days=horizon)


def test_shapes_outputs_and_what_is_kept():
    res = simulate_population(series(), 7, seed=1, outputs=("madrs", "N", "occupancy", "phq9"),
                              keep_trajectories=True)
    assert res.trajectories.shape == (7, 46, 4) and res.trajectories.dtype == np.float32
    assert list(res.outcomes.columns) == list(OUTCOME_COLUMNS)
    assert len(res.patients) == 7 and list(res.outcomes["patient"]) == list(range(7))
    lean = simulate_population(series(), 7, seed=1)
    assert lean.trajectories is None
    pd.testing.assert_frame_equal(lean.outcomes, res.outcomes)


def test_chunking_does_not_change_any_number():
    a = simulate_population(series(), 23, seed=4, chunk_size=5, keep_trajectories=True)
    b = simulate_population(series(), 23, seed=4, chunk_size=1000, keep_trajectories=True)
    pd.testing.assert_frame_equal(a.outcomes, b.outcomes)
    assert np.array_equal(a.trajectories, b.trajectories)
    assert np.array_equal(a.patients.params, b.patients.params)
    assert np.array_equal(a.madrs_histogram, b.madrs_histogram)


def test_one_plan_per_patient_equals_one_plan_for_all():
    plan = series()
    one = simulate_population(plan, 4, seed=2, keep_trajectories=True)
    vp = one.patients
    plans = [patient_plan(plan, vp, i) for i in range(4)]
    many = simulate_population(plans, patients=vp, keep_trajectories=True)
    assert np.allclose(many.trajectories, one.trajectories, atol=1e-6)
    pd.testing.assert_frame_equal(many.outcomes, one.outcomes, atol=1e-6)


def test_plan_lists_may_differ_in_horizon_and_route():
    a = series(30.0)
    b = Plan(name="nasal", doses=(Dose(day=1.4, amount_mg=56.0, route="intranasal", drug="esketamine",
                                       duration_min=0.0, devices=2),), horizon_days=20.0, allow_off_label=True)
    res = simulate_population([a, b, a], seed=0, keep_trajectories=True)
    m = res.trajectory("madrs")
    assert m.shape == (3, 31)
    assert np.all(np.isfinite(m[1, :21])) and np.all(np.isnan(m[1, 21:]))
    assert np.array_equal(res.outcomes["n_doses"], [6, 1, 6])


def test_occupancy_is_the_exact_pk_of_each_patient_with_mg_per_kg_following_weight():
    plan = series(5.0)
    vp = VirtualPatients.typical(2)
    vp.weight_kg = np.array([50.0, 100.0])
    vp.pk_cl = np.array([0.8, 1.3])
    days = np.array([0.0, 0.39, 0.4, 0.5, 1.0, 2.4, 3.0])
    res = simulate_population(plan, patients=vp, days=days, outputs=("occupancy",), keep_trajectories=True)
    for i in range(2):
        cp = compile_plan(patient_plan(plan, vp, i), vp.params[i], pk_variability=PKVariability(cl=vp.pk_cl[i]))
        expect = [occupancy(max(s, 0.0)) for s in cp.potency_at(days * 24.0)]
        assert np.allclose(res.trajectory("occupancy")[i], expect, rtol=1e-5, atol=1e-7)
    # 0.5 mg/kg at 100 kg is 50 mg: the same as a plan written in mg
    fixed = replace(plan, doses=tuple(replace(d, amount_mg=50.0, mg_per_kg=None) for d in plan.doses))
    heavy = simulate_population(fixed, patients=vp.take([1]), days=days, outputs=("occupancy",),
                                keep_trajectories=True)
    assert np.allclose(heavy.trajectory("occupancy")[0], res.trajectory("occupancy")[1], rtol=1e-6)
    assert not np.allclose(res.trajectory("occupancy")[0], res.trajectory("occupancy")[1], rtol=1e-2)


def test_outcomes_follow_the_conventions_of_ketasim_outcomes():
    plan = series(60.0)
    res = simulate_population(plan, 2, seed=7, keep_trajectories=True)
    visits = outcome_visits(plan)
    for i in range(2):
        tr = simulate(patient_plan(plan, res.patients, i), res.patients.params[i],
                      pk_variability=PKVariability(float(res.patients.pk_cl[i]), float(res.patients.pk_v[i])))
        s = summarize(tr)
        row = res.outcomes.iloc[i]
        assert row["madrs_day1"] == pytest.approx(s["madrs_24h_after_first_dose"], abs=0.02)
        assert row["madrs_end_induction"] == pytest.approx(s["end_of_induction"]["madrs"], abs=0.02)
        assert bool(row["response_end_induction"]) == s["end_of_induction"]["response"]
        assert np.isfinite(row["relapse_day_sustain"]) == bool(s["relapse_sustain1"]["relapsed"])
        if s["relapse_sustain1"]["relapsed"]:
            assert row["relapse_day_sustain"] == pytest.approx(s["relapse_sustain1"]["day"], abs=0.01)
        # days in remission from the daily assessments (summarize also counts the hours right after each dose)
        g = visits.times[visits.i_grid]
        m = np.interp(g, tr.table["day"], tr.table["madrs"])
        assert row["days_in_remission"] == pytest.approx(days_in_remission(g, m, 10.0, start=0.0, end=60.0),
                                                         abs=0.05)
        assert row["days_in_remission"] <= s["days_in_remission"] + 0.05


def test_no_dose_means_no_relapse_to_speak_of_and_no_relapse_is_inf():
    res = simulate_population(Plan(name="none", horizon_days=20.0), 3, seed=1)
    assert res.outcomes["relapse_day_sustain"].isna().all()
    assert not res.outcomes["response_day1"].any()
    held = simulate_population(series(40.0, maintenance=True), 20, seed=3)
    r = held.outcomes["relapse_day_sustain"].to_numpy()
    assert np.all(np.isinf(r) | (r > held.outcomes["last_induction_day"].to_numpy()))


def test_summary_rates_intervals_and_kaplan_meier():
    res = simulate_population(series(60.0), 60, seed=5)
    s = res.summary()
    r = s["response_end_induction"]
    k, n = int(res.outcomes["response_end_induction"].sum()), 60
    assert r["k"] == k and r["n"] == n and r["rate"] == pytest.approx(k / n)
    assert (r["ci_low"], r["ci_high"]) == pytest.approx(wilson_interval(k, n))
    assert r["ci_low"] <= r["rate"] <= r["ci_high"]
    rel = s["relapse_sustain"]
    assert rel["n"] == k
    med = rel["median_days_to_relapse"]["median_days"]
    assert np.isinf(med) or 0 < med <= 60
    assert "not a medical device" in s["disclaimer"]
    lo, hi = wilson_interval(0, 10)
    assert lo == 0.0 and 0.2 < hi < 0.35


def test_bands_from_the_histogram_match_exact_quantiles():
    res = simulate_population(series(30.0), 200, seed=6, keep_trajectories=True)
    exact = res.madrs_bands()
    res.trajectories = None
    approx = res.madrs_bands()
    assert np.max(np.abs(exact.to_numpy() - approx.to_numpy())) <= 0.05 + 1e-6


def test_outcome_fn_adds_columns_per_chunk():
    def peak_n(chunk):
        return {"max_N": np.nanmax(chunk.trajectory("N"), axis=1)}

    res = simulate_population(series(20.0), 9, seed=1, outputs=("madrs", "N"), chunk_size=4, outcome_fn=peak_n)
    assert "max_N" in res.outcomes and np.all(res.outcomes["max_N"] > 0)


def test_switching_a_mechanism_off_changes_the_course():
    on = simulate_population(series(40.0), 3, seed=1, keep_trajectories=True)
    off = simulate_population(series(40.0), 3, seed=1, keep_trajectories=True, switches={"pruning": False})
    assert np.all(off.trajectory("madrs")[:, -1] < on.trajectory("madrs")[:, -1])


def test_bad_requests_are_user_errors():
    with pytest.raises(PlanError, match="outputs"):
        simulate_population(series(), 2, outputs=("madrs", "happiness"))
    with pytest.raises(PlanError, match="n_patients"):
        simulate_population(series(), 0)
    with pytest.raises(PlanError, match="n_patients"):
        simulate_population([series(), series()], 3)
    with pytest.raises(PlanError, match="days"):
        simulate_population(series(), 2, days=[3.0, 1.0])
    vp = VirtualPatients.typical(1, patient=replace(Patient(), chronic_load=5.0))
    with pytest.raises(PlanError, match="chronic_load"):
        simulate_population(series(), patients=vp)


def test_compiled_days_in_remission_is_the_outcomes_definition():
    from ketasim.outcomes import days_in_remission, mean_score
    from ketasim.population.endpoints import _remission_and_mean

    rng = np.random.default_rng(0)
    days = np.sort(np.unique(np.concatenate([np.arange(0.0, 31.0), rng.uniform(0, 30, 20)])))
    scores = np.clip(12 + 6 * rng.standard_normal((50, days.size)), 0, 60)
    scores[0, 3:6] = 10.0  # a flat stretch exactly at the threshold
    d, m = _remission_and_mean(days, scores, 10.0)
    assert np.allclose(d, days_in_remission(days, scores, 10.0), atol=1e-12)
    assert np.allclose(m, mean_score(days, scores), atol=1e-12)
