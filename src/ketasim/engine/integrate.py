"""Compiled, error-controlled integration of the response states (Dormand-Prince 5(4)).

The PK is exact (a sum of exponentials per segment, see ``ketasim.exposure.system``); only
the nine response states are integrated. Between two breakpoints (dose starts and ends,
sessions, lifestyle and antidepressant changes, life events) every input is smooth, so the
integrator steps segment by segment, applies the session jumps at segment starts, and lands
exactly on each output time. Step size control is the standard one for an embedded RK pair:
``err = ||(y5 - y4) / (atol + rtol max(|y|, |y_new|))||_rms <= 1``.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ketasim.dynamics import N_STATES, SE, SS, rhs
from ketasim.plasticity.setpoint import load_in_segment

# Dormand-Prince 5(4) tableau.
_C2, _C3, _C4, _C5 = 1 / 5, 3 / 10, 4 / 5, 8 / 9
_A21 = 1 / 5
_A31, _A32 = 3 / 40, 9 / 40
_A41, _A42, _A43 = 44 / 45, -56 / 15, 32 / 9
_A51, _A52, _A53, _A54 = 19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729
_A61, _A62, _A63, _A64, _A65 = 9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656
_B1, _B3, _B4, _B5, _B6 = 35 / 384, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84
_E1, _E3, _E4, _E5, _E6, _E7 = (71 / 57600, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40)

MAX_STEPS_PER_SEGMENT = 100_000
#: Further steps a segment may take per hour of its length: a long drug-free gap (a history with two years
#: between visits) gets a budget in proportion, so only a solver that is stuck fails, not a long segment.
MAX_STEPS_PER_HOUR = 100


@numba.njit(cache=True, inline="always")
def _potency(tau: float, c0: float, c1: np.ndarray, lam: np.ndarray) -> float:
    s = c0
    for j in range(lam.size):
        s += c1[j] * math.exp(lam[j] * tau)
    return s


@numba.njit(cache=True)
def _f(t, y, p, t_k, c0, c1, lam, life, ad, chronic, ev_t, ev_amp, ev_tau, d_trait, sw, dy):
    s = _potency(t - t_k, c0, c1, lam)
    L = load_in_segment(t, t_k, chronic, ev_t, ev_amp, ev_tau)
    rhs(y, p, s, L, life, ad, d_trait, sw, dy)


@numba.njit(cache=True)
def integrate_one(p, seg_t, lam, c0, c1, seg_life, seg_ad, jump_S, jump_E, chronic, ev_t, ev_amp, ev_tau,
                  d_trait, switches, t_switch, y0, out_t, rtol, atol, out):
    """Integrate one patient; write the states at ``out_t`` (sorted, within [seg_t[0], seg_t[-1]]) to ``out``.

    ``switches`` apply from ``t_switch`` on (all mechanisms on before); ``t_switch`` must be a
    segment boundary. Returns the number of accepted steps, or -1 if a segment needed more
    than ``MAX_STEPS_PER_SEGMENT + MAX_STEPS_PER_HOUR x`` its length in hours steps.
    """
    n = N_STATES
    y = y0.copy()
    ynew = np.empty(n)
    ytmp = np.empty(n)
    k1 = np.empty(n)
    k2 = np.empty(n)
    k3 = np.empty(n)
    k4 = np.empty(n)
    k5 = np.empty(n)
    k6 = np.empty(n)
    k7 = np.empty(n)
    on = np.ones(switches.size)
    n_out = out_t.size
    io = 0
    h = 0.05
    steps = 0
    K = seg_t.size - 1
    for k in range(K):
        t = seg_t[k]
        t_end = seg_t[k + 1]
        y[SS] += jump_S[k]
        y[SE] += jump_E[k]
        sw = switches if t >= t_switch else on
        life = seg_life[k]
        ad = seg_ad[k]
        c0k = c0[k]
        c1k = c1[k]
        if jump_S[k] != 0.0 or jump_E[k] != 0.0 or k == 0 or c0k != c0[k - 1]:
            h = min(h, 0.05)
        # outputs at the segment start (after its jumps)
        while io < n_out and out_t[io] <= t:
            out[io, :] = y
            io += 1
        if t_end <= t:
            continue
        _f(t, y, p, seg_t[k], c0k, c1k, lam, life, ad, chronic, ev_t, ev_amp, ev_tau, d_trait, sw, k1)
        seg_steps = 0
        step_budget = MAX_STEPS_PER_SEGMENT + MAX_STEPS_PER_HOUR * (t_end - t)
        while t < t_end:
            target = t_end
            if io < n_out and out_t[io] < target:
                target = out_t[io]
            hh = min(h, target - t)
            if target - (t + hh) < 1e-9 * max(1.0, abs(target)):
                hh = target - t
            # stages
            for i in range(n):
                ytmp[i] = y[i] + hh * _A21 * k1[i]
            _f(t + _C2 * hh, ytmp, p, seg_t[k], c0k, c1k, lam, life, ad, chronic, ev_t, ev_amp, ev_tau,
               d_trait, sw, k2)
            for i in range(n):
                ytmp[i] = y[i] + hh * (_A31 * k1[i] + _A32 * k2[i])
            _f(t + _C3 * hh, ytmp, p, seg_t[k], c0k, c1k, lam, life, ad, chronic, ev_t, ev_amp, ev_tau,
               d_trait, sw, k3)
            for i in range(n):
                ytmp[i] = y[i] + hh * (_A41 * k1[i] + _A42 * k2[i] + _A43 * k3[i])
            _f(t + _C4 * hh, ytmp, p, seg_t[k], c0k, c1k, lam, life, ad, chronic, ev_t, ev_amp, ev_tau,
               d_trait, sw, k4)
            for i in range(n):
                ytmp[i] = y[i] + hh * (_A51 * k1[i] + _A52 * k2[i] + _A53 * k3[i] + _A54 * k4[i])
            _f(t + _C5 * hh, ytmp, p, seg_t[k], c0k, c1k, lam, life, ad, chronic, ev_t, ev_amp, ev_tau,
               d_trait, sw, k5)
            for i in range(n):
                ytmp[i] = y[i] + hh * (_A61 * k1[i] + _A62 * k2[i] + _A63 * k3[i] + _A64 * k4[i]
                                       + _A65 * k5[i])
            _f(t + hh, ytmp, p, seg_t[k], c0k, c1k, lam, life, ad, chronic, ev_t, ev_amp, ev_tau,
               d_trait, sw, k6)
            for i in range(n):
                ynew[i] = y[i] + hh * (_B1 * k1[i] + _B3 * k3[i] + _B4 * k4[i] + _B5 * k5[i] + _B6 * k6[i])
            _f(t + hh, ynew, p, seg_t[k], c0k, c1k, lam, life, ad, chronic, ev_t, ev_amp, ev_tau,
               d_trait, sw, k7)
            err = 0.0
            for i in range(n):
                e = hh * (_E1 * k1[i] + _E3 * k3[i] + _E4 * k4[i] + _E5 * k5[i] + _E6 * k6[i] + _E7 * k7[i])
                sc = atol + rtol * max(abs(y[i]), abs(ynew[i]))
                err += (e / sc) ** 2
            err = math.sqrt(err / n)
            seg_steps += 1
            if seg_steps > step_budget:
                return -1
            if err <= 1.0:
                t = t + hh
                if t_end - t < 1e-9 * max(1.0, abs(t_end)):
                    t = t_end
                for i in range(n):
                    y[i] = ynew[i]
                    k1[i] = k7[i]
                steps += 1
                while io < n_out and out_t[io] <= t and (out_t[io] < t_end or k == K - 1):
                    out[io, :] = y
                    io += 1
                fac = 5.0 if err == 0.0 else min(5.0, max(0.2, 0.9 * err ** -0.2))
                # a step shortened to land on a target does not shrink the next one
                h = max(h, hh * fac) if hh < h else hh * fac
            else:
                h = hh * max(0.2, 0.9 * err ** -0.2)
    while io < n_out:
        out[io, :] = y
        io += 1
    return steps
