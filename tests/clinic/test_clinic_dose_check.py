"""The clinic's one call of the dose-limit validator."""

from __future__ import annotations

import pytest

from ketasim.clinic.db import ClinicError
from ketasim.clinic.dose_check import check_session_dose

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
