"""Endpoint computations on synthetic data: proportions, Kaplan-Meier, Cox, relapse clocks."""

from __future__ import annotations

import numpy as np

from ketasim.trials import endpoints as E


def test_proportion_has_a_wilson_interval_and_counts_patients():
    e = E.proportion_estimate(np.array([True] * 30 + [False] * 70))
    assert e.value == 30.0 and e.n == 100
    assert 21.0 < e.low < 30.0 < e.high < 40.0
    assert np.isnan(E.proportion_estimate(np.array([], dtype=bool)).value)


def test_relapse_durations_censor_late_relapses():
    t, ev = E.relapse_durations(np.array([15.0, 40.0, np.inf]), start_day=10.0, censor_day=np.array([50.0, 30.0, 50]))
    assert np.allclose(t, [5.0, 20.0, 40.0])
    assert ev.tolist() == [True, False, False]


def test_km_median_of_exponential_times():
    rng = np.random.default_rng(0)
    t = rng.exponential(20.0 / np.log(2), size=4000)
    e = E.km_median_estimate(np.minimum(t, 200.0), t < 200.0)
    assert abs(e.value - 20.0) < 1.5 and e.low < e.value < e.high
    weeks = E.km_median_estimate(np.minimum(t, 200.0), t < 200.0, scale=7.0)
    assert abs(weeks.value - e.value / 7.0) < 1e-9
    never = E.km_median_estimate(np.full(50, 30.0), np.zeros(50, dtype=bool))
    assert np.isnan(never.value)


def test_km_probability_and_hazard_ratio():
    rng = np.random.default_rng(1)
    t0 = rng.exponential(100.0, size=3000)
    t1 = rng.exponential(200.0, size=3000)  # half the hazard
    cens = 150.0
    p = E.km_probability_estimate(np.minimum(t0, cens), t0 < cens, by_day=56.0)
    assert abs(p.value - 100 * (1 - np.exp(-56 / 100))) < 3.0
    d = np.r_[np.minimum(t1, cens), np.minimum(t0, cens)]
    ev = np.r_[t1 < cens, t0 < cens]
    hr = E.hazard_ratio_estimate(d, ev, np.r_[np.ones(3000), np.zeros(3000)])
    assert abs(hr.value - 0.5) < 0.06 and hr.low < hr.value < hr.high


def test_mean_and_median_estimates():
    m = E.mean_estimate(np.array([1.0, 2.0, 3.0, np.nan]))
    assert m.value == 2.0 and m.n == 3
    med = E.median_estimate(np.array([1.0, 2.0, 3.0, 3.0, 3.0]))
    assert med.value == 3.0 and med.low <= 3.0 <= med.high


def test_numpy_kaplan_meier_equals_lifelines():
    rng = np.random.default_rng(4)
    for _ in range(5):
        t = np.round(rng.exponential(30.0, size=150) / 3.5) * 3.5  # visit-day ties
        c = rng.uniform(10, 90, size=150)
        d, ev = np.minimum(t, c), t <= c
        slow = E.km_median_estimate(d, ev)
        fast = E.km_median_estimate(d, ev, interval=False)
        assert (np.isnan(slow.value) and np.isnan(fast.value)) or slow.value == fast.value
        for by in (14.0, 35.0, 56.0):
            assert abs(E.km_probability_estimate(d, ev, by).value
                       - E.km_probability_estimate(d, ev, by, interval=False).value) < 1e-9
