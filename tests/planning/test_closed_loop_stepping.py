"""Stepping visit by visit reproduces the one-patient simulation of the same doses and sessions."""

from __future__ import annotations

import numpy as np

from ketasim.dosing.plan import Dose, LifeEvent, Patient, Plan
from ketasim.engine.compile import PKVariability
from ketasim.planning.particles import run_particles
from ketasim.planning.prior import PopulationPrior
from ketasim.planning.stepping import advance, dose_templates
from ketasim.simulate import simulate


def test_advance_matches_simulate() -> None:
    prior = PopulationPrior()
    parts = prior.transform(prior.sample_latent(3, 1, np.random.default_rng(5)), 1, [(0.5, None)])
    parts.chronic_load[:] = 0.3
    parts.acute_load_scale[:] = 1.0
    parts.event_amp[:] = 0.5
    w = 75.0
    visits = [0, 2, 4, 7, 14, 21, 28]
    dosed = [True, True, True, True, False, True, False]
    therapy = [False, False, True, False, True, True, False]
    plan = Plan(patient=Patient(weight_kg=w, life_events=(LifeEvent(day=10.0, amplitude=0.5, fade_days=40.0),)),
                doses=tuple(Dose(day=v + 10 / 24, amount_mg=0.5 * w) for v, d in zip(visits, dosed, strict=True) if d),
                therapy_days=tuple(v + 14 / 24 for v, t in zip(visits, therapy, strict=True) if t), horizon_days=35.0)
    run = run_particles(plan, parts, np.array([1.0]))
    pk = parts.pk
    tmpl = dose_templates(parts.params, np.full(3, w), pk)
    Y = run.y0.copy()
    ev_t = np.full((3, 1), 10.0 * 24.0)
    ev_tau = parts.event_fade_days * 24.0
    prev = np.full(3, -np.inf)
    got = []
    for k, v in enumerate(visits):
        nxt = visits[k + 1] if k + 1 < len(visits) else 35
        start = v * 24.0
        out_rel = np.arange(0.0, (nxt - v) * 24.0 + 1e-9, 24.0)
        res = advance(Y, parts.params, start, out_rel, np.full(3, dosed[k]), np.full(3, therapy[k]), tmpl,
                      run.chronic_load, ev_t, parts.event_amp, ev_tau, run.d_trait, prev_dose_h=prev,
                      dose_offset_h=10.0,
                      therapy_offset_h=14.0, rtol=1e-8, atol=1e-10)
        got.append(res[:, :-1])
        Y = res[:, -1].copy()
        if dosed[k]:
            prev[:] = start + 10.0
    states = np.concatenate(got, axis=1)
    days = np.arange(0.0, 35.0)
    for i in range(3):
        p = Patient(weight_kg=w, baseline_madrs=float(parts.baseline_madrs[i]), chronic_load=0.3,
                    life_events=(LifeEvent(day=10.0, amplitude=0.5, fade_days=float(parts.event_fade_days[i, 0])),))
        tr = simulate(Plan(**{**plan.__dict__, "patient": p}), parts.params[i], times_h=days * 24.0,
                      pk_variability=PKVariability(*pk[i]), rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(states[i, :, 4], tr.table["M"].to_numpy(), atol=1e-5)
        np.testing.assert_allclose(states[i, :, 3], tr.table["N"].to_numpy(), atol=1e-5)
        np.testing.assert_allclose(states[i, :, 5], tr.table["C"].to_numpy(), atol=1e-5)
