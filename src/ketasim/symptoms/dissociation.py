"""Acute dissociation during and after a dose (MODEL.md section 2).

    CADSS = cadss_gain * O_e * (1 - D)

O_e: effect-site occupancy; D: tolerance to dissociation (Singh 2016: it wanes with repeated
dosing). Clipped to the CADSS range 0-92.
"""

from __future__ import annotations

import numpy as np

CADSS_MAX = 92.0


def cadss(occupancy: np.ndarray, D: np.ndarray, gain: float) -> np.ndarray:
    """CADSS total score (0-92)."""
    return np.clip(gain * occupancy * (1.0 - D), 0.0, CADSS_MAX)
