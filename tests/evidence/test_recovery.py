"""Recovery: data simulated from known parameters, fitted by the same machinery; the truth lies inside
the 90% posterior interval (the reduced CI version: four parameters free, small design)."""

from __future__ import annotations

import pytest

from ketasim.evidence.fit import FitConfig
from ketasim.evidence.recovery import run_recovery

FREE = ("kappa_G", "k_form", "placebo:placebo_late", "placebo:placebo_early")


@pytest.mark.slow
def test_known_parameters_are_recovered(tmp_path):
    config = FitConfig(waves=(48, 32), validation=8, walkers=32, steps_between_waves=600, steps=1200, burn=600,
                       draws=300, n_patients=120)
    result = run_recovery(tmp_path, FREE, 0.5, config=config, seed=3)
    rows = result["parameters"]
    misses = {k: v for k, v in rows.items() if k in FREE and not v["inside90"]}
    assert not misses, misses
    # the data inform the free parameters: the 90% interval is narrower than the prior's middle 90%
    from ketasim.evidence import space

    for k in FREE:
        f = next(p for p in space.FIT_PARAMETERS if p.key == k)
        width_unit = f.to_unit(rows[k]["q95"]) - f.to_unit(rows[k]["q05"])
        assert width_unit < 0.9, (k, width_unit)
