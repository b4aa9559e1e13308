"""A virtual population under the uncertainty of the population parameters.

:func:`population_predictive` simulates the plan once per posterior draw (``ketasim.evidence.draws``): draw
``k`` a sub-population of ``n / D`` patients (seed ``seed + 1 + k``) with that draw's typical response
parameters and between-patient spreads (``overrides`` and ``spreads`` given by the user applied on top of
every draw). Each headline figure of the summary (rates, mean scores, median days to relapse) gets the
posterior predictive quantiles of its per-draw value (:class:`~ketasim.evidence.draws.PredictiveInterval`);
:func:`add_predictive` writes them into the summary as ``ppi50``/``ppi90``/``ppi_low``/``ppi_high``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ketasim.dosing.plan import Plan
from ketasim.evidence.draws import DrawSpec, PredictiveInterval, parameter_sets, predictive_interval, split_patients
from ketasim.parameters import vector_with

#: Summary entries with a rate, a mean, or a median of days to relapse (key, field).
RATE_KEYS = ("response_day1", "remission_day1", "response_end_induction", "remission_end_induction",
             "relapse_sustain", "relapse_loss_of_response")
MEAN_KEYS = ("days_in_remission", "mean_madrs", "madrs_end", "madrs_day1", "madrs_end_induction")
RELAPSE_KEYS = ("relapse_sustain", "relapse_loss_of_response")


def _figures(summary: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for k in RATE_KEYS:
        out[f"{k}.rate"] = _num(summary.get(k, {}).get("rate"))
    for k in MEAN_KEYS:
        out[f"{k}.mean"] = _num(summary.get(k, {}).get("mean"))
    for k in RELAPSE_KEYS:
        out[f"{k}.median_days_to_relapse"] = _num(summary.get(k, {}).get("median_days_to_relapse", {})
                                                  .get("median_days"))
    return out


def _num(x: Any) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return float("nan")
    return v if np.isfinite(v) else float("nan")


def population_predictive(plan: Plan, n_patients: int, seed: int, spec: DrawSpec, *,
                          overrides: dict[str, float] | None = None, spreads: dict[str, float] | None = None,
                          progress: Callable[[int, int], None] | None = None) -> dict[str, PredictiveInterval]:
    """Posterior predictive interval of every headline figure (``"response_day1.rate"``, ``"mean_madrs.mean"``,
    ``"relapse_sustain.median_days_to_relapse"``, ...) over the draws of ``spec``."""
    from ketasim.population import simulate_population
    from ketasim.trials.cohort import EXTRA_EFFECTS

    sets = parameter_sets(spec)
    sizes = split_patients(n_patients, len(sets))
    rows: list[dict[str, float]] = []
    for k, (ps, m) in enumerate(zip(sets, sizes, strict=True)):
        variability = {t: v for t, v in ps.spreads.items() if t not in EXTRA_EFFECTS} | dict(spreads or {})
        res = simulate_population(plan, m, seed=seed + 1 + k, params=vector_with(overrides, ps.params),
                                  variability=variability, keep_patients=False)
        rows.append(_figures(res.summary()))
        if progress:
            progress(k + 1, len(sets))
    return {key: predictive_interval([r[key] for r in rows]) for key in rows[0]}


def add_predictive(summary: dict[str, Any], intervals: dict[str, PredictiveInterval], spec: DrawSpec,
                   patients_per_draw: int) -> dict[str, Any]:
    """``summary`` with each figure's interval next to it (a rate's on the rate scale, 0-1) and the
    ``uncertainty`` entry saying how the intervals were made."""
    for key, p in intervals.items():
        entry, _, figure = key.partition(".")
        target = summary.get(entry)
        if not isinstance(target, dict):
            continue
        if figure == "median_days_to_relapse":
            target = target.setdefault("median_days_to_relapse", {})
        target.update(p.as_dict())
    summary["uncertainty"] = {"draws": spec.draws, "patients_per_draw": patients_per_draw,
                              "posterior": spec.path or "shipped (ketasim/data/posterior.parquet)",
                              "description": spec.describe() + f" ({patients_per_draw} patients per draw); the "
                              "figures themselves come from the typical values (posterior median)"}
    return summary
