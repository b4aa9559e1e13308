"""Population summaries: rates with Monte Carlo intervals and Kaplan-Meier times to relapse.

A rate ``k / n`` over virtual patients is reported with its Wilson score interval (95%,
``scipy.stats.binomtest(k, n).proportion_ci(method="wilson")``),

    (p + z^2 / 2n +- z sqrt(p (1 - p) / n + z^2 / 4n^2)) / (1 + z^2 / n),   z = 1.96,

which is the Monte Carlo uncertainty of the simulated figure (it shrinks as 1/sqrt(n)), not a
prediction interval for a real trial. Relapse is counted among the patients in response at the
end of induction; the median days from the last induction dose to relapse come from the
Kaplan-Meier estimate (``lifelines``) with patients who did not relapse censored at the horizon.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

Z95 = 1.959963984540054  # the 97.5% normal quantile, for mean +- Z95 SE


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``k / n`` (SciPy's; NaNs when ``n`` is 0)."""
    from scipy.stats import binomtest

    if n <= 0:
        return (math.nan, math.nan)
    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return (float(ci.low), float(ci.high))


def rate(flags: np.ndarray | pd.Series) -> dict[str, float | int]:
    """Share of True among the non-missing ``flags``, with its 95% Wilson interval."""
    f = pd.Series(flags).dropna().astype(bool).to_numpy()
    n, k = int(f.size), int(f.sum())
    lo, hi = wilson_interval(k, n)
    return {"rate": (k / n) if n else math.nan, "ci_low": lo, "ci_high": hi, "k": k, "n": n}


def kaplan_meier_median(durations: np.ndarray, observed: np.ndarray) -> dict[str, float | int]:
    """Median time (days) of a Kaplan-Meier estimate and its 95% interval (inf when not reached)."""
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    d = np.asarray(durations, dtype=float)
    e = np.asarray(observed, dtype=bool)
    if d.size == 0:
        return {"median_days": math.nan, "ci_low": math.nan, "ci_high": math.nan, "n": 0, "events": 0}
    kmf = KaplanMeierFitter().fit(np.maximum(d, 1e-9), event_observed=e)
    med = float(kmf.median_survival_time_)
    ci = median_survival_times(kmf.confidence_interval_)
    return {"median_days": med, "ci_low": float(ci.iloc[0, 0]), "ci_high": float(ci.iloc[0, 1]),
            "n": int(d.size), "events": int(e.sum())}


def relapse_table(outcomes: pd.DataFrame, definition: str = "sustain") -> pd.DataFrame:
    """Durations (days from the last induction dose) and relapse flags of the responders at end of induction."""
    col = f"days_to_relapse_{'sustain' if definition == 'sustain' else 'loss_of_response'}"
    resp = outcomes["response_end_induction"].astype(bool) & outcomes["last_induction_day"].notna()
    sub = outcomes.loc[resp]
    d = sub[col].to_numpy(dtype=float)
    censor = (sub["horizon_days"] - sub["last_induction_day"]).to_numpy(dtype=float)
    observed = np.isfinite(d)
    return pd.DataFrame({"patient": sub["patient"].to_numpy(), "duration_days": np.where(observed, d, censor),
                         "relapsed": observed})


def summarize_outcomes(outcomes: pd.DataFrame) -> dict[str, Any]:
    """The population summary (JSON-serialisable; see the module docstring)."""
    out: dict[str, Any] = {"n_patients": int(len(outcomes))}
    for key in ("response_day1", "remission_day1", "response_end_induction", "remission_end_induction"):
        out[key] = rate(outcomes[key])
    for definition in ("sustain", "loss_of_response"):
        tab = relapse_table(outcomes, definition)
        out[f"relapse_{definition}"] = {
            "among": "patients in response at the end of induction",
            **rate(tab["relapsed"]),
            "median_days_to_relapse": kaplan_meier_median(tab["duration_days"], tab["relapsed"]),
        }
    for key in ("days_in_remission", "mean_madrs", "madrs_end", "madrs_day1", "madrs_end_induction"):
        v = outcomes[key].to_numpy(dtype=float)
        out[key] = _describe(v[np.isfinite(v)])
    if "life_events" in outcomes:
        out["life_events"] = _describe(outcomes["life_events"].to_numpy(dtype=float))
    if "class" in outcomes:
        out["by_class"] = class_summary(outcomes)
    return out


def class_summary(outcomes: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per patient class (the ``class`` column): its share of the patients, response and relapse rates."""
    from ketasim.population.classes import CLASS_NAMES

    n = max(len(outcomes), 1)
    out: dict[str, dict[str, Any]] = {}
    for name in CLASS_NAMES:
        sub = outcomes.loc[outcomes["class"] == name]
        tab = relapse_table(sub, "sustain")
        out[name] = {"share": len(sub) / n, "n": int(len(sub)),
                     "response_day1": rate(sub["response_day1"]),
                     "response_end_induction": rate(sub["response_end_induction"]),
                     "relapse_sustain": rate(tab["relapsed"])}
    return out


def _describe(v: np.ndarray) -> dict[str, float]:
    """Mean, SD, median and the half-width of the 95% Monte Carlo interval of the mean."""
    if v.size == 0:
        return {"mean": math.nan, "sd": math.nan, "median": math.nan, "mean_ci_halfwidth": math.nan}
    sd = float(v.std(ddof=1)) if v.size > 1 else 0.0
    return {"mean": float(v.mean()), "sd": sd, "median": float(np.median(v)),
            "mean_ci_halfwidth": Z95 * sd / math.sqrt(v.size) if v.size > 1 else math.nan}
