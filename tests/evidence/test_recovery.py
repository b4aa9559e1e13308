"""Recovery: data simulated from known parameters, fitted by the same machinery; the truth lies inside
the 90% posterior interval (the reduced CI version: four parameters free, small design)."""

from __future__ import annotations

import pytest

from ketasim.evidence.fit import FitConfig
from ketasim.evidence.recovery import run_recovery

FREE = ("kappa_G", "k_form", "placebo:placebo_late", "placebo:placebo_early")


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason=(
    "known failure (2026-12-03, with the likelihood's Monte-Carlo term): the truth of k_form (0.200 vs 90% "
    "interval 0.201-0.242) and placebo_late lies just outside; the Monte-Carlo term raises the coverage of a "
    "one-parameter interval (test_monte_carlo_term_raises_coverage: k_form 0.66 -> 0.78, placebo_late 0.41 -> "
    "0.66 at 120 patients per study) but not to the nominal 0.90, and tripling it gives only 0.84: the offsets "
    "of one fixed cohort are correlated across its summaries and the small cohorts' summaries are biased "
    "against the population value, neither of which a per-summary variance carries"))
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
def test_monte_carlo_term_raises_coverage():
    """The coverage of k_form's 90% credible interval over 4 fit cohorts x 50 synthetic data sets (simulator on
    a grid, heterogeneity known): the likelihood's Monte-Carlo term brings it closer to 0.90 than without
    (measured 0.78 against 0.66; the shortfall from 0.90 is the recovery test's known failure)."""
    from ketasim.evidence.recovery import profile_coverage

    cov = profile_coverage("k_form")["coverage"]
    assert cov["monte_carlo"] >= cov["no_monte_carlo"] + 0.05, cov
    assert cov["monte_carlo"] <= 0.97, cov  # not bought by an interval that covers everything
