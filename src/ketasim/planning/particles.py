"""Many hypotheses about one patient, simulated in one batched, compiled call.

A *particle* is one possible version of the patient: response parameters, PK factors,
untreated severity (baseline MADRS), chronic load and the size and fading time of each
recorded life event. The individual posterior (``posterior.py``) weights particles by how
well they reproduce the patient's scores; forecasts continue them under a candidate plan.

Speed: every particle shares the plan (doses, sessions, events), so the plan is compiled once
per PK *cluster* (particles' PK factors are snapped to ``n_pk_clusters`` representative
triples, a discrete approximation of the PK variability) and the per-particle parts (potency
row, trait deficit, initial state, load) are computed vectorised. The response states of all
particles are then integrated by ``ketasim.engine.integrate.integrate_one`` in one
``numba.prange`` loop.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numba
import numpy as np

from ketasim.dosing.plan import Plan
from ketasim.dynamics import ALL_ON, N_STATES, SA, SG, SM, SN
from ketasim.engine.compile import CompiledPlan, PKVariability, compile_plan
from ketasim.engine.integrate import integrate_one
from ketasim.errors import SimulationError
from ketasim.parameters import HOURS_PER_DAY, IDX
from ketasim.receptor.occupancy import potency_row
from ketasim.symptoms.madrs import madrs, trait_deficit

FAST_RTOL, FAST_ATOL = 1e-5, 1e-8
_RECEPTOR = ("fu", "ki_s_ketamine", "ki_r_ketamine", "ki_s_norketamine", "ki_r_norketamine")


@dataclass
class Particles:
    """N hypotheses about one patient (row i of every array is particle i).

    ``event_amp`` and ``event_fade_days`` (N x E) give the load added by each recorded life
    event and its fading time; ``latent`` (N x d) are the standard-normal coordinates the
    prior maps from (used for densities and jitter); ``pk_cluster`` indexes ``pk_centres``.
    """

    params: np.ndarray
    pk_cl: np.ndarray
    pk_v: np.ndarray
    pk_ka: np.ndarray
    baseline_madrs: np.ndarray
    chronic_load: np.ndarray
    event_amp: np.ndarray
    event_fade_days: np.ndarray
    latent: np.ndarray

    def __len__(self) -> int:
        return int(self.params.shape[0])

    def take(self, idx: np.ndarray) -> Particles:
        """The particles at ``idx`` (copies; duplicates allowed, as after resampling)."""
        return Particles(**{f.name: np.array(getattr(self, f.name)[idx]) for f in fields(self)})

    @staticmethod
    def concat(parts: list[Particles]) -> Particles:
        return Particles(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Particles)})


@numba.njit(parallel=True, cache=True)
def _integrate_batch(params, seg_t, lam, c0, c1, seg_life, seg_ad, jump_S, jump_E, chronic, ev_t, ev_amp,
                     ev_tau, d_trait, switches, t_switch, y0, out_t, rtol, atol, out, steps):
    for i in numba.prange(params.shape[0]):
        steps[i] = integrate_one(params[i], seg_t, lam[i], c0[i], c1[i], seg_life, seg_ad, jump_S, jump_E[i],
                                 chronic[i], ev_t, ev_amp[i], ev_tau[i], d_trait[i], switches, t_switch, y0[i],
                                 out_t, rtol, atol, out[i])


@dataclass
class BatchPlan:
    """A plan compiled for every particle: the arrays ``_integrate_batch`` reads."""

    plan: Plan
    seg_t: np.ndarray
    lam: np.ndarray
    c0: np.ndarray
    c1: np.ndarray
    seg_life: np.ndarray
    seg_ad: np.ndarray
    jump_S: np.ndarray
    jump_E: np.ndarray
    chronic: np.ndarray
    ev_t: np.ndarray
    ev_amp: np.ndarray
    ev_tau: np.ndarray
    d_trait: np.ndarray
    y0: np.ndarray
    valid: np.ndarray


def _pk_clusters(p: Particles, n_clusters: int) -> tuple[np.ndarray, np.ndarray]:
    """Cluster centres (k x 3 factors) and each particle's cluster, by quantile strata of clearance and volume."""
    logs = np.log(np.column_stack([p.pk_cl, p.pk_v, p.pk_ka]))
    n = len(p)
    if n <= n_clusters:
        return np.exp(logs), np.arange(n)
    # Strata of the first principal direction of the log factors: cheap, deterministic, balanced.
    centred = logs - logs.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    score = centred @ vt[0]
    order = np.argsort(score, kind="stable")
    cluster = np.empty(n, dtype=np.int64)
    centres = np.empty((n_clusters, 3))
    for k, idx in enumerate(np.array_split(order, n_clusters)):
        cluster[idx] = k
        centres[k] = np.exp(logs[idx].mean(axis=0))
    return centres, cluster


def compile_batch(plan: Plan, particles: Particles, *, n_pk_clusters: int = 8,
                  extra_breakpoints_h: tuple[float, ...] = ()) -> BatchPlan:
    """Compile ``plan`` for every particle (the plan's patient supplies the weight, life-event days and treatments).

    Per particle: the potency on each segment from its PK cluster and receptor parameters, its
    load (chronic + its event amplitudes), trait deficit and initial state, as in
    :func:`ketasim.engine.compile.compile_plan`. A particle whose load explains more than its
    baseline severity (negative trait deficit) is marked invalid.
    """
    n = len(particles)
    P = particles.params
    # The template patient only fixes weight, event days and treatments; loads are per particle.
    plan = replace(plan, patient=replace(plan.patient, chronic_load=0.0, baseline_madrs=60.0,
                                         life_events=tuple(replace(e, amplitude=0.0)
                                                           for e in plan.patient.life_events)))
    centres, cluster = _pk_clusters(particles, n_pk_clusters)
    ref_params = P[0]
    templates: list[CompiledPlan] = []
    for k in range(centres.shape[0]):
        members = np.flatnonzero(cluster == k)
        ref = P[members[0]] if members.size else ref_params
        templates.append(compile_plan(plan, ref, pk_variability=PKVariability(*centres[k]),
                                      extra_breakpoints_h=extra_breakpoints_h))
    t0 = templates[0]
    K = t0.seg_t.size - 1
    m = t0.lam.size
    lam = np.zeros((n, m))
    c0 = np.zeros((n, K))
    c1 = np.zeros((n, K, m))
    if t0.pk is not None:
        # The potency row depends on the receptor parameters only: one row per distinct (cluster, receptor) pair.
        rec = P[:, [IDX[k] for k in _RECEPTOR]]
        keys, inverse = np.unique(np.column_stack([cluster, rec]), axis=0, return_inverse=True)
        inverse = inverse.ravel()
        for u in range(keys.shape[0]):
            members = np.flatnonzero(inverse == u)
            i = members[0]
            cp = templates[cluster[i]]
            rm = potency_row(cp.pk, P[i]) @ cp.pk.V
            z, w = cp.pk_z[:K], cp.pk_w[:K]
            lam[members] = cp.lam
            c1[members] = (rm[None, :] * (z + w / cp.lam[None, :]))[None]
            c0[members] = (-np.sum(rm[None, :] * w / cp.lam[None, :], axis=1))[None]
    # ECT / TMS drive per session scales with each particle's g_ect / g_tms.
    jump_E = np.zeros((n, K))
    starts = t0.seg_t[:-1]
    horizon_h = plan.horizon_days * HOURS_PER_DAY
    for tr in plan.treatments:
        if tr.kind in ("ect", "tms"):
            g = P[:, IDX["g_ect"] if tr.kind == "ect" else IDX["g_tms"]]
            for s in tr.session_days:
                if s * HOURS_PER_DAY < horizon_h:
                    jump_E[:, np.searchsorted(starts, s * HOURS_PER_DAY)] += g
    # Load, trait deficit and the untreated steady state at day 0.
    ev = plan.patient.life_events
    E = len(ev)
    ev_t = np.array([e.day * HOURS_PER_DAY for e in ev], dtype=float)
    amp = particles.event_amp[:, :E] if E else np.zeros((n, 0))
    tau = particles.event_fade_days[:, :E] * HOURS_PER_DAY if E else np.ones((n, 0))
    before = ev_t <= 0
    load0 = particles.chronic_load + np.sum(amp[:, before] * np.exp(ev_t[before][None, :] / tau[:, before]), axis=1)
    life0 = min(sum(lp.level for lp in plan.lifestyle if lp.start_day < 0 < lp.end_day), 1.0)
    ad_at_start = any(tr.kind == "antidepressant" and tr.start_day < 0 < (np.inf if tr.end_day is None else tr.end_day)
                      for tr in plan.treatments)
    A0 = P[:, IDX["a_antidepressant"]] * (1.0 if ad_at_start else 0.0)
    beta, gamma = P[:, IDX["beta"]], P[:, IDX["gamma_lifestyle"]]
    d_trait = trait_deficit(particles.baseline_madrs, load0, P[:, IDX["madrs_floor"]], P[:, IDX["kappa"]],
                            beta) + gamma * life0 + A0
    valid = d_trait >= 0
    y0 = np.zeros((n, N_STATES))
    # The untreated set point (no coping skills yet), as ketasim.plasticity.setpoint.set_point with C = 0.
    y0[:, SM] = 1.0 - d_trait - beta * load0 + gamma * life0 + A0
    y0[:, SA] = A0
    return BatchPlan(plan, t0.seg_t, lam, c0, c1, t0.seg_life, t0.seg_ad, t0.jump_S, jump_E,
                     np.ascontiguousarray(particles.chronic_load, dtype=float), ev_t, np.ascontiguousarray(amp),
                     np.ascontiguousarray(tau), np.maximum(d_trait, 0.0), y0, valid)


def integrate_batch(bp: BatchPlan, params: np.ndarray, out_t_h: np.ndarray, *,
                    switches: np.ndarray = ALL_ON, rtol: float = FAST_RTOL, atol: float = FAST_ATOL) -> np.ndarray:
    """States (N x len(out_t) x N_STATES) of every particle at hours ``out_t_h``."""
    out_t = np.ascontiguousarray(out_t_h, dtype=float)
    n = params.shape[0]
    out = np.zeros((n, out_t.size, N_STATES))
    steps = np.zeros(n, dtype=np.int64)
    _integrate_batch(np.ascontiguousarray(params), bp.seg_t, bp.lam, bp.c0, bp.c1, bp.seg_life, bp.seg_ad,
                     bp.jump_S, bp.jump_E, bp.chronic, bp.ev_t, bp.ev_amp, bp.ev_tau, bp.d_trait,
                     np.asarray(switches, dtype=float), 0.0, bp.y0, out_t, rtol, atol, out, steps)
    if np.any(steps < 0):
        raise SimulationError(f"plan {bp.plan.name!r}: the integrator needed too many steps for "
                              f"{int(np.sum(steps < 0))} particle(s)")
    return out


def madrs_of_states(Y: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Latent (noise-free) MADRS (N x T) from particle states (N x T x N_STATES)."""
    fl = params[:, IDX["madrs_floor"]][:, None]
    ka = params[:, IDX["kappa"]][:, None]
    kg = params[:, IDX["kappa_G"]][:, None]
    return madrs(Y[:, :, SN], Y[:, :, SM], Y[:, :, SG], fl, ka, kg)


def simulate_particles(plan: Plan, particles: Particles, out_days: np.ndarray, *, n_pk_clusters: int = 8,
                       rtol: float = FAST_RTOL, atol: float = FAST_ATOL) -> tuple[np.ndarray, np.ndarray]:
    """Latent MADRS (N x T) of every particle at plan days ``out_days``, and the validity mask (N,).

    Invalid particles (their load explains more than their baseline severity) get NaN rows.
    """
    out_days = np.asarray(out_days, dtype=float)
    horizon = float(np.max(out_days)) if out_days.size else plan.horizon_days
    if horizon > plan.horizon_days:
        plan = replace(plan, horizon_days=float(np.ceil(horizon)))
    bp = compile_batch(plan, particles, n_pk_clusters=n_pk_clusters)
    Y = integrate_batch(bp, particles.params, out_days * HOURS_PER_DAY, rtol=rtol, atol=atol)
    m = madrs_of_states(Y, particles.params)
    m[~bp.valid] = np.nan
    return m, bp.valid
