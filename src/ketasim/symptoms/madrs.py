"""MADRS from the model states (MODEL.md section 7).

    MADRS = min(60, floor + kappa max(0, 1 - N - M) exp(-kappa_G G))

The synaptic deficit ``1 - N - M`` sets the severity; the rapid relief (hours) comes from the
trigger G before spines form and relieves a fraction of the current symptoms, so it cannot
push the score below the floor; new and mature synapses carry the benefit afterwards
(Moda-Sava 2019). MODEL.md proposed ``- kappa_G G`` (additive); the multiplicative form gives
the same early drop from baseline without scores of zero hours after a dose in a patient who
is already better. Baseline: N = 0, M = M_star and G = 0, so MADRS_0 = floor + kappa (d_trait +
beta L_0), which fixes d_trait for a patient.
"""

from __future__ import annotations

import math

import numba
import numpy as np

MADRS_MAX = 60.0


@numba.njit(cache=True, inline="always")
def madrs_score(N: float, M: float, G: float, floor: float, kappa: float, kappa_G: float) -> float:
    """MADRS total score (0-60) of one state; compiled, for use inside other compiled code."""
    return min(MADRS_MAX, floor + kappa * max(0.0, 1.0 - N - M) * math.exp(-kappa_G * G))


def madrs(N: np.ndarray, M: np.ndarray, G: np.ndarray, floor: float | np.ndarray, kappa: float | np.ndarray,
          kappa_G: float | np.ndarray) -> np.ndarray:
    """MADRS total score (0-60), vectorised over any broadcastable arrays."""
    deficit = np.maximum(0.0, 1.0 - np.asarray(N) - np.asarray(M))
    return np.minimum(MADRS_MAX, floor + kappa * deficit * np.exp(-np.asarray(kappa_G) * np.asarray(G)))


def trait_deficit(baseline_madrs: float, load0: float, floor: float, kappa: float, beta: float) -> float:
    """d_trait such that the untreated steady state scores ``baseline_madrs`` under load ``load0``."""
    return (baseline_madrs - floor) / kappa - beta * load0
