"""Capacity: ``--patients`` up to 10^7 streamed to disk; runs too large for the machine refused before they start."""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ketasim.dosing.planfile import load_plan
from ketasim.errors import PlanError
from ketasim.interfaces.cli import main
from ketasim.population import run as population_run
from ketasim.population import simulate_population

PLAN = Path(str(resources.files("ketasim").joinpath("examples"))) / "single-infusion.yaml"


def test_the_estimate_grows_with_what_is_kept():
    small = population_run.estimate_memory_bytes(1000, 120)
    assert population_run.BASE_BYTES < small < population_run.estimate_memory_bytes(10_000, 120)
    streamed = population_run.estimate_memory_bytes(10_000_000, 151, keep_patients=False)
    assert streamed < 8e9  # the documented capacity fits a machine of this size when the tables are streamed
    kept = population_run.estimate_memory_bytes(10_000_000, 151, keep_trajectories=True)
    assert kept - streamed > 10_000_000 * 151 * 4  # trajectories: 4 bytes per patient and day


def test_a_run_that_does_not_fit_is_refused_naming_the_estimate(monkeypatch):
    monkeypatch.setattr(population_run, "available_memory_bytes", lambda: 2e9)
    plan = load_plan(PLAN)
    with pytest.raises(PlanError, match=r"n_patients = 1000000: allowed a run that fits in memory: this one needs "
                                        r"about \d+\.\d GB .*trajectories kept.*2\.0 GB are available"):
        simulate_population(plan, 1_000_000, keep_trajectories=True)
    assert simulate_population(plan, 10).n_patients == 10  # small runs still go


def test_the_cli_refuses_before_any_work_or_output(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(population_run, "available_memory_bytes", lambda: 1e9)
    monkeypatch.setattr(population_run, "_simulate_chunk", lambda *a, **k: pytest.fail("the work started"))
    out = tmp_path / "out"
    monkeypatch.setattr(sys, "argv", ["ketasim"])
    with pytest.raises(SystemExit) as info:
        main(["population", str(PLAN), "--patients", "10000000", "--out", str(out)])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.startswith("error: --patients = 10000000") and "GB" in err
    assert len(err.strip().splitlines()) == 1 and not out.exists()
    with pytest.raises(SystemExit) as info:
        main(["population", str(PLAN), "--patients", "10000001", "--out", str(out)])
    assert info.value.code == 2 and "1 to 10,000,000 virtual patients" in capsys.readouterr().err


def test_streamed_tables_equal_the_run_in_memory(tmp_path):
    from ketasim.interfaces.commands.population import run_population

    summary = run_population(PLAN, tmp_path / "out", patients=300, seed=4, chunk_size=64, progress=False,
                             figures=False)
    kept = simulate_population(load_plan(PLAN), 300, seed=4, chunk_size=300)
    pq = pd.read_parquet(tmp_path / "out" / "outcomes.parquet")
    pd.testing.assert_frame_equal(pq, kept.outcomes, check_exact=True)
    csv = pd.read_csv(tmp_path / "out" / "outcomes.csv")
    assert len(csv) == 300 and np.allclose(csv["madrs_day1"], kept.outcomes["madrs_day1"], rtol=1e-5)
    patients = pd.read_parquet(tmp_path / "out" / "patients.parquet")
    pd.testing.assert_frame_equal(patients, kept.patients.to_frame(), check_exact=True)
    assert summary["n_patients"] == 300
