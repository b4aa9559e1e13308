"""Labile and mature synapses (MODEL.md section 4; seed reasons 1 and 4).

Normalised so that 1 is healthy connectivity:

    mat   = k_mat (1 + rho_m R + mu_G G) N
    dN/dt = k_form (G + E) max(0, 1 - N - M) - k_prune (1 - rho_p R) N - mat
    dM/dt = mat - k_hom (M - M_star)

N: new (labile) synapses, pruned unless reinforced (reason 1). M: mature synapses, pulled
back to the set point M_star by homeostasis (reason 4). G: trigger signal; E: plasticity
drive of ECT/TMS sessions in units of G; R: reinforcement (0-1).

Consolidation by re-activation (``mu_G G``): labile synapses that are present when a later
dose raises the trigger again mature faster. One infusion forms synapses after its trigger
has passed, so most are pruned within about two weeks; a series of infusions consolidates
them, which is why six infusions last longer than one (assumed mechanism, calibrated).
"""

from __future__ import annotations

import numba


@numba.njit(cache=True, inline="always")
def maturation(N: float, G: float, R: float, k_mat: float, rho_m: float, mu_G: float) -> float:
    """Flux of labile into mature synapses (1/h)."""
    return k_mat * (1.0 + rho_m * R + mu_G * G) * N


@numba.njit(cache=True, inline="always")
def d_labile(N: float, M: float, drive: float, R: float, mat: float, k_form: float, k_prune: float,
             rho_p: float) -> float:
    """dN/dt (1/h); ``mat`` from :func:`maturation`."""
    free = max(0.0, 1.0 - N - M)
    return k_form * drive * free - k_prune * (1.0 - rho_p * R) * N - mat


@numba.njit(cache=True, inline="always")
def d_mature(M: float, M_star: float, mat: float, k_hom: float) -> float:
    """dM/dt (1/h)."""
    return mat - k_hom * (M - M_star)
