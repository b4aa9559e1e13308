"""Posterior recovery on known synthetic patients; forecast bands, relapse risk and recommendation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ketasim.parameters import IDX
from ketasim.planning.forecast import DISCLAIMER, forecast
from ketasim.planning.particles import simulate_particles
from ketasim.planning.posterior import fit_posterior, history_plan, weighted_quantile
from ketasim.planning.prior import PopulationPrior
from ketasim.planning.synthetic import Schedule, make_history
from ketasim.symptoms.scales import madrs_to


def synthetic(seed: int, scale: str = "madrs", today: float | None = None):
    prior = PopulationPrior()
    rng = np.random.default_rng(seed)
    truth = prior.transform(prior.sample_latent(1, 0, rng), 0)
    h, latent = make_history(truth, Schedule(scale=scale), weight_kg=70.0, rng=rng, today_day=today)
    return truth, h, latent


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 5])
def test_posterior_recovers_known_patient(seed: int) -> None:
    truth, h, _ = synthetic(seed)
    post = fit_posterior(h, n_particles=600, seed=1)
    flat = np.full(len(post.particles), 1.0 / len(post.particles))
    for name, true in (("baseline_madrs", truth.baseline_madrs[0]), ("k_form", truth.params[0, IDX["k_form"]])):
        q05, _, q95 = post.quantiles(name)
        assert q05 <= true <= q95, (name, q05, true, q95)
    # the ratings are informative: the baseline interval is narrower than under the proposal alone
    p05, p95 = weighted_quantile(post.values("baseline_madrs"), flat, (0.05, 0.95))
    q05, _, q95 = post.quantiles("baseline_madrs")
    assert (q95 - q05) < 0.9 * (p95 - p05)
    assert post.weights.sum() == pytest.approx(1.0) and post.ess > 1


@pytest.mark.slow
def test_forecast_bands_ordered_and_contain_truth() -> None:
    truth, h, _ = synthetic(2, scale="phq9", today=28)
    fc = forecast(h, n_particles=800, n_forecast=400, horizon_days=60, seed=0)
    b = fc.bands
    order = ["q0.025", "q0.05", "q0.1", "q0.25", "q0.5", "q0.75", "q0.9", "q0.95", "q0.975"]
    stack = np.vstack([b[k] for k in order if k in b])
    assert np.all(np.diff(stack, axis=0) >= -1e-9)
    assert np.all(np.diff(fc.p_relapse_planned) >= -1e-12) and np.all(np.diff(fc.p_relapse_no_dose) >= -1e-12)
    # the true (noise-free) course lies inside the 95% band on most days
    plan = history_plan(h, include_planned=False, horizon_days=float(fc.days[-1] + 2))
    true_m, _ = simulate_particles(plan, truth, fc.days)
    true_phq = madrs_to("phq9", true_m[0])
    inside = (true_phq >= b["q0.025"] - 1e-9) & (true_phq <= b["q0.975"] + 1e-9)
    assert inside.mean() >= 0.8, inside.mean()
    rec = fc.recommendation()
    for key in ("next_session_date", "relapse_risk_by_date", "bridge_probability", "disclaimer", "risk_threshold"):
        assert key in rec
    assert rec["disclaimer"] == DISCLAIMER and "not medical advice" in rec["disclaimer"]
    json.dumps(rec)
    # the recommended date keeps the no-dose relapse risk at or under the threshold, the next day exceeds it
    if fc.recommended_day is not None and fc.recommended_day > fc.days[0]:
        k = int(np.searchsorted(fc.days, fc.recommended_day + 9.0 / 24.0 - 1e-6))
        assert fc.p_relapse_no_dose[k] <= fc.risk
        assert k + 1 >= fc.days.size or fc.p_relapse_no_dose[k + 1] > fc.risk
