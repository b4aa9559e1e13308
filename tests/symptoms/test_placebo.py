"""The placebo time course and regression to the mean by enrolment on observed ratings."""

from __future__ import annotations

import numpy as np
import pytest

from ketasim.symptoms.placebo import P_MAX, PlaceboModel, apply_placebo, placebo_fraction, placebo_multiplier
from ketasim.trials.runner import run_study
from ketasim.trials.studies import BASELINE_DAY, Arm, OutcomeSpec, Plan, PopulationSpec, Study, Visit, after_dose


def test_time_course_early_late_and_setting():
    model = PlaceboModel(placebo_early=0.3, placebo_early_tau=6.0, placebo_late=0.2, placebo_late_tau=7.0)
    days = np.array([-0.5, 0.375 + 2 / 24, 1.375, 28.375])
    p = placebo_fraction(days, np.array([0.375]), model, "saline", np.ones(1))[0]
    assert p[0] == 0.0  # before the first session
    assert p[1] == pytest.approx(0.3 * np.exp(-2 / 6) + 0.2 * (1 - np.exp(-(2 / 24) / 7)))
    assert p[2] == pytest.approx(0.3 * np.exp(-24 / 6) + 0.2 * (1 - np.exp(-1 / 7)))
    assert p[3] == pytest.approx(0.2 * (1 - np.exp(-28 / 7)), rel=1e-3)
    mid = placebo_fraction(days, np.array([0.375]), model.with_values({"midazolam_factor": 2.0}), "midazolam",
                           np.ones(1))[0]
    assert mid[1:] == pytest.approx(2 * p[1:])
    # a later session renews the early relief
    p2 = placebo_fraction(np.array([3.375 + 2 / 24]), np.array([0.375, 3.375]), model, "saline", np.ones(1))[0, 0]
    assert p2 > placebo_fraction(np.array([3.375 + 2 / 24]), np.array([0.375]), model, "saline", np.ones(1))[0, 0]
    big = placebo_fraction(days, np.array([0.375]), model, "saline", np.array([100.0]))
    assert big.max() == P_MAX
    with pytest.raises(ValueError, match="allowed"):
        placebo_fraction(days, np.array([0.375]), model, "homeopathy", np.ones(1))


def test_apply_placebo_relieves_symptoms_above_the_floor_only():
    m = np.array([[34.0, 3.0]])
    out = apply_placebo(m, np.array([[0.5, 0.5]]), np.array([4.0]))
    assert out[0, 0] == pytest.approx(4 + 30 * 0.5) and out[0, 1] == 3.0


def test_patient_multiplier_median_one():
    z = np.random.default_rng(0).standard_normal(20001)
    assert np.median(placebo_multiplier(z, PlaceboModel(omega_placebo=0.7))) == pytest.approx(1.0, abs=0.03)


def _no_treatment_study(inclusion_low: float) -> Study:
    visits = (Visit("baseline", BASELINE_DAY), Visit("d28", after_dose(27, 0)))
    return Study("rtm", "no treatment", "none", "madrs", (Arm("none", Plan(name="none", horizon_days=29.0),
                                                               setting="saline", sessions=(0.375,)),),
                 visits, (OutcomeSpec("rtm-d28", "mean_change", visit="d28"),),
                 PopulationSpec(baseline_madrs_mean=33.0, baseline_madrs_range=(inclusion_low, 60.0)))


def test_regression_to_the_mean_arises_from_enrolment_on_observed_ratings():
    """Without any treatment or placebo, patients enrolled on a noisy rating above a cut-off improve on
    average by the next rating; the stricter the cut-off, the more."""
    none = PlaceboModel.none()
    loose = run_study(_no_treatment_study(0.0), 3000, 1, placebo=none, intervals=False).outcomes["rtm-d28"].value
    strict = run_study(_no_treatment_study(32.0), 3000, 1, placebo=none, intervals=False).outcomes["rtm-d28"].value
    assert abs(loose) < 0.6
    assert strict < -1.5 and strict < loose - 1.0
