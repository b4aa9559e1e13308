"""Batch engine: many patients, one or several plans, integrated in parallel on every core.

The equations are those of the one-patient engine (``ketasim.dynamics.rhs`` with the exact PK of
``ketasim.exposure.system``); what differs is how the work is organised so that a population
costs little more than its number of patient-years:

* **Plan templates.** Everything in a compiled plan that does not depend on the patient (segment
  boundaries, lifestyle and medication levels, session counts, life events, the dose schedule and
  the PK model's matrices) is built once per distinct plan by :func:`plan_template` (which calls
  ``compile_plan`` itself, so the two engines read the same plan the same way). Several templates
  are packed into flat arrays with offsets (CSR form) by :func:`pack_templates`.
* **Per-patient PK.** With the weight ``W`` and the factors ``f_cl, f_v, f_ka`` of a patient,

      A = (f_c / f_v) A_disp + f_ka A_ka + ke0 D_e + (ke0 / f_v) B_e,
      f_v = (W / 70) f_v,   f_c = (W / 70)^0.75 f_cl

  (``A_disp``: clearances over volumes at 70 kg; ``A_ka``: absorption; ``D_e, B_e``: the
  effect-site equilibration), which is ``build_system`` term by term. The eigen-decompositions
  ``A = V diag(lam) V^-1`` of a chunk are computed together (:func:`modal_batch`), then each
  patient's modal schedule is streamed segment by segment inside the kernel: no per-patient
  Python and no stored coefficients.
* **Integrator.** An embedded Dormand-Prince 5(4) pair in *Lawson* (integrating-factor) form for
  the trigger signal ``G``: with ``dG/dt = -k_G G + g(t, y)`` the method integrates
  ``v = exp(k_G (t - t_n)) G`` so the decay of ``G`` between doses is exact and does not limit
  the step (plain DOPRI5 is stable only for ``h < 3.3 / k_G``, about 8 h). The other states are
  slow and are integrated as they are. Error control is the usual mixed test
  ``||err / (atol + rtol max(|y_n|, |y_n+1|))||_rms <= 1``. Outputs come from the method's
  4th-order continuous extension, so a daily grid does not cut the steps. The potency
  ``s(t) = c0 + sum_j c1_j exp(lam_j tau)`` at the stages is evaluated with one exponential per
  mode and step (``exp(lam h / 90)`` and its powers), and not at all
  once it is below ``DRUG_NEGLIGIBLE`` (1e-9 uM-equivalents) for the rest of a drug-free segment.
* **Parallelism and memory.** Patients are independent: blocks of patients run on every core
  (threads calling a compiled loop that releases the GIL; ``numba.get_num_threads()`` of them);
  scratch memory is per patient (a few kB), and outputs are written straight into the caller's
  arrays (float32 trajectories on a day grid; float64 MADRS at the outcome visits).

Accuracy: ``tests/population/test_batch_equivalence.py`` checks the MADRS of this engine against
the SciPy reference (``simulate(..., method="reference")``) at every daily output, on random
patients and plans.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numba
import numpy as np

from ketasim.dosing.plan import Patient, Plan
from ketasim.dynamics import N_STATES, SA, SC, SE, SG, SM, SN, SS, STATES, SW_LOAD, rhs
from ketasim.engine.compile import compile_plan, expand_doses, pk_model_name
from ketasim.engine.integrate import MAX_STEPS_PER_HOUR, MAX_STEPS_PER_SEGMENT
from ketasim.errors import PlanError
from ketasim.exposure.models import MW_KETAMINE, MW_NORKETAMINE, get_model
from ketasim.exposure.system import REFERENCE_WEIGHT_KG, build_system
from ketasim.parameters import IDX, default_vector
from ketasim.plasticity.reinforcement import reinforcement
from ketasim.plasticity.setpoint import load_at, set_point
from ketasim.receptor.occupancy import occupancy
from ketasim.symptoms.madrs import madrs_score

# --- outputs -----------------------------------------------------------------------------------
#: Quantities the kernel can write at each output time (``madrs`` and every state, then derived ones).
OUTPUTS: tuple[str, ...] = ("madrs", *STATES, "load", "load_effective", "set_point", "occupancy", "lifestyle",
                            "reinforcement")
OUTPUT_CODE: dict[str, int] = {name: i for i, name in enumerate(OUTPUTS)}
_O_MADRS = 0
_O_STATE0 = 1
_O_LOAD = 1 + N_STATES
_O_LOAD_EFF, _O_SET_POINT, _O_OCC, _O_LIFE, _O_REINF = _O_LOAD + 1, _O_LOAD + 2, _O_LOAD + 3, _O_LOAD + 4, _O_LOAD + 5

#: Default tolerances of the batch engine (chosen so that daily MADRS agrees with the SciPy
#: reference within 0.05 points on random patients and plans; see the equivalence test).
BATCH_RTOL = 5e-5
BATCH_ATOL = 5e-7
#: Potency below which the drug is treated as gone for the rest of a drug-free segment (uM-eq).
DRUG_NEGLIGIBLE = 1e-9
#: Above this k_G h the continuous extension of G switches from the Lawson polynomial (which must
#: follow exp(k_G t) growth in the transformed variable) to the convolution of the stage forcings.
LAWSON_DENSE_MAX = 1.0
#: Absolute tolerance of each state relative to ``atol``. MADRS = floor + kappa (1 - N - M) exp(-kappa_G G)
#: is about kappa_G (1 - N - M) ~ 30 times more sensitive to G than to N or M, so G gets 1/30.
ATOL_WEIGHTS = np.array([1.0 / 30.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
#: Largest step, in units of 1/k_G (keeps exp(k_G h) far from overflow).
MAX_KG_H = 200.0
#: Largest step (h). The step's error estimate does not control the continuous extension inside it: over
#: drug-free steps of a week the daily outputs inside were off by up to 0.2 MADRS points at rtol 1e-2 (0.08
#: at 5e-3) while the step ends were accurate; three days keep them within the step's own accuracy
#: (``benchmarks/README.md``).
MAX_STEP_H = 72.0
#: First step after a plan start (h).
FIRST_STEP_H = 0.05

# segment flags: the PK input changes at the segment start
_FLAG_DOSE = 1  # a dose starts (infusion or bolus)
_FLAG_END = 2  # an infusion ends

# parameter indices as constants for the kernel
_P_kG = IDX["k_G"]
_P_floor, _P_kappa, _P_kappaG = IDX["madrs_floor"], IDX["kappa"], IDX["kappa_G"]
_P_beta, _P_gamma = IDX["beta"], IDX["gamma_lifestyle"]
_P_wt, _P_wl = IDX["w_therapy"], IDX["w_lifestyle"]
_P_gect, _P_gtms = IDX["g_ect"], IDX["g_tms"]

# Dormand-Prince 5(4)
_C2, _C3, _C4, _C5 = 1 / 5, 3 / 10, 4 / 5, 8 / 9
_A21 = 1 / 5
_A31, _A32 = 3 / 40, 9 / 40
_A41, _A42, _A43 = 44 / 45, -56 / 15, 32 / 9
_A51, _A52, _A53, _A54 = 19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729
_A61, _A62, _A63, _A64, _A65 = 9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656
_B1, _B3, _B4, _B5, _B6 = 35 / 384, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84
_E1, _E3, _E4, _E5, _E6, _E7 = (71 / 57600, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40)
# continuous extension (Hairer, Norsett & Wanner, contd5)
_D1, _D3, _D4 = -12715105075 / 11282082432, 87487479700 / 32700410799, -10690763975 / 1880347072
_D5, _D6, _D7 = 701980252875 / 199316789632, -1453857185 / 822651844, 69997945 / 29380423


# --- plan templates --------------------------------------------------------------------------------

@dataclass(frozen=True)
class PKTemplate:
    """A plan's PK model split into the terms that scale differently between patients (see module doc)."""

    model_name: str
    routes: tuple[str, ...]
    A_disp: np.ndarray
    A_ka: np.ndarray
    ke0_diag: np.ndarray
    ke0_in: np.ndarray
    effect: np.ndarray
    enantiomer_s: float

    @property
    def n(self) -> int:
        return self.A_disp.shape[0]

    def matrices(self, weight_kg: np.ndarray, cl: np.ndarray, v: np.ndarray, ka: np.ndarray,
                 ke0: np.ndarray) -> np.ndarray:
        """System matrices (n_patients x n x n) of ``build_system`` for each patient."""
        fv = (weight_kg / REFERENCE_WEIGHT_KG) * v
        fc = (weight_kg / REFERENCE_WEIGHT_KG) ** 0.75 * cl
        return ((fc / fv)[:, None, None] * self.A_disp + ka[:, None, None] * self.A_ka
                + ke0[:, None, None] * self.ke0_diag + (ke0 / fv)[:, None, None] * self.ke0_in)

    def potency_weights(self, params: np.ndarray) -> np.ndarray:
        """(n_patients x 2) weights fu / Ki / MW (1/uM per mg/L) of parent and metabolite (``potency_row``)."""
        fs = self.enantiomer_s
        fu = params[:, IDX["fu"]]
        parent = fs / params[:, IDX["ki_s_ketamine"]] + (1 - fs) / params[:, IDX["ki_r_ketamine"]]
        metab = fs / params[:, IDX["ki_s_norketamine"]] + (1 - fs) / params[:, IDX["ki_r_norketamine"]]
        return fu[:, None] * 1000.0 * np.stack([parent / MW_KETAMINE, metab / MW_NORKETAMINE], axis=1)


@dataclass(frozen=True)
class PlanTemplate:
    """The patient-independent part of a compiled plan (times in hours).

    Dose amounts are ``dose_a + dose_b * weight_kg`` (``dose_b`` is non-zero for mg/kg doses);
    ``dose_input`` indexes ``inputs`` (one row per route and spray device). ``outcome_t`` are the
    extra times (h) at which MADRS is wanted for the outcomes (see ``ketasim.population.endpoints``).
    """

    plan: Plan
    seg_t: np.ndarray
    seg_flag: np.ndarray
    seg_life: np.ndarray
    seg_ad: np.ndarray
    n_sessions: np.ndarray
    n_ect: np.ndarray
    n_tms: np.ndarray
    ev_t: np.ndarray
    ev_amp: np.ndarray
    ev_tau: np.ndarray
    life0: float
    ad_at_start: bool
    pk: PKTemplate | None
    dose_k0: np.ndarray
    dose_k1: np.ndarray
    dose_a: np.ndarray
    dose_b: np.ndarray
    dose_dur: np.ndarray
    dose_input: np.ndarray
    inputs: np.ndarray
    t_switch: float
    outcome_t: np.ndarray

    @property
    def horizon_h(self) -> float:
        return float(self.seg_t[-1])

    @property
    def n_pk(self) -> int:
        return 0 if self.pk is None else self.pk.n

    def load0(self, chronic: np.ndarray, acute_scale: np.ndarray) -> np.ndarray:
        """Load at day 0 (as ``compile_plan``): chronic load plus what is left of earlier life events."""
        before = self.ev_t <= 0
        pre = float(np.sum(self.ev_amp[before] * np.exp(self.ev_t[before] / self.ev_tau[before])))
        return chronic + acute_scale * pre


def _pk_template(plan: Plan) -> PKTemplate | None:
    drug_model = pk_model_name(plan)
    if drug_model is None:
        return None
    model = get_model(drug_model[1])
    routes = tuple(sorted({d.route for d in plan.doses}))
    missing = [r for r in routes if r not in model.routes]
    if missing:
        raise PlanError("pk_models", model.name, f"a model offering route(s) {', '.join(missing)}",
                        file=plan.source_file)
    w = REFERENCE_WEIGHT_KG
    disp = build_system(model, w, routes, ke0=0.0, ka_factor=0.0)
    ka = build_system(model, w, routes, ke0=0.0, cl_factor=0.0, ka_factor=1.0)
    eff = build_system(model, w, routes, ke0=1.0, cl_factor=0.0, ka_factor=0.0)
    ke0_diag = np.diag(np.diag(eff.A))
    return PKTemplate(model.name, routes, disp.A, ka.A, ke0_diag, eff.A - ke0_diag, disp.effect.copy(),
                      model.enantiomer_s)


def _input_rows(plan: Plan, pk: PKTemplate) -> tuple[np.ndarray, dict[tuple[str, int], int]]:
    system = build_system(get_model(pk.model_name), REFERENCE_WEIGHT_KG, pk.routes)
    rows, index = [], {}
    for r in pk.routes:
        vecs = system._inputs[r]
        for dev in range(vecs.shape[0]):
            index[(r, dev)] = len(rows)
            rows.append(vecs[dev])
    return np.array(rows), index


def plan_template(plan: Plan, *, t_switch_h: float = 0.0, outcome_t_h: np.ndarray | None = None) -> PlanTemplate:
    """The template of ``plan``: ``compile_plan``'s segments and inputs, without the patient.

    The segment arrays are read from ``compile_plan`` itself (run with a reference patient and
    parameter vectors that expose each term), so both engines share one reading of a plan.
    """
    # the plan's own weight: the template does not depend on it, and the plan's doses are valid for it
    ref_patient = Patient(weight_kg=plan.patient.weight_kg, life_events=plan.patient.life_events,
                          baseline_madrs=60.0, chronic_load=0.0)
    ref_plan = replace(plan, patient=ref_patient)
    p = default_vector()
    p[IDX["g_ect"]], p[IDX["g_tms"]] = 1.0, 0.0
    cp = compile_plan(ref_plan, p, t_switch_h=t_switch_h)
    p2 = p.copy()
    p2[IDX["g_ect"]], p2[IDX["g_tms"]] = 0.0, 1.0
    cp2 = compile_plan(ref_plan, p2, t_switch_h=t_switch_h)
    seg_t = cp.seg_t
    K = seg_t.size - 1
    horizon_h = float(seg_t[-1])
    # life0 and the antidepressant at the start, from compile_plan's baseline (beta = 0 there)
    p3 = p.copy()
    p3[IDX["beta"]], p3[IDX["gamma_lifestyle"]], p3[IDX["a_antidepressant"]] = 0.0, 1.0, 0.5
    cp3 = compile_plan(ref_plan, p3, t_switch_h=t_switch_h)
    ad_at_start = bool(cp3.y0[SA] > 0.0)
    base_def = (60.0 - p3[IDX["madrs_floor"]]) / p3[IDX["kappa"]]
    life0 = float(cp3.d_trait - base_def - (0.5 if ad_at_start else 0.0))

    pk = _pk_template(plan)
    flag = np.zeros(K, dtype=np.int64)
    if pk is not None:
        inputs, index = _input_rows(plan, pk)
        d1 = [d for d in expand_doses(plan.doses, 1.0) if d.start_h < horizon_h]
        d2 = [d for d in expand_doses(plan.doses, 2.0) if d.start_h < horizon_h]
        k0 = np.array([np.searchsorted(seg_t, d.start_h) for d in d1], dtype=np.int64)
        k1 = np.array([min(np.searchsorted(seg_t, d.start_h + d.duration_h), K) if d.duration_h > 0 else 0
                       for d in d1], dtype=np.int64)
        b = np.array([x2.amount_mg - x1.amount_mg for x1, x2 in zip(d1, d2, strict=True)])
        a = np.array([x.amount_mg for x in d1]) - b
        dur = np.array([d.duration_h for d in d1])
        inp = np.array([index[(d.route, min(d.device, max(dev for (r, dev) in index if r == d.route)))]
                        for d in d1], dtype=np.int64)
        for dd, k1i in zip(dur, k1, strict=True):
            if dd > 0 and k1i < K:
                flag[k1i] = _FLAG_END
        for kk in k0:
            if kk < K:
                flag[kk] = _FLAG_DOSE
    else:
        inputs = np.zeros((0, 0))
        k0 = k1 = inp = np.zeros(0, dtype=np.int64)
        a = b = dur = np.zeros(0)
    out_t = np.zeros(0) if outcome_t_h is None else np.asarray(outcome_t_h, dtype=float)
    return PlanTemplate(plan=plan, seg_t=seg_t, seg_flag=flag, seg_life=cp.seg_life, seg_ad=cp.seg_ad,
                        n_sessions=cp.jump_S, n_ect=cp.jump_E, n_tms=cp2.jump_E, ev_t=cp.ev_t, ev_amp=cp.ev_amp,
                        ev_tau=cp.ev_tau, life0=life0, ad_at_start=ad_at_start, pk=pk, dose_k0=k0, dose_k1=k1,
                        dose_a=a, dose_b=b, dose_dur=dur, dose_input=inp, inputs=inputs, t_switch=t_switch_h,
                        outcome_t=out_t)


@dataclass(frozen=True)
class PackedTemplates:
    """Several templates in flat arrays with offsets (``*_off[j]:*_off[j + 1]`` is template ``j``)."""

    templates: tuple[PlanTemplate, ...]
    m: np.ndarray
    m_max: int
    seg_off: np.ndarray
    seg_t: np.ndarray
    seg_flag: np.ndarray
    seg_life: np.ndarray
    seg_ad: np.ndarray
    seg_nS: np.ndarray
    seg_nect: np.ndarray
    seg_ntms: np.ndarray
    dose_off: np.ndarray
    dose_k0: np.ndarray
    dose_k1: np.ndarray
    dose_a: np.ndarray
    dose_b: np.ndarray
    dose_dur: np.ndarray
    dose_inp: np.ndarray
    inp_off: np.ndarray
    inp: np.ndarray
    ev_off: np.ndarray
    ev_t: np.ndarray
    ev_amp: np.ndarray
    ev_tau: np.ndarray
    t_switch: float


def _offsets(sizes: list[int]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


def pack_templates(templates: list[PlanTemplate] | tuple[PlanTemplate, ...]) -> PackedTemplates:
    """Flat arrays of several plan templates for the kernel."""
    ts = tuple(templates)
    if len({t.t_switch for t in ts}) > 1:
        raise ValueError("all templates of one batch must share t_switch")
    m = np.array([t.n_pk for t in ts], dtype=np.int64)
    m_max = int(max(1, m.max(initial=0)))
    inp_rows = []
    for t in ts:
        rows = np.zeros((t.inputs.shape[0], m_max))
        if t.inputs.size:
            rows[:, :t.inputs.shape[1]] = t.inputs
        inp_rows.append(rows)

    def cat(name: str, dtype=float) -> np.ndarray:
        parts = [np.asarray(getattr(t, name), dtype=dtype) for t in ts]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)

    # segment arrays have K entries; seg_t has K + 1: pad the per-segment ones to K + 1
    def seg(name: str, dtype=float) -> np.ndarray:
        return np.concatenate([np.append(np.asarray(getattr(t, name), dtype=dtype), 0) for t in ts])

    return PackedTemplates(
        templates=ts, m=m, m_max=m_max,
        seg_off=_offsets([t.seg_t.size for t in ts]), seg_t=cat("seg_t"), seg_flag=seg("seg_flag", np.int64),
        seg_life=seg("seg_life"), seg_ad=seg("seg_ad"), seg_nS=seg("n_sessions"), seg_nect=seg("n_ect"),
        seg_ntms=seg("n_tms"),
        dose_off=_offsets([t.dose_k0.size for t in ts]), dose_k0=cat("dose_k0", np.int64),
        dose_k1=cat("dose_k1", np.int64), dose_a=cat("dose_a"), dose_b=cat("dose_b"), dose_dur=cat("dose_dur"),
        dose_inp=cat("dose_input", np.int64),
        inp_off=_offsets([r.shape[0] for r in inp_rows]),
        inp=np.concatenate(inp_rows) if inp_rows else np.zeros((0, m_max)),
        ev_off=_offsets([t.ev_t.size for t in ts]), ev_t=cat("ev_t"), ev_amp=cat("ev_amp"), ev_tau=cat("ev_tau"),
        t_switch=float(ts[0].t_switch) if ts else 0.0,
    )


# --- per-chunk PK decomposition ---------------------------------------------------------------------

def modal_batch(pk: PKTemplate, weight_kg: np.ndarray, cl: np.ndarray, v: np.ndarray, ka: np.ndarray,
                params: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eigenvalues ``lam`` (n x m), ``V^-1`` (n x m x m) and the modal potency row ``r V`` (n x m).

    Decompositions are computed for the whole chunk at once. As in ``build_system``, a matrix whose
    eigenvalues come out complex or whose eigenvectors are nearly dependent (coincident rates) has
    its diagonal separated by a relative 1e-6 and is decomposed again.
    """
    ke0 = params[:, IDX["ke0"]]
    A = pk.matrices(weight_kg, cl, v, ka, ke0)
    lam, V = np.linalg.eig(A)
    Vinv = np.linalg.inv(V)
    bad = np.max(np.abs(lam.imag), axis=1) > 1e-9 * np.max(np.abs(lam.real), axis=1)
    cond1 = np.max(np.sum(np.abs(V), axis=1), axis=1) * np.max(np.sum(np.abs(Vinv), axis=1), axis=1)
    bad |= ~np.isfinite(cond1) | (np.abs(cond1) > 1e10)
    if np.any(bad):
        jitter = 1.0 + 1e-6 * np.arange(1, pk.n + 1)
        A2 = A[bad].copy()
        idx = np.arange(pk.n)
        A2[:, idx, idx] *= jitter
        l2, V2 = np.linalg.eig(A2)
        lam = lam.astype(complex)
        V = V.astype(complex)
        lam[bad], V[bad] = l2, V2
        Vinv = Vinv.astype(complex)
        Vinv[bad] = np.linalg.inv(V2)
    lam, V, Vinv = np.real(lam).copy(), np.real(V).copy(), np.real(Vinv).copy()
    row = np.einsum("nk,km->nm", pk.potency_weights(params), pk.effect)
    rm = np.einsum("nm,nmj->nj", row, V)
    return lam, Vinv, rm


# --- the kernel --------------------------------------------------------------------------------------

@numba.njit(cache=True, inline="always")
def _stage_powers(r: float) -> tuple[float, float, float, float, float]:
    """``exp(x c)`` at the stage nodes c = 1/5, 3/10, 4/5, 8/9, 1 from ``r = exp(x / 90)`` (products only)."""
    r2 = r * r
    r4 = r2 * r2
    r8 = r4 * r4
    r16 = r8 * r8
    r18 = r16 * r2
    r64 = r16 * r16
    r64 = r64 * r64
    r80 = r64 * r16
    return r18, r18 * r8 * r, r64 * r8, r80, r80 * r8 * r2


@numba.njit(cache=True)
def _segment_load(t: float, t_k: float, chronic: float, ev_t: np.ndarray, ev_amp: np.ndarray,
                  ev_tau: np.ndarray) -> float:
    """Load L(t) inside the segment that starts at ``t_k`` (``ketasim.plasticity.setpoint.load_at``).

    Life events are segment boundaries, so the events in force are those with ``t_e <= t_k``: an
    event at the segment's end belongs to the next segment even when a stage is evaluated there.
    """
    L = chronic
    for i in range(ev_t.size):
        if ev_t[i] <= t_k:
            L += ev_amp[i] * math.exp(-(t - ev_t[i]) / ev_tau[i])
    return L


_NODES = np.array([0.0, _C2, _C3, _C4, _C5, 1.0])


@numba.njit(cache=True)
def _convolve_nodes(th: float, h: float, g: np.ndarray, k: float) -> float:
    """``int_0^{th h} exp(-k (th h - u)) g(u) du`` for ``g`` known at the stage nodes (fractions of ``h``).

    Between two nodes ``a < b`` the forcing is the exponential through ``g_a`` and ``g_b`` (a straight
    line if either is not positive), so each piece integrates in closed form:
    ``(g_b exp(-k (tau - b)) - g_a exp(-k (tau - a))) / (k + mu)`` with ``mu = ln(g_b / g_a) / (b - a)``.
    """
    tau = th * h
    acc = 0.0
    for q in range(5):
        a = _NODES[q] * h
        if a >= tau:
            break
        b_full = _NODES[q + 1] * h
        ga = g[q]
        gb_full = g[q + 1]
        b = min(b_full, tau)
        width = b_full - a
        if ga > 0.0 and gb_full > 0.0:
            mu = math.log(gb_full / ga) / width
            gb = ga * math.exp(mu * (b - a))
            den = k + mu
            if abs(den) * (b - a) > 1e-8:
                acc += (gb * math.exp(-k * (tau - b)) - ga * math.exp(-k * (tau - a))) / den
            else:
                acc += ga * (b - a) * math.exp(-k * (tau - a))
        else:
            gb = ga + (gb_full - ga) * (b - a) / width
            acc += 0.5 * (ga * math.exp(-k * (tau - a)) + gb * math.exp(-k * (tau - b))) * (b - a)
    return acc


@numba.njit(cache=True, inline="always")
def _potency(c0: float, c1E: np.ndarray, P: np.ndarray, m: int) -> float:
    s = c0
    for j in range(m):
        s += c1E[j] * P[j]
    return s


@numba.njit(cache=True)
def _write_outputs(y, t, s, p, life, chronic, ev_t, ev_amp, ev_tau, d_trait, load_sw, codes, row):
    """Write the requested outputs at time ``t`` (state ``y``, potency ``s``) into ``row``."""
    for c in range(codes.size):
        code = codes[c]
        if code == _O_MADRS:
            row[c] = madrs_score(y[SN], y[SM], y[SG], p[_P_floor], p[_P_kappa], p[_P_kappaG])
        elif code < _O_LOAD:
            row[c] = y[code - _O_STATE0]
        elif code == _O_LOAD:
            row[c] = load_at(t, chronic, ev_t, ev_amp, ev_tau)
        elif code == _O_LOAD_EFF:
            row[c] = load_at(t, chronic, ev_t, ev_amp, ev_tau) * (1.0 - y[SC])
        elif code == _O_SET_POINT:
            L = load_at(t, chronic, ev_t, ev_amp, ev_tau)
            row[c] = set_point(d_trait, p[_P_beta] * load_sw, L, y[SC], p[_P_gamma], life, y[SA])
        elif code == _O_OCC:
            row[c] = occupancy(s)
        elif code == _O_LIFE:
            row[c] = life
        else:
            row[c] = reinforcement(y[SS], life, p[_P_wt], p[_P_wl])


@numba.njit(cache=True)
def _madrs_of(y, p) -> float:
    return madrs_score(y[SN], y[SM], y[SG], p[_P_floor], p[_P_kappa], p[_P_kappaG])


@numba.njit(cache=True)
def _one_patient(i, tid, m_arr, seg_off, seg_t_all, seg_flag_all, seg_life_all, seg_ad_all, seg_nS_all,
                 seg_nect_all, seg_ntms_all, dose_off, dose_k0, dose_k1, dose_a, dose_b, dose_dur, dose_inp,
                 inp_off, inp, ev_off, ev_t_all, ev_amp_all, ev_tau_all, out_off, out_t_all, out_grid_all,
                 out_oc_all, params, weight, chronic, acute, d_trait_arr, y0_arr, lam_all, Vinv_all, rm_all,
                 switches, t_switch, codes, rtol, atol, grid_out, oc_out, counts, pev_off, pev_t, pev_amp, pev_tau):
    tau_ = tid[i]
    m = m_arr[tau_]
    s0 = seg_off[tau_]
    K = seg_off[tau_ + 1] - s0 - 1
    p = params[i]
    W = weight[i]
    d_trait = d_trait_arr[i]
    n = N_STATES
    n_codes = codes.size
    kG = p[_P_kG]
    h_max = min(MAX_KG_H / kG, MAX_STEP_H) if kG > 0 else MAX_STEP_H

    # life events of this patient: the plan's (acute load scaled), then the patient's own (a realised course of
    # life, ``ketasim.population.life_course``), which are not segment boundaries: the stepping stops at each
    # one (``pe_times``, sorted) and restarts there with the load that includes it.
    e0 = ev_off[tau_]
    ne = ev_off[tau_ + 1] - e0
    q0 = pev_off[i]
    npe = pev_off[i + 1] - q0
    ev_t = np.empty(ne + npe)
    ev_tau = np.empty(ne + npe)
    ev_amp = np.empty(ne + npe)
    for e in range(ne):
        ev_t[e] = ev_t_all[e0 + e]
        ev_tau[e] = ev_tau_all[e0 + e]
        ev_amp[e] = ev_amp_all[e0 + e] * acute[i]
    for e in range(npe):
        ev_t[ne + e] = pev_t[q0 + e]
        ev_tau[ne + e] = pev_tau[q0 + e]
        ev_amp[ne + e] = pev_amp[q0 + e]
    pe_times = np.sort(pev_t[q0:q0 + npe])
    ip = 0
    ch = chronic[i]

    # modal dose inputs per segment
    lam = np.empty(m)
    rm = np.empty(m)
    for j in range(m):
        lam[j] = lam_all[i, j]
        rm[j] = rm_all[i, j]
    rate = np.zeros((K + 1, m))
    bol = np.zeros((K + 1, m))
    bm = np.empty(m)
    for d in range(dose_off[tau_], dose_off[tau_ + 1]):
        amt = dose_a[d] + dose_b[d] * W
        r_in = inp_off[tau_] + dose_inp[d]
        for a_ in range(m):
            acc = 0.0
            for b_ in range(m):
                acc += Vinv_all[i, a_, b_] * inp[r_in, b_]
            bm[a_] = acc * amt
        k0 = dose_k0[d]
        if dose_dur[d] > 0.0:
            for k in range(k0, dose_k1[d]):
                for a_ in range(m):
                    rate[k, a_] += bm[a_] / dose_dur[d]
        else:
            for a_ in range(m):
                bol[k0, a_] += bm[a_]

    # scratch
    y = y0_arr[i].copy()
    ynew = np.empty(n)
    ytmp = np.empty(n)
    f = np.empty(n)
    k1 = np.empty(n)
    k2 = np.empty(n)
    k3 = np.empty(n)
    k4 = np.empty(n)
    k5 = np.empty(n)
    k6 = np.empty(n)
    k7 = np.empty(n)
    yo = np.empty(n)
    on = np.ones(switches.size)
    z = np.zeros(m)
    c1 = np.empty(m)
    E = np.empty(m)
    c1E = np.empty(m)
    q1 = np.empty(m)
    q2 = np.empty(m)
    q3 = np.empty(m)
    q4 = np.empty(m)
    q5 = np.empty(m)
    row = np.empty(n_codes)
    gn = np.empty(6)
    # states the outputs need from the continuous extension (MADRS needs G, N and M only)
    need_all = False
    need_s = False
    for c in range(n_codes):
        if codes[c] == _O_OCC:
            need_s = True
        elif codes[c] != _O_MADRS and codes[c] != _O_STATE0 + SG and codes[c] != _O_STATE0 + SN \
                and codes[c] != _O_STATE0 + SM:
            need_all = True
    if need_all:
        dense = np.arange(n)
    else:
        dense = np.array([SG, SN, SM])
    n_dense = dense.size
    for j in range(n):
        yo[j] = 0.0
    o0 = out_off[tau_]
    n_out = out_off[tau_ + 1] - o0
    io = 0
    h = FIRST_STEP_H
    h_pk = np.full(3, FIRST_STEP_H)  # first step after a dose start / an infusion end, learnt
    steps = 0
    rejected = 0
    t_prev = seg_t_all[s0]
    for k in range(K):
        t = seg_t_all[s0 + k]
        t_end = seg_t_all[s0 + k + 1]
        # PK modal state at the segment start (exact)
        if k > 0:
            dt = t - t_prev
            for j in range(m):
                wl = rate[k - 1, j] / lam[j]
                z[j] = math.exp(lam[j] * dt) * (z[j] + wl) - wl
        for j in range(m):
            z[j] += bol[k, j]
        c0 = 0.0
        for j in range(m):
            wl = rate[k, j] / lam[j]
            c1[j] = rm[j] * (z[j] + wl)
            c0 -= rm[j] * wl
            E[j] = 1.0
        t_prev = t
        y[SS] += seg_nS_all[s0 + k]
        y[SE] += p[_P_gect] * seg_nect_all[s0 + k] + p[_P_gtms] * seg_ntms_all[s0 + k]
        sw = switches if t >= t_switch else on
        life = seg_life_all[s0 + k]
        ad = seg_ad_all[s0 + k]
        flag = seg_flag_all[s0 + k]
        first_in_seg = True
        if flag > 0:
            h = min(h, h_pk[flag])
        if k == 0:
            h = FIRST_STEP_H
        # outputs at the segment start (after its jumps)
        while io < n_out and out_t_all[o0 + io] <= t:
            s_here = c0
            for j in range(m):
                s_here += c1[j]
            _record(y, t, s_here, p, life, ch, ev_t, ev_amp, ev_tau, d_trait, sw[SW_LOAD], codes, row,
                    out_grid_all[o0 + io], out_oc_all[o0 + io], i, grid_out, oc_out)
            io += 1
        if t_end <= t:
            continue
        drug = m > 0
        if drug and c0 == 0.0:
            bound = 0.0
            for j in range(m):
                bound += abs(c1[j])
            drug = bound > DRUG_NEGLIGIBLE
        # f at the segment start
        s = c0
        for j in range(m):
            s += c1[j]
        if not drug:
            s = 0.0
        t_k = t  # events at or before t_k are in force (segment start, or the patient's last event passed)
        L = _segment_load(t, t_k, ch, ev_t, ev_amp, ev_tau)
        rhs(y, p, s, L, life, ad, d_trait, sw, k1)
        k1[SG] += kG * y[SG]  # Lawson form: g = f + k_G G (v-space at the step start)
        seg_steps = 0
        step_budget = MAX_STEPS_PER_SEGMENT + MAX_STEPS_PER_HOUR * (t_end - t)
        while ip < npe and pe_times[ip] <= t:
            ip += 1
        t_stop = pe_times[ip] if ip < npe and pe_times[ip] < t_end else t_end
        while t < t_end:
            hh = min(h, t_stop - t, h_max)
            if t_stop - (t + hh) < 1e-9 * max(1.0, abs(t_stop)):
                hh = t_stop - t
            # powers of exp(lam h / 10) and exp(8 lam h / 9), for the modes and for -k_G
            if drug:
                for j in range(m):
                    c1E[j] = c1[j] * E[j]
                    q1[j], q2[j], q3[j], q4[j], q5[j] = _stage_powers(math.exp(lam[j] * hh / 90.0))
            g1, g2, g3, g4, g5 = _stage_powers(math.exp(-kG * hh / 90.0))
            # stage 2
            for j in range(n):
                ytmp[j] = y[j] + hh * _A21 * k1[j]
            ytmp[SG] *= g1
            s = _potency(c0, c1E, q1, m) if drug else 0.0
            rhs(ytmp, p, s, _segment_load(t + _C2 * hh, t_k, ch, ev_t, ev_amp, ev_tau), life, ad, d_trait, sw, k2)
            k2[SG] = (k2[SG] + kG * ytmp[SG]) / g1
            # stage 3
            for j in range(n):
                ytmp[j] = y[j] + hh * (_A31 * k1[j] + _A32 * k2[j])
            ytmp[SG] *= g2
            s = _potency(c0, c1E, q2, m) if drug else 0.0
            rhs(ytmp, p, s, _segment_load(t + _C3 * hh, t_k, ch, ev_t, ev_amp, ev_tau), life, ad, d_trait, sw, k3)
            k3[SG] = (k3[SG] + kG * ytmp[SG]) / g2
            # stage 4
            for j in range(n):
                ytmp[j] = y[j] + hh * (_A41 * k1[j] + _A42 * k2[j] + _A43 * k3[j])
            ytmp[SG] *= g3
            s = _potency(c0, c1E, q3, m) if drug else 0.0
            rhs(ytmp, p, s, _segment_load(t + _C4 * hh, t_k, ch, ev_t, ev_amp, ev_tau), life, ad, d_trait, sw, k4)
            k4[SG] = (k4[SG] + kG * ytmp[SG]) / g3
            # stage 5
            for j in range(n):
                ytmp[j] = y[j] + hh * (_A51 * k1[j] + _A52 * k2[j] + _A53 * k3[j] + _A54 * k4[j])
            ytmp[SG] *= g4
            s = _potency(c0, c1E, q4, m) if drug else 0.0
            rhs(ytmp, p, s, _segment_load(t + _C5 * hh, t_k, ch, ev_t, ev_amp, ev_tau), life, ad, d_trait, sw, k5)
            k5[SG] = (k5[SG] + kG * ytmp[SG]) / g4
            # stage 6
            for j in range(n):
                ytmp[j] = y[j] + hh * (_A61 * k1[j] + _A62 * k2[j] + _A63 * k3[j] + _A64 * k4[j] + _A65 * k5[j])
            ytmp[SG] *= g5
            s5 = _potency(c0, c1E, q5, m) if drug else 0.0
            L5 = _segment_load(t + hh, t_k, ch, ev_t, ev_amp, ev_tau)
            rhs(ytmp, p, s5, L5, life, ad, d_trait, sw, k6)
            k6[SG] = (k6[SG] + kG * ytmp[SG]) / g5
            # solution (v-space), then back to y for G
            for j in range(n):
                ynew[j] = y[j] + hh * (_B1 * k1[j] + _B3 * k3[j] + _B4 * k4[j] + _B5 * k5[j] + _B6 * k6[j])
            vG_new = ynew[SG]
            ynew[SG] = vG_new * g5
            rhs(ynew, p, s5, L5, life, ad, d_trait, sw, f)
            gG7 = f[SG] + kG * ynew[SG]
            for j in range(n):
                k7[j] = f[j]
            k7[SG] = gG7 / g5
            err = 0.0
            for j in range(n):
                e = hh * (_E1 * k1[j] + _E3 * k3[j] + _E4 * k4[j] + _E5 * k5[j] + _E6 * k6[j] + _E7 * k7[j])
                if j == SG:
                    e *= g5
                sc = atol[j] + rtol * max(abs(y[j]), abs(ynew[j]))
                err += (e / sc) ** 2
            err = math.sqrt(err / n)
            seg_steps += 1
            if seg_steps > step_budget or not hh > 1e-12:
                counts[i, 0] = -1
                return
            if err <= 1.0:
                t_new = t + hh
                if t_stop - t_new < 1e-9 * max(1.0, abs(t_stop)):
                    t_new = t_stop
                last_seg = k == K - 1
                # outputs inside (t, t_new] from the continuous extension
                conv_full = math.nan
                while io < n_out:
                    to = out_t_all[o0 + io]
                    if not (to < t_new or (to == t_new and (t_new < t_end or last_seg))):
                        break
                    th = (to - t) / hh
                    th1 = 1.0 - th
                    for jj in range(n_dense):
                        j = dense[jj]
                        ydiff = (vG_new if j == SG else ynew[j]) - y[j]
                        bspl = hh * k1[j] - ydiff
                        r4 = ydiff - hh * k7[j] - bspl
                        r5 = hh * (_D1 * k1[j] + _D3 * k3[j] + _D4 * k4[j] + _D5 * k5[j] + _D6 * k6[j]
                                   + _D7 * k7[j])
                        yo[j] = y[j] + th * (ydiff + th1 * (bspl + th * (r4 + th1 * r5)))
                    if drug and kG * hh > LAWSON_DENSE_MAX:
                        # long step: G = exp(-k_G tau) G_n + int exp(-k_G (tau - u)) g(u) du, with g = k_G O (1 - T)
                        # (independent of G) known at the stage nodes and joined by exponentials
                        if conv_full != conv_full:
                            gn[0] = k1[SG]
                            gn[1] = k2[SG] * g1
                            gn[2] = k3[SG] * g2
                            gn[3] = k4[SG] * g3
                            gn[4] = k5[SG] * g4
                            gn[5] = gG7
                            conv_full = _convolve_nodes(1.0, hh, gn, kG)
                        yo[SG] = math.exp(-kG * th * hh) * y[SG] + _convolve_nodes(th, hh, gn, kG)
                        yo[SG] += th * (ynew[SG] - g5 * y[SG] - conv_full)
                    else:
                        yo[SG] *= math.exp(-kG * th * hh)
                    s_o = c0
                    if need_s:
                        for j in range(m):
                            s_o += c1[j] * E[j] * math.exp(lam[j] * th * hh)
                    _record(yo, to, s_o, p, life, ch, ev_t, ev_amp, ev_tau, d_trait, sw[SW_LOAD], codes, row,
                            out_grid_all[o0 + io], out_oc_all[o0 + io], i, grid_out, oc_out)
                    io += 1
                t = t_new
                for j in range(n):
                    y[j] = ynew[j]
                    k1[j] = f[j]
                k1[SG] = gG7
                if drug:
                    bound = 0.0
                    for j in range(m):
                        E[j] *= q5[j]
                        bound += abs(c1[j] * E[j])
                    if c0 == 0.0 and bound <= DRUG_NEGLIGIBLE:
                        drug = False
                steps += 1
                fac = 5.0 if err == 0.0 else min(5.0, max(0.2, 0.9 * err ** -0.2))
                h_next = max(h, hh * fac) if hh < h else hh * fac
                if first_in_seg and flag > 0:
                    h_pk[flag] = hh * min(1.5, 1.0 if err == 0.0 else 0.9 * err ** -0.2)
                first_in_seg = False
                h = h_next
                if t == t_stop and t < t_end:
                    # a life event of the patient: restart with the load that includes it
                    t_k = t
                    while ip < npe and pe_times[ip] <= t:
                        ip += 1
                    t_stop = pe_times[ip] if ip < npe and pe_times[ip] < t_end else t_end
                    s = c0
                    if drug:
                        for j in range(m):
                            s += c1[j] * E[j]
                    else:
                        s = 0.0
                    rhs(y, p, s, _segment_load(t, t_k, ch, ev_t, ev_amp, ev_tau), life, ad, d_trait, sw, k1)
                    k1[SG] += kG * y[SG]
            else:
                rejected += 1
                h = hh * max(0.2, 0.9 * err ** -0.2) if err == err else hh * 0.2
    # anything left (times at the horizon of the last segment)
    while io < n_out:
        _record(y, seg_t_all[s0 + K], 0.0, p, seg_life_all[s0 + max(K - 1, 0)], ch, ev_t, ev_amp, ev_tau,
                d_trait, 1.0, codes, row, out_grid_all[o0 + io], out_oc_all[o0 + io], i, grid_out, oc_out)
        io += 1
    counts[i, 0] = steps
    counts[i, 1] = rejected


@numba.njit(cache=True)
def _record(y, t, s, p, life, ch, ev_t, ev_amp, ev_tau, d_trait, load_sw, codes, row, g_idx, oc_idx, i,
            grid_out, oc_out):
    if g_idx >= 0:
        _write_outputs(y, t, s, p, life, ch, ev_t, ev_amp, ev_tau, d_trait, load_sw, codes, row)
        for c in range(codes.size):
            grid_out[i, g_idx, c] = row[c]
    if oc_idx >= 0:
        oc_out[i, oc_idx] = _madrs_of(y, p)


@numba.njit(cache=True, nogil=True)
def _batch_range(lo, hi, tid, m_arr, seg_off, seg_t, seg_flag, seg_life, seg_ad, seg_nS, seg_nect, seg_ntms,
                 dose_off, dose_k0, dose_k1, dose_a, dose_b, dose_dur, dose_inp, inp_off, inp, ev_off, ev_t, ev_amp,
                 ev_tau, out_off, out_t, out_grid, out_oc, params, weight, chronic, acute, d_trait, y0, lam, Vinv, rm,
                 switches, t_switch, codes, rtol, atol, grid_out, oc_out, counts, pev_off, pev_t, pev_amp, pev_tau):
    """Patients ``lo .. hi - 1``; releases the GIL, so several threads run ranges side by side."""
    for i in range(lo, hi):
        _one_patient(i, tid, m_arr, seg_off, seg_t, seg_flag, seg_life, seg_ad, seg_nS, seg_nect, seg_ntms,
                     dose_off, dose_k0, dose_k1, dose_a, dose_b, dose_dur, dose_inp, inp_off, inp, ev_off, ev_t,
                     ev_amp, ev_tau, out_off, out_t, out_grid, out_oc, params, weight, chronic, acute, d_trait, y0,
                     lam, Vinv, rm, switches, t_switch, codes, rtol, atol, grid_out, oc_out, counts, pev_off, pev_t,
                     pev_amp, pev_tau)


def _run_threads(n: int, args: tuple, n_threads: int | None = None) -> None:
    """Run ``_batch_range`` over ``n`` patients on every core (threads without the GIL, small blocks)."""
    threads = max(1, int(n_threads or numba.get_num_threads()))
    if threads == 1 or n < 2:
        _batch_range(0, n, *args)
        return
    from concurrent.futures import ThreadPoolExecutor

    block = max(1, min(64, n // (4 * threads)))
    starts = range(0, n, block)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for f in [pool.submit(_batch_range, a, min(a + block, n), *args) for a in starts]:
            f.result()


# --- Python entry point ----------------------------------------------------------------------------

@dataclass
class BatchResult:
    """Outputs of one batch: ``grid`` (n x n_days x n_outputs, float32; NaN past a plan's horizon),
    ``outcome_madrs`` (n x max outcome times, float64; NaN where a template has fewer) and the
    accepted / rejected step counts (n x 2)."""

    grid: np.ndarray
    outcome_madrs: np.ndarray
    counts: np.ndarray


@dataclass(frozen=True)
class PatientEvents:
    """Life events of each patient of a batch (CSR: patient ``i`` has entries ``off[i]:off[i + 1]``), in hours
    from the plan start: the realised course of life of ``ketasim.population.life_course``. They add to the
    plan's own events (which every patient shares, scaled by ``acute_load_scale``), are not scaled, and obey
    the same law, ``L(t) = ... + A_e exp(-(t - t_e) / tau_e)`` for ``t >= t_e``; events at or before 0 count in
    the baseline load."""

    off: np.ndarray
    t_h: np.ndarray
    amp: np.ndarray
    tau_h: np.ndarray

    @classmethod
    def none(cls, n: int) -> PatientEvents:
        return cls(np.zeros(n + 1, dtype=np.int64), np.zeros(0), np.zeros(0), np.ones(0))

    def load0(self) -> np.ndarray:
        """What is left at time 0 of the events at or before it (one value per patient)."""
        n = self.off.size - 1
        before = self.t_h <= 0.0
        contrib = np.where(before, self.amp * np.exp(np.minimum(self.t_h, 0.0) / self.tau_h), 0.0)
        owner = np.repeat(np.arange(n), np.diff(self.off))
        return np.bincount(owner, weights=contrib, minlength=n) if contrib.size else np.zeros(n)


def baseline_state(templates: PackedTemplates, tid: np.ndarray, params: np.ndarray, baseline_madrs: np.ndarray,
                   chronic: np.ndarray, acute_scale: np.ndarray, patient_events: PatientEvents | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Trait deficit, day-0 load and initial states of each patient, as ``compile_plan`` computes them.

    ``d_trait = (MADRS_0 - floor) / kappa - beta L_0 + gamma lifestyle_0 + A_0``; a negative value
    (a load that explains more than the baseline severity) is returned as is and reported by the caller.
    """
    life0 = np.array([t.life0 for t in templates.templates])[tid]
    ad0 = np.array([t.ad_at_start for t in templates.templates])[tid]
    load0 = np.empty(tid.size)
    for j, t in enumerate(templates.templates):
        sel = tid == j
        load0[sel] = t.load0(chronic[sel], acute_scale[sel])
    if patient_events is not None:
        load0 = load0 + patient_events.load0()
    floor, kappa = params[:, IDX["madrs_floor"]], params[:, IDX["kappa"]]
    beta, gamma = params[:, IDX["beta"]], params[:, IDX["gamma_lifestyle"]]
    A0 = np.where(ad0, params[:, IDX["a_antidepressant"]], 0.0)
    d_trait = (baseline_madrs - floor) / kappa - beta * load0 + gamma * life0 + A0
    y0 = np.zeros((tid.size, N_STATES))
    y0[:, SM] = 1.0 - d_trait - beta * load0 + gamma * life0 + A0
    y0[:, SA] = A0
    return d_trait, load0, y0


def _merge_same_times(times: np.ndarray, gcode: np.ndarray, ocode: np.ndarray) -> tuple[np.ndarray, ...]:
    """One entry for a grid time that is also an outcome time (evaluated once)."""
    keep_t, keep_g, keep_o = [], [], []
    i = 0
    while i < times.size:
        t, g, o = times[i], gcode[i], ocode[i]
        if i + 1 < times.size and times[i + 1] - t <= 1e-9 and (g < 0) != (gcode[i + 1] < 0):
            g, o = max(g, gcode[i + 1]), max(o, ocode[i + 1])
            i += 1
        keep_t.append(t)
        keep_g.append(g)
        keep_o.append(o)
        i += 1
    return np.array(keep_t, dtype=float), np.array(keep_g, dtype=np.int64), np.array(keep_o, dtype=np.int64)


def output_schedule(templates: PackedTemplates, grid_h: np.ndarray) -> tuple[np.ndarray, ...]:
    """Merged output times per template: the day grid (within the horizon) and the outcome times.

    Returns CSR arrays ``out_off, out_t, out_grid, out_oc`` (``out_grid`` = index into ``grid_h``
    or -1, ``out_oc`` = index into the template's outcome times or -1).
    """
    offs, ts, gs, ocs = [0], [], [], []
    for t in templates.templates:
        hz = t.horizon_h
        g = np.asarray(grid_h, dtype=float)
        gi = np.nonzero((g >= 0) & (g <= hz + 1e-9))[0]
        o = t.outcome_t
        oi = np.nonzero((o >= 0) & (o <= hz + 1e-9))[0]
        times = np.concatenate([np.minimum(g[gi], hz), np.minimum(o[oi], hz)])
        gcode = np.concatenate([gi, -np.ones(oi.size, dtype=np.int64)])
        ocode = np.concatenate([-np.ones(gi.size, dtype=np.int64), oi])
        order = np.argsort(times, kind="stable")
        times, gcode, ocode = _merge_same_times(times[order], gcode[order], ocode[order])
        ts.append(times)
        gs.append(gcode)
        ocs.append(ocode)
        offs.append(offs[-1] + times.size)
    return (np.asarray(offs, dtype=np.int64), np.concatenate(ts) if ts else np.zeros(0),
            np.concatenate(gs).astype(np.int64) if gs else np.zeros(0, np.int64),
            np.concatenate(ocs).astype(np.int64) if ocs else np.zeros(0, np.int64))


def integrate_batch(templates: PackedTemplates, tid: np.ndarray, params: np.ndarray, *, weight_kg: np.ndarray,
                    pk_cl: np.ndarray, pk_v: np.ndarray, pk_ka: np.ndarray, baseline_madrs: np.ndarray,
                    chronic_load: np.ndarray, acute_load_scale: np.ndarray, grid_h: np.ndarray,
                    outputs: tuple[str, ...] = ("madrs",), switches: np.ndarray | None = None,
                    rtol: float = BATCH_RTOL, atol: float = BATCH_ATOL,
                    schedule: tuple[np.ndarray, ...] | None = None, n_threads: int | None = None,
                    patient_events: PatientEvents | None = None) -> BatchResult:
    """Integrate patients ``i`` under templates ``tid[i]``; all arrays have one row per patient.

    ``grid_h`` is the output grid (hours) shared by all patients; ``outputs`` names from
    :data:`OUTPUTS`; ``patient_events`` each patient's own life events (:class:`PatientEvents`). Raises
    :class:`~ketasim.errors.PlanError` if a patient's chronic load exceeds
    what the baseline severity allows, and :class:`~ketasim.errors.SimulationError` if the integrator
    fails for some patient.
    """
    from ketasim.errors import SimulationError

    n = tid.size
    tid = np.ascontiguousarray(tid, dtype=np.int64)
    params = np.ascontiguousarray(params, dtype=np.float64)
    unknown = [o for o in outputs if o not in OUTPUT_CODE]
    if unknown:
        raise PlanError("outputs", unknown, ", ".join(OUTPUTS))
    codes = np.array([OUTPUT_CODE[o] for o in outputs], dtype=np.int64)
    pe = PatientEvents.none(n) if patient_events is None else patient_events
    if pe.off.size != n + 1:
        raise PlanError("patient_events", f"offsets for {pe.off.size - 1} patients", f"offsets for {n}")
    d_trait, _, y0 = baseline_state(templates, tid, params, baseline_madrs, chronic_load, acute_load_scale, pe)
    if np.any(d_trait < 0):
        j = int(np.argmax(d_trait < 0))
        raise PlanError("chronic_load", float(chronic_load[j]),
                        f"a load that explains at most the baseline MADRS {baseline_madrs[j]:g} of patient {j} "
                        "(lower the load or raise the baseline)")
    m_max = templates.m_max
    lam = np.zeros((n, m_max))
    Vinv = np.zeros((n, m_max, m_max))
    rm = np.zeros((n, m_max))
    for j, t in enumerate(templates.templates):
        if t.pk is None:
            continue
        sel = np.nonzero(tid == j)[0]
        if sel.size == 0:
            continue
        mj = t.pk.n
        l_, vi_, rm_ = modal_batch(t.pk, weight_kg[sel], pk_cl[sel], pk_v[sel], pk_ka[sel], params[sel])
        lam[sel, :mj] = l_
        Vinv[sel, :mj, :mj] = vi_
        rm[sel, :mj] = rm_
    if schedule is None:
        schedule = output_schedule(templates, grid_h)
    out_off, out_t, out_grid, out_oc = schedule
    n_oc = max([t.outcome_t.size for t in templates.templates] + [0])
    grid_out = np.full((n, np.size(grid_h), codes.size), np.nan, dtype=np.float32)
    oc_out = np.full((n, n_oc), np.nan)
    counts = np.zeros((n, 2), dtype=np.int64)
    sw = np.ones(4) if switches is None else np.asarray(switches, dtype=float)
    T = templates
    args = (tid, T.m, T.seg_off, T.seg_t, T.seg_flag, T.seg_life, T.seg_ad, T.seg_nS, T.seg_nect, T.seg_ntms,
            T.dose_off, T.dose_k0, T.dose_k1, T.dose_a, T.dose_b, T.dose_dur, T.dose_inp, T.inp_off, T.inp,
            T.ev_off, T.ev_t, T.ev_amp, T.ev_tau, out_off, out_t, out_grid, out_oc, params,
            np.ascontiguousarray(weight_kg, float), np.ascontiguousarray(chronic_load, float),
            np.ascontiguousarray(acute_load_scale, float), d_trait, y0, lam, Vinv, rm, sw, float(T.t_switch), codes,
            float(rtol), float(atol) * ATOL_WEIGHTS, grid_out, oc_out, counts,
            np.ascontiguousarray(pe.off, dtype=np.int64), np.ascontiguousarray(pe.t_h, dtype=float),
            np.ascontiguousarray(pe.amp, dtype=float), np.ascontiguousarray(pe.tau_h, dtype=float))
    _run_threads(n, args, n_threads)
    failed = np.nonzero(counts[:, 0] < 0)[0]
    if failed.size:
        raise SimulationError(f"the batch integrator needed too many steps for {failed.size} patient(s) "
                              f"(first: row {int(failed[0])}); check their parameters")
    return BatchResult(grid_out, oc_out, counts)
