"""The likelihood: each family against SciPy, the [S] rule, heterogeneity, and the items it holds."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from ketasim.evidence.likelihood import (
    MISSING_LOGLIK,
    Heterogeneity,
    Item,
    Likelihood,
    likelihood_items,
    transform,
)
from ketasim.trials.targets import TARGETS

TINY = Heterogeneity(1e-9, 1e-9, 1e-9)


def _item(family, **kw) -> Item:
    base = dict(id="x", study="s", arm="a", kind={"binomial": "response", "normal": "mean_change",
                                                   "lognormal": "relapse_median"}[family], family=family,
                value=40.0, n=None, events=None, se=None, variance_factor=1.0, tag="V", target=None, not_reached=None)
    base.update(kw)
    return Item(**base)


def test_binomial_is_the_binomial_without_heterogeneity_and_wider_with_it():
    it = _item("binomial", n=30.0, events=12.0)
    lik = Likelihood((it,))
    z = transform(it, 55.0)
    assert lik.total([[z]], TINY)[0] == pytest.approx(stats.binom.logpmf(12, 30, 0.55), abs=1e-6)
    # heterogeneity flattens the likelihood: a worse fit costs less
    z_far = transform(it, 90.0)
    assert lik.total([[z_far]], Heterogeneity(tau_logit=1.0))[0] > lik.total([[z_far]], TINY)[0]


def test_normal_and_lognormal_against_scipy():
    it = _item("normal", value=-9.7, se=1.76)
    assert Likelihood((it,)).total([[-7.0]], Heterogeneity(tau_points=2.0))[0] == pytest.approx(
        stats.norm.logpdf(-9.7, -7.0, math.sqrt(1.76**2 + 4.0)))
    it = _item("lognormal", value=273.0, se=0.4)
    z = transform(it, 200.0)
    assert Likelihood((it,)).total([[z]], Heterogeneity(tau_log=0.3))[0] == pytest.approx(
        stats.norm.logpdf(math.log(273), math.log(200), 0.5))


def test_not_reached_median_and_missing_values():
    it = _item("lognormal", value=273.0, se=0.4, not_reached=756.0)
    assert transform(it, float("nan")) == pytest.approx(math.log(756.0))
    it2 = _item("normal", value=1.0, se=1.0)
    assert Likelihood((it2,)).total([[transform(it2, float("nan"))]], TINY)[0] == MISSING_LOGLIK


def test_items_follow_the_evidence_rules():
    items = {i.id: i for i in likelihood_items()}
    assert {t.id for t in TARGETS} <= set(items)  # every calibration target is fitted
    s = items["murrough13a-r1"]  # [S]: variance doubled = half the information
    assert s.tag == "S" and s.variance_factor == 2.0 and s.n == pytest.approx(47 / 2)
    assert items["daly18-pbo-2h"].se == pytest.approx(1.76)
    assert items["jp-pbo-d28"].se == pytest.approx(11.68 / math.sqrt(72))
    assert items["sustain1-median"].se == pytest.approx((math.log(273) - math.log(97)) / 1.96)
    assert "su17-k05-resp" not in items and "grunebaum-ket-ssi" not in items  # [U] and a scale the model lacks


def test_emulator_variance_widens_every_family():
    lik = Likelihood((_item("binomial", n=30.0, events=3.0), _item("normal", value=0.0, se=1.0),
                      _item("lognormal", value=10.0, se=0.1)))
    z = np.array([[2.0, 5.0, math.log(30.0)]])
    a = lik.per_item(z, TINY)
    b = lik.per_item(z, TINY, emulator_var=np.ones_like(z))
    assert np.all(b > a)


def test_monte_carlo_variance_adds_to_the_likelihood_variance():
    from ketasim.evidence.likelihood import MonteCarloError

    items = (_item("binomial", n=30.0, events=12.0), _item("normal", id="y", value=-9.7, se=1.76),
             _item("lognormal", id="w", value=273.0, se=0.4))
    # 200 virtual patients behind the proportion (of 400 enrolled); variances 0.8 points^2 and 0.05 log^2
    mc = MonteCarloError(("x", "y", "w"), np.array([0.5, np.nan, np.nan]), np.array([np.nan, 320.0, 20.0]),
                         np.array([400.0, 400.0, 400.0]))
    lik = Likelihood(items, monte_carlo=mc)
    z = np.array([[transform(items[0], 55.0), -7.0, math.log(200.0)]])
    row = lik.per_item(z, TINY)[0]
    assert row[1] == pytest.approx(stats.norm.logpdf(-9.7, -7.0, math.sqrt(1.76**2 + 0.8)))
    assert row[2] == pytest.approx(stats.norm.logpdf(math.log(273), math.log(200), math.sqrt(0.16 + 0.05)))
    # the proportion's Monte-Carlo variance: the delta method on the logit, continuity corrected
    p = (200 * 0.55 + 0.5) / 201
    v = mc.variance(z, lik.is_binomial)[0, 0]
    assert v == pytest.approx(1 / (200 * p * (1 - p)))
    assert row[0] == pytest.approx(Likelihood(items[:1]).total(z[:, :1], Heterogeneity(1e-9, math.sqrt(v), 1e-9))[0])
    # four times the cohort: a quarter of the variance
    big = mc.for_patients(1600, ("s", "s", "s"))
    assert big.variance(z, lik.is_binomial)[0, 1] == pytest.approx(0.2)
    assert big.variance(z, lik.is_binomial)[0, 0] == pytest.approx(1 / (800 * ((800 * .55 + .5) / 801)
                                                                         * (1 - (800 * .55 + .5) / 801)))


def test_monte_carlo_variance_matches_replicate_cohorts():
    """The derived Monte-Carlo variance of each summary against its variance over 24 other virtual cohorts of
    the same size (same parameters): a proportion, means, a paired contrast, Kaplan-Meier figures, a median
    of whole numbers."""
    from ketasim.evidence.likelihood import MonteCarloError
    from ketasim.evidence.simulate import ParameterSet, simulate_evidence

    lik = Likelihood()
    ps = ParameterSet.in_force()
    studies = ["canuso2018", "murrough13b", "phillips19", "wilkinson17", "zarate06"]
    rows = [simulate_evidence(ps, n_patients=150, seed=500 + k, studies=studies) for k in range(24)]
    Z = np.array([lik.transform_values(r.values) for r in rows])
    parts = [lik.monte_carlo_row(r.estimates, r.enrolled) for r in rows]
    mc = MonteCarloError.from_simulations(lik.items, np.array([p[0] for p in parts]),
                                          np.array([p[1] for p in parts]), parts[0][2])
    cols = [j for j, i in enumerate(lik.items) if i.study in studies and np.isfinite(Z[:, j]).all()]
    assert len(cols) >= 15
    derived = mc.variance(np.median(Z, axis=0)[None, :], lik.is_binomial)[0, cols]
    observed = Z[:, cols].var(axis=0, ddof=1)
    ratio = observed / derived
    # sampling range of a variance from 24 replicates: chi2(23)/23 within 0.43-1.80 (99%)
    lo, hi = stats.chi2.ppf([0.005, 0.995], 23) / 23
    inside = (ratio > lo) & (ratio < hi)
    assert inside.mean() >= 0.85, dict(zip([lik.items[j].id for j in cols], ratio.round(2), strict=True))
    assert 0.75 < np.median(ratio) < 1.33
