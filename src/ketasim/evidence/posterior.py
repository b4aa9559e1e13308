"""The shipped posterior over the population parameters, and predictions made per draw.

``load_posterior()`` reads ``ketasim/data/posterior.parquet`` (or any file ``ketasim calibrate`` wrote):
one row per draw, one column per parameter (``ketasim.evidence.space.names()``), the provenance in the
file's metadata. :meth:`Posterior.parameter_sets` turns draws into
:class:`~ketasim.evidence.simulate.ParameterSet` objects, one virtual study each: a prediction under
parameter uncertainty is the same simulation run once per draw, e.g.

    post = load_posterior()
    runs = [simulate_evidence(ps, n_patients=n // D, seed=k) for k, ps in enumerate(post.parameter_sets(D))]
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from ketasim.errors import PlanError
from ketasim.evidence import space
from ketasim.evidence.likelihood import Heterogeneity
from ketasim.evidence.simulate import ParameterSet

POSTERIOR_FILE = "posterior.parquet"


def shipped_posterior_path() -> Path:
    return Path(str(resources.files("ketasim").joinpath("data", POSTERIOR_FILE)))


@dataclass
class Posterior:
    """Posterior draws (``draws``: one row per draw) and their provenance."""

    draws: pd.DataFrame
    provenance: dict

    @property
    def n_draws(self) -> int:
        return len(self.draws)

    def parameter_sets(self, n: int | None = None, *, seed: int = 0) -> list[ParameterSet]:
        """``n`` draws (all when ``None``; a seeded subset otherwise) as parameter sets over the declared values."""
        rows = self.draws.index.to_numpy()
        if n is not None and n < rows.size:
            rows = np.random.default_rng(seed).choice(rows, n, replace=False)
        cols = [f.key for f in space.FIT_PARAMETERS]
        return [space.parameter_set({c: float(self.draws.at[r, c]) for c in cols}, label=f"draw {int(r)}")
                for r in rows]

    def heterogeneity(self, row: int) -> Heterogeneity:
        d = self.draws.loc[row]
        return Heterogeneity(float(d["tau_points"]), float(d["tau_logit"]), float(d["tau_log"]))

    def median(self) -> dict[str, float]:
        return {c: float(self.draws[c].median()) for c in space.names()}

    def summary(self) -> pd.DataFrame:
        """Mean, 5/50/95% quantiles, R-hat and bulk ESS (from the fit's diagnostics) and the prior of each
        parameter."""
        diag = self.provenance.get("diagnostics", {})
        priors = self.provenance.get("priors", {})
        rows = []
        for c in space.names():
            x = self.draws[c].to_numpy(dtype=float)
            p = priors.get(c, {})
            prior = (f"{p.get('scale', '')} {p['range'][0]:.3g}-{p['range'][1]:.3g}" if "range" in p
                     else f"half-normal({p.get('half_normal_scale', '')})")
            rows.append({"parameter": c, "mean": x.mean(), "q05": np.quantile(x, 0.05), "median": np.median(x),
                         "q95": np.quantile(x, 0.95), "rhat": diag.get(c, {}).get("rhat", float("nan")),
                         "ess_bulk": diag.get(c, {}).get("ess_bulk", float("nan")), "prior": prior})
        return pd.DataFrame(rows).set_index("parameter")


def load_posterior(path: str | Path | None = None) -> Posterior:
    """The posterior draws at ``path`` (default: the shipped ``ketasim/data/posterior.parquet``)."""
    import pyarrow.parquet as pq

    p = Path(path) if path is not None else shipped_posterior_path()
    if not p.exists():
        raise PlanError("posterior", str(p), "a posterior.parquet written by ketasim calibrate")
    try:
        table = pq.read_table(p)
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise PlanError("posterior", str(p), f"a Parquet file ({type(exc).__name__})") from None
    meta = table.schema.metadata or {}
    provenance = json.loads(meta.get(b"ketasim", b"{}"))
    df = table.to_pandas()
    missing = [c for c in space.names() if c not in df.columns]
    if missing:
        raise PlanError("posterior columns", missing[:5], "every parameter of ketasim.evidence.space.names()",
                        file=str(p))
    return Posterior(df, provenance)
