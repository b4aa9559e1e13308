"""Global sensitivity of the main trial outcomes to the calibrated response parameters (Sobol indices).

The three outcomes are read from a virtual Murrough 2013b trial (six infusions Mon-Wed-Fri, then no
maintenance; :data:`ketasim.trials.studies.MURROUGH13B`) run with the same patients and rating noise for
every parameter point (common random numbers):

* ``response_day1``: share of patients with a >= 50% MADRS drop 24 h after the first infusion;
* ``response_after_six``: share in response 24 h after the sixth infusion;
* ``days_to_relapse``: Kaplan-Meier median days from the last infusion to relapse among responders
  (loss of response at two consecutive twice-weekly visits; a median not reached counts as the 83-day
  follow-up).

Factors: the calibrated typical values that act in this trial, each varied on a log scale over
``[value / span, value * span]`` (clipped to the parameter's bounds). First-order (S1) and total (ST)
indices are Saltelli / Jansen estimates from SALib (``SALib.sample.sobol``, ``SALib.analyze.sobol``,
no second-order terms) with bootstrap 95% confidence half-widths; ``N (D + 2)`` trial runs for base
sample size ``N`` and ``D`` factors.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ketasim.parameters import IDX, RESPONSE_PARAMETERS, default_vector
from ketasim.trials.cohort import enrol
from ketasim.trials.runner import evaluate_study, study_seed
from ketasim.trials.studies import MURROUGH13B

OUTCOMES: tuple[str, ...] = ("response_day1", "response_after_six", "days_to_relapse")
FACTORS: tuple[str, ...] = ("k_G", "kappa_G", "k_form", "k_prune", "k_mat", "mu_G", "k_hom", "kappa", "k_T_on")
FOLLOW_UP_DAYS = 83.0


@dataclass
class SobolResult:
    """Sobol indices per outcome: ``indices[outcome][factor] = (S1, S1_conf, ST, ST_conf)``."""

    factors: list[str]
    bounds: list[tuple[float, float]]
    indices: dict[str, dict[str, tuple[float, float, float, float]]]
    n_base: int
    n_runs: int
    n_patients: int
    seconds: float
    outcome_means: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"factors": self.factors, "bounds": [list(b) for b in self.bounds], "n_base": self.n_base,
                "n_runs": self.n_runs, "n_patients": self.n_patients, "seconds": round(self.seconds, 1),
                "outcome_means": self.outcome_means,
                "indices": {o: {f: dict(zip(("S1", "S1_conf", "ST", "ST_conf"), (round(x, 4) for x in v),
                                            strict=True))
                                for f, v in d.items()} for o, d in self.indices.items()}}


def trial_outcomes(params: np.ndarray, cohort, measurement=None) -> np.ndarray:
    """(response_day1, response_after_six, days_to_relapse) of the virtual six-infusion trial."""
    res = evaluate_study(MURROUGH13B, cohort, params=params, measurement=measurement, intervals=False)
    days = np.array([v.day for v in MURROUGH13B.visits])
    arm = res.arms["ketamine"]
    base = arm.scores[:, 0]
    i24 = int(np.flatnonzero(days == MURROUGH13B.visit_day("24h"))[0])
    r1 = 100.0 * float(np.mean(arm.scores[:, i24] <= 0.5 * base))
    r6 = res.outcomes["murrough13b-rend"].value
    relapse = res.outcomes["murrough13b-relapse"].value
    return np.array([r1, r6, relapse if math.isfinite(relapse) else FOLLOW_UP_DAYS])


def factor_bounds(factors: Sequence[str], base: np.ndarray, span: float) -> list[tuple[float, float]]:
    """Log-scale bounds ``value / span .. value * span`` clipped to each parameter's plausible range."""
    out = []
    for name in factors:
        v = float(base[IDX[name]])
        lo, hi = v / span, v * span
        b = RESPONSE_PARAMETERS[IDX[name]].bounds
        if b is not None:
            lo, hi = max(lo, b[0] if b[0] > 0 else lo), min(hi, b[1])
        out.append((lo, hi))
    return out


def sobol_sensitivity(n_base: int = 64, n_patients: int = 120, seed: int = 0, *,
                      factors: Sequence[str] = FACTORS, span: float = 2.0, params: np.ndarray | None = None,
                      progress: Callable[[int, int], None] | None = None) -> SobolResult:
    """Sobol indices of :data:`OUTCOMES` (``n_base`` a power of two is best; tests use 4)."""
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import sobol as sobol_sample

    t0 = time.perf_counter()
    base = default_vector() if params is None else np.asarray(params, dtype=float)
    bounds = factor_bounds(factors, base, span)
    problem = {"num_vars": len(factors), "names": list(factors),
               "bounds": [[math.log(lo), math.log(hi)] for lo, hi in bounds]}
    X = sobol_sample.sample(problem, n_base, calc_second_order=False, seed=seed)
    cohort = enrol(MURROUGH13B.population, n_patients, study_seed("sensitivity", seed))
    Y = np.empty((X.shape[0], len(OUTCOMES)))
    for k, row in enumerate(X):
        p = base.copy()
        for name, logv in zip(factors, row, strict=True):
            p[IDX[name]] = math.exp(logv)
        Y[k] = trial_outcomes(p, cohort)
        if progress:
            progress(k + 1, X.shape[0])
    indices: dict[str, dict[str, tuple[float, float, float, float]]] = {}
    for j, outcome in enumerate(OUTCOMES):
        y = Y[:, j]
        if np.ptp(y) == 0:
            indices[outcome] = {f: (0.0, 0.0, 0.0, 0.0) for f in factors}
            continue
        with warnings.catch_warnings():  # bootstrap resamples of a small sample may be constant
            warnings.simplefilter("ignore", UserWarning)
            Si = sobol_analyze.analyze(problem, y, calc_second_order=False, seed=seed)
        indices[outcome] = {f: (float(Si["S1"][i]), float(Si["S1_conf"][i]), float(Si["ST"][i]),
                                float(Si["ST_conf"][i])) for i, f in enumerate(factors)}
    means = {o: float(np.mean(Y[:, j])) for j, o in enumerate(OUTCOMES)}
    return SobolResult(list(factors), bounds, indices, n_base, int(X.shape[0]), n_patients,
                       time.perf_counter() - t0, means)
