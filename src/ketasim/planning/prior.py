"""The population as the prior over one patient's hidden attributes.

The population's variability model (``ketasim.population.variability``) maps standard-normal
coordinates to a virtual patient; here the same map turns *independent* standard-normal
coordinates ``u`` (a particle's ``latent`` row) into a particle, so that the prior density is
``N(u; 0, I)`` and jitter and mixture proposals live in ``u``:

    d = floor(Phi(u_draw) D)          the population draw (``world.py``: D posterior draws)
    z = u C^T                         C: Cholesky factor of the effects' correlation matrix
    theta_e = RandomEffect_e.apply(typical_e[d], omega_e[d] z_e)   (log-normal or normal, clipped)
    chronic load capped at MAX_LOAD_SHARE of the baseline severity   (``population.patients.load_cap``)
    placebo responsiveness m = exp(omega_placebo[d] u_placebo)       (``symptoms.placebo``)

The typical values, the spreads the posterior is over and the typical chronic load are those
of draw ``d`` (the world of the virtual trials); the other spreads are the population model's.
What the population samples but a history records is fixed: the weight. Each recorded life
event adds one coordinate: its fading time (log-normal around :data:`EVENT_FADE_TYPICAL`, in
:data:`FADE_BINS` equally likely bins); its size is the recorded amplitude (or
:data:`EVENT_AMPLITUDE_TYPICAL` when not recorded) times the patient's ``acute_load_scale``,
the population's reactivity to life events.

The baseline severity is observed (the last score before the first dose), so its coordinate
is drawn from a proposal centred on that score and importance-corrected (``posterior.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import ndtr, ndtri

from ketasim.dosing.plan import Patient
from ketasim.parameters import IDX, RESPONSE_PARAMETERS, Parameter
from ketasim.planning.particles import Particles
from ketasim.planning.world import PlanningWorld, default_world
from ketasim.population.patients import load_cap
from ketasim.population.variability import (
    DEFAULT_PK_MODEL,
    RandomEffect,
    correlation_matrix,
    default_variability,
    with_spreads,
)
from ketasim.symptoms.placebo import PlaceboModel, placebo_multiplier

EVENT_AMPLITUDE_TYPICAL = Parameter(
    "event_amplitude_typical", 1.0, "load units",
    "assumed: an acute stressor such as a bereavement about doubles the typical chronic load (0.5); the patient's "
    "acute_load_scale (population variability) scales it", "assumed",
    "load added by a recorded life event whose size is not given", "planning", (0.1, 3.0))
EVENT_FADE_TYPICAL = Parameter(
    "event_fade_typical", 90.0, "days", "assumed: acute grief and post-partum symptoms ease over months (seed text)",
    "assumed", "median fading time of a recorded life event whose fading is not given", "planning", (14.0, 365.0))
EVENT_FADE_OMEGA = Parameter(
    "event_fade_omega", 0.5, "1 (SD of log)", "assumed", "assumed",
    "spread of the fading time of a recorded life event", "planning", (0.0, 1.5))
PRIOR_PARAMETERS = (EVENT_AMPLITUDE_TYPICAL, EVENT_FADE_TYPICAL, EVENT_FADE_OMEGA)

_PATIENT_DEFAULTS = {"baseline_madrs": Patient().baseline_madrs, "chronic_load": Patient().chronic_load,
                     "acute_load_scale": 1.0, "pk_cl": 1.0, "pk_v": 1.0, "pk_ka": 1.0}


FADE_BINS = 8


def fade_days_of(u: np.ndarray) -> np.ndarray:
    """Fading time (days) of a life event from its coordinate ``u``: the log-normal prior in ``FADE_BINS``
    equally likely bins, each at its median (so that particles share a few plan templates)."""
    k = np.clip(np.floor(ndtr(u) * FADE_BINS), 0, FADE_BINS - 1)
    return EVENT_FADE_TYPICAL.value * np.exp(EVENT_FADE_OMEGA.value * ndtri((k + 0.5) / FADE_BINS))


#: Coordinates after the random effects, in this order (then one per recorded life event).
EXTRA_COORDINATES = ("placebo_response", "population_draw")
_UNIT_PLACEBO = PlaceboModel(omega_placebo=1.0)


def _effects(pk_model: str, world: PlanningWorld) -> tuple[RandomEffect, ...]:
    """The population's effects; those whose spread the world's draws carry get unit spread (scaled per draw)."""
    return with_spreads(default_variability(pk_model), {t: 1.0 for t in world.spread_targets})


@dataclass
class PopulationPrior:
    """Independent standard-normal coordinates -> particles (see the module docstring).

    Coordinates: one per population random effect (order of ``effects``), the placebo
    responsiveness, the population draw, then one fading time per recorded life event.
    """

    world: PlanningWorld = field(default_factory=default_world)
    pk_model: str = DEFAULT_PK_MODEL
    effects: tuple[RandomEffect, ...] = ()
    patient_typical: dict[str, float] = field(default_factory=lambda: dict(_PATIENT_DEFAULTS))

    def __post_init__(self) -> None:
        if not self.effects:
            self.effects = _effects(self.pk_model, self.world)
        self.chol = np.linalg.cholesky(correlation_matrix(self.effects))
        self.targets = tuple(e.target for e in self.effects)
        declared = {e.target for e in default_variability(self.pk_model)}
        self._clipped = tuple(t for t in self.targets if t in IDX and t not in declared)
        if "baseline_madrs" not in self.targets:
            raise ValueError("the population prior needs a baseline_madrs random effect")
        b = self.targets.index("baseline_madrs")
        row = self.chol[b]
        if not np.isclose(row[b], 1.0) or np.count_nonzero(np.abs(row) > 1e-12) != 1:
            raise ValueError("baseline_madrs must be uncorrelated with the other effects")

    @classmethod
    def for_pk_model(cls, pk_model: str, world: PlanningWorld | None = None) -> PopulationPrior:
        return cls(world=world or default_world(), pk_model=pk_model)

    @property
    def source(self) -> str:
        return self.world.describe()

    @property
    def response_names(self) -> tuple[str, ...]:
        """The response parameters that vary between patients."""
        return tuple(t for t in self.targets if t in IDX)

    def dim(self, n_events: int) -> int:
        return len(self.effects) + len(EXTRA_COORDINATES) + n_events

    def index(self, name: str) -> int:
        """Column of the latent coordinate ``name`` (an effect's target or one of ``EXTRA_COORDINATES``)."""
        if name in EXTRA_COORDINATES:
            return len(self.effects) + EXTRA_COORDINATES.index(name)
        return self.targets.index(name)

    @property
    def baseline_index(self) -> int:
        return self.targets.index("baseline_madrs")

    @property
    def baseline_effect(self) -> RandomEffect:
        return self.effects[self.baseline_index]

    def transform(self, u: np.ndarray, n_events: int,
                  known_events: list[tuple[float | None, float | None]] | None = None) -> Particles:
        """Particles from latent rows ``u`` (N x dim). ``known_events`` gives recorded (amplitude, fade days)."""
        u = np.atleast_2d(np.asarray(u, dtype=float))
        n = u.shape[0]
        k = len(self.effects)
        w = self.world
        draw = w.draw_index(u[:, self.index("population_draw")])
        z = u[:, :k] @ self.chol.T
        params = w.typical_params[draw].copy()
        attrs = {name: np.full(n, v) for name, v in self.patient_typical.items()}
        attrs["chronic_load"] = w.chronic_load[draw].copy()
        for j, e in enumerate(self.effects):
            zj = z[:, j] * w.spread(e.target)[draw] if e.target in w.spread_targets else z[:, j]
            if e.target in IDX:
                params[:, IDX[e.target]] = e.apply(params[:, IDX[e.target]], zj)
            else:
                attrs[e.target] = e.apply(attrs[e.target], zj)
        for t in self._clipped:  # as the trials' cohort clips the effects it adds (trials.cohort._draw)
            lo, hi = RESPONSE_PARAMETERS[IDX[t]].bounds or (0.0, np.inf)
            params[:, IDX[t]] = np.clip(params[:, IDX[t]], lo, hi)
        chronic = np.minimum(attrs["chronic_load"], load_cap(attrs["baseline_madrs"], params))
        omega_p = np.array([s.placebo.omega_placebo for s in w.sets])[draw]
        placebo = placebo_multiplier(omega_p * u[:, self.index("placebo_response")], _UNIT_PLACEBO)
        amp = np.zeros((n, n_events))
        fade = np.zeros((n, n_events))
        k0 = k + len(EXTRA_COORDINATES)
        for ev in range(n_events):
            ka, kf = known_events[ev] if known_events is not None else (None, None)
            amp[:, ev] = (EVENT_AMPLITUDE_TYPICAL.value if ka is None else ka) * attrs["acute_load_scale"]
            fade[:, ev] = fade_days_of(u[:, k0 + ev]) if kf is None else kf
        return Particles(params=params, pk_cl=attrs["pk_cl"], pk_v=attrs["pk_v"], pk_ka=attrs["pk_ka"],
                         baseline_madrs=attrs["baseline_madrs"], chronic_load=chronic,
                         acute_load_scale=np.asarray(attrs["acute_load_scale"], dtype=float), event_amp=amp,
                         event_fade_days=fade, latent=u, draw=draw, placebo_mult=placebo)

    def sample_latent(self, n: int, n_events: int, rng: np.random.Generator) -> np.ndarray:
        return rng.standard_normal((n, self.dim(n_events)))

    def baseline_z(self, madrs_value: float) -> float:
        """The baseline coordinate whose severity is ``madrs_value`` (normal effect, before clipping)."""
        e = self.baseline_effect
        typ = self.patient_typical["baseline_madrs"]
        if e.distribution == "lognormal":
            return float(np.log(madrs_value / typ) / max(e.spread.value, 1e-9))
        return float((madrs_value - typ) / max(e.spread.value, 1e-9))

    @property
    def baseline_sd(self) -> float:
        """MADRS points per unit of the baseline coordinate (near the typical value)."""
        e = self.baseline_effect
        typ = self.patient_typical["baseline_madrs"]
        return float(e.spread.value * (typ if e.distribution == "lognormal" else 1.0))
