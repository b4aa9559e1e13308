"""The shipped posterior: draws, provenance, summary and the command that prints it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from ketasim.evidence import space
from ketasim.evidence.posterior import load_posterior, shipped_posterior_path
from ketasim.interfaces.cli import app

shipped = pytest.mark.skipif(not shipped_posterior_path().exists(), reason="no posterior shipped")


@shipped
def test_shipped_draws_and_summary():
    post = load_posterior()
    assert post.n_draws >= 200
    s = post.summary()
    assert list(s.index) == space.names()
    assert np.all(s["q05"] <= s["median"]) and np.all(s["median"] <= s["q95"])
    assert np.all(np.isfinite(s[["rhat", "ess_bulk"]].to_numpy()))
    for f in space.FIT_PARAMETERS:  # every draw inside the prior's support
        assert post.draws[f.key].between(f.lower, f.upper).all(), f.key
    sets = post.parameter_sets(5, seed=1)
    assert len(sets) == 5 and len({ps.label for ps in sets}) == 5


@shipped
def test_posterior_command_prints_the_summary():
    res = CliRunner().invoke(app, ["posterior", "--summary"])
    assert res.exit_code == 0, res.output
    assert "placebo:placebo_late" in res.output and "R-hat" in res.output
    res = CliRunner().invoke(app, ["posterior", "--json"])
    data = json.loads(res.output)
    assert data["draws"] >= 200 and len(data["summary"]) == len(space.names())


def test_a_missing_or_bad_posterior_file_is_a_clear_error(tmp_path):
    from ketasim.errors import PlanError

    with pytest.raises(PlanError, match="posterior"):
        load_posterior(tmp_path / "none.parquet")
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    with pytest.raises(PlanError, match="Parquet"):
        load_posterior(bad)


def test_calibrate_refuses_bad_waves(tmp_path):
    res = CliRunner().invoke(app, ["calibrate", "--out", str(tmp_path / "x"), "--waves", "10,a"])
    assert res.exit_code != 0 and "--waves" in str(res.exception or res.output)
