"""Reinforcement of new synapses by psychotherapy and lifestyle (MODEL.md section 6).

    R = 1 - exp(-(w_therapy S + w_lifestyle lifestyle))

S is the session trace (each session adds 1, dS/dt = -S / tau_session) and lifestyle a
sustained level in [0, 1]. MODEL.md proposed ``min(1, sum)``; the smooth saturation has the
same range and slope at zero and keeps the right-hand side differentiable for the
error-controlled integrator.
"""

from __future__ import annotations

import math

import numba


@numba.njit(cache=True, inline="always")
def reinforcement(S: float, lifestyle: float, w_therapy: float, w_lifestyle: float) -> float:
    """R in [0, 1) (exactly 0 without therapy or lifestyle, where the exponential is skipped)."""
    x = w_therapy * S + w_lifestyle * lifestyle
    return 0.0 if x == 0.0 else 1.0 - math.exp(-x)
