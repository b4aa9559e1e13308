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
from ketasim.parameters import HOURS_PER_DAY, IDX, default_vector
from ketasim.symptoms.madrs import madrs
from ketasim.trials.studies import PopulationSpec

WEIGHT_RANGE_KG = (40.0, 160.0)

# Inter-individual variability used until ketasim.population provides it: log-normal SDs.
FALLBACK_OMEGAS: dict[str, float] = {"kappa_G": 0.35, "k_form": 0.35, "k_prune": 0.3, "k_hom": 0.3,
                                     "a_antidepressant": 0.6}
PK_OMEGAS = {"cl": 0.25, "v": 0.20}


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
        """Per-patient response parameter vectors: typical value x exp(omega x eta)."""
        base = default_vector() if params is None else np.asarray(params, dtype=float)
        om = FALLBACK_OMEGAS if omegas is None else omegas
        P = np.repeat(base[None, :], self.n, axis=0)
        for j, name in enumerate(self.omega_names):
            P[:, IDX[name]] *= np.exp(om.get(name, 0.0) * self.eta[:, j])
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
    names = tuple(FALLBACK_OMEGAS)
    eta = rng.standard_normal((n, len(names)))
    eta_pk = rng.standard_normal((n, 2))
    load = np.full(n, 0.5)
    return Cohort(weight, baseline, load, eta, eta_pk, names, seed)


def model_madrs(plan: Plan, cohort: Cohort, visit_days: np.ndarray, *, params: np.ndarray | None = None,
                omegas: dict[str, float] | None = None) -> np.ndarray:
    """Model MADRS (n x visits) of the cohort's patients under ``plan``."""
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
