"""Leave-one-study-out by Pareto-smoothed importance sampling: per-study log-likelihood, weights, intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ketasim.evidence.likelihood import Likelihood, likelihood_items
from ketasim.evidence.loo import leave_one_study_out, study_log_likelihood
from ketasim.evidence.predictive import predictive_intervals, published_value, weighted_quantiles


def _summaries(n: int, spread: float, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Draws of summaries scattered around the published values (published units), and their heterogeneity."""
    rng = np.random.default_rng(seed)
    items = likelihood_items()
    cols = {}
    for it in items:
        v = published_value(it)
        if it.family == "lognormal":
            cols[it.id] = v * np.exp(spread * 0.1 * rng.standard_normal(n))
        elif it.family == "binomial":
            cols[it.id] = np.clip(v + spread * 5 * rng.standard_normal(n), 1, 99)
        else:
            cols[it.id] = v + spread * 2 * rng.standard_normal(n)
    het = pd.DataFrame({"tau_points": np.full(n, 1.0), "tau_logit": 0.2, "tau_log": 0.1})
    return pd.DataFrame(cols), het


def test_study_log_likelihood_sums_the_studys_items():
    s, het = _summaries(6, 1.0)
    ll = study_log_likelihood(s, het)
    lik = Likelihood()
    Z = np.array([lik.transform_values(dict(r)) for _, r in s.iterrows()])
    per = lik.per_item(Z, het.to_numpy())
    for study in ll.columns[:4]:
        cols = [j for j, i in enumerate(lik.items) if i.study == study]
        assert ll[study].to_numpy() == pytest.approx(per[:, cols].sum(axis=1))


def test_equal_likelihood_leaves_the_full_posterior_and_a_dominant_draw_is_flagged():
    s, het = _summaries(200, 0.0)  # every draw the same: nothing to reweight
    table, loo = leave_one_study_out(s, het, seed=3)
    full = predictive_intervals(s, het, seed=3)
    assert np.allclose(table["effective_draws"], 200)
    assert loo["ppi90_low"].to_numpy() == pytest.approx(full["ppi90_low"].to_numpy(), rel=0.02, abs=0.5)
    # draws spread widely: some studies' likelihood is dominated by few draws; k is finite and reported
    s2, het2 = _summaries(200, 3.0, seed=1)
    t2, _ = leave_one_study_out(s2, het2, seed=3)
    assert np.isfinite(t2["pareto_k"]).all() and (t2["effective_draws"] < 200).all()
    assert set(t2["reliable"]) <= {True, False}
    assert (t2["reliable"] == (t2["pareto_k"] <= 0.7)).all()


def test_weighted_quantiles():
    x = np.arange(10.0)
    assert weighted_quantiles(x, np.ones(10), [0.5]) == pytest.approx([4.5])
    w = np.r_[np.zeros(5), np.ones(5)]
    assert weighted_quantiles(x, w + 1e-12, [0.5])[0] == pytest.approx(7.0, abs=0.01)
