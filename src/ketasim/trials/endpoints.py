"""Trial endpoints computed from visit scores the way the papers computed them.

Response, remission and relapse are those of ``ketasim.outcomes`` (the same definitions as a single
simulation); this module adds what a trial report needs: each ``*_estimate`` returns an
:class:`Estimate`: the value, its Monte-Carlo interval (95%, from the number of virtual patients
behind it) and that number.

Kaplan-Meier medians and probabilities use lifelines' ``KaplanMeierFitter``; hazard ratios lifelines'
``CoxPHFitter`` with the arm as the only covariate.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Estimate:
    """A simulated figure with its 95% Monte-Carlo interval and the number of virtual patients behind it;
    ``se_log``: the bootstrap standard error of its log, for medians (whose interval alone misstates it when
    the median jumps between visit days or whole numbers, or has no upper limit); NaN otherwise."""

    value: float
    low: float
    high: float
    n: int
    se_log: float = float("nan")


NAN_ESTIMATE = Estimate(float("nan"), float("nan"), float("nan"), 0)


def proportion_estimate(flags: np.ndarray, *, percent: bool = True) -> Estimate:
    """Share of True with a Wilson 95% interval; NaN without patients."""
    x = np.asarray(flags, dtype=bool).ravel()
    n = x.size
    if n == 0:
        return NAN_ESTIMATE
    p = float(x.mean())
    denom = 1.0 + Z95**2 / n
    centre = (p + Z95**2 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / denom
    k = 100.0 if percent else 1.0
    return Estimate(k * p, k * max(0.0, centre - half), k * min(1.0, centre + half), n)


def mean_estimate(values: np.ndarray) -> Estimate:
    """Mean with a normal 95% interval; NaN without values."""
    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return NAN_ESTIMATE
    m = float(v.mean())
    se = float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else float("nan")
    return Estimate(m, m - Z95 * se, m + Z95 * se, int(v.size))


def _se_log(boots: np.ndarray) -> float:
    """SD of the log of positive bootstrap replicates (NaN when fewer than half are finite and positive)."""
    ok = np.isfinite(boots) & (boots > 0)
    return float(np.std(np.log(boots[ok]), ddof=1)) if ok.sum() >= max(2, boots.size // 2) else float("nan")


def median_estimate(values: np.ndarray, rng: np.random.Generator | None = None, n_boot: int = 200) -> Estimate:
    """Median with a bootstrap 95% interval and bootstrap SE of its log (seeded)."""
    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return NAN_ESTIMATE
    rng = rng or np.random.default_rng(0)
    boots = np.median(v[rng.integers(0, v.size, size=(n_boot, v.size))], axis=1)
    return Estimate(float(np.median(v)), float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5)),
                    int(v.size), _se_log(boots))


def relapse_durations(relapse_day: np.ndarray, start_day: float,
                      censor_day: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(days from ``start_day``, event flag) from relapse days (``inf`` = none, as ``ketasim.outcomes``).

    A relapse after a patient's ``censor_day`` counts as censored at that day.
    """
    day = np.asarray(relapse_day, dtype=float)
    censor = np.broadcast_to(np.asarray(censor_day, dtype=float), day.shape)
    event = day <= censor
    t = np.where(event, day, censor) - start_day
    return np.maximum(t, 0.0), event


def km_curve(durations: np.ndarray, events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Product-limit estimate: event times and S(t) just after each (the estimator lifelines fits).

    ``S(t_j) = prod_{i <= j} (1 - d_i / n_i)`` over distinct event times, ``n_i`` at risk just before.
    """
    d = np.asarray(durations, dtype=float)
    e = np.asarray(events, dtype=bool)
    times = np.unique(d[e])
    if times.size == 0:
        return times, np.ones(0)
    order = np.sort(d)
    at_risk = d.size - np.searchsorted(order, times, side="left")
    deaths = np.bincount(np.searchsorted(times, d[e]), minlength=times.size)
    return times, np.cumprod(1.0 - deaths / at_risk)


def km_median(durations: np.ndarray, events: np.ndarray) -> float:
    """First time at which the Kaplan-Meier survival is at most 0.5 (NaN when not reached)."""
    times, surv = km_curve(durations, events)
    hit = np.flatnonzero(surv <= 0.5)
    return float(times[hit[0]]) if hit.size else float("nan")


def _km(durations: np.ndarray, events: np.ndarray):
    from lifelines import KaplanMeierFitter

    km = KaplanMeierFitter()
    km.fit(durations, event_observed=events)
    return km


KM_BOOTSTRAP = 200  # bootstrap replicates of a Kaplan-Meier median's SE of the log


def km_median_estimate(durations: np.ndarray, events: np.ndarray, scale: float = 1.0,
                       interval: bool = True) -> Estimate:
    """Kaplan-Meier median (in days / ``scale``) with lifelines' 95% interval and the bootstrap SE of its log
    (patients resampled, seeded; a replicate whose median is not reached is left out); NaN when not reached.

    ``interval=False`` skips lifelines and the bootstrap (calibration loops): the median with a NaN interval.
    """
    d = np.asarray(durations, dtype=float)
    e = np.asarray(events, dtype=bool)
    if d.size == 0:
        return NAN_ESTIMATE
    if not interval:
        med = km_median(d, e) / scale
        return Estimate(med, float("nan"), float("nan"), int(d.size))
    from lifelines.utils import median_survival_times

    km = _km(d, e)
    med = float(km.median_survival_time_)
    ci = median_survival_times(km.confidence_interval_).to_numpy().ravel()
    lo, hi = (float(ci[0]), float(ci[1])) if ci.size == 2 else (float("nan"), float("nan"))
    def per_unit(x: float) -> float:
        return x / scale if math.isfinite(x) else float("nan")

    rng = np.random.default_rng(0)
    idx = rng.integers(0, d.size, size=(KM_BOOTSTRAP, d.size))
    boots = np.array([km_median(d[i], e[i]) for i in idx])
    return Estimate(per_unit(med), per_unit(lo), per_unit(hi), int(d.size), _se_log(boots))


def km_probability_estimate(durations: np.ndarray, events: np.ndarray, by_day: float,
                            interval: bool = True) -> Estimate:
    """Kaplan-Meier probability (percent) of an event by ``by_day``, with lifelines' 95% interval."""
    d = np.asarray(durations, dtype=float)
    e = np.asarray(events, dtype=bool)
    if d.size == 0:
        return NAN_ESTIMATE
    if not interval:
        times, surv = km_curve(d, e)
        k = np.searchsorted(times, by_day, side="right")
        s_at = float(surv[k - 1]) if k > 0 else 1.0
        return Estimate(100.0 * (1.0 - s_at), float("nan"), float("nan"), int(d.size))
    km = _km(d, e)
    surv = float(km.survival_function_at_times(by_day).iloc[0])
    ci = km.confidence_interval_survival_function_
    row = ci[ci.index <= by_day].iloc[-1] if (ci.index <= by_day).any() else ci.iloc[0]
    lo_s, hi_s = float(row.iloc[0]), float(row.iloc[1])
    return Estimate(100.0 * (1 - surv), 100.0 * (1 - hi_s), 100.0 * (1 - lo_s), int(d.size))


def hazard_ratio_estimate(durations: np.ndarray, events: np.ndarray, treated: np.ndarray) -> Estimate:
    """Cox hazard ratio of ``treated`` (1) vs reference (0) with lifelines' 95% interval."""
    import pandas as pd
    from lifelines import CoxPHFitter

    d = np.asarray(durations, dtype=float)
    e = np.asarray(events, dtype=bool)
    x = np.asarray(treated, dtype=float)
    if d.size == 0 or e.sum() == 0 or x.min() == x.max():
        return NAN_ESTIMATE
    df = pd.DataFrame({"T": np.maximum(d, 1e-6), "E": e.astype(int), "treated": x})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cph = CoxPHFitter()
        try:
            cph.fit(df, duration_col="T", event_col="E")
        except Exception:  # lifelines' ConvergenceError when an arm has no events
            return Estimate(float("nan"), float("nan"), float("nan"), int(d.size))
    with np.errstate(over="ignore"):  # an arm without events gives an unbounded interval
        hr = float(np.exp(cph.params_["treated"]))
        ci = np.exp(cph.confidence_intervals_.loc["treated"].to_numpy())
    return Estimate(hr, float(ci[0]), float(ci[1]), int(d.size))
