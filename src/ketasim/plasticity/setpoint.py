"""Load, coping skills and the synaptic set point (MODEL.md section 5; seed reason 2).

    L(t)      = L_chronic + sum_e A_e exp(-(t - t_e) / tau_e)   for t >= t_e  (dated life events)
    L_eff     = L (1 - C)                                        coping lowers the felt load
    M_star(t) = 1 - d_trait - beta L_eff + gamma lifestyle + A    (A: oral antidepressant effect)
    dC/dt     = eta S (1 + xi N) (1 - C) - k_C C                 skills from psychotherapy

S is the psychotherapy session trace (each session adds 1, decaying with tau_session), so
skills are learnt faster inside the ketamine window (xi N). An acute event (bereavement,
post-partum) fades over months and the set point recovers by itself: the bridge case.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def load_at(t: float, chronic: float, ev_t: np.ndarray, ev_amp: np.ndarray, ev_tau: np.ndarray) -> float:
    """Load L(t) (dimensionless) from the chronic level and the life events before ``t`` (h)."""
    L = chronic
    for i in range(ev_t.size):
        if t >= ev_t[i]:
            L += ev_amp[i] * np.exp(-(t - ev_t[i]) / ev_tau[i])
    return L


@numba.njit(cache=True)
def load_in_segment(t: float, t_start: float, chronic: float, ev_t: np.ndarray, ev_amp: np.ndarray,
                    ev_tau: np.ndarray) -> float:
    """L(t) inside the integration segment that began at ``t_start`` (h).

    An event dated at the segment's end belongs to the next segment, even when a stage of the
    integrator is evaluated exactly there; one dated strictly inside the segment (a caller that
    does not break at life events) counts once ``t`` has passed it.
    """
    L = chronic
    for i in range(ev_t.size):
        if ev_t[i] <= t_start or ev_t[i] < t:
            L += ev_amp[i] * np.exp(-(t - ev_t[i]) / ev_tau[i])
    return L


@numba.njit(cache=True, inline="always")
def set_point(d_trait: float, beta: float, load: float, C: float, gamma: float, lifestyle: float,
              antidepressant: float) -> float:
    """M_star (dimensionless)."""
    return 1.0 - d_trait - beta * load * (1.0 - C) + gamma * lifestyle + antidepressant


@numba.njit(cache=True, inline="always")
def d_coping(C: float, S: float, N: float, eta: float, xi: float, k_C: float) -> float:
    """dC/dt (1/h)."""
    return eta * S * (1.0 + xi * N) * (1.0 - C) - k_C * C
