"""What a clinician reads: hand-written histories (PHQ-9 only, mixed scales, mixed drugs), the relapse rule on each
scale, the recommendation's sentences against its JSON, the schema, the intervals table."""

from __future__ import annotations

import datetime as dt
import json
from importlib import resources
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from typer.testing import CliRunner

from ketasim.errors import PlanError
from ketasim.interfaces.cli import app
from ketasim.planning.forecast import advice_sentences, forecast
from ketasim.planning.history import PatientHistory, read_history
from ketasim.planning.relapse_rule import DEFAULT_RULE, RelapseRule, assess_relapse

SCHEMA = json.loads(resources.files("ketasim").joinpath("data", "recommendation.schema.json").read_text())
INDUCTION = "".join(f"2025-01-{d:02d} 10:00,dose,,,iv,35,40,,,,,,\n" for d in (6, 8, 10, 13, 15, 17))


def phq9_history(tmp_path: Path, name: str, scores: list[tuple[str, int]], extra: str = "") -> PatientHistory:
    """A PHQ-9-only history as a clinic would type it: induction of six infusions, then the given scores."""
    rows = "date,kind,scale,value,route,dose_mg,duration_min,note,weight_kg,age,drug,fade_days,treatment\n"
    rows += "2025-01-06 09:00,score,PHQ-9,19,,,,,70,45,,,\n" + INDUCTION + extra
    rows += "".join(f"{d} 09:00,score,PHQ-9,{v},,,,,,,,,\n" for d, v in scores)
    f = tmp_path / f"{name}.csv"
    f.write_text(rows)
    return read_history(f)


def run_fc(h: PatientHistory, **kw):
    kw.setdefault("n_particles", 600)
    kw.setdefault("n_forecast", 400)
    return forecast(h, seed=2, **kw)


def check_consistent(rec: dict) -> None:
    """The sentences are those of the JSON fields; no sentence contradicts a number."""
    jsonschema.validate(rec, SCHEMA)
    s = advice_sentences(rec)
    assert rec["headline"] == s["headline"] and rec["next_session_advice"] == s["advice"]
    assert rec["interval_advice"] == s["intervals"]
    for t in rec["interval_tradeoff"]:
        assert f"every {t['interval_days']} days" == t["best"]
    assert rec["scale"] in rec["headline"]
    risks = [r["p_relapse_no_further_dose"] for r in rec["relapse_risk_by_date"]]
    if rec["already_meets_relapse_definition"]:
        assert "already meet" in rec["headline"] and all(p == 1.0 for p in risks)
        assert rec["bridge_probability"] == 0.0
    else:
        assert "already meet" not in rec["headline"]
        if rec["next_session_date"] is None:
            assert max(risks) <= rec["risk_threshold"]
        elif "as soon as possible" in rec["next_session_advice"]:
            assert rec["p_relapse_by_next_session_date"] > rec["risk_threshold"] or (
                rec["next_session_date"] <= rec["today"])
        else:
            assert rec["p_relapse_by_next_session_date"] <= rec["risk_threshold"]
            assert rec["next_session_date"] in rec["next_session_advice"]
    lo, hi = rec["last_observed"]["band_80"]
    v = rec["last_observed"]["value"]
    assert rec["last_observed"]["position"] == ("inside" if lo <= v <= hi else "above" if v > hi else "below")
    assert rec["last_observed"]["position"] in rec["last_observed"]["note"]
    assert "not medical advice" in rec["disclaimer"]


def test_relapse_rule_per_scale() -> None:
    # MADRS 22 carried through the project's linking (documented in relapse_rule.py)
    assert DEFAULT_RULE.cutoff("madrs") == 22
    assert DEFAULT_RULE.cutoff("phq9") == 14 and DEFAULT_RULE.cutoff("qids_sr16") == 14
    assert DEFAULT_RULE.cutoff("hdrs17") == 17
    assert "PHQ-9 of 14 or more" in DEFAULT_RULE.describe("phq9") and "5-15 days" in DEFAULT_RULE.describe("phq9")
    strict = RelapseRule(madrs_threshold=30.0)
    assert strict.cutoff("phq9") > DEFAULT_RULE.cutoff("phq9")
    with pytest.raises(PlanError, match="visit_every_days"):
        RelapseRule(visit_every_days=20)
    with pytest.raises(PlanError, match="threshold"):
        RelapseRule(madrs_threshold=-1.0)


def test_relapse_assessment_mixed_scales(tmp_path: Path) -> None:
    # MADRS 27 at the clinic then PHQ-9 15 at home a week later: both at their scale's relapse level
    extra = "2025-02-10 09:00,score,MADRS,27,,,,,,,,,\n"
    h = phq9_history(tmp_path, "mixed", [("2025-01-20", 5), ("2025-02-17", 15)], extra=extra)
    a = assess_relapse(h)
    assert a.met and a.scale == "phq9" and [v[1] for v in a.pair] == ["MADRS", "PHQ-9"]
    h2 = phq9_history(tmp_path, "mixed2", [("2025-01-20", 5), ("2025-02-17", 12)], extra=extra)
    assert not assess_relapse(h2).met  # PHQ-9 12 is below 14
    fc = run_fc(h2, intervals=None)
    rec = fc.recommendation()
    check_consistent(rec)
    assert any("mixes scales" in w for w in rec["warnings"])


@pytest.mark.parametrize("case", ["relapsed", "remitted", "in_between"])
def test_phq9_history_by_hand(tmp_path: Path, case: str) -> None:
    scores = {"relapsed": [("2025-01-20", 6), ("2025-02-03", 16), ("2025-02-10", 18)],
              "remitted": [("2025-01-20", 4), ("2025-01-27", 3), ("2025-02-03", 3), ("2025-02-10", 2)],
              "in_between": [("2025-01-20", 6), ("2025-02-03", 9), ("2025-02-10", 15)]}[case]
    h = phq9_history(tmp_path, case, scores)
    fc = run_fc(h, intervals=(7, 28))
    rec = fc.recommendation()
    check_consistent(rec)
    assert rec["scale"] == "PHQ-9" and rec["headline"].startswith(
        "The last two visits" if case == "relapsed" else "PHQ-9 now about")
    assert rec["already_meets_relapse_definition"] == (case == "relapsed")
    p = np.array([r["p_relapse_no_further_dose"] for r in rec["relapse_risk_by_date"]])
    if case == "remitted":
        assert p[0] < 0.5 and rec["bridge_probability"] > 0.0
    if case == "in_between":
        # at the relapse level today: one more visit at that level is a relapse, so the risk is high early
        assert 0.0 < p[1] < 1.0 and p[1] >= p[0]
    rows = rec["intervals"]
    assert [r["interval_days"] for r in rows] == [7, 28] and rows[0]["sessions_per_year"] == 52
    for r in rows:
        for key in ("days_in_remission", "relapses"):
            assert 0 <= r[key]["q10"] <= r[key]["q90"]  # (a skewed outcome's mean may lie outside its 80% range)
        assert 0 <= r["days_in_remission"]["mean"] <= 364
    # the trade-off: a dearer session never picks a shorter interval
    picks = [t["interval_days"] for t in rec["interval_tradeoff"]]
    assert picks == sorted(picks) and rec["interval_tradeoff"][0]["lambda"] == 0.0
    assert f"every {picks[2]} days" in rec["interval_advice"]


def test_mixed_routes_history(tmp_path: Path) -> None:
    # IV racemic ketamine induction, then esketamine nasal spray at home: both drugs drive the forecast
    spray = "2025-01-06 08:00,treatment,,,,,,,,,,,antidepressant\n"  # esketamine is labelled with one
    spray += "".join(f"2025-02-{d:02d} 10:00,dose,,,intranasal,56,,,,,esketamine,,\n" for d in (3, 10))
    base = [("2025-01-20", 6), ("2025-01-27", 9), ("2025-02-17", 8)]
    h_both = phq9_history(tmp_path, "both", base, extra=spray)
    h_iv = phq9_history(tmp_path, "iv", base, extra=spray.splitlines(keepends=True)[0])
    assert {d.drug for d in h_both.doses()} == {"racemic", "esketamine"}
    rec = run_fc(h_both, intervals=None).recommendation()
    check_consistent(rec)
    from ketasim.planning.particles import simulate_particles
    from ketasim.planning.posterior import history_plan, prior_for

    prior = prior_for(h_both)
    parts = prior.transform(prior.sample_latent(50, 0, np.random.default_rng(0)), 0)
    days = np.array([27.4, 35.4, 42.4])
    m_both, ok = simulate_particles(history_plan(h_both), parts.take(np.arange(50)), days)
    m_iv, _ = simulate_particles(history_plan(h_iv), parts.take(np.arange(50)), days)
    assert ok.all() and np.isfinite(m_both).all()
    assert np.mean(m_both[:, 1] < m_iv[:, 1] - 1e-6) > 0.9  # the sprays lower the course of nearly every particle


def test_forecast_reports_draws_and_particles(tmp_path: Path) -> None:
    h = phq9_history(tmp_path, "d", [("2025-01-20", 6), ("2025-01-27", 7)])
    rec = run_fc(h, intervals=None).recommendation()
    post = rec["posterior"]
    assert post["population_draws"] == 100 and 1 <= post["draws_represented"] <= 100
    assert post["particles_forecast"] * post["paths_per_particle"] >= 1000
    assert "draws of the posterior" in post["prior"]


@pytest.mark.slow
def test_forecast_cli_phq9_history_writes_intervals(tmp_path: Path) -> None:
    h = phq9_history(tmp_path, "cli", [("2025-01-20", 5), ("2025-01-27", 6), ("2025-02-03", 8)])
    del h
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["forecast", str(tmp_path / "cli.csv"), "--out", str(out), "--particles", "600"])
    assert res.exit_code == 0, res.output
    rec = json.loads((out / "recommendation.json").read_text())
    check_consistent(rec)
    assert rec["headline"] in " ".join(res.output.split())
    import pandas as pd

    table = pd.read_csv(out / "intervals.csv")
    assert list(table.interval_days) == [7, 14, 21, 28, 35, 42]
    assert {"days_in_remission_mean", "days_in_remission_q10", "relapses_q90", "sessions_per_year"} <= set(table)
    assert (out / "intervals.png").stat().st_size > 0
    assert dt.date.fromisoformat(rec["today"]) == dt.date(2025, 2, 3)
