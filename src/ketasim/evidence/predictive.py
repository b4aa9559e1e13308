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
        published = published_value(it)
        rows.append({"id": it.id, "study": it.study, "arm": it.arm, "published": round(published, 2),
                     "low95": round(lo, 2), "high95": round(hi, 2), "predictive_median": round(med, 2),
                     "inside": bool(lo <= med <= hi)})
    return pd.DataFrame(rows)


def predictive_sample(item: Item, z: np.ndarray, het: pd.DataFrame, rng: np.random.Generator,
                      replicates: int) -> np.ndarray:
    """Published-unit summaries of new trials of the published design (draws x ``replicates``): per draw
    (simulated summary ``z`` on the likelihood scale, that draw's heterogeneity SDs in ``het``) a between-study
    deviation and the design's sampling noise (binomial with the published n, normal with the published SE)."""
    if item.family == "binomial":
        n = int(round(item.n * item.variance_factor))  # type: ignore[operator]
        p = 1 / (1 + np.exp(-(z[:, None] + het["tau_logit"].to_numpy()[:, None]
                              * rng.standard_normal((z.size, replicates)))))
        return 100 * rng.binomial(n, p) / n
    tau = het["tau_points" if item.family == "normal" else "tau_log"].to_numpy()[:, None]
    se = (item.se or 0.0) / math.sqrt(item.variance_factor)
    x = z[:, None] + np.sqrt(tau**2 + se**2) * rng.standard_normal((z.size, replicates))
    return np.exp(x) if item.family == "lognormal" else x


def published_value(item: Item) -> float:
    """The published summary in its published unit (a count as a percentage)."""
    return 100 * item.events / item.n if item.family == "binomial" else item.value  # type: ignore[operator]


def weighted_quantiles(x: np.ndarray, w: np.ndarray, q: list[float]) -> np.ndarray:
    """Quantiles ``q`` of the values ``x`` with weights ``w`` (the midpoint rule on the sorted cumulative)."""
    order = np.argsort(x)
    x, w = x[order], w[order]
    c = (np.cumsum(w) - 0.5 * w) / w.sum()
    return np.interp(q, c, x)


def predictive_intervals(summaries: pd.DataFrame, het: pd.DataFrame, *, replicates: int = 25,
                         seed: int = 0, weights: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """50% and 90% posterior predictive intervals of every likelihood item, for a new trial of the published
    design (:func:`predictive_sample`, ``replicates`` per draw: rows of ``summaries``, with that draw's
    heterogeneity SDs in ``het``: columns tau_points, tau_logit, tau_log); values in the published unit.
    ``weights``: study -> importance weight per draw (leave-one-study-out, ``ketasim.evidence.loo``).
    Columns: id, study, published, ppi50_low/high, ppi90_low/high, within_ppi50, within_ppi90."""
    from ketasim.evidence.likelihood import transform

    rng = np.random.default_rng(seed)
    rows = []
    for it in likelihood_items():
        if it.id not in summaries:
            continue
        z = np.array([transform(it, v) for v in summaries[it.id].to_numpy(dtype=float)])
        ok = np.isfinite(z)
        if not ok.any():
            continue
        sample = predictive_sample(it, z[ok], het.loc[summaries.index[ok]], rng, replicates)
        if weights is None or it.study not in weights:
            q = np.quantile(sample, [0.05, 0.25, 0.75, 0.95])
        else:
            q = weighted_quantiles(sample.ravel(), np.repeat(weights[it.study][ok], replicates),
                                   [0.05, 0.25, 0.75, 0.95])
        published = published_value(it)
        rows.append({"id": it.id, "study": it.study, "published": published, "ppi50_low": q[1], "ppi50_high": q[2],
                     "ppi90_low": q[0], "ppi90_high": q[3], "within_ppi50": bool(q[1] <= published <= q[2]),
                     "within_ppi90": bool(q[0] <= published <= q[3])})
    return pd.DataFrame(rows)


def claim_probabilities(draws: int = 100, *, typical: bool = False, seed: int = 0,
                        progress: Callable[[int, int], None] | None = None) -> dict:
    """Share of ``draws`` posterior draws (or the typical values) under which each of the model's claims holds
    for the typical patient (``ketasim.trials.constraints.claim_margins`` >= 0), with its plain-language
    statement (``CLAIM_TEXT``) and the median margin (points, days or a ratio): the claims as tests of the
    evidence, not constraints of the fit. Returns ``draws``, ``parameters`` (plain language) and ``claims``
    (one dict per claim: claim, statement, share_holding, draws_holding, median_margin)."""
    from ketasim.evidence.draws import draw_spec, parameter_sets
    from ketasim.trials.constraints import CLAIM_TEXT, claim_margins

    spec = draw_spec(None if typical else draws, typical, seed=seed)
    sets = parameter_sets(spec)
    margins: list[dict[str, float]] = []
    for k, ps in enumerate(sets):
        margins.append(claim_margins(ps.params))
        if progress:
            progress(k + 1, len(sets))
    rows = []
    for key in margins[0]:
        m = np.array([d[key] for d in margins])
        rows.append({"claim": key, "statement": CLAIM_TEXT.get(key, key), "share_holding": float((m >= 0).mean()),
                     "draws_holding": int((m >= 0).sum()), "median_margin": float(np.median(m))})
    return {"draws": spec.draws, "parameters": spec.describe().split(";")[0], "claims": rows}


def plot_predictive_check(full: pd.DataFrame, loo: pd.DataFrame | None, path) -> None:
    """Every published summary against its posterior predictive intervals, one row per summary grouped by
    study: the published value's position on a scale where the 90% interval runs from -1 to 1 (its median
    at 0, the 50% interval shaded), for the full posterior (black) and leave one study out (orange)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def position(df: pd.DataFrame) -> np.ndarray:
        mid = 0.5 * (df["ppi90_low"] + df["ppi90_high"])
        half = 0.5 * (df["ppi90_high"] - df["ppi90_low"]).replace(0, np.nan)
        return ((df["published"] - mid) / half).to_numpy(dtype=float)

    full = full.sort_values(["study", "id"]).reset_index(drop=True)
    y = np.arange(len(full))[::-1]
    fig, ax = plt.subplots(figsize=(8, 0.17 * len(full) + 1.5))
    ax.axvspan(-1, 1, color="0.9", label="90% predictive interval")
    p50 = 0.5 * (full["ppi50_high"] - full["ppi50_low"]) / (0.5 * (full["ppi90_high"] - full["ppi90_low"]))
    ax.barh(y, 2 * p50.fillna(0), left=-p50.fillna(0), height=0.6, color="0.75", label="50% (approximate)")
    ax.plot(np.clip(position(full), -3, 3), y, "k.", label="published, full posterior")
    if loo is not None:
        lo = loo.set_index("id").loc[full["id"]].reset_index()
        ax.plot(np.clip(position(lo), -3, 3), y, ".", color="tab:orange", label="published, leave one study out")
    ax.set_yticks(y, [f"{s}: {i}" for s, i in zip(full["study"], full["id"], strict=True)], fontsize=5)
    ax.set_xlim(-3.2, 3.2)
    ax.set_xlabel("published value relative to the 90% posterior predictive interval (clipped at +-3)")
    ax.set_title("Posterior predictive check of every published summary of the fit set")
    ax.legend(fontsize=6, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
