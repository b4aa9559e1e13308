"""Shapley explanations: efficiency, agreement with simulate(), the pruning knock-out, sentences."""

from __future__ import annotations

import datetime as dt
import json
import re

import numpy as np
import pytest

from ketasim.dosing.plan import Dose, LifestylePeriod, Plan
from ketasim.errors import KetasimError
from ketasim.explain import (
    GainExplanation,
    LossExplanation,
    explain_gain,
    explain_loss,
    plot_explanation,
    sentences,
    shapley_values,
)
from ketasim.outcomes import summarize
from ketasim.simulate import simulate

SERIES_DAYS = (0, 2, 4, 7, 9, 11)  # Mon-Wed-Fri over 12 days (Murrough 2013b)


def _induction(name: str = "induction", horizon: float = 90.0, **kw) -> Plan:
    doses = tuple(Dose(day=d + 0.375, amount_mg=35.0, mg_per_kg=0.5) for d in SERIES_DAYS)
    return Plan(name=name, doses=doses, horizon_days=horizon, **kw)


# explanations of the mechanism as designed (declared values; see tests/conftest.py: declared_parameters)
pytestmark = pytest.mark.usefixtures("declared_parameters")


@pytest.fixture(scope="module")
def induction_plan(declared_parameters) -> Plan:
    return _induction()


@pytest.fixture(scope="module")
def loss(induction_plan) -> LossExplanation:
    return explain_loss(induction_plan, date2=40.0)


@pytest.fixture(scope="module")
def sustained_plan(declared_parameters) -> Plan:
    maint = tuple(Dose(day=d + 0.375, amount_mg=35.0, mg_per_kg=0.5, phase="maintenance") for d in range(25, 120, 14))
    base = _induction("sustained", horizon=120.0)
    return Plan(name="sustained", doses=base.doses + maint, horizon_days=120.0,
                therapy_days=tuple(float(d) for d in range(14, 84, 7)),
                lifestyle=(LifestylePeriod(20.0, 120.0, 0.7),))


def test_shapley_values_on_a_known_game():
    # v = 1 if both a and b are in the coalition (pure interaction): split equally; c is a dummy
    v = {s: float({"a", "b"} <= s) for s in map(frozenset, [(), ("a",), ("b",), ("c",), ("a", "b"), ("a", "c"),
                                                              ("b", "c"), ("a", "b", "c")])}
    phi = shapley_values(["a", "b", "c"], v)
    assert phi == pytest.approx({"a": 0.5, "b": 0.5, "c": 0.0})
    additive = shapley_values(["x", "y"], lambda s: 2.0 * ("x" in s) + 5.0 * ("y" in s))
    assert additive == pytest.approx({"x": 2.0, "y": 5.0})


def test_loss_efficiency_and_defaults(loss, induction_plan):
    # Shapley values add up to v(all) - v(none); the residual is v(none)
    assert sum(loss.shapley.values()) == pytest.approx(loss.total_loss - loss.residual, abs=1e-9)
    assert loss.values["pruning+homeostasis+tolerance+load"] == pytest.approx(loss.total_loss)
    assert loss.values["none"] == pytest.approx(loss.residual)
    assert len(loss.values) == 16
    assert loss.day1 == pytest.approx(11.375 + 1.0)  # 24 h after the last induction dose
    assert loss.total_loss > 5.0  # the benefit of an induction series fades within four weeks
    # the state at date1 is the same in every run
    i1 = int(np.searchsorted(loss.curve_days, loss.day1))
    at_date1 = [c[i1] for c in loss.curves.values()]
    assert np.ptp(at_date1) < 1e-9


def test_fast_runs_match_simulate_with_switches(loss, induction_plan):
    tr = simulate(induction_plan, switches={"homeostasis": False, "load": False}, switch_from_day=loss.day1)
    v = tr.madrs_at_day(loss.day2) - tr.madrs_at_day(loss.day1)
    assert loss.values["pruning+tolerance"] == pytest.approx(v, abs=0.02)


def test_pruning_knockout_makes_the_benefit_last_longer(loss):
    with_pruning = loss.curves["all on"]
    without = loss.curves["without pruning"]
    after = loss.curve_days > loss.day1 + 3
    assert without[-1] < with_pruning[-1] - 0.5
    assert np.all(without[after] <= with_pruning[after] + 1e-9)
    assert loss.shapley["pruning"] > 0.5


def test_tolerance_plays_no_part_without_doses_in_the_window(loss):
    assert abs(loss.shapley["tolerance"]) < 0.05


def test_dates_as_calendar_dates_and_errors(induction_plan):
    e = explain_loss(induction_plan, dt.date(2025, 1, 20), "2025-02-10")
    assert (e.day1, e.day2) == (14.0, 35.0)
    with pytest.raises(KetasimError, match="date2"):
        explain_loss(induction_plan, 20.0, 10.0)
    with pytest.raises(KetasimError, match="date1"):
        explain_loss(induction_plan, "2030-01-01")
    with pytest.raises(KetasimError, match="date1"):
        explain_loss(induction_plan, "next tuesday")


def test_loss_sentences_contain_the_numbers(loss):
    text = sentences(loss)
    joined = " ".join(text)
    assert f"{loss.total_loss:.1f} MADRS points of benefit lost" in joined
    for m, v in loss.shapley.items():
        if v >= 0.05:
            pct = 100.0 * v / loss.gross_rise
            assert f"{v:.1f} ({pct:.0f}%)" in joined, m
    assert "pruning of new synapses" in joined
    assert "not a medical device" in text[-1]
    d = json.loads(json.dumps(loss.to_dict(), allow_nan=False))
    assert d["total_loss_points"] == pytest.approx(loss.total_loss, abs=0.01)
    assert d["sentences"] == text


def test_loss_with_maintenance_reports_pushes_and_pulls(sustained_plan):
    e = explain_loss(sustained_plan, date2=100.0)
    assert sum(e.shapley.values()) + e.residual == pytest.approx(e.total_loss, abs=1e-9)
    joined = " ".join(sentences(e))
    # numbers in sentences are the explanation's numbers
    assert f"{e.madrs1:.1f}" in joined and f"{e.madrs2:.1f}" in joined


def test_gain_efficiency_and_consistency_with_summary(sustained_plan):
    g = explain_gain(sustained_plan)
    assert g.strategies == ("therapy", "lifestyle", "maintenance")
    assert len(g.values) == 8
    for name, mg in g.metrics.items():
        assert sum(mg.gain.values()) == pytest.approx(mg.total_gain, abs=1e-9), name
    s = summarize(simulate(sustained_plan))
    assert g.metrics["days_in_remission"].with_all == pytest.approx(s["days_in_remission"], abs=0.06)
    assert g.metrics["mean_madrs"].with_all == pytest.approx(s["mean_madrs"], abs=0.006)
    # maintenance doses keep the benefit: a positive gain on both metrics
    assert g.metrics["days_in_remission"].gain["maintenance"] > 0
    assert g.metrics["mean_madrs"].gain["maintenance"] > 0
    text = sentences(g)
    joined = " ".join(text)
    for s_ in g.strategies:
        assert f"{abs(g.metrics['days_in_remission'].gain[s_]):.1f} days in remission" in joined
    assert re.search(r"Maintenance doses \(7\) add", joined)
    json.dumps(g.to_dict(), allow_nan=False)


def test_gain_without_strategies(induction_plan):
    g = explain_gain(induction_plan)
    assert isinstance(g, GainExplanation) and g.strategies == ()
    assert "no sustaining strategy" in sentences(g)[0]
    with pytest.raises(KetasimError, match="metric"):
        explain_gain(induction_plan, metrics=("happiness",))


def test_off_label_note_and_plot(tmp_path):
    plan = _induction("off label", horizon=40.0, allow_off_label=True)
    e = explain_loss(plan)
    assert any("outside published ranges" in s for s in sentences(e))
    assert e.to_dict()["off_label"] is True
    path = tmp_path / "loss.png"
    plot_explanation(e, path)
    assert path.stat().st_size > 10_000
