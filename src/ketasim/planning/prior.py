"""The calibrated virtual population as the prior over one patient's hidden attributes.

Every particle is the image of a standard-normal vector ``z`` (its ``latent`` row) through
the population's variability model, so the prior density is ``N(z; 0, I)`` and jittering or
mixture proposals live in ``z``:

    theta_j      = theta_j,typ * exp(omega_j z_j)         response parameters that vary
    PK factor    = exp(omega z)                           clearance, volume, absorption rate
    chronic load = L_typ * exp(omega_L z)
    baseline     = mu_B + sd_B z                          untreated MADRS
    event load   = A_typ * exp(omega_A z),  fade = tau_typ * exp(omega_tau z)   (unrecorded sizes)

The baseline severity is observed (the last score before the first dose), so its coordinate
is drawn from a proposal centred on that score and importance-corrected (see
``posterior.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ketasim.parameters import IDX, Parameter, default_vector
from ketasim.planning.particles import Particles

# Provisional variability of the response (log-normal omegas), used until the population module
# supplies its calibrated one. Status: assumed.
RESPONSE_OMEGA: dict[str, float] = {
    "k_form": 0.35, "k_prune": 0.35, "k_mat": 0.35, "k_hom": 0.35, "beta": 0.35, "kappa_G": 0.3, "eta": 0.5,
}

EVENT_AMPLITUDE_TYPICAL = Parameter(
    "event_amplitude_typical", 1.2, "load units", "assumed: an acute stressor such as bereavement roughly doubles "
    "the typical chronic load", "assumed", "median load added by a recorded life event whose size is not given",
    "planning", (0.1, 3.0))
EVENT_AMPLITUDE_OMEGA = Parameter(
    "event_amplitude_omega", 0.5, "1 (log-normal SD)", "assumed", "assumed",
    "spread of the load added by a recorded life event", "planning", (0.0, 1.5))
EVENT_FADE_TYPICAL = Parameter(
    "event_fade_typical", 90.0, "days", "assumed: acute grief and post-partum symptoms ease over months (seed text)",
    "assumed", "median fading time of a recorded life event whose fading is not given", "planning", (14.0, 365.0))
EVENT_FADE_OMEGA = Parameter(
    "event_fade_omega", 0.5, "1 (log-normal SD)", "assumed", "assumed",
    "spread of the fading time of a recorded life event", "planning", (0.0, 1.5))
PRIOR_PARAMETERS = (EVENT_AMPLITUDE_TYPICAL, EVENT_AMPLITUDE_OMEGA, EVENT_FADE_TYPICAL, EVENT_FADE_OMEGA)


@dataclass
class PopulationPrior:
    """Standard-normal latent coordinates -> particles (see the module docstring).

    Coordinates: the varying response parameters (in ``response_names`` order), 3 PK factors,
    chronic load, baseline MADRS, then an (amplitude, fade) pair per life event.
    """

    typical: np.ndarray = field(default_factory=default_vector)
    response_omega: dict[str, float] = field(default_factory=lambda: dict(RESPONSE_OMEGA))
    pk_omega: tuple[float, float, float] = (0.2, 0.25, 0.3)
    chronic_load_typical: float = 0.5
    chronic_load_omega: float = 0.5
    baseline_mean: float = 33.0
    baseline_sd: float = 4.5
    event_amplitude: tuple[float, float] = (EVENT_AMPLITUDE_TYPICAL.value, EVENT_AMPLITUDE_OMEGA.value)
    event_fade: tuple[float, float] = (EVENT_FADE_TYPICAL.value, EVENT_FADE_OMEGA.value)
    source: str = "provisional variability (assumed)"

    @property
    def response_names(self) -> tuple[str, ...]:
        return tuple(self.response_omega)

    def dim(self, n_events: int) -> int:
        return len(self.response_omega) + 5 + 2 * n_events

    @property
    def baseline_index(self) -> int:
        return len(self.response_omega) + 4

    def transform(self, z: np.ndarray, n_events: int, known_events: list[tuple[float | None, float | None]]
                  | None = None) -> Particles:
        """Particles from latent rows ``z`` (N x dim). ``known_events`` fixes recorded (amplitude, fade) values."""
        z = np.atleast_2d(np.asarray(z, dtype=float))
        n = z.shape[0]
        r = len(self.response_omega)
        params = np.tile(self.typical, (n, 1))
        for j, (name, om) in enumerate(self.response_omega.items()):
            params[:, IDX[name]] = self.typical[IDX[name]] * np.exp(om * z[:, j])
        pk = [np.exp(self.pk_omega[k] * z[:, r + k]) for k in range(3)]
        chronic = self.chronic_load_typical * np.exp(self.chronic_load_omega * z[:, r + 3])
        baseline = np.clip(self.baseline_mean + self.baseline_sd * z[:, r + 4], 1.0, 60.0)
        amp = np.zeros((n, n_events))
        fade = np.zeros((n, n_events))
        for e in range(n_events):
            a_typ, a_om = self.event_amplitude
            f_typ, f_om = self.event_fade
            amp[:, e] = a_typ * np.exp(a_om * z[:, r + 5 + 2 * e])
            fade[:, e] = f_typ * np.exp(f_om * z[:, r + 6 + 2 * e])
            if known_events is not None:
                ka, kf = known_events[e]
                if ka is not None:
                    amp[:, e] = ka
                if kf is not None:
                    fade[:, e] = kf
        return Particles(params=params, pk_cl=pk[0], pk_v=pk[1], pk_ka=pk[2], baseline_madrs=baseline,
                         chronic_load=chronic, event_amp=amp, event_fade_days=fade, latent=z)

    def sample_latent(self, n: int, n_events: int, rng: np.random.Generator) -> np.ndarray:
        return rng.standard_normal((n, self.dim(n_events)))

    def baseline_z(self, madrs_value: float) -> float:
        return (madrs_value - self.baseline_mean) / self.baseline_sd
