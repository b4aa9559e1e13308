"""A study's virtual patients and their model MADRS at the visit days.

:func:`enrol` draws the cohort of a study (weights, untreated severity, inter-individual parameter
draws) with a fixed seed, so that repeated runs with other typical parameter values see the same
patients (common random numbers). :func:`model_madrs` integrates every patient's plan and returns the
model MADRS at the visits.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ketasim.dosing.plan import Plan
from ketasim.dynamics import ALL_ON, N_STATES, SG, SM, SN
from ketasim.engine.compile import PKVariability, compile_plan
from ketasim.engine.integrate import integrate_one
from ketasim.parameters import HOURS_PER_DAY, IDX, RESPONSE_PARAMETERS, default_vector
from ketasim.symptoms.madrs import madrs
from ketasim.trials.studies import PopulationSpec

WEIGHT_RANGE_KG = (40.0, 160.0)

# Inter-individual variability of the response (log-normal SDs) before a calibration is shipped.
FALLBACK_OMEGAS: dict[str, float] = {"kappa_G": 0.35, "k_form": 0.35, "k_prune": 0.3, "k_hom": 0.3,
                                     "a_antidepressant": 0.6}
PK_OMEGAS = {"cl": 0.25, "v": 0.20}
# Parameters that may vary between patients, in the (fixed) order of their standard-normal draws.
VARIABLE_PARAMETERS: tuple[str, ...] = ("kappa_G", "k_form", "k_prune", "k_hom", "a_antidepressant", "k_G", "k_mat",
                                        "w_therapy", "eta", "mu_G")


def current_omegas() -> dict[str, float]:
    """Omegas in force: the shipped calibration's ``variability`` if any, else :data:`FALLBACK_OMEGAS`."""
    import json
    from importlib import resources

    try:
        text = resources.files("ketasim").joinpath("data", "calibrated.json").read_text()
    except (FileNotFoundError, ModuleNotFoundError):
        return dict(FALLBACK_OMEGAS)
    shipped = json.loads(text).get("variability", {})
    out = dict(FALLBACK_OMEGAS)
    out.update({k: float(v["omega"]) for k, v in shipped.items()})
    return out


@dataclass(frozen=True)
class Cohort:
    """Virtual patients of one study: covariates and the standard-normal draws behind their parameters."""

    weight_kg: np.ndarray
    baseline_madrs: np.ndarray
    chronic_load: np.ndarray
    eta: np.ndarray  # (n, len(omega names)) standard normals for the response parameters
    eta_pk: np.ndarray  # (n, 2) standard normals for clearance and volume
    omega_names: tuple[str, ...]
    seed: int

    @property
    def n(self) -> int:
        return int(self.weight_kg.size)

    def subset(self, rows: np.ndarray) -> Cohort:
        return replace(self, weight_kg=self.weight_kg[rows], baseline_madrs=self.baseline_madrs[rows],
                       chronic_load=self.chronic_load[rows], eta=self.eta[rows], eta_pk=self.eta_pk[rows])

    def parameter_matrix(self, params: np.ndarray | None = None,
                         omegas: dict[str, float] | None = None) -> np.ndarray:
        """Per-patient response parameter vectors: typical value x exp(omega x eta), clipped to the bounds."""
        base = default_vector() if params is None else np.asarray(params, dtype=float)
        om = current_omegas() if omegas is None else omegas
        unknown = set(om) - set(self.omega_names)
        if unknown:
            raise KeyError(f"no inter-individual draws for {sorted(unknown)}; known: {', '.join(self.omega_names)}")
        P = np.repeat(base[None, :], self.n, axis=0)
        for j, name in enumerate(self.omega_names):
            col = P[:, IDX[name]] * np.exp(om.get(name, 0.0) * self.eta[:, j])
            lo, hi = RESPONSE_PARAMETERS[IDX[name]].bounds or (-np.inf, np.inf)
            P[:, IDX[name]] = np.clip(col, lo, hi)  # an individual stays within the plausible range
        return P


def _truncated_normal(rng: np.random.Generator, mean: float, sd: float, lo: float, hi: float, n: int) -> np.ndarray:
    """Inverse-CDF truncated normal: one uniform per patient, so the draw is stable under CRN."""
    from scipy.stats import norm

    a, b = norm.cdf((lo - mean) / sd), norm.cdf((hi - mean) / sd)
    u = rng.uniform(size=n)
    return mean + sd * norm.ppf(a + u * (b - a))


def enrol(population: PopulationSpec, n: int, seed: int) -> Cohort:
    """``n`` virtual patients of ``population`` (seeded; same seed, same patients)."""
    rng = np.random.default_rng([seed, 1])
    weight = _truncated_normal(rng, population.weight_mean_kg, population.weight_sd_kg, *WEIGHT_RANGE_KG, n)
    lo, hi = population.baseline_madrs_range
    baseline = _truncated_normal(rng, population.baseline_madrs_mean, population.baseline_madrs_sd, lo, hi, n)
    names = VARIABLE_PARAMETERS
    eta = rng.standard_normal((n, len(names)))
    eta_pk = rng.standard_normal((n, 2))
    load = np.full(n, 0.5)
    return Cohort(weight, baseline, load, eta, eta_pk, names, seed)


_TEMPLATES: dict[tuple[int, bytes], tuple[Plan, object]] = {}


def _template(plan: Plan, visit_days: np.ndarray):
    """Packed batch-engine template of ``plan`` with the visits as outcome times (cached per plan object)."""
    from ketasim.engine.batch import pack_templates, plan_template

    days = np.ascontiguousarray(visit_days, dtype=float)
    key = (id(plan), days.tobytes())
    hit = _TEMPLATES.get(key)
    if hit is not None and hit[0] is plan:
        return hit[1]
    packed = pack_templates([plan_template(plan, outcome_t_h=days * HOURS_PER_DAY)])
    if len(_TEMPLATES) > 64:
        _TEMPLATES.clear()
    _TEMPLATES[key] = (plan, packed)
    return packed


def model_madrs(plan: Plan, cohort: Cohort, visit_days: np.ndarray, *, params: np.ndarray | None = None,
                omegas: dict[str, float] | None = None) -> np.ndarray:
    """Model MADRS (n x visits) of the cohort's patients under ``plan`` (compiled batch engine, all cores)."""
    from ketasim.engine.batch import integrate_batch

    n = cohort.n
    if n == 0:
        return np.zeros((0, np.size(visit_days)))
    P = cohort.parameter_matrix(params, omegas)
    res = integrate_batch(_template(plan, visit_days), np.zeros(n, dtype=np.int64), P, weight_kg=cohort.weight_kg,
                          pk_cl=np.exp(PK_OMEGAS["cl"] * cohort.eta_pk[:, 0]),
                          pk_v=np.exp(PK_OMEGAS["v"] * cohort.eta_pk[:, 1]), pk_ka=np.ones(n),
                          baseline_madrs=cohort.baseline_madrs, chronic_load=cohort.chronic_load,
                          acute_load_scale=np.ones(n), grid_h=np.zeros(0))
    return np.asarray(res.outcome_madrs, dtype=float)


def model_madrs_reference(plan: Plan, cohort: Cohort, visit_days: np.ndarray, *, params: np.ndarray | None = None,
                          omegas: dict[str, float] | None = None) -> np.ndarray:
    """The same as :func:`model_madrs` with the one-patient engine, patient by patient (for tests)."""
    P = cohort.parameter_matrix(params, omegas)
    out_t = np.asarray(visit_days, dtype=float) * HOURS_PER_DAY
    result = np.empty((cohort.n, out_t.size))
    Y = np.zeros((out_t.size, N_STATES))
    for i in range(cohort.n):
        patient = replace(plan.patient, weight_kg=float(cohort.weight_kg[i]),
                          baseline_madrs=float(cohort.baseline_madrs[i]), chronic_load=float(cohort.chronic_load[i]))
        pk = PKVariability(cl=float(np.exp(PK_OMEGAS["cl"] * cohort.eta_pk[i, 0])),
                           v=float(np.exp(PK_OMEGAS["v"] * cohort.eta_pk[i, 1])))
        p = P[i]
        cp = compile_plan(replace(plan, patient=patient), p, pk_variability=pk)
        Y[:] = 0.0
        integrate_one(cp.params, cp.seg_t, cp.lam, cp.c0, cp.c1, cp.seg_life, cp.seg_ad, cp.jump_S, cp.jump_E,
                      cp.load_chronic, cp.ev_t, cp.ev_amp, cp.ev_tau, cp.d_trait, ALL_ON, 0.0, cp.y0, out_t,
                      1e-6, 1e-9, Y)
        result[i] = madrs(Y[:, SN], Y[:, SM], Y[:, SG], p[IDX["madrs_floor"]], p[IDX["kappa"]], p[IDX["kappa_G"]])
    return result
