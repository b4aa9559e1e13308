"""Simulated measurement: seeded noise, scores only on visit days, on the study's scale."""

from __future__ import annotations

import numpy as np

from ketasim.symptoms.scales import get_scale
from ketasim.trials.measurement import MeasurementModel, MeasurementNoise, fluctuation_path, observe_visits


def _model(n: int = 400, v: int = 6) -> tuple[np.ndarray, np.ndarray]:
    days = np.array([0.33, 1.375, 2.375, 7.375, 14.375, 28.375])[:v]
    return np.full((n, days.size), 30.0), days


def test_noise_is_seeded_and_scores_are_whole_points_on_each_visit():
    m, days = _model()
    a = observe_visits(m, days, "madrs", MeasurementNoise.draw(400, days.size, np.random.default_rng(7)))
    b = observe_visits(m, days, "madrs", MeasurementNoise.draw(400, days.size, np.random.default_rng(7)))
    c = observe_visits(m, days, "madrs", MeasurementNoise.draw(400, days.size, np.random.default_rng(8)))
    assert a.shape == (400, days.size)  # one score per visit, nothing between visits
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.all(a == np.round(a)) and a.min() >= 0 and a.max() <= 60


def test_noise_spread_matches_fluctuation_and_rater_sd():
    m, days = _model(4000)
    noise = MeasurementNoise.draw(4000, days.size, np.random.default_rng(1))
    meas = MeasurementModel(fluctuation_sd=3.0, fluctuation_tau=14.0)
    obs = observe_visits(m, days, "madrs", noise, meas)
    expected = np.sqrt(3.0**2 + get_scale("madrs").noise_sd.value ** 2 + 1 / 12)  # + rounding
    assert abs(obs[:, 0].std() - expected) < 0.2
    quiet = observe_visits(m, days, "madrs", noise, MeasurementModel(0.0, 14.0, noise_scale=0.0))
    assert np.all(quiet == 30.0)


def test_fluctuation_is_stationary_and_correlated_over_its_time_scale():
    z = np.random.default_rng(3).standard_normal((20000, 3))
    f = fluctuation_path(z, np.array([0.0, 1.0, 60.0]), 4.0, 14.0)
    assert np.allclose(f.std(axis=0), 4.0, atol=0.1)
    near = np.corrcoef(f[:, 0], f[:, 1])[0, 1]
    far = np.corrcoef(f[:, 1], f[:, 2])[0, 1]
    assert abs(near - np.exp(-1 / 14)) < 0.02 and abs(far - np.exp(-59 / 14)) < 0.03


def test_other_scales_use_the_linking_and_their_range():
    m, days = _model(50)
    noise = MeasurementNoise.draw(50, days.size, np.random.default_rng(0))
    quiet = MeasurementModel(0.0, 14.0, noise_scale=0.0)
    for scale in ("hdrs17", "hdrs21", "phq9", "qids_sr16"):
        obs = observe_visits(m, days, scale, noise, quiet)
        spec = get_scale(scale)
        assert spec.range[0] <= obs.min() and obs.max() <= spec.range[1]
        assert obs[0, 0] < 30.0  # every other scale is shorter than MADRS at this severity
