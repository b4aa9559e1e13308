"""The response model's states and right-hand side, assembled from the layer modules.

State vector ``y`` (all dimensionless, time in hours):

    G  trigger signal                T  antidepressant tolerance     D  dissociation tolerance
    N  labile synapses               M  mature synapses              C  coping skills
    S  psychotherapy session trace   E  ECT/TMS plasticity drive     A  oral antidepressant effect

Inputs at time t: ``s`` the potency-weighted effect-site concentration (exposure ->
receptor), ``load`` L(t), and the piecewise-constant ``lifestyle`` and ``ad_on`` levels.
``switches`` turns the four reasons of the seed text on (1) or off (0): pruning,
homeostasis, tolerance, load.

Every response structure (``ketasim.population.structures``: ``v1``, ``v2``, ``core``) runs on this one
right-hand side; they differ in parameter values and in the population around it. In ``v2`` a patient's
class (``ketasim.population.classes``) is a parameter vector, consolidation by re-activation is off
(``mu_G = 0``), and the course of life (``ketasim.population.life_course``) enters ``L(t)`` as the patient's
own dated life events, ``L(t) = L_chronic + sum_e A_e exp(-(t - t_e) / tau_e)`` for ``t >= t_e``.
"""

from __future__ import annotations

import numba
import numpy as np

from ketasim.parameters import IDX
from ketasim.plasticity.reinforcement import reinforcement
from ketasim.plasticity.setpoint import d_coping, set_point
from ketasim.plasticity.synapses import d_labile, d_mature, maturation
from ketasim.plasticity.trigger import d_tolerance, d_trigger
from ketasim.receptor.occupancy import occupancy

STATES = ("G", "T", "D", "N", "M", "C", "S", "E", "A")
SG, ST, SD, SN, SM, SC, SS, SE, SA = range(len(STATES))
N_STATES = len(STATES)

MECHANISMS = ("pruning", "homeostasis", "tolerance", "load")
SW_PRUNING, SW_HOMEOSTASIS, SW_TOLERANCE, SW_LOAD = range(4)
ALL_ON = np.ones(4)

# Parameter indices as compile-time constants for the compiled right-hand side.
_k_G, _k_T_on, _k_T_off = IDX["k_G"], IDX["k_T_on"], IDX["k_T_off"]
_k_D_on, _k_D_off = IDX["k_D_on"], IDX["k_D_off"]
_k_form, _k_prune, _k_mat = IDX["k_form"], IDX["k_prune"], IDX["k_mat"]
_rho_p, _rho_m, _k_hom, _mu_G = IDX["rho_p"], IDX["rho_m"], IDX["k_hom"], IDX["mu_G"]
_beta, _gamma, _eta, _xi, _k_C = IDX["beta"], IDX["gamma_lifestyle"], IDX["eta"], IDX["xi"], IDX["k_C"]
_tau_S, _w_t, _w_l = IDX["tau_session"], IDX["w_therapy"], IDX["w_lifestyle"]
_k_AD, _tau_E = IDX["k_antidepressant"], IDX["tau_neurostim"]
_a_AD = IDX["a_antidepressant"]


@numba.njit(cache=True)
def rhs(y: np.ndarray, p: np.ndarray, s: float, load: float, lifestyle: float, ad_on: float,
        d_trait: float, switches: np.ndarray, dy: np.ndarray) -> None:
    """Write dy/dt (1/h) into ``dy``."""
    G, T, D, N, M, C, S, E, A = y[0], y[1], y[2], y[3], y[4], y[5], y[6], y[7], y[8]
    O = occupancy(s)
    R = reinforcement(S, lifestyle, p[_w_t], p[_w_l])
    M_star = set_point(d_trait, p[_beta] * switches[SW_LOAD], load, C, p[_gamma], lifestyle, A)
    k_prune = p[_k_prune] * switches[SW_PRUNING]
    dy[SG] = d_trigger(O, G, T, p[_k_G], switches[SW_TOLERANCE])
    dy[ST] = d_tolerance(O, T, p[_k_T_on], p[_k_T_off])
    dy[SD] = d_tolerance(O, D, p[_k_D_on], p[_k_D_off])
    mat = maturation(N, G, R, p[_k_mat], p[_rho_m], p[_mu_G])
    dy[SN] = d_labile(N, M, G + E, R, mat, p[_k_form], k_prune, p[_rho_p])
    dy[SM] = d_mature(M, M_star, mat, p[_k_hom] * switches[SW_HOMEOSTASIS])
    dy[SC] = d_coping(C, S, N, p[_eta], p[_xi], p[_k_C])
    dy[SS] = -S / p[_tau_S]
    dy[SE] = -E / p[_tau_E]
    dy[SA] = p[_k_AD] * (ad_on * p[_a_AD] - A)
