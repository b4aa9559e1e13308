"""Posterior predictive summaries: the evidence base simulated once per posterior draw.

:func:`draw_summaries` runs :func:`ketasim.evidence.simulate.simulate_evidence` for ``n_draws`` posterior
draws (a virtual study per draw) and tables every simulated outcome (rows: draws; columns: observation
ids; published units). :func:`placebo_check` compares the posterior predictive median of each placebo-arm
summary with its published 95% interval (issue 10's acceptance: at least 80% inside).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

from ketasim.evidence.likelihood import Item, likelihood_items
from ketasim.evidence.loader import load_evidence
from ketasim.evidence.posterior import Posterior
from ketasim.evidence.simulate import simulate_evidence

PLACEBO_SETTINGS = ("saline", "midazolam", "placebo_spray")


def draw_summaries(post: Posterior, n_draws: int = 40, *, n_patients: int | dict[str, int] | None = None,
                   seed: int = 0, progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """Simulated outcomes of ``n_draws`` posterior draws (each with its own virtual cohorts: seed + k)."""
    rows = []
    sets = post.parameter_sets(n_draws, seed=seed)
    for k, ps in enumerate(sets):
        rows.append(simulate_evidence(ps, n_patients=n_patients, seed=seed + 1 + k).values)
        if progress:
            progress(k + 1, len(sets))
    return pd.DataFrame(rows)


def published_interval(item: Item) -> tuple[float, float]:
    """The published 95% interval of an item, in its published unit (Wilson for counts, +-1.96 SE for means,
    exp(log +- 1.96 SE) for log kinds); the [S] doubling is not applied here."""
    z = 1.959963984540054
    if item.family == "binomial":
        n, k = item.n * item.variance_factor, item.events * item.variance_factor  # type: ignore[operator]
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return 100 * max(0.0, centre - half), 100 * min(1.0, centre + half)
    se = (item.se or 0.0) / math.sqrt(item.variance_factor)
    if item.family == "lognormal":
        return item.value * math.exp(-z * se), item.value * math.exp(z * se)
    return item.value - z * se, item.value + z * se


def placebo_items() -> list[Item]:
    """Likelihood items of placebo arms (saline, midazolam, placebo spray), contrasts excluded."""
    ev = load_evidence()
    out = []
    for it in likelihood_items():
        if it.kind == "mean_change_contrast" or it.kind == "hazard_ratio":
            continue
        arm = next((a for a in ev[it.study].arms if a.id == it.arm), None)
        if arm is not None and arm.setting in PLACEBO_SETTINGS:
            out.append(it)
    return out


def placebo_check(summaries: pd.DataFrame) -> pd.DataFrame:
    """Per placebo-arm summary: published value and 95% interval, posterior predictive median, inside?"""
    rows = []
    for it in placebo_items():
        lo, hi = published_interval(it)
        col = summaries.get(it.id)
        med = float(np.nanmedian(col)) if col is not None and np.isfinite(col).any() else float("nan")
        if not np.isfinite(med) and it.not_reached is not None:
            med = it.not_reached
        published = 100 * it.events / it.n if it.family == "binomial" else it.value  # type: ignore[operator]
        rows.append({"id": it.id, "study": it.study, "arm": it.arm, "published": round(published, 2),
                     "low95": round(lo, 2), "high95": round(hi, 2), "predictive_median": round(med, 2),
                     "inside": bool(lo <= med <= hi)})
    return pd.DataFrame(rows)
