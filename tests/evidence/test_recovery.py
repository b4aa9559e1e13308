"""Recovery: data simulated from known parameters, fitted by the same machinery; the truth lies inside
the 90% posterior interval (the reduced CI version: four parameters free, small design)."""

from __future__ import annotations

import pytest

from ketasim.evidence.fit import FitConfig
from ketasim.evidence.recovery import run_recovery

FREE = ("kappa_G", "k_form", "placebo:placebo_late", "placebo:placebo_early")


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason=(
    "known failure (2026-12-03, with the likelihood's Monte-Carlo term, 120 patients per study): the truth of "
    "k_form (0.200 vs 90% interval 0.201-0.242) and placebo_late lies just outside. The Monte-Carlo term raises "
    "the coverage of a one-parameter interval (profile_coverage: k_form 0.66 -> 0.78, placebo_late 0.41 -> 0.66 "
    "at 120 patients; tripling it gives 0.84) but reaches the nominal 0.90 only with larger cohorts (0.86 at "
    "400, the test below): the offsets of one fixed cohort are correlated across its summaries, and small "
    "cohorts' summaries are biased against the population value; a per-summary variance carries neither"))
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


@pytest.mark.slow
def test_credible_intervals_cover_the_truth_at_the_nominal_rate():
    """Coverage of k_form's 90% credible interval over 3 fit cohorts of 400 patients per study x 50 synthetic
    data sets (the simulator on a grid in place of the emulator, heterogeneity known), with the likelihood's
    Monte-Carlo term: at least the 99% lower binomial bound of 150 trials at 0.90 (0.837), and not bought by
    intervals that cover everything. Measured 2026-12-03: 0.86 (0.83 without the Monte-Carlo term); at 120
    patients per study 0.78 (0.66 without), the recovery test's known failure above."""
    from ketasim.evidence.recovery import profile_coverage

    res = profile_coverage("k_form", n_patients=400, cohort_seeds=(0, 1, 2), datasets=50)
    n, p = res["pairs"], 0.9
    lower = p - 2.576 * (p * (1 - p) / n) ** 0.5
    cov = res["coverage"]["monte_carlo"]
    assert lower <= cov <= 0.97, res
