"""Closed-loop stepping: advance many patients (or particles) one visit interval at a time.

Policies that decide each dose from the scores seen so far cannot be compiled as one plan
in advance. Here every row (a virtual patient, or a particle of a patient's posterior) carries
its response state; :func:`advance` integrates all rows from a visit at ``t0`` over the next
interval, each with or without one IV dose (given ``dose_offset_h`` after the visit) and with or
without one psychotherapy session (``therapy_offset_h`` after the visit), in one compiled
``numba.prange`` loop around ``ketasim.engine.integrate.integrate_one``.

The PK of a dose is a *template*: the potency ``s(t)`` after a single dose at time 0, exact
(sum of exponentials) on its two segments (infusion, then washout), from each row's modal PK
system (weight and PK factors, as the population batch engine builds it). A dose is
assumed to be washed out before the dose after next (potency below 1e-8
of its peak after ``TEMPLATE_TAIL_H``), and the template is cut there; the washout of the
previous dose is added (doses two days apart overlap slightly).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from ketasim.dosing.plan import Dose, Patient, Plan
from ketasim.dynamics import N_STATES
from ketasim.engine.batch import modal_batch, plan_template
from ketasim.engine.integrate import integrate_one
from ketasim.errors import SimulationError
from ketasim.exposure.system import REFERENCE_WEIGHT_KG
from ketasim.parameters import HOURS_PER_DAY

TEMPLATE_TAIL_H = 96.0
MAX_SEGMENTS = 8
G_NEGLIGIBLE = 1e-10


@dataclass
class DoseTemplate:
    """Potency after one dose at t = 0 for each row: segment starts ``seg`` (3: 0, end of infusion, tail)."""

    seg: np.ndarray  # (R, 3) hours
    c0: np.ndarray  # (R, 2)
    c1: np.ndarray  # (R, 2, m)
    lam: np.ndarray  # (R, m)

    def take(self, idx: np.ndarray) -> DoseTemplate:
        return DoseTemplate(self.seg[idx], self.c0[idx], self.c1[idx], self.lam[idx])

    @staticmethod
    def concat(parts: list[DoseTemplate]) -> DoseTemplate:
        return DoseTemplate(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("seg", "c0", "c1", "lam")))


def dose_templates(params: np.ndarray, weight_kg: np.ndarray, pk: np.ndarray, *, mg_per_kg: float = 0.5,
                   duration_min: float = 40.0) -> DoseTemplate:
    """Templates for rows with response parameters ``params`` (R x n), weights and PK factors (R x 3: cl, v, ka).

    An IV infusion of racemic ketamine at rate ``k = dose / T`` from ``t = 0`` to ``T`` gives, in the
    modal coordinates of each row's PK system (``ketasim.engine.batch.modal_batch``: eigenvalues
    ``lam``, ``V^-1``, modal potency row ``r``; ``w = k V^-1 b`` for the input vector ``b``),

        s(t) = sum_j r_j w_j / lam_j (exp(lam_j t) - 1)                 0 <= t < T
        s(t) = sum_j r_j z_j(T) exp(lam_j (t - T)),  z(T) = w (exp(lam T) - 1) / lam     t >= T
    """
    R = params.shape[0]
    plan = Plan(patient=Patient(weight_kg=REFERENCE_WEIGHT_KG),
                doses=(Dose(day=0.0, amount_mg=mg_per_kg * REFERENCE_WEIGHT_KG, mg_per_kg=mg_per_kg,
                            duration_min=duration_min),), horizon_days=TEMPLATE_TAIL_H / HOURS_PER_DAY)
    tpl = plan_template(plan)
    assert tpl.pk is not None
    lam, Vinv, rm = modal_batch(tpl.pk, np.asarray(weight_kg, dtype=float), pk[:, 0], pk[:, 1], pk[:, 2], params)
    b = tpl.inputs[tpl.dose_input[0]]
    dur = duration_min / 60.0
    rate = mg_per_kg * np.asarray(weight_kg, dtype=float) / dur
    w = np.einsum("rij,j->ri", Vinv, b) * rate[:, None]
    c1 = np.zeros((R, 2, lam.shape[1]))
    c0 = np.zeros((R, 2))
    c1[:, 0] = rm * w / lam
    c0[:, 0] = -np.sum(c1[:, 0], axis=1)
    c1[:, 1] = rm * w * np.expm1(lam * dur) / lam
    seg = np.tile([0.0, dur, TEMPLATE_TAIL_H], (R, 1))
    return DoseTemplate(seg, c0, c1, np.ascontiguousarray(lam))


@numba.njit(parallel=True, cache=True)
def _advance(Y, params, t0, out_rel, dosed, dose_off, prev_dose, therapy, ther_off, tseg, tc0, tc1, tlam, chronic,
             ev_t, ev_amp, ev_tau, d_trait, rtol, atol, out, steps):
    R = Y.shape[0]
    m = tlam.shape[1]
    t_end = t0 + out_rel[-1]
    switches = np.ones(4)
    for r in numba.prange(R):
        # The doses whose potency reaches into [t0, t_end]: the previous one (washing out) and this visit's.
        starts = np.empty(2)
        nd = 0
        if prev_dose[r] > -1e300 and prev_dose[r] + tseg[r, 2] > t0:
            starts[nd] = prev_dose[r]
            nd += 1
        if dosed[r]:
            starts[nd] = t0 + dose_off
            nd += 1
        bps = np.empty(MAX_SEGMENTS)
        nb = 0
        bps[nb] = t0
        nb += 1
        for d in range(nd):
            for j in range(3):
                b = starts[d] + tseg[r, j]
                if t0 < b < t_end:
                    bps[nb] = b
                    nb += 1
        th = t0 + ther_off
        if therapy[r] and t0 < th < t_end:
            bps[nb] = th
            nb += 1
        bps[nb] = t_end
        nb += 1
        seg_t = np.sort(bps[:nb])
        keep = np.ones(nb, dtype=np.bool_)
        for k in range(1, nb):
            if seg_t[k] - seg_t[k - 1] < 1e-9:
                keep[k] = False
        seg_t = seg_t[keep]
        K = seg_t.size - 1
        c0 = np.zeros(K)
        c1 = np.zeros((K, m))
        jump_S = np.zeros(K)
        zeros = np.zeros(K)
        for k in range(K):
            s = seg_t[k]
            for d in range(nd):
                rel = s - starts[d]
                if rel >= -1e-9 and rel < tseg[r, 2] - 1e-9:
                    j = 0 if rel < tseg[r, 1] - 1e-9 else 1
                    c0[k] += tc0[r, j]
                    for q in range(m):
                        c1[k, q] += tc1[r, j, q] * math.exp(tlam[r, q] * (rel - tseg[r, j]))
            if therapy[r] and abs(s - th) < 1e-9:
                jump_S[k] = 1.0
        y0 = Y[r].copy()
        if nd == 0 and abs(y0[0]) < G_NEGLIGIBLE:
            # No drug in the interval and the trigger signal has decayed: G = 0 exactly keeps its fast,
            # stability-limiting decay out of the step size (it would stay below G_NEGLIGIBLE anyway).
            y0[0] = 0.0
        steps[r] = integrate_one(params[r], seg_t, tlam[r], c0, c1, zeros, zeros, jump_S, zeros, chronic[r],
                                 ev_t[r], ev_amp[r], ev_tau[r], d_trait[r], switches, t0, y0, t0 + out_rel,
                                 rtol, atol, out[r])


def advance(Y: np.ndarray, params: np.ndarray, t0_h: float, out_rel_h: np.ndarray, dosed: np.ndarray,
            therapy: np.ndarray, tmpl: DoseTemplate, chronic: np.ndarray, ev_t: np.ndarray, ev_amp: np.ndarray,
            ev_tau: np.ndarray, d_trait: np.ndarray, *, prev_dose_h: np.ndarray | None = None,
            dose_offset_h: float = 1.0, therapy_offset_h: float = 5.0, rtol: float = 1e-5,
            atol: float = 1e-8) -> np.ndarray:
    """States (R x len(out_rel_h) x N_STATES) from states ``Y`` at ``t0_h``; the last output is the next state.

    ``out_rel_h`` are hours after ``t0_h`` (sorted, starting at 0 or later); ``ev_t``, ``ev_amp``,
    ``ev_tau`` (R x E, hours and load units) are each row's life events; ``prev_dose_h`` (R) the
    start of each row's previous dose (-inf if none), whose washout is added to the potency.
    """
    R = Y.shape[0]
    out_rel = np.ascontiguousarray(out_rel_h, dtype=float)
    out = np.zeros((R, out_rel.size, N_STATES))
    steps = np.zeros(R, dtype=np.int64)
    prev = np.full(R, -np.inf) if prev_dose_h is None else np.ascontiguousarray(prev_dose_h, dtype=float)
    _advance(np.ascontiguousarray(Y), np.ascontiguousarray(params), float(t0_h), out_rel,
             np.ascontiguousarray(dosed, dtype=np.bool_), float(dose_offset_h), prev,
             np.ascontiguousarray(therapy, dtype=np.bool_), float(therapy_offset_h), tmpl.seg, tmpl.c0, tmpl.c1,
             tmpl.lam, np.ascontiguousarray(chronic, dtype=float), np.ascontiguousarray(ev_t, dtype=float),
             np.ascontiguousarray(ev_amp, dtype=float), np.ascontiguousarray(ev_tau, dtype=float),
             np.ascontiguousarray(d_trait, dtype=float), rtol, atol, out, steps)
    if np.any(steps < 0):
        raise SimulationError(f"closed-loop step: the integrator needed too many steps for {int(np.sum(steps < 0))} "
                              "row(s)")
    return out

