"""Calibration machinery on a tiny budget: unit-cube mapping, discrepancy, the command and its JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from ketasim.errors import PlanError
from ketasim.interfaces.cli import app
from ketasim.parameters import IDX
from ketasim.trials.calibrate import (
    FREE_PARAMETERS,
    Calibration,
    FreeParameter,
    load_start,
    shipped_path,
    start_path,
)
from ketasim.trials.studies import BUILTIN_STUDIES


def test_unit_cube_round_trip_and_bounds():
    for f in FREE_PARAMETERS:
        mid = f.from_unit(0.5)
        assert f.lower <= mid <= f.upper
        assert abs(f.to_unit(mid) - 0.5) < 1e-9
        assert f.from_unit(-1.0) == f.lower and f.from_unit(2.0) == f.upper
    lin = FreeParameter("x", "typical", 0.0, 10.0, log=False)
    assert lin.from_unit(0.25) == 2.5


def test_discrepancy_is_zero_at_the_published_values_and_grows_with_error():
    cal = Calibration(studies=[BUILTIN_STUDIES["murrough13a"]], n_patients=30)
    ev = cal.evaluate(cal.x0())
    assert len(ev.rows) == 2 and np.isfinite(ev.discrepancy)
    z = [(r.estimate.value - r.target.published) / r.target.half_width for r in ev.rows]
    manual = sum(v * v + 30.0 * max(0.0, abs(v) - 0.7) ** 2 for v in z)
    assert abs(ev.targets_discrepancy - manual) < 1e-9
    assert ev.discrepancy == ev.targets_discrepancy + ev.claims_penalty
    # the same point gives the same figures (common random numbers)
    assert cal.evaluate(cal.x0()).discrepancy == ev.discrepancy
    params, spreads, meas, load = cal.unpack(cal.x0())
    assert 0.1 <= load <= 1.5
    assert set(spreads) >= {"kappa_G", "k_form", "k_hom", "a_antidepressant"}
    assert meas.fluctuation_sd > 0


def test_calibrate_command_writes_the_record_without_touching_the_shipped_file(tmp_path):
    shipped = shipped_path()
    before = shipped.read_bytes() if shipped.exists() else None
    out = tmp_path / "cal.json"
    res = CliRunner().invoke(app, ["calibrate-bands", "--studies", "murrough13a", "--n", "20",
                                   "--coarse-evaluations", "4", "--evaluations", "4", "--no-profile", "--popsize", "3",
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    rec = json.loads(out.read_text())
    for key in ("date", "command", "discrepancy", "parameters", "variability", "measurement", "targets", "n_patients"):
        assert key in rec
    assert rec["discrepancy"] <= rec["discrepancy_start"]
    assert all({"value", "date"} <= set(v) for v in rec["parameters"].values())
    assert {t["id"] for t in rec["targets"]} == {"murrough13a-d1", "murrough13a-r1"}
    assert "calibrate" in rec["command"]
    assert rec["phases"]["coarse"]["evaluations"] >= 4 and rec["phases"]["fine"]["evaluations"] >= 4
    after = shipped.read_bytes() if shipped.exists() else None
    assert before == after


def test_the_bundled_start_point_is_where_the_search_begins():
    rec = load_start(start_path())
    assert rec["provenance"]
    cal = Calibration(studies=[BUILTIN_STUDIES["murrough13a"]], n_patients=10, start=rec)
    params, spreads, meas, load = cal.unpack(cal.x0())
    for name, entry in rec["parameters"].items():
        assert params[IDX[name]] == pytest.approx(entry["value"], rel=1e-9)
    for name, entry in rec["variability"].items():
        assert spreads[name] == pytest.approx(entry["omega"], rel=1e-9)
    assert meas.fluctuation_sd == pytest.approx(rec["measurement"]["fluctuation_sd"]["value"], rel=1e-9)
    assert load == pytest.approx(rec["population"]["chronic_load"]["value"], rel=1e-9)


@pytest.mark.parametrize("text, field", [
    ('{"parameters": {"k_nope": {"value": 1.0}}}', "parameters.k_nope"),
    ('{"variability": {"k_form": {"omega": -1}}}', "variability.k_form.omega"),
    ('{"measurement": {"fluctuation_sd": {"value": "big"}}}', "measurement.fluctuation_sd.value"),
    ('{"parameters": ', "--start"),
])
def test_a_bad_start_file_names_the_file_and_field(tmp_path, text, field):
    bad = tmp_path / "start.json"
    bad.write_text(text)
    with pytest.raises(PlanError) as info:
        load_start(bad)
    assert field in str(info.value) and "start.json" in str(info.value) and "allowed" in str(info.value)


def test_calibrate_refuses_two_starting_points(tmp_path):
    res = CliRunner().invoke(app, ["calibrate-bands", "--from-declared", "--from-shipped", "--out",
                                   str(tmp_path / "x")])
    assert res.exit_code != 0 and isinstance(res.exception, PlanError)


def test_bad_weight_names_the_item_and_what_is_allowed(monkeypatch, capsys, tmp_path):
    from ketasim.interfaces.commands.calibrate import _weights

    assert _weights(["phillips19-maint=2.5"]) == {"phillips19-maint": 2.5}
    for bad in ("nope=1", "phillips19-maint=x", "phillips19-maint=-1"):
        with pytest.raises(PlanError) as info:
            _weights([bad])
        assert "--weight" in str(info.value) and bad in str(info.value) and "allowed" in str(info.value)
