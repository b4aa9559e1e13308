"""The planning prior is the population's variability model: same latent coordinates, same patients."""

from __future__ import annotations

import numpy as np

from ketasim.parameters import IDX
from ketasim.planning.prior import PopulationPrior
from ketasim.population.patients import sample_patients


def test_prior_transform_reproduces_sample_patients() -> None:
    vp = sample_patients(50, seed=11)
    prior = PopulationPrior()
    assert prior.targets == vp.effects
    u = np.linalg.solve(prior.chol, vp.latent.T).T
    parts = prior.transform(u, 0)
    np.testing.assert_allclose(parts.params, vp.params, rtol=1e-12)
    np.testing.assert_allclose(parts.baseline_madrs, vp.baseline_madrs, rtol=1e-12)
    np.testing.assert_allclose(parts.chronic_load, vp.chronic_load, rtol=1e-12)
    np.testing.assert_allclose(parts.pk_cl, vp.pk_cl, rtol=1e-12)
    assert parts.params[:, IDX["k_form"]].std() > 0


def test_recorded_life_event_scaled_by_reactivity() -> None:
    prior = PopulationPrior()
    u = np.random.default_rng(0).standard_normal((20, prior.dim(1)))
    parts = prior.transform(u, 1, [(0.8, None)])
    scale = prior.transform(u, 0)
    k = prior.targets.index("acute_load_scale")
    z = u[:, :len(prior.effects)] @ prior.chol.T
    expected = 0.8 * prior.effects[k].apply(1.0, z[:, k])
    np.testing.assert_allclose(parts.event_amp[:, 0], expected)
    assert np.all(parts.event_fade_days[:, 0] > 0)
    np.testing.assert_allclose(parts.params, scale.params)
