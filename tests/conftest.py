"""Shared fixtures: small plans that every layer's tests use."""

from __future__ import annotations

import pytest

from ketasim.dosing.plan import Dose, Patient, Plan


@pytest.fixture(scope="module")
def declared_parameters():
    """The response parameters at their declared values (the shipped calibration not applied), for tests of
    the model's mechanism as designed. The shipped posterior, fitted to the evidence base, is tested in
    tests/trials/test_trials_shipped.py and tests/evidence; whether the evidence supports the seed text's
    claims is a question for the posterior (``ketasim.evidence.predictive.claim_probabilities``)."""
    import ketasim.parameters as P

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(P, "_load_calibrated", lambda: {})
        yield


@pytest.fixture
def single_infusion() -> Plan:
    """0.5 mg/kg racemic ketamine over 40 min at 09:00 on day 0, 70 kg, followed for 28 days."""
    return Plan(name="single", patient=Patient(), doses=(Dose(day=0.375, amount_mg=35.0, mg_per_kg=0.5),),
                horizon_days=28)
