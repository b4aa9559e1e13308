"""Simulated measurement: what a study's rater writes down at a visit.

The model gives each virtual patient's MADRS as a smooth function of time. A study only sees
scores on its visit days, on its own scale, with two kinds of error:

    latent(t_k)   = clip(MADRS_model(t_k) + f(t_k), 0, 60)
    observed(t_k) = clip(round(scale(latent(t_k)) + e_k), scale range)

* ``f`` is the patient's own symptom fluctuation around the model course: an Ornstein-Uhlenbeck
  process with stationary SD ``fluctuation_sd`` (MADRS points) and correlation time
  ``fluctuation_tau`` (days), sampled exactly at the visit days
  (``f_{k+1} = f_k a + sd sqrt(1 - a^2) z``, ``a = exp(-(t_{k+1} - t_k) / tau)``). It stands for what
  the mechanistic course does not hold: weeks with more or less stress, sleep, pain. It is what lets a
  stable remitter cross a relapse threshold months later.
* ``scale`` is the published linking from MADRS (``ketasim.symptoms.scales``), ``e_k`` the rater's
  measurement error with the scale's noise SD (independent between visits).

Randomness is drawn in a fixed order from a generator the caller seeds, so the same seed gives the same
errors whatever the model parameters are (common random numbers for calibration).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ketasim.parameters import Parameter, shipped_calibration
from ketasim.symptoms.scales import get_scale, madrs_to

FLUCTUATION_SD = Parameter(
    "fluctuation_sd", 3.0, "MADRS points",
    "assumed: week-to-week change of MADRS in stable patients is a few points (placebo and maintenance arms); "
    "calibrated to the SUSTAIN-1 relapse curve when a calibration is shipped", "assumed",
    "stationary SD of a patient's symptom fluctuation around the model course", "measurement", (0.0, 8.0))
FLUCTUATION_TAU = Parameter(
    "fluctuation_tau", 14.0, "days",
    "assumed: mood episodes of days to weeks; calibrated with fluctuation_sd", "assumed",
    "correlation time of a patient's symptom fluctuation", "measurement", (1.0, 90.0))

MEASUREMENT_PARAMETERS: tuple[Parameter, ...] = (FLUCTUATION_SD, FLUCTUATION_TAU)
#: Fields of :class:`MeasurementModel` that a calibration record may set.
MEASUREMENT_FIELDS: tuple[str, ...] = ("fluctuation_sd", "fluctuation_tau", "noise_scale")


@dataclass(frozen=True)
class MeasurementModel:
    """Symptom fluctuation (OU in MADRS points) plus per-scale rater noise; ``noise_scale`` multiplies the
    rater SDs of ``ketasim.symptoms.scales`` (1 = published SEM)."""

    fluctuation_sd: float = FLUCTUATION_SD.value
    fluctuation_tau: float = FLUCTUATION_TAU.value
    noise_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.fluctuation_sd < 0 or self.fluctuation_tau <= 0 or self.noise_scale < 0:
            raise ValueError(f"measurement model: fluctuation_sd >= 0, fluctuation_tau > 0 and noise_scale >= 0 "
                             f"required, got {self.fluctuation_sd}, {self.fluctuation_tau}, {self.noise_scale}")

    @classmethod
    def shipped(cls) -> MeasurementModel:
        """The measurement model in force: defaults with the shipped calibration applied."""
        values = shipped_calibration().get("measurement", {})
        return replace(cls(), **{k: float(v["value"]) for k, v in values.items() if k in MEASUREMENT_FIELDS})

    def with_values(self, values: dict[str, float]) -> MeasurementModel:
        """Copy with the named values replaced (names as the fields)."""
        return replace(self, **{k: float(v) for k, v in values.items()})


@dataclass(frozen=True)
class MeasurementNoise:
    """Standard normal draws for ``n`` patients at ``v`` visits, fixed once per study and seed."""

    fluctuation: np.ndarray  # (n, v)
    rater: np.ndarray  # (n, v)

    @classmethod
    def draw(cls, n: int, n_visits: int, rng: np.random.Generator) -> MeasurementNoise:
        """Fluctuation draws first, then rater draws: a fixed order for common random numbers."""
        return cls(rng.standard_normal((n, n_visits)), rng.standard_normal((n, n_visits)))

    @classmethod
    def draw_streams(cls, n: int, n_visits: int, seed: int) -> MeasurementNoise:
        """Fluctuation and rater draws from two streams of ``seed``: patient ``i``'s draws do not depend on
        ``n`` (enrolment can draw more patients and keep the same ones)."""
        return cls(np.random.default_rng([seed, 2]).standard_normal((n, n_visits)),
                   np.random.default_rng([seed, 6]).standard_normal((n, n_visits)))

    def subset(self, rows: np.ndarray) -> MeasurementNoise:
        return MeasurementNoise(self.fluctuation[rows], self.rater[rows])

    def columns(self, cols: slice | np.ndarray) -> MeasurementNoise:
        """The draws of some visits only."""
        return MeasurementNoise(self.fluctuation[:, cols], self.rater[:, cols])


def fluctuation_path(z: np.ndarray, visit_days: np.ndarray, sd: float, tau_days: float) -> np.ndarray:
    """Exact OU samples at ``visit_days`` (sorted) from standard normals ``z`` (n x v), stationary start."""
    z = np.asarray(z, dtype=float)
    days = np.asarray(visit_days, dtype=float)
    out = np.empty_like(z)
    if z.shape[1] == 0:
        return out
    out[:, 0] = sd * z[:, 0]
    a = np.exp(-np.diff(days) / tau_days)
    s = sd * np.sqrt(1.0 - a * a)
    for k in range(1, days.size):
        out[:, k] = out[:, k - 1] * a[k - 1] + s[k - 1] * z[:, k]
    return out


def observe_visits(model_madrs: np.ndarray, visit_days: np.ndarray, scale: str, noise: MeasurementNoise,
                   measurement: MeasurementModel | None = None) -> np.ndarray:
    """Observed scores (n x v, whole points) on ``scale`` from model MADRS at the visits (n x v)."""
    m = measurement or MeasurementModel()
    spec = get_scale(scale)
    latent = np.clip(np.asarray(model_madrs, dtype=float)
                     + fluctuation_path(noise.fluctuation, visit_days, m.fluctuation_sd, m.fluctuation_tau), 0.0, 60.0)
    score = madrs_to(scale, latent) + m.noise_scale * spec.noise_sd.value * noise.rater
    return np.clip(np.round(score), *spec.range)
