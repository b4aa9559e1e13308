"""Many hypotheses about one patient, simulated in one batched call of the population engine.

A *particle* is one possible version of the patient: response parameters, PK factors,
untreated severity (baseline MADRS), chronic load, reactivity to life events and the fading
time of each recorded life event, responsiveness to placebo, and the population draw it comes
from (``world.py``). The individual posterior (``posterior.py``) weights particles
by how well they reproduce the patient's scores; forecasts continue them under a candidate plan.

:func:`simulate_particles` runs all particles through one plan with the population's batch
engine (``ketasim.engine.batch``: exact per-patient PK, all cores), one plan template per
distinct set of life-event fading times (the prior makes them discrete); a history with two drugs
gets a template with both PK systems (``mixed_drugs.py``). As in
``ketasim.population.run``, a chronic load that the recorded life events would push past the
baseline severity is lowered to leave the trait deficit non-negative; a particle whose life
events alone explain more than its baseline severity is marked invalid.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from ketasim.dosing.plan import Plan
from ketasim.engine.batch import BATCH_ATOL, BATCH_RTOL, baseline_state, integrate_batch, pack_templates
from ketasim.parameters import HOURS_PER_DAY, IDX
from ketasim.planning.mixed_drugs import template_for
from ketasim.population.patients import MAX_LOAD_SHARE


@dataclass
class Particles:
    """N hypotheses about one patient (row i of every array is particle i).

    ``event_amp`` and ``event_fade_days`` (N x E) give the load added by each recorded life
    event (the event's base amplitude times ``acute_load_scale``) and its fading time;
    ``latent`` (N x d) are the standard-normal coordinates the prior maps from (used for
    densities and jitter); ``draw`` the index of the population draw (``world.py``) and
    ``placebo_mult`` the placebo responsiveness ``m_i`` (``ketasim.symptoms.placebo``).
    """

    params: np.ndarray
    pk_cl: np.ndarray
    pk_v: np.ndarray
    pk_ka: np.ndarray
    baseline_madrs: np.ndarray
    chronic_load: np.ndarray
    acute_load_scale: np.ndarray
    event_amp: np.ndarray
    event_fade_days: np.ndarray
    latent: np.ndarray
    draw: np.ndarray
    placebo_mult: np.ndarray

    def __len__(self) -> int:
        return int(self.params.shape[0])

    def take(self, idx: np.ndarray) -> Particles:
        """The particles at ``idx`` (copies; duplicates allowed, as after resampling)."""
        return Particles(**{f.name: np.array(getattr(self, f.name)[idx]) for f in fields(self)})

    @staticmethod
    def concat(parts: list[Particles]) -> Particles:
        return Particles(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Particles)})

    @property
    def pk(self) -> np.ndarray:
        """PK factors (N x 3: clearance, volume, absorption rate)."""
        return np.column_stack([self.pk_cl, self.pk_v, self.pk_ka])


def _event_groups(plan: Plan, particles: Particles) -> tuple[list[Plan], np.ndarray]:
    """One plan per distinct row of fading times (event amplitudes: the base, before ``acute_load_scale``)."""
    ev = plan.patient.life_events
    if not ev:
        return [plan], np.zeros(len(particles), dtype=np.int64)
    fades = np.round(particles.event_fade_days[:, :len(ev)], 9)
    keys, tid = np.unique(fades, axis=0, return_inverse=True)
    plans = []
    for row in keys:
        events = tuple(replace(e, fade_days=float(f)) for e, f in zip(ev, row, strict=True))
        plans.append(replace(plan, patient=replace(plan.patient, life_events=events)))
    return plans, tid.ravel().astype(np.int64)


@dataclass
class ParticleRun:
    """MADRS of every particle at the requested days (NaN for invalid particles), and what the engine used."""

    madrs: np.ndarray
    valid: np.ndarray
    chronic_load: np.ndarray
    d_trait: np.ndarray
    y0: np.ndarray
    states: np.ndarray | None = None


def simulate_particles(plan: Plan, particles: Particles, out_days: np.ndarray, *, rtol: float = BATCH_RTOL,
                       atol: float = BATCH_ATOL, state_days: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Latent MADRS (N x T) of every particle at plan days ``out_days``, and the validity mask (N,).

    The plan's life events give the event days and base amplitudes; each particle's fading
    times and ``acute_load_scale`` are its own. ``particles.chronic_load`` is updated in place
    where the events force it lower (see the module docstring).
    """
    run = run_particles(plan, particles, out_days, rtol=rtol, atol=atol, state_days=state_days)
    particles.chronic_load = run.chronic_load
    return run.madrs, run.valid


def run_particles(plan: Plan, particles: Particles, out_days: np.ndarray, *, rtol: float = BATCH_RTOL,
                  atol: float = BATCH_ATOL, state_days: np.ndarray | None = None,
                  weight_kg: np.ndarray | None = None) -> ParticleRun:
    """:func:`simulate_particles` with the engine's inputs, and (``state_days``) the states on those days.

    ``weight_kg`` (one per particle) replaces the plan patient's weight (doses in mg/kg follow it).
    """
    out_days = np.asarray(out_days, dtype=float)
    n = len(particles)
    horizon = float(np.ceil(max(np.max(out_days, initial=0.0),
                                np.max(state_days, initial=0.0) if state_days is not None else 0.0) + 1e-6))
    if horizon > plan.horizon_days:
        plan = replace(plan, horizon_days=horizon)
    plans, tid = _event_groups(plan, particles)
    P = np.ascontiguousarray(particles.params)
    templates = pack_templates([template_for(p, P, outcome_t_h=out_days * HOURS_PER_DAY) for p in plans])
    acute = np.asarray(particles.acute_load_scale, dtype=float)
    chronic = np.array(particles.chronic_load, dtype=float)
    d_trait, load0, _ = baseline_state(templates, tid, P, particles.baseline_madrs, chronic, acute)
    if np.any(d_trait < 0):
        beta = np.maximum(P[:, IDX["beta"]], 1e-12)
        room = (d_trait + beta * load0) / beta  # the load that would make the trait deficit zero
        acute0 = load0 - chronic
        chronic = np.where(d_trait < 0, np.maximum(0.0, MAX_LOAD_SHARE * room - acute0), chronic)
        d_trait, load0, _ = baseline_state(templates, tid, P, particles.baseline_madrs, chronic, acute)
    valid = d_trait >= 0
    d_trait, _, y0 = baseline_state(templates, tid, P, particles.baseline_madrs, chronic, acute)
    madrs = np.full((n, out_days.size), np.nan)
    states = None
    grid_h = np.zeros(0) if state_days is None else np.asarray(state_days, dtype=float) * HOURS_PER_DAY
    from ketasim.dynamics import STATES

    outputs = ("madrs", *STATES) if state_days is not None else ("madrs",)
    if state_days is not None:
        states = np.full((n, grid_h.size, len(STATES)), np.nan)
    ok = np.flatnonzero(valid)
    if ok.size:
        weights = np.full(n, plan.patient.weight_kg) if weight_kg is None else np.asarray(weight_kg, dtype=float)
        res = integrate_batch(templates, tid[ok], P[ok], weight_kg=weights[ok],
                              pk_cl=particles.pk_cl[ok], pk_v=particles.pk_v[ok], pk_ka=particles.pk_ka[ok],
                              baseline_madrs=particles.baseline_madrs[ok], chronic_load=chronic[ok],
                              acute_load_scale=acute[ok], grid_h=grid_h, outputs=outputs, rtol=rtol, atol=atol)
        madrs[ok] = res.outcome_madrs[:, :out_days.size]
        if states is not None:
            states[ok] = res.grid[:, :, 1:]
    return ParticleRun(madrs=madrs, valid=valid, chronic_load=chronic, d_trait=d_trait, y0=y0, states=states)
