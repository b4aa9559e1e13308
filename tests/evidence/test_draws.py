"""Predictions over posterior draws: the choice of draws, the split of patients, the predictive intervals, and
``ketasim trials`` / ``ketasim population`` carrying them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from ketasim.errors import PlanError
from ketasim.evidence.draws import (
    DEFAULT_DRAWS,
    DrawSpec,
    draw_spec,
    parameter_sets,
    predictive_interval,
    split_patients,
)
from ketasim.interfaces.cli import app

ROOT = Path(__file__).resolve().parents[2]


def test_draw_choice_and_patient_split():
    assert draw_spec(None, False).draws == DEFAULT_DRAWS
    assert draw_spec(None, True).typical
    assert draw_spec(None, False, n_patients=40, per_draw=10).draws == 4
    assert draw_spec(None, False, n_patients=15, per_draw=10).typical
    assert draw_spec(7, False, n_patients=15).draws == 7
    with pytest.raises(PlanError, match="--draws"):
        draw_spec(5, True)
    with pytest.raises(PlanError, match="--draws"):
        draw_spec(1, False)
    assert split_patients(10, 3) == [4, 3, 3]
    assert sum(split_patients(1001, 100)) == 1001
    with pytest.raises(PlanError, match="per posterior draw"):
        split_patients(3, 4)


def test_predictive_interval_quantiles_leave_out_missing_values():
    v = np.r_[np.arange(100.0), np.nan, np.nan]
    p = predictive_interval(v)
    assert (p.draws, p.of) == (100, 102)
    assert p.ppi90 == pytest.approx((4.95, 94.05))
    assert p.ppi50 == pytest.approx((24.75, 74.25))
    assert p.contains(50.0) and not p.contains(96.0) and not p.contains(80.0, 50)
    assert predictive_interval([np.nan]).as_dict()["ppi90"] == [None, None]


def test_posterior_draws_differ_and_the_typical_values_are_one_set():
    sets = parameter_sets(DrawSpec(5, seed=1))
    assert len(sets) == 5
    assert len({tuple(np.round(s.params, 12)) for s in sets}) == 5
    assert len(parameter_sets(DrawSpec(0))) == 1


def test_trials_carry_posterior_predictive_intervals():
    out = CliRunner().invoke(app, ["trials", "--json", "--studies", "zarate06", "--n", "80", "--draws", "8"])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.stdout)
    assert payload["draws"] == 8 and "posterior" in payload["uncertainty"]
    rows = payload["targets"]
    assert rows and all(r["ppi_draws"] > 0 for r in rows)
    for r in rows:
        lo, hi = r["ppi90"]
        assert lo <= r["ppi_median"] <= hi and r["ppi50"][0] >= lo and r["ppi50"][1] <= hi
        assert (r["ppi_low"], r["ppi_high"]) == (lo, hi)
        assert r["within_ppi90"] == (lo <= r["published"] <= hi)
    cov = payload["coverage"]["fit_set"]
    assert cov["targets"] == len(rows) and cov["within_ppi90"] == sum(r["within_ppi90"] for r in rows)
    # the typical values only: no intervals
    typical = CliRunner().invoke(app, ["trials", "--json", "--studies", "zarate06", "--n", "40", "--typical"])
    assert typical.exit_code == 0, typical.output
    t = json.loads(typical.stdout)
    assert t["draws"] == 0 and all(r["ppi90"] is None and r["within_ppi90"] is None for r in t["targets"])
    assert t["coverage"]["fit_set"]["targets"] == 0


def test_fewer_patients_than_draws_is_one_line_error(monkeypatch, capsys, tmp_path):
    from ketasim.interfaces.cli import main

    for argv, option in ((["trials", "--studies", "zarate06", "--n", "5", "--draws", "8"], "--n = 5"),
                         (["population", str(ROOT / "examples" / "induction-six.yaml"), "-n", "5", "--draws", "8",
                           "--out", str(tmp_path / "p")], "--patients = 5")):
        monkeypatch.setattr("sys.argv", ["ketasim", *argv])
        with pytest.raises(SystemExit) as exc:
            main()
        err = capsys.readouterr().err.strip()
        assert exc.value.code == 2 and len(err.splitlines()) == 1 and option in err and "per posterior draw" in err
    assert not (tmp_path / "p").exists()


def test_population_summary_carries_posterior_predictive_intervals(tmp_path):
    plan = ROOT / "examples" / "induction-six.yaml"
    out = CliRunner().invoke(app, ["population", str(plan), "-n", "60", "--draws", "6", "--out",
                                   str(tmp_path / "p"), "--no-figures"])
    assert out.exit_code == 0, out.output
    s = json.loads((tmp_path / "p" / "summary.json").read_text())
    assert s["uncertainty"]["draws"] == 6 and s["uncertainty"]["patients_per_draw"] == 10
    r = s["response_end_induction"]
    assert 0 <= r["ppi_low"] <= r["ppi_median"] <= r["ppi_high"] <= 1 and r["ppi_draws"] == 6
    assert s["mean_madrs"]["ppi_low"] <= s["mean_madrs"]["ppi_high"]
    typical = CliRunner().invoke(app, ["population", str(plan), "-n", "20", "--typical", "--out",
                                       str(tmp_path / "q"), "--no-figures"])
    assert typical.exit_code == 0, typical.output
    q = json.loads((tmp_path / "q" / "summary.json").read_text())
    assert q["uncertainty"]["draws"] == 0 and "ppi_low" not in q["response_end_induction"]
