"""Recovery: data simulated from known parameters, fitted by the same machinery; the truth lies inside
the 90% posterior interval (the reduced CI version: four parameters free, small design)."""

from __future__ import annotations

import pytest

from ketasim.evidence.fit import FitConfig
from ketasim.evidence.recovery import run_recovery

FREE = ("kappa_G", "k_form", "placebo:placebo_late", "placebo:placebo_early")


@pytest.mark.slow
def test_known_parameters_are_recovered(tmp_path):
    """Four parameters and the three heterogeneity SDs fitted by the full machinery (design, emulator, MCMC)
    to data simulated at known values: the truth lies inside the 90% interval at the expected rate, at most 2
    of the 7 outside (probability 0.026 of more when the intervals are calibrated). The fit's cohorts have 400
    patients per study, where the one-parameter coverage is measured at its nominal rate (test below); at 120
    the Monte-Carlo offsets of the fixed cohorts, correlated across each cohort's summaries, make the
    intervals too narrow (k_form's coverage 0.78). Measured 2026-12-03: 1 of 7 outside (placebo_late 0.300 vs
    0.302-0.339), 20 minutes on the shared 2-core machine under load."""
    config = FitConfig(waves=(48, 32), validation=8, walkers=32, steps_between_waves=600, steps=1200, burn=600,
                       draws=300, n_patients=400)
    result = run_recovery(tmp_path, FREE, 0.5, config=config, seed=3)
    rows = result["parameters"]
    outside = {k: v for k, v in rows.items() if not v["inside90"]}
    assert len(rows) == 7 and len(outside) <= 2, outside
    # the data inform the free parameters: the 90% interval is narrower than the prior's middle 90%
    from ketasim.evidence import space

    for k in FREE:
        f = next(p for p in space.FIT_PARAMETERS if p.key == k)
        width_unit = f.to_unit(rows[k]["q95"]) - f.to_unit(rows[k]["q05"])
        assert width_unit < 0.9, (k, width_unit)


@pytest.mark.slow
def test_credible_intervals_cover_the_truth_at_the_nominal_rate():
    """Coverage of k_form's 90% credible interval over 3 fit cohorts of 400 patients per study x 50 synthetic
    data sets (the simulator on a grid in place of the emulator, heterogeneity known), with the likelihood's
    Monte-Carlo term: at least the 99% lower binomial bound of 150 trials at 0.90 (0.837), and not bought by
    intervals that cover everything. Measured 2026-12-03: 0.86 (0.83 without the Monte-Carlo term); at 120
    patients per study 0.78 (0.66 without)."""
    from ketasim.evidence.recovery import profile_coverage

    res = profile_coverage("k_form", n_patients=400, cohort_seeds=(0, 1, 2), datasets=50)
    n, p = res["pairs"], 0.9
    lower = p - 2.576 * (p * (1 - p) / n) ** 0.5
    cov = res["coverage"]["monte_carlo"]
    assert lower <= cov <= 0.97, res
