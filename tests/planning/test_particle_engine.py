"""The particle runs (population batch engine, per-particle events) reproduce the one-patient simulator."""

from __future__ import annotations

import numpy as np

from ketasim.dosing.plan import Dose, LifeEvent, OtherTreatment, Patient, Plan
from ketasim.engine.compile import PKVariability
from ketasim.planning.particles import simulate_particles
from ketasim.planning.prior import PopulationPrior
from ketasim.simulate import simulate


def test_particles_match_simulate_each() -> None:
    prior = PopulationPrior()
    rng = np.random.default_rng(3)
    parts = prior.transform(prior.sample_latent(4, 1, rng), 1, [(0.4, None)])
    base = 0.4
    plan = Plan(patient=Patient(weight_kg=82.0, life_events=(LifeEvent(day=-20.0, amplitude=base, fade_days=60.0),)),
                doses=tuple(Dose(day=d + 0.4, amount_mg=41.0) for d in (0, 2, 4, 7, 9, 11, 30)),
                therapy_days=(5.6, 12.6, 19.6), treatments=(OtherTreatment("antidepressant", start_day=-30.0),),
                horizon_days=60.0)
    days = np.arange(0.0, 60.0, 0.5) + 0.1
    m, valid = simulate_particles(plan, parts, days)
    assert valid.all()
    assert len(np.unique(parts.event_fade_days[:, 0])) > 1
    for i in range(4):
        ev = LifeEvent(day=-20.0, amplitude=float(parts.event_amp[i, 0]), fade_days=float(parts.event_fade_days[i, 0]))
        p = Patient(weight_kg=82.0, baseline_madrs=float(parts.baseline_madrs[i]),
                    chronic_load=float(parts.chronic_load[i]), life_events=(ev,))
        tr = simulate(Plan(**{**plan.__dict__, "patient": p}), parts.params[i], times_h=days * 24.0,
                      pk_variability=PKVariability(*parts.pk[i]), method="reference")
        np.testing.assert_allclose(m[i], tr.table["madrs"].to_numpy(), atol=0.05)
