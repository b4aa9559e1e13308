"""``ketasim population``: files, summary, figures, progress bar and one-line user errors."""

from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from ketasim.interfaces.cli import app, main

runner = CliRunner()
EXAMPLES = Path(str(resources.files("ketasim").joinpath("examples")))
PLAN = EXAMPLES / "induction-weekly-maintenance.yaml"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("population")
    result = runner.invoke(app, ["population", str(PLAN), "--patients", "300", "--seed", "1", "--out", str(out),
                                 "--chunk-size", "128"])
    return out, result


def test_population_command_writes_outcomes_summary_and_figures(run):
    out, result = run
    assert result.exit_code == 0, result.output
    assert "virtual patients" in result.output and "300/300" in result.output  # the progress bar
    assert "not a medical device" in result.output
    pq = pd.read_parquet(out / "outcomes.parquet")
    csv = pd.read_csv(out / "outcomes.csv")
    assert len(pq) == len(csv) == 300 and list(pq["patient"]) == list(range(300))
    assert np.allclose(pq["madrs_day1"], csv["madrs_day1"], rtol=1e-5)
    assert len(pd.read_parquet(out / "patients.parquet")) == 300
    s = json.loads((out / "summary.json").read_text())
    assert s["n_patients"] == 300 and s["seed"] == 1 and s["plan"] == "induction-weekly-maintenance"
    r = s["response_end_induction"]
    assert r["n"] == 300 and r["ci_low"] <= r["rate"] <= r["ci_high"]
    assert r["rate"] == pytest.approx(pq["response_end_induction"].mean())
    assert "median_days_to_relapse" in s["relapse_sustain"]
    bands = pd.read_csv(out / "madrs_bands.csv")
    assert list(bands.columns[:2]) == ["day", "date"] and (bands["q0.05"] <= bands["q0.95"]).all()
    for fig in ("madrs_bands.png", "relapse_km.png"):
        assert (out / fig).read_bytes()[:8] == PNG


def test_same_seed_same_outcomes(run, tmp_path):
    out, _ = run
    again = runner.invoke(app, ["population", str(PLAN), "-n", "300", "--seed", "1", "--out", str(tmp_path),
                                "--no-figures"])
    assert again.exit_code == 0, again.output
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "outcomes.parquet"),
                                  pd.read_parquet(out / "outcomes.parquet"))


def test_user_errors_are_one_line(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(sys, "argv", ["ketasim", "population", str(PLAN), "-n", "5", "--omega", "k_form=-1",
                                      "--out", str(tmp_path)])
    with pytest.raises(SystemExit) as exc:
        main()
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and len(err.splitlines()) == 1 and "--omega k_form" in err
    monkeypatch.setattr(sys, "argv", ["ketasim", "population", str(tmp_path / "missing.yaml"), "-n", "5"])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2 and len(capsys.readouterr().err.strip().splitlines()) == 1
