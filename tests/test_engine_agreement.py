"""The compiled engine agrees with the SciPy reference on the same equations."""

from __future__ import annotations

import numpy as np

from ketasim.simulate import simulate


def test_fast_engine_matches_reference_single_infusion(single_infusion):
    fast = simulate(single_infusion)
    ref = simulate(single_infusion, method="reference")
    assert np.max(np.abs(fast.table["madrs"] - ref.table["madrs"])) < 0.01
    assert np.allclose(fast.table["N"], ref.table["N"], atol=1e-5)
