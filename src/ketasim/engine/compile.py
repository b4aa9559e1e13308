"""Turn a :class:`~ketasim.dosing.plan.Plan` and a parameter vector into flat arrays.

The compiled form is what the integrators read: segment boundaries (h), the exact PK as
``s(t) = c0_k + sum_j c1_kj exp(lam_j (t - t_k))`` on each segment, the piecewise-constant
inputs, the session jumps, the life events, the patient's trait deficit and initial state.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ketasim.dosing.plan import Dose, Plan
from ketasim.dynamics import N_STATES, SA, SM
from ketasim.errors import PlanError
from ketasim.exposure.models import DEFAULT_MODEL, get_model
from ketasim.exposure.system import DoseInput, PKSystem, build_system, modal_schedule
from ketasim.parameters import HOURS_PER_DAY, IDX
from ketasim.plasticity.setpoint import set_point
from ketasim.receptor.occupancy import potency_row
from ketasim.symptoms.madrs import trait_deficit


@dataclass(frozen=True)
class PKVariability:
    """Multiplicative inter-individual factors on clearances, volumes and absorption rates."""

    cl: float = 1.0
    v: float = 1.0
    ka: float = 1.0


@dataclass
class CompiledPlan:
    """Arrays for one patient; times in hours from the plan start."""

    plan: Plan
    params: np.ndarray
    seg_t: np.ndarray
    lam: np.ndarray
    c0: np.ndarray
    c1: np.ndarray
    seg_life: np.ndarray
    seg_ad: np.ndarray
    jump_S: np.ndarray
    jump_E: np.ndarray
    load_chronic: float
    ev_t: np.ndarray
    ev_amp: np.ndarray
    ev_tau: np.ndarray
    d_trait: float
    y0: np.ndarray
    pk: PKSystem | None
    pk_z: np.ndarray
    pk_w: np.ndarray
    potency_modal: np.ndarray
    t_switch: float = 0.0

    @property
    def horizon_h(self) -> float:
        return float(self.seg_t[-1])

    def load_at(self, t_h: np.ndarray) -> np.ndarray:
        """Load L(t) at hours ``t_h`` (vectorised)."""
        t = np.asarray(t_h, dtype=float)
        L = np.full(t.shape, self.load_chronic)
        for te, a, tau in zip(self.ev_t, self.ev_amp, self.ev_tau, strict=True):
            on = t >= te
            L[on] += a * np.exp(-(t[on] - te) / tau)
        return L

    def segment_of(self, t_h: np.ndarray) -> np.ndarray:
        """Index of the segment holding each time (the last one for the horizon itself)."""
        k = np.searchsorted(self.seg_t, np.asarray(t_h, dtype=float), side="right") - 1
        return np.clip(k, 0, self.seg_t.size - 2)

    def potency_at(self, t_h: np.ndarray) -> np.ndarray:
        """Potency-weighted effect-site concentration s(t) (vectorised)."""
        t = np.asarray(t_h, dtype=float)
        k = self.segment_of(t)
        tau = (t - self.seg_t[k])[:, None]
        return self.c0[k] + np.sum(self.c1[k] * np.exp(self.lam[None, :] * tau), axis=1)


def expand_doses(doses: tuple[Dose, ...], weight_kg: float) -> list[DoseInput]:
    """Doses as PK inputs in hours; an intranasal dose becomes one bolus per device.

    A dose written in mg/kg is recomputed for ``weight_kg`` (virtual patients differ in weight).
    """
    out: list[DoseInput] = []
    for d in doses:
        if d.mg_per_kg is not None:
            d = replace(d, amount_mg=d.mg_per_kg * weight_kg)
        t0 = d.day * HOURS_PER_DAY
        if d.route == "intranasal" and d.devices > 1:
            for i in range(d.devices):
                out.append(DoseInput(t0 + i * d.device_interval_min / 60.0, 0.0, d.amount_mg / d.devices,
                                     d.route, i))
        else:
            dur = d.duration_min / 60.0 if d.route == "iv" else 0.0
            out.append(DoseInput(t0, dur, d.amount_mg, d.route, 0))
    return out


def pk_model_name(plan: Plan) -> tuple[str, str] | None:
    """(drug, model name) for the plan's doses, or None without doses."""
    if not plan.doses:
        return None
    drugs = {d.drug for d in plan.doses}
    if len(drugs) > 1:
        raise PlanError("doses", ", ".join(sorted(drugs)), "one drug per plan (racemic or esketamine)",
                        file=plan.source_file)
    drug = drugs.pop()
    if drug in plan.pk_models:
        return drug, plan.pk_models[drug]
    routes = {d.route for d in plan.doses}
    names = {DEFAULT_MODEL[(drug, r)] for r in routes}
    # Prefer the IV model when routes are mixed; intranasal esketamine has its own.
    name = sorted(names)[0] if len(names) > 1 else names.pop()
    return drug, name


def compile_plan(plan: Plan, params: np.ndarray, *, pk_variability: PKVariability = PKVariability(),
                 extra_breakpoints_h: tuple[float, ...] = (), t_switch_h: float = 0.0) -> CompiledPlan:
    """Compile ``plan`` with the response parameter vector ``params``."""
    horizon_h = plan.horizon_days * HOURS_PER_DAY
    doses = expand_doses(plan.doses, plan.patient.weight_kg)
    pk = None
    if doses:
        drug_model = pk_model_name(plan)
        assert drug_model is not None
        model = get_model(drug_model[1])
        routes = sorted({d.route for d in doses})
        missing = [r for r in routes if r not in model.routes]
        if missing:
            raise PlanError("pk_models", model.name, f"a model offering route(s) {', '.join(missing)}",
                            file=plan.source_file)
        pk = build_system(model, plan.patient.weight_kg, routes, ke0=params[IDX["ke0"]],
                          cl_factor=pk_variability.cl, v_factor=pk_variability.v, ka_factor=pk_variability.ka)

    bps: list[float] = [0.0, horizon_h, t_switch_h, *extra_breakpoints_h]
    for d in doses:
        bps += [d.start_h, d.start_h + d.duration_h]
    bps += [s * HOURS_PER_DAY for s in plan.therapy_days]
    for lp in plan.lifestyle:
        bps += [lp.start_day * HOURS_PER_DAY, lp.end_day * HOURS_PER_DAY]
    for tr in plan.treatments:
        bps += [s * HOURS_PER_DAY for s in tr.session_days]
        bps.append(tr.start_day * HOURS_PER_DAY)
        if tr.end_day is not None:
            bps.append(tr.end_day * HOURS_PER_DAY)
    bps += [e.day * HOURS_PER_DAY for e in plan.patient.life_events]
    seg_t = np.unique(np.clip(np.asarray(bps, dtype=float), 0.0, horizon_h))
    K = seg_t.size - 1
    starts = seg_t[:-1]
    mids = 0.5 * (seg_t[:-1] + seg_t[1:])

    if pk is not None:
        pk_doses = [d for d in doses if d.start_h < horizon_h]  # a nasal dose's last devices may follow the end
        z, w = modal_schedule(pk, pk_doses, seg_t)
        lam = pk.lam
        row = potency_row(pk, params)
        rm = row @ pk.V
        c1 = rm[None, :] * (z[:K] + w[:K] / lam[None, :])
        c0 = -np.sum(rm[None, :] * w[:K] / lam[None, :], axis=1)
    else:
        z = w = np.zeros((K + 1, 0))
        lam = np.zeros(0)
        rm = np.zeros(0)
        c1 = np.zeros((K, 0))
        c0 = np.zeros(K)

    seg_life = np.zeros(K)
    life0 = 0.0
    for lp in plan.lifestyle:
        on = (mids >= lp.start_day * HOURS_PER_DAY) & (mids < lp.end_day * HOURS_PER_DAY)
        seg_life[on] += lp.level
        if lp.start_day < 0 < lp.end_day:
            life0 += lp.level
    seg_life = np.minimum(seg_life, 1.0)
    life0 = min(life0, 1.0)
    seg_ad = np.zeros(K)
    jump_S = np.zeros(K)
    jump_E = np.zeros(K)
    # Every session lies in [0, horizon) (a Plan refuses others), so it starts a segment.
    for s in plan.therapy_days:
        jump_S[np.searchsorted(starts, s * HOURS_PER_DAY)] += 1.0
    ad_at_start = False
    for tr in plan.treatments:
        if tr.kind == "antidepressant":
            end = np.inf if tr.end_day is None else tr.end_day * HOURS_PER_DAY
            seg_ad[(mids >= tr.start_day * HOURS_PER_DAY) & (mids < end)] = 1.0
            ad_at_start |= tr.start_day < 0 < (np.inf if tr.end_day is None else tr.end_day)
        else:
            g = params[IDX["g_ect"]] if tr.kind == "ect" else params[IDX["g_tms"]]
            for s in tr.session_days:
                jump_E[np.searchsorted(starts, s * HOURS_PER_DAY)] += g

    ev = plan.patient.life_events
    ev_t = np.array([e.day * HOURS_PER_DAY for e in ev], dtype=float)
    ev_amp = np.array([e.amplitude for e in ev], dtype=float)
    ev_tau = np.array([e.fade_days * HOURS_PER_DAY for e in ev], dtype=float)

    load0 = plan.patient.chronic_load + float(np.sum(ev_amp[ev_t <= 0] * np.exp(ev_t[ev_t <= 0] / ev_tau[ev_t <= 0])))
    A0 = params[IDX["a_antidepressant"]] if ad_at_start else 0.0
    beta = params[IDX["beta"]]
    gamma = params[IDX["gamma_lifestyle"]]
    # Baseline severity is the steady state before day 0: under the load at day 0, and the lifestyle and
    # medication that began before day 0 (those starting on day 0 or later are part of the treatment).
    d_trait = trait_deficit(plan.patient.baseline_madrs, load0, params[IDX["madrs_floor"]], params[IDX["kappa"]],
                            beta) + gamma * life0 + A0
    if d_trait < 0:
        raise PlanError("patient.chronic_load", plan.patient.chronic_load,
                        f"a load that explains at most the baseline MADRS {plan.patient.baseline_madrs:g}: "
                        f"load {load0:.2f} x beta {beta:g} lowers the set point more than the baseline severity "
                        "allows; lower the load or raise baseline_madrs", file=plan.source_file)
    y0 = np.zeros(N_STATES)
    y0[SM] = set_point(d_trait, beta, load0, 0.0, gamma, life0, A0)
    y0[SA] = A0
    return CompiledPlan(plan, params, seg_t, lam, c0, c1, seg_life, seg_ad, jump_S, jump_E,
                        plan.patient.chronic_load, ev_t, ev_amp, ev_tau, d_trait, y0, pk, z, w, rm,
                        t_switch_h)
