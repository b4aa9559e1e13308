"""The shipped calibration: in force, consistent with the code that wrote it, and every target in band."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ketasim.parameters import IDX, response_parameters
from ketasim.trials.calibrate import FREE_PARAMETERS, Calibration, shipped_path
from ketasim.trials.cohort import current_spreads, current_trial_load
from ketasim.trials.measurement import MeasurementModel
from ketasim.trials.runner import REPORT_PATIENTS, run_trials
from ketasim.trials.studies import BUILTIN_STUDIES

RECORD = json.loads(shipped_path().read_text()) if shipped_path().exists() else None
pytestmark = pytest.mark.skipif(RECORD is None, reason="no calibration shipped")


def test_shipped_values_are_the_parameters_in_force():
    params = response_parameters()
    for name, entry in RECORD["parameters"].items():
        p = params[IDX[name]]
        assert p.value == pytest.approx(entry["value"], rel=1e-12)
        assert p.status == "calibrated" and entry["date"] in p.source
    spreads = current_spreads()
    for name, entry in RECORD["variability"].items():
        assert spreads[name] == pytest.approx(entry["omega"], rel=1e-12)
    meas = MeasurementModel.shipped()
    for name, entry in RECORD["measurement"].items():
        assert getattr(meas, name) == pytest.approx(entry["value"], rel=1e-12)
    assert {f.key for f in FREE_PARAMETERS} == (set(RECORD["parameters"])
                                                | {f"omega:{k}" for k in RECORD["variability"]}
                                                | {f"measurement:{k}" for k in RECORD["measurement"]}
                                                | {f"population:{k}" for k in RECORD["population"]})
    assert current_trial_load() == pytest.approx(RECORD["population"]["chronic_load"]["value"], rel=1e-12)


def test_record_figures_are_reproduced_by_the_code():
    """Re-evaluating the shipped point on the calibration's own cohorts gives the recorded figures."""
    cal = Calibration(n_patients=RECORD["n_patients"], seed=RECORD["seed"], from_shipped=True,
                      weights=RECORD.get("weights"))
    ev = cal.evaluate(cal.x0())
    recorded = {t["id"]: t["simulated"] for t in RECORD["targets"]}
    for r in ev.rows:
        assert r.estimate.value == pytest.approx(recorded[r.target.id], rel=1e-6, abs=1e-3), r.target.id
    assert ev.discrepancy == pytest.approx(RECORD["discrepancy"], abs=1e-3)


def test_every_target_is_within_band_with_the_shipped_parameters():
    """Issue 4's acceptance, as ``ketasim trials`` reports it: independent cohorts (seed 2024, not the
    calibration's), 1000 virtual patients per study; and on the calibration's own cohorts too."""
    assert RECORD["within_band"] == RECORD["n_targets"] == 24
    _, rows = run_trials(list(BUILTIN_STUDIES.values()), REPORT_PATIENTS, 2024)
    assert len(rows) == 24
    assert all(np.isfinite(r.estimate.value) and r.estimate.n > 0 for r in rows)
    misses = [(r.target.id, r.estimate.value, r.target.band) for r in rows if not r.within_band]
    assert not misses
