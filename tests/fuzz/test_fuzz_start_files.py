"""Fuzzing calibration start files: generated and mutated start records (JSON text and file bytes).

Each input is refused with a KetasimError, or the calibration's starting point is finite and inside the unit
cube, and the model with its parameters simulates a plan to a finite MADRS in 0-60, within 30 s.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fuzz_support import (
    CI_EXAMPLES,
    LONG_EXAMPLES,
    ODD_VALUES,
    check_madrs,
    fuzz_files,
    mutated_file,
)
from hypothesis import strategies as st

from ketasim.dosing.plan import Dose, Plan
from ketasim.simulate import simulate
from ketasim.trials.calibrate import Calibration, load_start, start_path

BUNDLED = json.loads(start_path().read_text())
PLAN = Plan(doses=(Dose(0.375, mg_per_kg=0.5), Dose(3.375, mg_per_kg=0.5)), therapy_days=(1.6,), horizon_days=14)


@st.composite
def start_record(draw: Any) -> dict[str, Any]:
    """The bundled record's sections with each value moved within (or just beyond) a factor of 10."""
    record: dict[str, Any] = {}
    for section in ("parameters", "variability", "measurement", "population"):
        if section not in BUNDLED or draw(st.integers(0, 4)) == 0:
            continue
        entries = {}
        for name, entry in BUNDLED[section].items():
            if draw(st.booleans()):
                key = next(iter(entry))
                factor = draw(st.sampled_from([1.0, 1.0, 0.5, 2.0, 0.1, 10.0]))
                entries[name] = {key: entry[key] * factor}
        record[section] = entries
    if draw(st.booleans()):
        record["what"] = "fuzz"
    return record


@st.composite
def start_file(draw: Any) -> bytes:
    indent = draw(st.sampled_from([None, 1, "\t"]))
    return draw(mutated_file(draw(start_record()), lambda r: json.dumps(r, indent=indent, allow_nan=True),
                             odd=(*ODD_VALUES, -0.1, 1e-12, 2.5)))


def check_start(record: dict) -> None:
    cal = Calibration(studies=[], start=record)
    x0 = cal.x0()
    assert np.all(np.isfinite(x0)) and x0.min() >= 0.0 and x0.max() <= 1.0
    params, omegas, measurement, load = cal.unpack(x0)
    assert np.all(np.isfinite(params)) and all(np.isfinite(v) for v in omegas.values()) and np.isfinite(load)
    assert np.isfinite(measurement.fluctuation_sd) and measurement.fluctuation_tau > 0
    check_madrs(simulate(PLAN, cal.base).table["madrs"])


def fuzz_start_files(tmp_path: Path, examples: int) -> None:
    fuzz_files("calibration start files", tmp_path / "fuzz-start.json", start_file(), load_start, check_start,
               examples)


def test_fuzz_start_files(tmp_path):
    fuzz_start_files(tmp_path, CI_EXAMPLES)


@pytest.mark.fuzz_long
def test_fuzz_start_files_long(tmp_path):
    fuzz_start_files(tmp_path, 2 * LONG_EXAMPLES)
