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
