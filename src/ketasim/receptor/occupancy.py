"""NMDA receptor occupancy by ketamine and norketamine at the effect site (MODEL.md section 2).

Competitive binding of the unbound enantiomers at the channel site:

    s = sum_i Cu_i / Ki_i            (Cu in uM; i = S/R ketamine, S/R norketamine)
    O = s / (1 + s)

Because ``s`` is linear in the effect-site concentrations, it is a fixed linear row of
the PK state (``potency_row``): the response model only needs this one number.
"""

from __future__ import annotations

import numba
import numpy as np

from ketasim.exposure.models import MW_KETAMINE, MW_NORKETAMINE
from ketasim.exposure.system import PKSystem
from ketasim.parameters import IDX


def potency_row(system: PKSystem, params: np.ndarray) -> np.ndarray:
    """Row ``r`` with ``s = r . x``: effect-site concentrations (mg/L) weighted by fu / Ki (1/uM).

    mg/L divided by g/mol gives mmol/L; x 1000 gives uM.
    """
    fs = system.model.enantiomer_s
    fu = params[IDX["fu"]]
    parent = fs / params[IDX["ki_s_ketamine"]] + (1 - fs) / params[IDX["ki_r_ketamine"]]
    metab = fs / params[IDX["ki_s_norketamine"]] + (1 - fs) / params[IDX["ki_r_norketamine"]]
    w = fu * 1000.0 * np.array([parent / MW_KETAMINE, metab / MW_NORKETAMINE])
    return w @ system.effect


@numba.njit(cache=True, inline="always")
def occupancy(s: float) -> float:
    """Fractional occupancy ``O = s / (1 + s)`` from the potency-weighted concentration ``s`` >= 0."""
    s = max(s, 0.0)
    return s / (1.0 + s)
