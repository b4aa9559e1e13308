"""Independent yardsticks for the exact PK solution (test helpers, not collected as tests).

``numeric_states`` integrates ``dx/dt = A x + u(t)`` with SciPy between input changes;
``eliminated_amount`` integrates the elimination flux ``(1 - fm) CL C_parent + CL_m C_metabolite``
written from the model's parameters (not from ``A``), so mass balance checks the assembly of ``A``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.integrate import quad, solve_ivp

from ketasim.exposure.system import (
    REFERENCE_WEIGHT_KG,
    DoseInput,
    PKSystem,
    breakpoints_of,
    modal_schedule,
    state_at,
)


def exact_states(system: PKSystem, doses: Sequence[DoseInput], t: np.ndarray) -> np.ndarray:
    """States at ``t`` (h) from the modal solution."""
    bp = breakpoints_of(doses)
    z, w = modal_schedule(system, doses, bp)
    return state_at(system, bp, z, w, np.asarray(t, dtype=float))


def _input_rate(system: PKSystem, doses: Sequence[DoseInput], t_mid: float) -> np.ndarray:
    u = np.zeros(system.n_states)
    for d in doses:
        if d.duration_h > 0 and d.start_h <= t_mid < d.start_h + d.duration_h:
            u += system.input_vector(d.route, d.device) * d.amount_mg / d.duration_h
    return u


def numeric_states(system: PKSystem, doses: Sequence[DoseInput], t: np.ndarray, *, rtol: float = 1e-10,
                   atol: float = 1e-14) -> np.ndarray:
    """States at ``t`` (h) by SciPy (LSODA with the exact Jacobian) between breakpoints.

    Boluses are added at their time; a state at a breakpoint is the one just after it, like
    :func:`ketasim.exposure.system.state_at`.
    """
    t = np.asarray(t, dtype=float)
    bp = breakpoints_of(doses)
    edges = np.unique(np.concatenate([bp, [max(t.max(), bp[-1]) + 1.0]]))
    out = np.zeros((t.size, system.n_states))
    x = np.zeros(system.n_states)
    A = system.A
    for k in range(edges.size - 1):
        t0, t1 = edges[k], edges[k + 1]
        for d in doses:
            if d.duration_h == 0 and d.start_h == t0:
                x = x + system.input_vector(d.route, d.device) * d.amount_mg
        u = _input_rate(system, doses, 0.5 * (t0 + t1))
        sol = solve_ivp(lambda _t, y, u=u: A @ y + u, (t0, t1), x, method="LSODA", jac=lambda _t, _y: A,
                        rtol=rtol, atol=atol, dense_output=True)
        assert sol.success, sol.message
        inside = (t >= t0) & (t < t1)
        if inside.any():
            out[inside] = sol.sol(t[inside]).T
        x = sol.y[:, -1]
    return out


def mass_states(system: PKSystem) -> np.ndarray:
    """Mask of the states holding drug amounts (mg); effect sites hold concentrations, not mass."""
    return np.array([not n.endswith("effect_site") for n in system.state_names])


def elimination_row(system: PKSystem) -> np.ndarray:
    """Row ``r`` with elimination flux (mg/h) ``r . x``, from the model's clearances and volumes.

    Parent clearance not forming metabolite, ``(1 - fm) CL / V1``, and metabolite clearance
    ``CL_m / V_m``; allometry: volumes x W/70, clearances x (W/70)^0.75.
    """
    m = system.model
    fv = system.weight_kg / REFERENCE_WEIGHT_KG
    fc = fv ** 0.75
    r = np.zeros(system.n_states)
    names = list(system.state_names)
    fm = m.fraction_metabolised if m.metabolite is not None else 0.0
    r[names.index("parent_central")] = (1.0 - fm) * m.parent.cl * fc / (m.parent.v1 * fv)
    if m.metabolite is not None:
        r[names.index("metabolite_central")] = m.metabolite.cl * fc / (m.metabolite.v1 * fv)
    return r


def eliminated_amount(system: PKSystem, doses: Sequence[DoseInput], t: np.ndarray) -> np.ndarray:
    """Cumulative amount eliminated (mg) up to each time of sorted ``t``, by adaptive quadrature."""
    t = np.asarray(t, dtype=float)
    r = elimination_row(system)
    bp = breakpoints_of(doses)
    z, w = modal_schedule(system, doses, bp)

    def flux(s: float) -> float:
        return float(state_at(system, bp, z, w, np.array([s]))[0] @ r)

    knots = np.unique(np.concatenate([[0.0], bp, t]))
    pieces = [quad(flux, a, b, epsabs=0.0, epsrel=1e-13, limit=200)[0] for a, b in zip(knots[:-1], knots[1:],
                                                                                        strict=True)]
    cumulative = np.concatenate([[0.0], np.cumsum(pieces)])
    return cumulative[np.searchsorted(knots, t)]


def delivered_amount(system: PKSystem, doses: Sequence[DoseInput], t: np.ndarray) -> np.ndarray:
    """Amount (mg) that has reached the body's states by ``t``: ``sum(b) x`` the part of each dose given."""
    t = np.asarray(t, dtype=float)
    total = np.zeros(t.size)
    mass = mass_states(system)
    for d in doses:
        f = float(system.input_vector(d.route, d.device)[mass].sum())
        if d.duration_h > 0:
            given = np.clip((t - d.start_h) / d.duration_h, 0.0, 1.0)
        else:
            given = (t >= d.start_h).astype(float)
        total += f * d.amount_mg * given
    return total
