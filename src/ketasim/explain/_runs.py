"""Fast repeated runs of one compiled plan: MADRS at chosen days for any set of switches."""

from __future__ import annotations

import numpy as np

from ketasim.engine.compile import CompiledPlan
from ketasim.parameters import HOURS_PER_DAY
from ketasim.simulate import integrate, observables


def madrs_series(cp: CompiledPlan, days: np.ndarray, switches: np.ndarray) -> np.ndarray:
    """MADRS at plan ``days`` (sorted) of the compiled plan ``cp`` with mechanism ``switches``."""
    t_h = np.asarray(days, dtype=float) * HOURS_PER_DAY
    Y = integrate(cp, t_h, switches=switches)
    return observables(cp, t_h, Y, switches)["madrs"]
