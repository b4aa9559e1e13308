"""The compiled engine agrees with the SciPy reference on the same equations."""

from __future__ import annotations

import numpy as np

from ketasim.simulate import simulate


def test_fast_engine_matches_reference_single_infusion(single_infusion):
    fast = simulate(single_infusion)
    ref = simulate(single_infusion, method="reference")
    assert np.max(np.abs(fast.table["madrs"] - ref.table["madrs"])) < 0.01
    assert np.allclose(fast.table["N"], ref.table["N"], atol=1e-5)


def test_fast_engine_matches_reference_with_every_kind_of_input():
    """Life events during the plan, therapy, lifestyle, an antidepressant and ECT sessions."""
    from ketasim.dosing.plan import Dose, LifeEvent, LifestylePeriod, OtherTreatment, Patient, Plan

    plan = Plan(
        "mixed",
        Patient(chronic_load=0.3, life_events=(LifeEvent(-10, 0.4, 45), LifeEvent(20, 0.6, 30, "job loss"))),
        tuple(Dose(day=d + 0.375, amount_mg=35.0, mg_per_kg=0.5) for d in (0, 2, 4, 7, 9, 11, 25)),
        therapy_days=(3.0, 10.0, 17.0, 24.0),
        lifestyle=(LifestylePeriod(5, 40, 0.7),),
        treatments=(OtherTreatment("antidepressant", start_day=-30, end_day=35),
                    OtherTreatment("ect", session_days=(45.0, 47.0, 49.0))),
        horizon_days=70,
    )
    fast = simulate(plan)
    ref = simulate(plan, method="reference")
    assert np.max(np.abs(fast.table["madrs"] - ref.table["madrs"])) < 0.01
    assert np.allclose(fast.table[["C", "S", "E", "A"]], ref.table[["C", "S", "E", "A"]], atol=1e-5)
