"""The batch engine agrees with the one-patient SciPy reference (rtol 1e-9) within 0.05 MADRS points
at every daily output, on random plans and random virtual patients (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from randomplans import plans_strategy, reference_madrs

from ketasim.dosing.plan import Dose, Patient, Plan
from ketasim.population import simulate_population

TOLERANCE_MADRS = 0.05


@pytest.mark.slow
@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(plan=plans_strategy(), seed=st.integers(0, 10_000))
def test_batch_engine_matches_reference_on_random_plans_and_patients(plan, seed):
    res = simulate_population(plan, 2, seed=seed, keep_trajectories=True)
    vp = res.patients
    days = res.days
    for i in range(2):
        ref = reference_madrs(plan, vp, i, days)
        fast = res.trajectory("madrs")[i].astype(float)
        assert np.all(np.isfinite(fast))
        err = np.max(np.abs(fast - ref))
        assert err < TOLERANCE_MADRS, f"patient {i}: max |MADRS - reference| = {err:.4f}"


@pytest.mark.slow
def test_batch_engine_matches_reference_over_weekly_maintenance():
    """Six infusions then weekly maintenance for 120 days, three sampled patients."""
    doses = [Dose(day=d + 0.375, amount_mg=35.0, mg_per_kg=0.5) for d in (0, 2, 4, 7, 9, 11)]
    doses += [Dose(day=d + 0.375, amount_mg=35.0, mg_per_kg=0.5, phase="maintenance") for d in range(18, 120, 7)]
    plan = Plan(name="weekly", patient=Patient(), doses=tuple(doses), horizon_days=120)
    res = simulate_population(plan, 3, seed=11, keep_trajectories=True)
    for i in range(3):
        ref = reference_madrs(plan, res.patients, i, res.days)
        assert np.max(np.abs(res.trajectory("madrs")[i] - ref)) < TOLERANCE_MADRS
