"""Leave-one-study-out predictions by Pareto-smoothed importance sampling (PSIS-LOO).

Each study ``s`` is predicted from the posterior without it: the posterior draws are reweighted by
``1 / p(y_s | theta)`` (the study's likelihood at each draw, from that draw's simulated summaries and
heterogeneity), the weights Pareto-smoothed by ArviZ (``arviz.psislw``; Vehtari, Gelman and Gabry 2017,
Stat Comput 27:1413). The shape ``k`` of the fitted Pareto tail says whether the reweighting can be trusted:
``k <= 0.7`` yes; above, the study pulls the posterior too much for importance sampling and its
leave-one-out prediction needs a refit without it (reported, not done here). :func:`leave_one_study_out`
gives ``k`` per study, the effective number of draws, and the share of the study's published summaries
inside their leave-one-out 50% and 90% posterior predictive intervals.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ketasim.evidence.likelihood import Likelihood
from ketasim.evidence.predictive import predictive_intervals

PARETO_K_OK = 0.7


def study_log_likelihood(summaries: pd.DataFrame, het: pd.DataFrame, lik: Likelihood | None = None) -> pd.DataFrame:
    """Log-likelihood of each study's published summaries at each draw (draws x studies): ``summaries``
    (draws x item ids, published units) and the draws' heterogeneity SDs ``het`` (tau_points, tau_logit,
    tau_log); a summary the draw could not compute costs the likelihood's missing-value penalty."""
    lik = lik or Likelihood()
    Z = np.array([lik.transform_values({k: float(v) for k, v in row.items()}) for _, row in summaries.iterrows()])
    H = het.loc[summaries.index, ["tau_points", "tau_logit", "tau_log"]].to_numpy(dtype=float)
    per_item = lik.per_item(Z, H)
    studies = sorted({i.study for i in lik.items})
    cols = {s: per_item[:, [j for j, i in enumerate(lik.items) if i.study == s]].sum(axis=1) for s in studies}
    return pd.DataFrame(cols, index=summaries.index)


def leave_one_study_out(summaries: pd.DataFrame, het: pd.DataFrame, *, replicates: int = 25,
                        seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per study: pareto_k, reliable (k <= 0.7), effective draws, summaries, within_ppi50/90 shares;
    per summary: the leave-one-study-out predictive intervals as ``predictive_intervals`` gives them)."""
    import arviz as az

    ll = study_log_likelihood(summaries, het)
    weights, rows = {}, []
    for s in ll.columns:
        lw, k = az.psislw(-ll[s].to_numpy())
        w = np.exp(np.asarray(lw).ravel())
        weights[s] = w / w.sum()
        rows.append({"study": s, "pareto_k": float(np.asarray(k).ravel()[0]), "effective_draws":
                     float(1.0 / np.sum(weights[s] ** 2))})
    ppi = predictive_intervals(summaries, het, replicates=replicates, seed=seed, weights=weights)
    table = pd.DataFrame(rows).set_index("study")
    table["reliable"] = table["pareto_k"] <= PARETO_K_OK
    g = ppi.groupby("study")
    table["summaries"] = g.size()
    table["within_ppi50"] = g["within_ppi50"].mean()
    table["within_ppi90"] = g["within_ppi90"].mean()
    return table.reset_index(), ppi
