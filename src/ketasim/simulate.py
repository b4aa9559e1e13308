"""One-patient simulation: a plan in, a time series of every layer and the outcomes out.

``simulate(plan)`` integrates with the compiled Dormand-Prince engine (``method="fast"``);
``method="reference"`` uses SciPy's DOP853 at rtol 1e-10 on the same equations, segment by
segment, and is the yardstick the fast engines are tested against.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.integrate import solve_ivp

from ketasim.dosing.plan import Plan
from ketasim.dynamics import ALL_ON, MECHANISMS, N_STATES, SE, SS, STATES, SW_LOAD, rhs
from ketasim.engine.compile import CompiledPlan, PKVariability, compile_plan
from ketasim.engine.integrate import integrate_one
from ketasim.errors import SimulationError
from ketasim.exposure.system import state_at
from ketasim.parameters import HOURS_PER_DAY, IDX, default_vector
from ketasim.plasticity.reinforcement import reinforcement
from ketasim.plasticity.setpoint import load_in_segment
from ketasim.receptor.occupancy import occupancy
from ketasim.symptoms.dissociation import cadss
from ketasim.symptoms.madrs import madrs
from ketasim.symptoms.scales import from_madrs

FAST_RTOL, FAST_ATOL = 1e-6, 1e-9
REFERENCE_RTOL, REFERENCE_ATOL = 1e-10, 1e-13


def output_times_h(plan: Plan, *, fine: bool = True) -> np.ndarray:
    """Daily grid over the horizon, plus (``fine``) 5-minute steps for 6 h and hourly steps to 48 h after each dose."""
    horizon = plan.horizon_days * HOURS_PER_DAY
    ts = [np.arange(0.0, horizon + 1e-9, HOURS_PER_DAY)]
    if fine:
        near = np.concatenate([np.arange(0.0, 6.0, 5.0 / 60.0), np.arange(6.0, 48.0, 1.0)])
        for d in plan.doses:
            ts.append(d.day * HOURS_PER_DAY + near)
    t = np.unique(np.round(np.concatenate(ts), 9))
    return t[(t >= 0) & (t <= horizon)]


def integrate(cp: CompiledPlan, out_t: np.ndarray, *, switches: np.ndarray = ALL_ON, method: str = "fast",
              rtol: float | None = None, atol: float | None = None) -> np.ndarray:
    """States (len(out_t) x N_STATES) of a compiled plan at hours ``out_t``."""
    out_t = np.asarray(out_t, dtype=float)
    if method == "fast":
        out = np.zeros((out_t.size, N_STATES))
        steps = integrate_one(cp.params, cp.seg_t, cp.lam, cp.c0, cp.c1, cp.seg_life, cp.seg_ad, cp.jump_S,
                              cp.jump_E, cp.load_chronic, cp.ev_t, cp.ev_amp, cp.ev_tau, cp.d_trait,
                              np.asarray(switches, dtype=float), cp.t_switch, cp.y0, out_t,
                              rtol or FAST_RTOL, atol or FAST_ATOL, out)
        if steps < 0:
            raise SimulationError(f"plan {cp.plan.name!r}: the integrator needed too many steps in one segment")
        return out
    if method == "reference":
        return _integrate_reference(cp, out_t, np.asarray(switches, dtype=float), rtol or REFERENCE_RTOL,
                                    atol or REFERENCE_ATOL)
    raise ValueError(f"method {method!r}: allowed 'fast' or 'reference'")


def _integrate_reference(cp: CompiledPlan, out_t: np.ndarray, switches: np.ndarray, rtol: float,
                         atol: float) -> np.ndarray:
    out = np.zeros((out_t.size, N_STATES))
    y = cp.y0.copy()
    dy = np.zeros(N_STATES)
    on = np.ones_like(switches)
    for k in range(cp.seg_t.size - 1):
        t0, t1 = cp.seg_t[k], cp.seg_t[k + 1]
        y[SS] += cp.jump_S[k]
        y[SE] += cp.jump_E[k]
        sw = switches if t0 >= cp.t_switch else on
        c0, c1, life, ad = cp.c0[k], cp.c1[k], cp.seg_life[k], cp.seg_ad[k]
        mask_start = (out_t == t0) if k > 0 else (out_t <= t0)
        out[mask_start] = y

        def f(t, yy, t0=t0, c0=c0, c1=c1, life=life, ad=ad, sw=sw):
            s = c0 + float(np.sum(c1 * np.exp(cp.lam * (t - t0))))
            L = load_in_segment(t, t0, cp.load_chronic, cp.ev_t, cp.ev_amp, cp.ev_tau)
            rhs(yy, cp.params, s, L, life, ad, cp.d_trait, sw, dy)
            return dy.copy()

        last = k == cp.seg_t.size - 2
        inside = (out_t > t0) & ((out_t < t1) | (last & (out_t <= t1)))
        sol = solve_ivp(f, (t0, t1), y, method="DOP853", rtol=rtol, atol=atol, dense_output=True,
                        first_step=min(0.01, t1 - t0))
        if not sol.success:
            raise SimulationError(f"reference solver failed: {sol.message}")
        if inside.any():
            out[inside] = sol.sol(out_t[inside]).T
        y = sol.y[:, -1].copy()
    return out


@dataclass
class Trajectory:
    """The result of one simulation: ``table`` (one row per output time) and the compiled plan."""

    plan: Plan
    table: pd.DataFrame
    compiled: CompiledPlan
    switches: np.ndarray = field(default_factory=lambda: ALL_ON.copy())

    @property
    def baseline_madrs(self) -> float:
        return float(self.plan.patient.baseline_madrs)

    def daily(self) -> pd.DataFrame:
        """Rows on whole days only."""
        return self.table[np.isclose(self.table["day"] % 1.0, 0.0)].reset_index(drop=True)

    def madrs_at_day(self, day: float) -> float:
        """MADRS at plan day ``day`` (interpolated between outputs)."""
        return float(np.interp(day, self.table["day"], self.table["madrs"]))


def observables(cp: CompiledPlan, t_h: np.ndarray, Y: np.ndarray,
                switches: np.ndarray = ALL_ON) -> dict[str, np.ndarray]:
    """Every derived quantity at hours ``t_h`` from the states ``Y``; the columns of the time series."""
    p = cp.params
    cols: dict[str, np.ndarray] = {"hours": t_h, "day": t_h / HOURS_PER_DAY}
    if cp.pk is not None:
        x = state_at(cp.pk, cp.seg_t, cp.pk_z, cp.pk_w, t_h)
        plasma = x @ cp.pk.plasma.T * 1000.0
        effect = x @ cp.pk.effect.T * 1000.0
        cols["concentration_ng_ml"] = np.maximum(plasma[:, 0], 0.0)
        cols["norketamine_ng_ml"] = np.maximum(plasma[:, 1], 0.0)
        cols["effect_site_ng_ml"] = np.maximum(effect[:, 0], 0.0)
        s = np.maximum(x @ (cp.potency_modal @ cp.pk.Vinv), 0.0)
    else:
        for c in ("concentration_ng_ml", "norketamine_ng_ml", "effect_site_ng_ml"):
            cols[c] = np.zeros_like(t_h)
        s = np.zeros_like(t_h)
    cols["occupancy"] = np.array([occupancy(v) for v in s])
    for i, name in enumerate(STATES):
        cols[name] = Y[:, i]
    k = cp.segment_of(t_h)
    life = cp.seg_life[k]
    L = cp.load_at(t_h)
    load_on = np.where(t_h >= cp.t_switch, switches[SW_LOAD], 1.0)
    cols["lifestyle"] = life
    cols["load"] = L
    cols["load_effective"] = L * (1.0 - Y[:, 5])
    cols["set_point"] = (1.0 - cp.d_trait - p[IDX["beta"]] * load_on * cols["load_effective"]
                         + p[IDX["gamma_lifestyle"]] * life + Y[:, 8])
    cols["reinforcement"] = np.array([reinforcement(S, li, p[IDX["w_therapy"]], p[IDX["w_lifestyle"]])
                                      for S, li in zip(Y[:, 6], life, strict=True)])
    m = madrs(Y[:, 3], Y[:, 4], Y[:, 0], p[IDX["madrs_floor"]], p[IDX["kappa"]], p[IDX["kappa_G"]])
    cols["madrs"] = m
    for scale, values in from_madrs(m).items():
        cols[scale] = values
    cols["cadss"] = cadss(cols["occupancy"], Y[:, 2], p[IDX["cadss_gain"]])
    return cols


def simulate(plan: Plan, params: np.ndarray | None = None, *, method: str = "fast",
             times_h: np.ndarray | None = None, switches: np.ndarray | dict[str, bool] | None = None,
             switch_from_day: float = 0.0, pk_variability: PKVariability = PKVariability(),
             rtol: float | None = None, atol: float | None = None) -> Trajectory:
    """Simulate one patient under ``plan``.

    ``switches`` turns mechanisms off from ``switch_from_day`` on: a dict such as
    ``{"pruning": False}`` or an array in the order of :data:`ketasim.dynamics.MECHANISMS`.
    """
    params = default_vector() if params is None else np.asarray(params, dtype=np.float64)
    sw = _switch_vector(switches)
    t_switch = switch_from_day * HOURS_PER_DAY
    cp = compile_plan(plan, params, pk_variability=pk_variability, t_switch_h=t_switch)
    t = output_times_h(plan) if times_h is None else np.asarray(times_h, dtype=float)
    Y = integrate(cp, t, switches=sw, method=method, rtol=rtol, atol=atol)
    cols = observables(cp, t, Y, sw)
    table = pd.DataFrame(cols)
    table.insert(2, "date", [plan.date_of(d) for d in table["day"]])
    if not np.all(np.isfinite(table.select_dtypes("number").to_numpy())):
        raise SimulationError(f"plan {plan.name!r}: the simulation produced non-finite values")
    return Trajectory(plan, table, cp, sw)


def _switch_vector(switches: np.ndarray | dict[str, bool] | None) -> np.ndarray:
    if switches is None:
        return ALL_ON.copy()
    if isinstance(switches, dict):
        sw = ALL_ON.copy()
        for name, on in switches.items():
            if name not in MECHANISMS:
                raise KeyError(f"unknown mechanism {name!r}; allowed: {', '.join(MECHANISMS)}")
            sw[MECHANISMS.index(name)] = 1.0 if on else 0.0
        return sw
    return np.asarray(switches, dtype=float)
