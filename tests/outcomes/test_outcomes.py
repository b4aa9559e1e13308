"""Outcome definitions on hand-built score sequences, and the summary of a simulated patient."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ketasim.dosing.plan import Dose, OtherTreatment, Plan
from ketasim.errors import KetasimError
from ketasim.outcomes import (
    NO_RELAPSE,
    days_in_remission,
    days_to_relapse,
    mean_score,
    number_of_interventions,
    relapse_day,
    relapse_loss_of_response,
    relapse_sustain1,
    remission,
    response,
    summarize,
)
from ketasim.simulate import simulate


def test_response_and_remission():
    s = np.array([[33.0, 16.5, 17.0, 10.0], [30.0, 15.0, 12.0, 4.0]])
    assert response(s, [33.0, 30.0]).tolist() == [[False, True, False, True], [False, True, True, True]]
    assert response(np.array([16.5, 16.6]), 33.0).tolist() == [True, False]
    assert remission(s).tolist() == [[False, False, False, True], [False, False, False, True]]
    assert remission(s, threshold=12).tolist()[1] == [False, False, True, True]
    assert remission(np.array([4.9, 5.0]), scale="phq9").tolist() == [True, False]  # PHQ-9 < 5
    assert remission(np.array([5.0, 5.1]), scale="qids_sr16").tolist() == [True, False]  # QIDS <= 5
    with pytest.raises(KetasimError):
        response(s, [33.0, 0.0])


# --- SUSTAIN-1: MADRS >= 22 at two consecutive visits 5-15 days apart ---------------------

def test_sustain1_two_visits_seven_days_apart_counts():
    days = [0, 7, 14, 21, 28]
    assert relapse_sustain1(days, [8, 10, 23, 25, 12]) == 14.0
    assert relapse_sustain1(days, [8, 10, 23, 25, 12], at="second") == 21.0


def test_sustain1_four_days_apart_does_not_count():
    assert relapse_sustain1([0, 10, 14, 40], [8, 23, 24, 9]) == NO_RELAPSE


def test_sustain1_sixteen_days_apart_does_not_count():
    assert relapse_sustain1([0, 10, 26], [8, 23, 24]) == NO_RELAPSE


def test_sustain1_one_visit_does_not_count():
    assert relapse_sustain1([0, 7, 14, 21], [8, 30, 10, 9]) == NO_RELAPSE


def test_sustain1_only_after_after_day_and_vectorised():
    days = [0, 7, 14, 21, 28]
    s = np.array([[25, 25, 10, 10, 10], [25, 25, 10, 22, 22], [5, 5, 5, 5, 5]])
    r = relapse_sustain1(days, s, after_day=3)
    assert r.tolist() == [NO_RELAPSE, 21.0, NO_RELAPSE]
    assert days_to_relapse(days, s, after_day=3).tolist() == [np.inf, 18.0, np.inf]


# --- loss of response ------------------------------------------------------------------------

def test_loss_of_response_only_after_response():
    days = np.arange(6.0)
    never = [33, 20, 20, 25, 30, 33]  # never >= 50% below 33
    assert relapse_loss_of_response(days, never, 33.0) == NO_RELAPSE
    lost = [33, 20, 12, 15, 18, 20]  # response at day 2, lost at day 4 (18 > 16.5)
    assert relapse_loss_of_response(days, lost, 33.0) == 4.0
    assert relapse_loss_of_response(days, lost, 33.0, after_day=4.5) == 5.0
    # the first visit, before any response, never counts
    assert relapse_loss_of_response(days, [33, 10, 10, 10, 10, 10], 33.0) == NO_RELAPSE


def test_loss_of_response_consecutive_and_batch():
    days = np.arange(7.0)
    s = np.array([[33, 10, 20, 10, 20, 20, 10], [33, 10, 10, 10, 10, 10, 10]])
    assert relapse_loss_of_response(days, s, [33, 33]).tolist() == [2.0, NO_RELAPSE]
    assert relapse_loss_of_response(days, s, [33, 33], consecutive=2).tolist() == [4.0, NO_RELAPSE]
    assert relapse_day(days, s[0], definition="loss_of_response", baseline=33.0) == 2.0
    with pytest.raises(KetasimError):
        relapse_day(days, s[0], definition="loss_of_response")
    with pytest.raises(KetasimError):
        relapse_day(days, s[0], definition="hospitalisation")


def test_bad_visit_days_are_user_errors():
    with pytest.raises(KetasimError, match="days"):
        relapse_sustain1([0, 7, 7], [1, 2, 3])
    with pytest.raises(KetasimError, match="scores"):
        relapse_sustain1([0, 7, 14], [1, 2])


# --- time in remission ---------------------------------------------------------------------

def test_days_in_remission_piecewise_linear():
    days = [0.0, 10.0, 20.0, 30.0]
    # 30 -> 0 over 10 days crosses 10 at day 6.67; stays 0 until 20; 0 -> 20 crosses 10 at day 25
    s = [30.0, 0.0, 0.0, 20.0]
    assert days_in_remission(days, s) == pytest.approx(10 / 3 + 10 + 5)
    assert days_in_remission(days, s, start=10.0, end=20.0) == pytest.approx(10.0)
    assert days_in_remission(days, s, 0.0) == pytest.approx(10.0)  # flat at the inclusive bound counts
    assert days_in_remission(days, s, 0.0, scale="phq9") == pytest.approx(0.0)  # strict bound does not
    batch = days_in_remission(days, np.array([s, [5.0] * 4, [40.0] * 4]))
    assert batch.tolist() == pytest.approx([10 / 3 + 15, 30.0, 0.0])
    assert mean_score(days, [10.0, 20.0, 20.0, 10.0]) == pytest.approx(50 / 3)


def test_number_of_interventions():
    plan = Plan(doses=(Dose(0, 35), Dose(7, 35, phase="maintenance")), therapy_days=(1, 8, 15),
                treatments=(OtherTreatment("ect", session_days=(20, 22)), OtherTreatment("antidepressant")))
    n = number_of_interventions(plan)
    assert n == {"doses": 2, "induction_doses": 1, "maintenance_doses": 1, "therapy_sessions": 3,
                 "ect_sessions": 2, "tms_sessions": 0, "antidepressant_courses": 1, "total": 7}
    assert n["total"] == plan.n_interventions


# --- summary of a simulated patient ---------------------------------------------------------

def test_summarize_is_json_and_consistent():
    doses = tuple(Dose(day=d + 0.375, amount_mg=35.0, mg_per_kg=0.5) for d in (0, 2, 4, 7, 9, 11))
    plan = Plan(name="series", doses=doses, horizon_days=120, allow_off_label=True)
    tr = simulate(plan)
    s = summarize(tr)
    text = json.dumps(s, allow_nan=False)  # no NaN or inf anywhere
    assert "not a medical device" in s["disclaimer"]
    assert s["off_label"] is True and "outside published ranges" in s["off_label_note"]
    assert s["baseline_madrs"] == 33.0
    assert s["madrs_24h_after_first_dose"] == pytest.approx(tr.madrs_at_day(1.375), abs=0.01)
    assert s["max_drop_points"] == pytest.approx(33.0 - s["madrs_min"], abs=0.02)
    assert s["interventions"]["doses"] == 6
    for key in ("relapse_sustain1", "relapse_loss_of_response"):
        r = s[key]
        if r["relapsed"]:
            assert r["day"] > s["last_induction_dose_day"]
            assert r["days_after_last_induction_dose"] == pytest.approx(r["day"] - 11.375, abs=0.01)
        else:
            assert r["day"] is None
    assert 0.0 <= s["days_in_remission"] <= 120.0
    assert "NaN" not in text


def test_summarize_without_doses_uses_null():
    s = summarize(simulate(Plan(name="untreated", horizon_days=30)))
    json.dumps(s, allow_nan=False)
    assert s["madrs_24h_after_first_dose"] is None
    assert s["day1"]["response"] is None
    assert s["relapse_sustain1"]["day"] is None
    assert s["days_in_remission"] == 0.0
