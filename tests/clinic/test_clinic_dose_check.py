"""The clinic's one call of the dose-limit validator."""

from __future__ import annotations

import datetime as dt

import pytest

from ketasim.clinic.db import ClinicError
from ketasim.clinic.dose_check import EarlierSession, check_session_dose

BASE = {"route": "iv", "drug": "racemic", "dose_mg_per_kg": None, "weight_kg": 70.0, "infusion_minutes": 40.0,
        "on_antidepressant": False, "allow_off_label": False}


def check(**over):
    return check_session_dose(**{**BASE, "dose_mg": 35.0, **over})


def test_published_dose_passes():
    r = check()
    assert r.dose_mg == 35 and r.dose_mg_per_kg == 0.5 and not r.off_label


def test_off_label_refused_unless_flagged_and_then_recorded():
    with pytest.raises(ClinicError, match="0.1-1.0 mg/kg") as exc:
        check(dose_mg=105.0)
    assert exc.value.field == "dose_mg"
    r = check(dose_mg=105.0, allow_off_label=True)
    assert r.off_label and any("mg/kg" in x for x in r.off_label_reasons)
    with pytest.raises(ClinicError, match="infusion_minutes"):
        check(infusion_minutes=200.0)


def test_hard_limits_never_lifted():
    with pytest.raises(ClinicError, match="never lifted"):
        check(dose_mg=800.0, allow_off_label=True)
    with pytest.raises(ClinicError, match="28 mg"):
        check(route="intranasal", drug="esketamine", dose_mg=50.0, infusion_minutes=None, allow_off_label=True)
    with pytest.raises(ClinicError, match="weight_kg"):
        check(weight_kg=20.0, allow_off_label=True)


def test_esketamine_label_needs_an_antidepressant():
    ok = check(route="intranasal", drug="esketamine", dose_mg=56.0, infusion_minutes=None, on_antidepressant=True)
    assert not ok.off_label
    with pytest.raises(ClinicError, match="antidepressant"):
        check(route="intranasal", drug="esketamine", dose_mg=56.0, infusion_minutes=None)


def test_mg_and_mg_per_kg_must_agree():
    assert check(dose_mg=None, dose_mg_per_kg=0.5).dose_mg == 35
    assert check(dose_mg=35.2, dose_mg_per_kg=0.5).dose_mg == 35.2
    with pytest.raises(ClinicError, match="agree within 1%"):
        check(dose_mg=40.0, dose_mg_per_kg=0.5)
    with pytest.raises(ClinicError, match="route"):
        check(route="rectal")


AT = dt.datetime(2025, 3, 10, 9, 0)  # a Monday, clinic time


def before(days: float, dose_mg: float = 35.0, minutes: float = 40.0) -> EarlierSession:
    return EarlierSession(at=AT - dt.timedelta(days=days), route="iv", drug="racemic", dose_mg=dose_mg,
                          infusion_minutes=minutes)


def test_the_sessions_of_the_previous_7_days_count():
    two = [before(2), before(4)]
    assert not check(at=AT, earlier=two).off_label  # the third IV infusion in 7 days: published
    three = [*two, before(6)]
    with pytest.raises(ClinicError, match=r"at most 3 .*in any 7 days.*number 4") as exc:
        check(at=AT, earlier=three)
    assert exc.value.field == "given_at"
    flagged = check(at=AT, earlier=three, allow_off_label=True)
    assert flagged.off_label and any("7 days" in r for r in flagged.off_label_reasons)
    assert not check(at=AT, earlier=[*two, before(7)]).off_label  # 7 calendar days before: outside the window
    with pytest.raises(ClinicError, match=r"at most 1 .*a day"):
        check(at=AT, earlier=[before(0.25)])  # earlier the same day
    # an earlier session still running is a hard clash, named by its date and time
    with pytest.raises(ClinicError, match=r"never lifted") as exc:
        check(at=AT, earlier=[before(10 / 1440, minutes=40.0)], allow_off_label=True)
    assert "the session of 2025-03-10 08:50" in str(exc.value)
    # an earlier session that was itself off-label (recorded with the flag) does not make this one off-label
    assert not check(at=AT, earlier=[before(3, dose_mg=105.0)]).off_label
    # sessions after this one do not count (the previous 7 days only)
    assert not check(at=AT, earlier=[*three[:2], before(-1)]).off_label
