"""Trigger signal and tolerance (MODEL.md section 3; seed reason 3).

    dG/dt = k_G (O (1 - T) - G)                  glutamate surge -> BDNF/eEF2/mTORC1 signal
    dT/dt = k_T_on O (1 - T) - k_T_off T         antidepressant tolerance, recovers over weeks
    dD/dt = k_D_on O (1 - D) - k_D_off D         tolerance to the dissociative effect (Singh 2016)

O is NMDA occupancy (0-1), G, T and D are dimensionless, time in hours. The tolerance
switch multiplies T where it acts, so switching it off leaves T visible but harmless.
"""

from __future__ import annotations

import numba


@numba.njit(cache=True, inline="always")
def d_trigger(O: float, G: float, T: float, k_G: float, tolerance_on: float) -> float:
    """dG/dt (1/h)."""
    return k_G * (O * (1.0 - tolerance_on * T) - G)


@numba.njit(cache=True, inline="always")
def d_tolerance(O: float, T: float, k_on: float, k_off: float) -> float:
    """dT/dt (1/h); the same form serves the dissociation tolerance D."""
    return k_on * O * (1.0 - T) - k_off * T
