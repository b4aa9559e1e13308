"""Rating-scale linkings: monotone, in range, invertible, and consistent remission thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from ketasim.errors import KetasimError
from ketasim.parameters import Parameter
from ketasim.symptoms.scales import (
    SCALES,
    SIMULATED_SCALES,
    from_madrs,
    madrs_to,
    observe,
    to_madrs,
)

GRID = np.linspace(0.0, 60.0, 1201)


def test_from_madrs_keys_shape_and_vectorised():
    m = np.array([[0.0, 10.0, 33.0], [20.0, 45.0, 60.0]])
    out = from_madrs(m)
    assert set(out) == {"hdrs17", "phq9", "qids_sr16"}
    for v in out.values():
        assert v.shape == m.shape


@pytest.mark.parametrize("scale", list(SCALES))
def test_monotone_and_in_range(scale):
    v = madrs_to(scale, GRID)
    lo, hi = SCALES[scale].range
    assert np.all(np.diff(v) >= 0)
    assert v.min() >= lo and v.max() <= hi
    assert v[0] == lo  # MADRS 0 is no symptoms on every scale
    # out-of-range MADRS is clipped, not extrapolated
    assert madrs_to(scale, -5.0) == lo and madrs_to(scale, 80.0) <= hi


@pytest.mark.parametrize("scale", list(SCALES))
def test_round_trip(scale):
    spec = SCALES[scale]
    # PHQ-9 saturates at 27 from MADRS 48 (Kim 2024): invertible up to the last anchor
    m = GRID[GRID <= spec.madrs_anchors[-1]]
    assert np.allclose(to_madrs(scale, madrs_to(scale, m)), m, atol=1e-9)
    s = np.linspace(*spec.range, 301)
    assert np.allclose(madrs_to(scale, to_madrs(scale, s)), s, atol=1e-9)


def test_published_anchor_points_are_reproduced():
    # Leucht 2018: HAM-D 10/20/30 <-> MADRS 13/26/39
    assert np.allclose(madrs_to("hdrs17", [13, 26, 39]), [10, 20, 30])
    # Carmody 2006: QIDS-SR16 5 <-> MADRS 7.5
    assert madrs_to("qids_sr16", 7.5) == pytest.approx(5.0)
    # Kim 2024 (OPTIMUM): PHQ-9 15 <-> MADRS 24, 27 <-> 48
    assert madrs_to("phq9", 24.0) == pytest.approx(15.0)
    assert to_madrs("phq9", 27.0) == pytest.approx(48.0)


@pytest.mark.parametrize("scale", list(SCALES))
def test_remission_thresholds_correspond_to_similar_madrs(scale):
    """Every scale's remission threshold sits near MADRS remission (7.5-10 in the linking papers)."""
    spec = SCALES[scale]
    m = float(to_madrs(scale, spec.remission_threshold))
    assert 7.0 <= m <= 10.0 + 1e-9


def test_registry_contents():
    for name, spec in SCALES.items():
        assert spec.name == name
        assert spec.response_fraction == 0.5
        assert isinstance(spec.noise_sd, Parameter) and spec.noise_sd.value > 0
        assert spec.linking
    assert SCALES["madrs"].remission_rule == "MADRS <= 10"
    assert SCALES["phq9"].remission_rule == "PHQ-9 < 5"
    assert set(SIMULATED_SCALES) <= set(SCALES)


def test_unknown_scale_is_a_user_error():
    with pytest.raises(KetasimError, match="hamd"):
        to_madrs("hamd", 10.0)


def test_observe_is_seeded_rounded_and_clipped():
    true = np.full(20_000, 20.0)
    a = observe("madrs", true, np.random.default_rng(1))
    b = observe("madrs", true, np.random.default_rng(1))
    assert np.array_equal(a, b)
    assert np.all(a == np.round(a))
    assert abs(a.std() - SCALES["madrs"].noise_sd.value) < 0.1
    low = observe("phq9", np.zeros(1000), np.random.default_rng(2))
    assert low.min() == 0.0
