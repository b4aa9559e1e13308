"""MADRS from the model states (MODEL.md section 7).

    MADRS = clip(floor + kappa (1 - N - M) - kappa_G G, 0, 60)

The rapid relief (hours) comes from the trigger G before spines form; new and mature
synapses carry it afterwards (Moda-Sava 2019). Baseline: N = 0, M = M_star, so
MADRS_0 = floor + kappa (d_trait + beta L_0), which fixes d_trait for a patient.
"""

from __future__ import annotations

import numpy as np

MADRS_MAX = 60.0


def madrs(N: np.ndarray, M: np.ndarray, G: np.ndarray, floor: float, kappa: float,
          kappa_G: float) -> np.ndarray:
    """MADRS total score (0-60)."""
    return np.clip(floor + kappa * (1.0 - N - M) - kappa_G * G, 0.0, MADRS_MAX)


def trait_deficit(baseline_madrs: float, load0: float, floor: float, kappa: float, beta: float) -> float:
    """d_trait such that the untreated steady state scores ``baseline_madrs`` under load ``load0``."""
    return (baseline_madrs - floor) / kappa - beta * load0
