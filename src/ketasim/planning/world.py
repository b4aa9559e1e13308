"""The one population the planning tools draw from: posterior draws of the population parameters.

A :class:`PlanningWorld` holds ``D`` draws of the shipped posterior (``ketasim.evidence.posterior``),
each a :class:`~ketasim.evidence.simulate.ParameterSet`: the typical response parameters, the
between-patient spreads, the trials' typical chronic load, the symptom fluctuation (measurement
model) and the placebo response. It is the world of the virtual trials, so that the forecasting
prior (``prior.py``), the synthetic validation patients (``synthetic.py``) and the policy simulator
(``policies.py``) see the population the evidence was fitted to:

* a patient's prior is the *mixture* over draws: ``p(psi) = (1/D) sum_d p(psi | theta_d)``; a
  particle carries the index of its draw, so the individual posterior weighs the draws too;
* the draw is a latent coordinate like any other: ``d = floor(Phi(u_d) D)`` for a standard-normal
  ``u_d`` (equally likely bins), with the draws sorted along their first principal component, so
  that neighbouring bins hold similar draws and kernel proposals in the latent space stay local.

A discrete latent of the patient (a response class, once the population model has them) fits the
same scheme: one more binned coordinate with the class probabilities as bin widths.

:func:`draw_patients` is the one place that draws N virtual patients for validation and policies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy.special import ndtr

from ketasim.evidence.simulate import ParameterSet

DEFAULT_DRAWS = 100


@dataclass
class PlanningWorld:
    """``D`` parameter sets (sorted, see the module docstring), where they come from, and per-draw tables."""

    sets: tuple[ParameterSet, ...]
    source: str
    typical_world: bool = False
    spread_targets: tuple[str, ...] = field(init=False)
    tables: dict[str, np.ndarray] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.sets:
            raise ValueError("a planning world needs at least one parameter set")
        sets = self.sets
        self.spread_targets = tuple(sorted({k for s in sets for k in s.spreads}))
        t = {"params": np.array([s.params for s in sets], dtype=float),
             "chronic_load": np.array([s.chronic_load for s in sets], dtype=float),
             "fluctuation_sd": np.array([s.measurement.fluctuation_sd for s in sets], dtype=float),
             "fluctuation_tau": np.array([s.measurement.fluctuation_tau for s in sets], dtype=float),
             "noise_scale": np.array([s.measurement.noise_scale for s in sets], dtype=float)}
        for target in self.spread_targets:
            t[f"spread:{target}"] = np.array([s.spreads.get(target, 0.0) for s in sets], dtype=float)
        self.tables = t

    @property
    def n_draws(self) -> int:
        return len(self.sets)

    @classmethod
    def typical(cls) -> PlanningWorld:
        """The point estimate in force (``ParameterSet.in_force()``: the ``--typical`` behaviour)."""
        return _typical_world()

    @classmethod
    def from_posterior(cls, n_draws: int = DEFAULT_DRAWS, *, seed: int = 0, path: str | None = None) -> PlanningWorld:
        """``n_draws`` draws of the posterior at ``path`` (default the shipped one; all if fewer)."""
        return _posterior_world(int(n_draws), int(seed), path)

    def with_sets(self, sets: tuple[ParameterSet, ...], source: str) -> PlanningWorld:
        """The same kind of world with other parameter sets (stress tests change one part of each draw)."""
        return PlanningWorld(tuple(sets), source, self.typical_world)

    def draw_index(self, u: np.ndarray) -> np.ndarray:
        """Draw of each standard-normal coordinate ``u``: ``floor(Phi(u) D)``."""
        D = self.n_draws
        return np.clip(np.floor(ndtr(np.asarray(u, dtype=float)) * D), 0, D - 1).astype(np.int64)

    # --- per-draw tables (one entry per draw) --------------------------------------------------
    @property
    def typical_params(self) -> np.ndarray:
        return self.tables["params"]

    def spread(self, target: str) -> np.ndarray:
        return self.tables[f"spread:{target}"]

    @property
    def chronic_load(self) -> np.ndarray:
        return self.tables["chronic_load"]

    @property
    def fluctuation_sd(self) -> np.ndarray:
        return self.tables["fluctuation_sd"]

    @property
    def fluctuation_tau(self) -> np.ndarray:
        return self.tables["fluctuation_tau"]

    @property
    def noise_scale(self) -> np.ndarray:
        return self.tables["noise_scale"]

    def describe(self) -> str:
        """One sentence for outputs: which population parameters the forecast used."""
        if self.typical_world:
            return "population parameters at the shipped point estimate (--typical: no parameter uncertainty)"
        return f"{self.n_draws} draws of the posterior over the population parameters ({self.source})"


def _sorted_sets(sets: list[ParameterSet]) -> tuple[ParameterSet, ...]:
    """Draws ordered along the first principal component of their standardised (log) values."""
    if len(sets) < 3:
        return tuple(sets)
    cols = [np.log(np.maximum(np.array([s.params for s in sets]), 1e-12))]
    cols.append(np.log(np.maximum(np.array([[s.spreads.get(k, 0.0) for k in sorted(sets[0].spreads)]
                                            for s in sets]), 1e-12)))
    cols.append(np.log(np.array([[s.chronic_load, s.measurement.fluctuation_sd + 1e-9,
                                  s.measurement.fluctuation_tau] for s in sets])))
    X = np.hstack(cols)
    X = X[:, X.std(axis=0) > 1e-12]
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    _, _, vt = np.linalg.svd(X, full_matrices=False)
    order = np.argsort(X @ vt[0], kind="stable")
    return tuple(sets[i] for i in order)


@lru_cache(maxsize=1)
def _typical_world() -> PlanningWorld:
    return PlanningWorld((ParameterSet.in_force(),), "the shipped point estimate (ParameterSet.in_force)",
                         typical_world=True)


@lru_cache(maxsize=8)
def _posterior_world(n_draws: int, seed: int, path: str | None) -> PlanningWorld:
    from ketasim.evidence.posterior import load_posterior

    if n_draws < 1:
        from ketasim.errors import PlanError

        raise PlanError("draws", n_draws, "1 or more posterior draws")
    post = load_posterior(path)
    sets = post.parameter_sets(min(n_draws, post.n_draws), seed=seed)
    where = "the shipped ketasim/data/posterior.parquet" if path is None else str(path)
    return PlanningWorld(_sorted_sets(sets), f"{len(sets)} of {post.n_draws} draws of {where}")


def default_world() -> PlanningWorld:
    """The world the planning tools use unless told otherwise: ``DEFAULT_DRAWS`` posterior draws."""
    return PlanningWorld.from_posterior(DEFAULT_DRAWS)


def world_for(draws: int | None = DEFAULT_DRAWS, *, typical: bool = False, seed: int = 0) -> PlanningWorld:
    """``--typical`` gives the point estimate; otherwise ``draws`` posterior draws."""
    return PlanningWorld.typical() if typical else PlanningWorld.from_posterior(DEFAULT_DRAWS if draws is None
                                                                               else draws, seed=seed)


def draw_patients(n: int, seed: int, world: PlanningWorld | None = None, *, pk_model: str | None = None,
                  n_events: int = 0):
    """``n`` virtual patients of ``world`` (seeded): true particles, their body weights and latent coordinates.

    The one function that draws patients for the synthetic validation and the policy simulator
    (the population model's own sampler can replace it here). Weights come from the population's
    covariate model (``ketasim.population.sample_patients``).
    """
    from ketasim.planning.prior import PopulationPrior
    from ketasim.population.patients import sample_patients

    world = world or default_world()
    prior = PopulationPrior.for_pk_model(pk_model, world) if pk_model else PopulationPrior(world=world)
    rng = np.random.default_rng([int(seed), 1])
    u = prior.sample_latent(n, n_events, rng)
    parts = prior.transform(u, n_events)
    weights = sample_patients(n, int(seed)).weight_kg if n else np.zeros(0)
    return parts, np.asarray(weights, dtype=float), u


def describe_draws(draw: np.ndarray, weights: np.ndarray, world: PlanningWorld) -> dict[str, float | int]:
    """How many draws a weighted set of particles represents: distinct draws and their effective number."""
    w = np.bincount(np.asarray(draw, dtype=np.int64), weights=np.asarray(weights, dtype=float),
                    minlength=world.n_draws)
    s = w.sum()
    w = w / s if s > 0 else w
    eff = float(1.0 / np.sum(w * w)) if s > 0 else 0.0
    return {"population_draws": world.n_draws, "draws_represented": int(np.count_nonzero(w > 0)),
            "effective_draws": round(eff, 1)}

