"""Labile and mature synapses (MODEL.md section 4; seed reasons 1 and 4).

Normalised so that 1 is healthy connectivity:

    dN/dt = k_form (G + E) max(0, 1 - N - M) - k_prune (1 - rho_p R) N - k_mat (1 + rho_m R) N
    dM/dt = k_mat (1 + rho_m R) N - k_hom (M - M_star)

N: new (labile) synapses, pruned unless reinforced (reason 1). M: mature synapses, pulled
back to the set point M_star by homeostasis (reason 4). G: trigger signal; E: plasticity
drive of ECT/TMS sessions in units of G; R: reinforcement (0-1).
"""

from __future__ import annotations

import numba


@numba.njit(cache=True, inline="always")
def d_labile(N: float, M: float, drive: float, R: float, k_form: float, k_prune: float, k_mat: float,
             rho_p: float, rho_m: float) -> float:
    """dN/dt (1/h)."""
    free = max(0.0, 1.0 - N - M)
    return k_form * drive * free - k_prune * (1.0 - rho_p * R) * N - k_mat * (1.0 + rho_m * R) * N


@numba.njit(cache=True, inline="always")
def d_mature(N: float, M: float, M_star: float, R: float, k_mat: float, rho_m: float, k_hom: float) -> float:
    """dM/dt (1/h)."""
    return k_mat * (1.0 + rho_m * R) * N - k_hom * (M - M_star)
