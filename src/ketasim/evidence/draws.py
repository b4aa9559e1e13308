"""Which population parameters a prediction runs with: posterior draws, or the typical values only.

Predictions carry the uncertainty of the population parameters by running one virtual study (or one
sub-population) per posterior draw, as rxode2's ``nStud``/``thetaMat`` do: ``D`` draws of the shipped posterior
(``ketasim/data/posterior.parquet``), the patients split evenly over them (:func:`split_patients`). ``--typical``
runs the point estimate in force (the shipped ``calibrated.json``, the posterior median) alone.

A posterior predictive interval (:func:`predictive_interval`) is then the spread over draws of a figure, each
computed from its draw's own sub-cohort: it holds the parameter uncertainty and the Monte-Carlo spread of a
cohort of the per-draw size (it is an interval for a study of that size, not for a population value).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ketasim.errors import PlanError

if TYPE_CHECKING:
    from ketasim.evidence.simulate import ParameterSet

DEFAULT_DRAWS = 100
MAX_DRAWS = 10_000  # the command-line limit of --draws (the shipped posterior holds 400; more repeat them)


@dataclass(frozen=True)
class DrawSpec:
    """``draws`` posterior draws (0: the typical values only), seeded subset ``seed``, posterior ``path``
    (None: the shipped one)."""

    draws: int = DEFAULT_DRAWS
    seed: int = 0
    path: str | None = None

    @property
    def typical(self) -> bool:
        return self.draws == 0

    def describe(self) -> str:
        """Plain-language sentence for outputs."""
        if self.typical:
            return ("population parameters: the typical values only (posterior median); intervals are "
                    "Monte-Carlo intervals, without the uncertainty of the population parameters")
        return (f"population parameters: {self.draws} draws of the posterior, one virtual study per draw; "
                "intervals are posterior predictive (parameter uncertainty and the spread of each draw's cohort)")


def draw_spec(draws: int | None, typical: bool, *, n_patients: int | None = None, per_draw: int = 1,
              seed: int = 0, path: str | None = None) -> DrawSpec:
    """The choice of ``--draws D`` / ``--typical`` (refused together; ``D`` a whole number >= 2). Without
    ``--draws``, :data:`DEFAULT_DRAWS`, or fewer when ``n_patients`` would leave a draw fewer than ``per_draw``
    patients (the typical values only when not even 2 draws fit)."""
    if typical:
        if draws not in (None, 0):
            raise PlanError("--draws", draws, "no --draws together with --typical (the typical values only)")
        return DrawSpec(0, seed, path)
    if draws is None and n_patients is not None and n_patients < DEFAULT_DRAWS * per_draw:
        fit = n_patients // per_draw
        return DrawSpec(fit if fit >= 2 else 0, seed, path)
    d = DEFAULT_DRAWS if draws is None else draws
    if not isinstance(d, int | np.integer) or d < 2:
        raise PlanError("--draws", draws, "a whole number of posterior draws >= 2 (or --typical)")
    return DrawSpec(int(d), seed, path)


def parameter_sets(spec: DrawSpec) -> list[ParameterSet]:
    """The parameter sets of ``spec``: ``spec.draws`` posterior draws (all of them, repeated in turn, when the
    posterior holds fewer), or the typical values."""
    from ketasim.evidence.simulate import ParameterSet

    if spec.typical:
        return [ParameterSet.in_force()]
    from ketasim.evidence.posterior import load_posterior

    post = load_posterior(spec.path)
    sets = post.parameter_sets(min(spec.draws, post.n_draws), seed=spec.seed)
    return [sets[k % len(sets)] for k in range(spec.draws)]


def split_patients(total: int, draws: int, *, field: str = "patients") -> list[int]:
    """``total`` patients split as evenly as whole numbers allow over ``draws`` draws (each at least 1;
    ``field`` names the option in the error)."""
    if total < draws:
        raise PlanError(field, total, f"at least one virtual patient per posterior draw ({draws} draws); "
                        "raise it or lower --draws")
    base, extra = divmod(total, draws)
    return [base + (1 if k < extra else 0) for k in range(draws)]


@dataclass(frozen=True)
class PredictiveInterval:
    """Posterior predictive quantiles of one figure over draws: median, 50% and 90% intervals; ``draws``:
    draws whose figure could be computed (e.g. a median reached), of ``of``."""

    median: float
    ppi50: tuple[float, float]
    ppi90: tuple[float, float]
    draws: int
    of: int

    def contains(self, x: float, level: int = 90) -> bool:
        lo, hi = self.ppi90 if level == 90 else self.ppi50
        return bool(math.isfinite(lo) and lo <= x <= hi)

    def as_dict(self) -> dict:
        def r(x: float) -> float | None:
            return None if not math.isfinite(x) else round(float(x), 4)

        return {"ppi_median": r(self.median), "ppi50": [r(self.ppi50[0]), r(self.ppi50[1])],
                "ppi90": [r(self.ppi90[0]), r(self.ppi90[1])], "ppi_low": r(self.ppi90[0]),
                "ppi_high": r(self.ppi90[1]), "ppi_draws": self.draws}


def predictive_interval(values: np.ndarray | list[float]) -> PredictiveInterval:
    """Quantiles over draws of one figure (non-finite values, e.g. a median not reached, left out)."""
    v = np.asarray(values, dtype=float)
    ok = v[np.isfinite(v)]
    if ok.size == 0:
        nan = float("nan")
        return PredictiveInterval(nan, (nan, nan), (nan, nan), 0, int(v.size))
    q = np.quantile(ok, [0.05, 0.25, 0.5, 0.75, 0.95])
    return PredictiveInterval(float(q[2]), (float(q[1]), float(q[3])), (float(q[0]), float(q[4])), int(ok.size),
                              int(v.size))
