"""The planning prior is the population's variability model in the world of the virtual trials: at the point
estimate, the same latent coordinates give the same patients."""

from __future__ import annotations

import numpy as np

from ketasim.dosing.plan import Patient
from ketasim.parameters import IDX
from ketasim.planning.prior import PopulationPrior
from ketasim.planning.world import PlanningWorld
from ketasim.population.patients import sample_patients


def test_prior_transform_reproduces_sample_patients() -> None:
    world = PlanningWorld.typical()
    vp = sample_patients(50, seed=11, patient=Patient(chronic_load=float(world.chronic_load[0])))
    prior = PopulationPrior(world=world)
    k = len(vp.effects)
    # the trials' world adds effects after the population's (uncorrelated with them): coordinate 0 = typical value
    assert prior.targets[:k] == vp.effects
    u = np.zeros((50, prior.dim(0)))
    u[:, :k] = np.linalg.solve(prior.chol[:k, :k], vp.latent.T).T
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
