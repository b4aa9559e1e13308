"""Shared fixtures: small plans that every layer's tests use."""

from __future__ import annotations

import pytest

from ketasim.dosing.plan import Dose, Patient, Plan


@pytest.fixture
def single_infusion() -> Plan:
    """0.5 mg/kg racemic ketamine over 40 min at 09:00 on day 0, 70 kg, followed for 28 days."""
    return Plan(name="single", patient=Patient(), doses=(Dose(day=0.375, amount_mg=35.0, mg_per_kg=0.5),),
                horizon_days=28)
