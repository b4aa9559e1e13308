"""The shipped state: the posterior median is the parameter set in force, it is the median of the shipped
posterior draws, and it fits the evidence base better than the declared values. The band figures are
reported by ``ketasim trials`` (within_band per target); this test checks they are computed, not that they
all pass (docs/validation.md lists the misses)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ketasim.evidence import space
from ketasim.evidence.likelihood import Heterogeneity, log_likelihood
from ketasim.evidence.posterior import load_posterior, shipped_posterior_path
from ketasim.evidence.simulate import ParameterSet, simulate_evidence
from ketasim.parameters import IDX, response_parameters
from ketasim.symptoms.placebo import PlaceboModel
from ketasim.trials.calibrate import shipped_path
from ketasim.trials.cohort import current_spreads, current_trial_load
from ketasim.trials.measurement import MeasurementModel
from ketasim.trials.runner import run_trials
from ketasim.trials.studies import BUILTIN_STUDIES

RECORD = json.loads(shipped_path().read_text()) if shipped_path().exists() else None
pytestmark = pytest.mark.skipif(RECORD is None or not shipped_posterior_path().exists(),
                                reason="no posterior shipped")


def _shipped_value(f) -> float:
    section = {"typical": "parameters", "omega": "variability", "measurement": "measurement", "placebo": "placebo",
               "population": "population"}[f.kind]
    entry = RECORD[section][f.name]
    return float(entry["omega"] if f.kind == "omega" else entry["value"])


def test_shipped_values_are_the_parameters_in_force():
    params = response_parameters()
    for name, entry in RECORD["parameters"].items():
        p = params[IDX[name]]
        assert p.value == pytest.approx(entry["value"], rel=1e-12)
        assert p.status == "calibrated" and entry["date"] in p.source
    spreads = current_spreads()
    for name, entry in RECORD["variability"].items():
        assert spreads[name] == pytest.approx(entry["omega"], rel=1e-12)
    meas, plac = MeasurementModel.shipped(), PlaceboModel.shipped()
    for name, entry in RECORD["measurement"].items():
        assert getattr(meas, name) == pytest.approx(entry["value"], rel=1e-12)
    for name, entry in RECORD["placebo"].items():
        assert getattr(plac, name) == pytest.approx(entry["value"], rel=1e-12)
    assert current_trial_load() == pytest.approx(RECORD["population"]["chronic_load"]["value"], rel=1e-12)
    assert Heterogeneity.shipped().tau_points == pytest.approx(RECORD["heterogeneity"]["tau_points"]["value"])


def test_the_point_estimate_is_the_median_of_the_shipped_draws():
    post = load_posterior()
    assert post.n_draws >= 200
    for f in space.FIT_PARAMETERS:
        assert _shipped_value(f) == pytest.approx(float(post.draws[f.key].median()), rel=1e-9), f.key
        assert f.lower <= _shipped_value(f) <= f.upper
    for key in ("date", "command", "method", "seconds", "validation", "diagnostics", "priors"):
        assert key in post.provenance


def test_the_shipped_point_fits_the_evidence_better_than_the_declared_values():
    het = Heterogeneity.shipped()
    fitted = sum(log_likelihood(simulate_evidence(ParameterSet.in_force(), seed=7).values, het).values())
    declared = sum(log_likelihood(simulate_evidence(space.declared_set(), seed=7).values, het).values())
    assert fitted > declared + 50.0


def test_band_figures_are_computed_for_every_target():
    _, rows = run_trials(list(BUILTIN_STUDIES.values()), 400, 2024)
    assert len(rows) == 24
    for r in rows:
        d = r.as_dict()
        assert np.isfinite(r.estimate.value) or r.target.kind == "median_days", r.target.id
        assert isinstance(d["within_band"], bool) and d["n_published"] == r.target.n_published
        assert d["arm"] and d["log_likelihood"] is not None
