"""Recovery test: simulate the evidence base from known parameters, fit, check the truth is recovered.

:func:`synthetic_likelihood` replaces every published summary by one drawn from the likelihood's own
generative model at known parameters: the virtual trials' summaries at the truth (a large virtual cohort,
:data:`DATA_PATIENTS` per study, other patients than the fit's: it stands for the population value; its own
Monte-Carlo variance is a few percent of the fit's and is neglected), a between-study deviation per summary
(the true heterogeneity), then the published design's sampling noise (binomial with the published n, normal
with the published SE, log-normal with the SE of the log). The fit's cohorts are smaller and fixed (common
random numbers); their Monte-Carlo error is the likelihood's ``MonteCarloError``.
:func:`run_recovery` fits a subset of the parameters (the others held at the truth) to those data with
:func:`ketasim.evidence.fit.run_fit` and reports, per parameter, whether the truth lies inside the 90%
posterior interval.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

import numpy as np

from ketasim.evidence import space
from ketasim.evidence.fit import FitConfig, run_fit
from ketasim.evidence.likelihood import Heterogeneity, Likelihood
from ketasim.evidence.simulate import ParameterSet, simulate_evidence
from ketasim.trials.calibrate import FreeParameter

#: Virtual patients per study behind the synthetic data (the "population value" of each summary).
DATA_PATIENTS = 2000


def synthetic_likelihood(truth: ParameterSet, het: Heterogeneity, *, seed: int = 0,
                         n_patients: int = DATA_PATIENTS, sim_seed: int = 12345) -> Likelihood:
    """A :class:`Likelihood` of the same items whose data are drawn at ``truth`` (module docstring)."""
    lik = Likelihood()
    z = lik.transform_values(simulate_evidence(truth, n_patients=n_patients, seed=sim_seed).values)
    return synthetic_data(lik, z, het, seed=seed)


def synthetic_data(lik: Likelihood, z: np.ndarray, het: Heterogeneity, *, seed: int = 0) -> Likelihood:
    """A copy of ``lik`` whose data are drawn around the summaries ``z`` (likelihood scale; module docstring)."""
    z = np.where(np.isfinite(z), z, np.nanmean(z))
    rng = np.random.default_rng(seed)
    out = copy.copy(lik)
    y = lik.y.copy()
    k = lik.k.copy()
    for j, it in enumerate(lik.items):
        if it.family == "binomial":
            p = 1.0 / (1.0 + np.exp(-(z[j] + het.tau_logit * rng.standard_normal())))
            b = int(np.flatnonzero(lik.bin == j)[0])
            k[b] = rng.binomial(int(round(lik.n[b])), p) * (lik.n[b] / round(lik.n[b]))
            y[j] = np.log(max(k[b] / lik.n[b], 1e-3) / max(1 - k[b] / lik.n[b], 1e-3))
        else:
            tau = het.tau_points if it.family == "normal" else het.tau_log
            y[j] = z[j] + tau * rng.standard_normal() + (it.se or 0.0) * rng.standard_normal()
    from scipy.special import gammaln

    out.y, out.k = y, k
    out.log_comb = gammaln(out.n + 1) - gammaln(out.k + 1) - gammaln(out.n - out.k + 1)
    return out


def run_recovery(out: Path, free_keys: tuple[str, ...], truth_unit: float | dict[str, float] = 0.5, *,
                 config: FitConfig | None = None, het: Heterogeneity | None = None, seed: int = 0) -> dict:
    """Fit ``free_keys`` (keys of :func:`ketasim.evidence.space.names`) to data simulated at the truth
    (``truth_unit``: the free parameters' position in their prior's unit cube; every other parameter at its
    declared value); returns the truth, the 90% intervals and which contain it."""
    by_key: dict[str, FreeParameter] = {f.key: f for f in space.FIT_PARAMETERS}
    free = tuple(by_key[k] for k in free_keys)
    units = {k: (truth_unit if isinstance(truth_unit, float) else truth_unit[k]) for k in free_keys}
    truth_values = {k: by_key[k].from_unit(u) for k, u in units.items()}
    truth = space.parameter_set(truth_values, label="truth")
    het = het or Heterogeneity(1.0, 0.2, 0.1)
    config = config or FitConfig(waves=(60, 40), validation=10, steps_between_waves=800, steps=1500, burn=700,
                                 draws=300, walkers=32, n_patients=200)
    lik = synthetic_likelihood(truth, het, seed=seed)
    record = run_fit(out, config, fit_space=space.FitSpace(free, replace(truth, label="base")), likelihood=lik,
                     command="recovery")
    import pyarrow.parquet as pq

    draws = pq.read_table(out / "posterior.parquet").to_pandas()
    rows = {}
    for k, v in truth_values.items():
        lo, hi = np.quantile(draws[k], [0.05, 0.95])
        rows[k] = {"truth": v, "q05": float(lo), "median": float(draws[k].median()), "q95": float(hi),
                   "inside90": bool(lo <= v <= hi)}
    for k in ("tau_points", "tau_logit", "tau_log"):
        lo, hi = np.quantile(draws[k], [0.05, 0.95])
        rows[k] = {"truth": getattr(het, k), "q05": float(lo), "q95": float(hi),
                   "inside90": bool(lo <= getattr(het, k) <= hi)}
    return {"parameters": rows, "seconds": record["seconds"], "validation": record["validation"]}


def profile_coverage(key: str, *, truth_unit: float = 0.5, half_width: float = 0.1, points: int = 9,
                     n_patients: int = 120, cohort_seeds: tuple[int, ...] = (0, 1, 2, 3),
                     datasets: int = 50, het: Heterogeneity | None = None, data_seed: int = 0,
                     level: float = 0.9) -> dict:
    """Coverage of the ``level`` credible interval of one parameter ``key`` (the others at their declared
    values, the heterogeneity known), with and without the likelihood's Monte-Carlo term.

    The simulator stands in for the fit's emulator: for each fit cohort (``cohort_seeds``, ``n_patients`` per
    study, common random numbers), the evidence base is simulated on ``points`` values of the parameter's unit
    coordinate over ``truth_unit +- half_width`` and each summary smoothed by a quadratic in it; the posterior
    (uniform prior in the unit coordinate) is computed on a fine grid for ``datasets`` synthetic data sets
    (:func:`synthetic_data` around a :data:`DATA_PATIENTS`-patient simulation at the truth). Returns the share
    of (cohort, data set) pairs whose interval holds the truth, per method, and the number of pairs."""
    from ketasim.evidence.likelihood import MonteCarloError

    het = het or Heterogeneity(1.0, 0.2, 0.1)
    f = next(p for p in space.FIT_PARAMETERS if p.key == key)
    truth = space.parameter_set({key: f.from_unit(truth_unit)}, label="truth")
    base = Likelihood()
    z_true = base.transform_values(simulate_evidence(truth, n_patients=DATA_PATIENTS, seed=12345).values)
    data = [synthetic_data(base, z_true, het, seed=data_seed + d) for d in range(datasets)]
    grid = truth_unit + np.linspace(-half_width, half_width, points)
    fine = truth_unit + np.linspace(-half_width, half_width, 801)
    inside = {"monte_carlo": 0, "no_monte_carlo": 0}
    tail = (1 - level) / 2
    for c in cohort_seeds:
        runs = [simulate_evidence(space.parameter_set({key: f.from_unit(u)}), n_patients=n_patients, seed=c)
                for u in grid]
        Z = np.array([base.transform_values(r.values) for r in runs])
        parts = [base.monte_carlo_row(r.estimates, r.enrolled) for r in runs]
        mc = MonteCarloError.from_simulations(base.items, np.array([p[0] for p in parts]),
                                              np.array([p[1] for p in parts]), parts[points // 2][2])
        Zs = np.zeros((fine.size, Z.shape[1]))
        for j in range(Z.shape[1]):
            ok = np.isfinite(Z[:, j])
            if ok.sum() >= 3:
                Zs[:, j] = np.polyval(np.polyfit(grid[ok], Z[ok, j], 2), fine)
        for lik in data:
            for name, m in (("monte_carlo", mc), ("no_monte_carlo", None)):
                ll = lik.with_monte_carlo(m).total(Zs, het)
                w = np.exp(ll - ll.max())
                cdf = np.cumsum(w) / w.sum()
                lo, hi = fine[np.searchsorted(cdf, tail)], fine[min(np.searchsorted(cdf, 1 - tail), fine.size - 1)]
                inside[name] += int(lo <= truth_unit <= hi)
    pairs = len(cohort_seeds) * datasets
    return {"key": key, "truth": f.from_unit(truth_unit), "pairs": pairs, "level": level,
            "coverage": {k: v / pairs for k, v in inside.items()}}
