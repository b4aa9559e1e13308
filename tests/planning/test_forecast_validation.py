"""The scores of the forecaster's validation: proper, and able to tell a good forecast from a bad one."""

from __future__ import annotations

import numpy as np

from ketasim.planning import validation as V


def test_discrete_scores_are_proper_and_discriminate() -> None:
    point = np.zeros(28)
    point[10] = 1.0
    assert V.crps(point, 10) == 0.0 and V.crps(point, 12) == 2.0  # CRPS of a point mass: the distance
    good, bad = V.normal_pmf(10.0, 2.0), V.normal_pmf(16.0, 2.0)
    ys = np.random.default_rng(0).normal(10.0, 2.0, 400).round().clip(0, 27)
    assert np.mean([V.crps(good, y) for y in ys]) < np.mean([V.crps(bad, y) for y in ys])
    assert np.mean([V.log_score(good, y) for y in ys]) < np.mean([V.log_score(bad, y) for y in ys])
    # expected CRPS is lowest for the true distribution (propriety, checked against nearby ones)
    truth = V.normal_pmf(10.0, 2.0)

    def expected(p):
        return sum(truth[k] * V.crps(p, k) for k in range(28))

    assert expected(truth) < min(expected(V.normal_pmf(10.0, 1.0)), expected(V.normal_pmf(10.0, 4.0)),
                                 expected(V.normal_pmf(11.0, 2.0)))
    # randomised PIT of draws from the predictive itself is uniform
    rng = np.random.default_rng(1)
    draws = rng.choice(28, 4000, p=truth)
    pits = np.array([V.pit(truth, y, rng.random()) for y in draws])
    hist = np.histogram(pits, bins=5, range=(0, 1))[0] / pits.size
    assert np.all(np.abs(hist - 0.2) < 0.03)
    lo, hi = V.central_interval(truth, 0.8)
    assert lo < 10 < hi


def test_two_exponential_baseline_follows_the_scores() -> None:
    days = np.array(V.PAST_SCORES, dtype=float)
    y = np.array([20, 14, 10, 8, 7, 7], dtype=float)
    th, sig = V.two_exp_fit(days, y)
    fit = V.two_exp_predict(th, y[0], days[1:])
    assert np.mean(np.abs(fit - y[1:])) < 2.0 and 0 < sig < 5


def test_stress_worlds_differ_from_the_forecasters() -> None:
    own = V.truth_world("own")
    more, less = V.truth_world("fluct2"), V.truth_world("fluct05")
    np.testing.assert_allclose(more.fluctuation_sd, 2 * own.fluctuation_sd)
    np.testing.assert_allclose(less.fluctuation_sd, 0.5 * own.fluctuation_sd)
    y_more, ok_m = V.simulate_cohort(60, 3, more, planned=False)
    y_less, ok_l = V.simulate_cohort(60, 3, less, planned=False)
    # the same patients: more fluctuation spreads the ratings around each patient's course
    assert np.std(np.diff(y_more[ok_m & ok_l], axis=1)) > np.std(np.diff(y_less[ok_m & ok_l], axis=1))
    y_pk, ok = V.simulate_cohort(20, 3, own, planned=False, pk_model=V.OTHER_PK)
    assert ok.any() and np.isfinite(y_pk).all()
