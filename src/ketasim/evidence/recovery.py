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
