"""What a rating shows of a particle's course: placebo response, symptom fluctuation and rater error.

The observation model of the virtual trials (``ketasim.symptoms.placebo``, ``ketasim.trials.measurement``),
applied to particles with the values of each particle's population draw (``world.py``):

    x(t) = floor + (MADRS(t) - floor) (1 - P(t))         placebo / expectancy, open-label setting
    s(t) = clip(x(t) + f(t), 0, 60)                      symptom level; f: Ornstein-Uhlenbeck fluctuation,
                                                         stationary SD sigma_f, correlation time tau_f
    y_k  = clip(round(link(s(t_k)) + e_k), range)        rating on its scale; e_k ~ N(0, (c SD_scale)^2)

``MADRS(t)`` is the engine's course, ``P(t)`` the placebo fraction after the sessions (doses) so far,
``link`` the scale's published linking (``ketasim.symptoms.scales``), ``c`` the draw's rater-noise scale.

**Likelihood.** The fluctuation is integrated out by a Kalman filter over the rating times, with the
link linearised at the particle's ``x(t_k)`` (slope ``g_k``, scale points per MADRS point):

    y_k ~ link(x_k) + g_k f_k + e_k,    Var e_k = (c SD_scale)^2 + 1/12 (rounding)
    f_k | f_{k-1} ~ N(a f_{k-1}, sigma_f^2 (1 - a^2)),   a = exp(-(t_k - t_{k-1}) / tau_f),  f_1 ~ N(0, sigma_f^2)

A rating at a limit of its range (e.g. PHQ-9 0) is censored: its likelihood is the tail probability and
it does not update ``f``. The filter's last state (mean and variance of ``f`` at the last rating)
conditions the forecast: future fluctuations are drawn forward from it.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import log_ndtr

from ketasim.parameters import IDX
from ketasim.planning.particles import Particles
from ketasim.planning.world import PlanningWorld
from ketasim.symptoms.placebo import apply_placebo, placebo_fraction
from ketasim.symptoms.scales import MADRS_RANGE, get_scale, madrs_to

PLACEBO_SETTING = "open"  # a clinic's patients know they receive ketamine
ROUNDING_VAR = 1.0 / 12.0


def with_placebo(madrs: np.ndarray, days: np.ndarray, session_days: np.ndarray, parts: Particles,
                 world: PlanningWorld) -> np.ndarray:
    """``x(t)``: the engine's MADRS (N x T) at plan days ``days`` with each particle's placebo response."""
    if len(session_days) == 0:
        return madrs
    out = np.array(madrs, dtype=float)
    floor = parts.params[:, IDX["madrs_floor"]]
    for d in np.unique(parts.draw):
        rows = np.flatnonzero(parts.draw == d)
        frac = placebo_fraction(days, np.asarray(session_days, dtype=float), world.sets[int(d)].placebo,
                                PLACEBO_SETTING, parts.placebo_mult[rows])
        out[rows] = apply_placebo(madrs[rows], frac, floor[rows])
    return out


def link_slope(scale: str, x: np.ndarray) -> np.ndarray:
    """Scale points per MADRS point of the linking at ``x`` (central difference over one MADRS point)."""
    lo, hi = MADRS_RANGE
    a = np.clip(x - 0.5, lo, hi)
    b = np.clip(x + 0.5, lo, hi)
    return (madrs_to(scale, b) - madrs_to(scale, a)) / np.maximum(b - a, 1e-9)


def fluctuation_of(parts: Particles, world: PlanningWorld) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per particle: fluctuation SD (MADRS points), correlation time (days) and rater-noise scale."""
    d = parts.draw
    return world.fluctuation_sd[d], world.fluctuation_tau[d], world.noise_scale[d]


def kalman_filter(days: np.ndarray, scales: tuple[str, ...], values: np.ndarray, x: np.ndarray, sd: np.ndarray,
                  tau: np.ndarray, noise_scale: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log-likelihood (N,) of the ratings and the filtered mean and variance (N,) of ``f`` at the last one.

    ``days`` (n, sorted), ``scales`` and ``values`` describe the ratings; ``x`` (N x n) is each
    particle's course with placebo at those days (see the module docstring).
    """
    N = x.shape[0]
    ll = np.zeros(N)
    mean = np.zeros(N)
    var = sd * sd
    prev = None
    for k in range(len(days)):
        if prev is not None:
            a = np.exp(-(days[k] - prev) / np.maximum(tau, 1e-9))
            mean = a * mean
            var = a * a * var + sd * sd * (1.0 - a * a)
        prev = days[k]
        spec = get_scale(scales[k])
        xk = x[:, k]
        g = link_slope(scales[k], xk)
        mu = madrs_to(scales[k], xk) + g * mean
        r = (noise_scale * spec.noise_sd.value) ** 2 + ROUNDING_VAR
        S = g * g * var + r
        sS = np.sqrt(S)
        y = float(values[k])
        lo, hi = spec.range
        if y <= lo:
            ll += log_ndtr((lo + 0.5 - mu) / sS)
            continue
        if y >= hi:
            ll += log_ndtr((mu - (hi - 0.5)) / sS)
            continue
        v = y - mu
        ll += -0.5 * (v * v / S + np.log(2.0 * math.pi * S))
        gain = var * g / S
        mean = mean + gain * v
        var = np.maximum((1.0 - gain * g) * var, 0.0)
    return np.where(np.isfinite(ll), ll, -np.inf), mean, var


def sample_fluctuation(mean: np.ndarray, var: np.ndarray, t0: float, days: np.ndarray, sd: np.ndarray,
                       tau: np.ndarray, n_paths: int, rng: np.random.Generator) -> np.ndarray:
    """Fluctuation paths (N x K x T) at sorted ``days`` >= ``t0``, from ``f(t0) ~ N(mean, var)`` forward."""
    N, T = mean.size, np.size(days)
    out = np.empty((N, n_paths, T))
    f = mean[:, None] + np.sqrt(np.maximum(var, 0.0))[:, None] * rng.standard_normal((N, n_paths))
    prev = t0
    for j in range(T):
        a = np.exp(-(days[j] - prev) / np.maximum(tau, 1e-9))[:, None]
        f = a * f + (sd[:, None] * np.sqrt(1.0 - a * a)) * rng.standard_normal((N, n_paths))
        out[:, :, j] = f
        prev = days[j]
    return out


def symptom_level(x: np.ndarray, f: np.ndarray) -> np.ndarray:
    """``s = clip(x + f, 0, 60)`` (MADRS points); ``x`` (N x T) broadcast over the paths of ``f`` (N x K x T)."""
    return np.clip(x[:, None, :] + f, *MADRS_RANGE)


def rate(scale: str, s: np.ndarray, noise_scale: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Ratings on ``scale`` of symptom levels ``s`` (N x ...): the linking plus rater error, rounded and clipped."""
    spec = get_scale(scale)
    sd = (noise_scale * spec.noise_sd.value).reshape((-1,) + (1,) * (s.ndim - 1))
    y = madrs_to(scale, s) + sd * rng.standard_normal(s.shape)
    return np.clip(np.round(y), *spec.range)


def rating_log_likelihood(scale: str, ratings: np.ndarray | float, madrs: np.ndarray) -> np.ndarray:
    """Elementwise log-likelihood of whole-point ``ratings`` on ``scale`` given the MADRS level, with the scale's
    rater error only (no fluctuation: the policy simulator's simplified model). Inside the range the Gaussian
    density, at the range limits the censored tail."""
    spec = get_scale(scale)
    mu = madrs_to(scale, madrs)
    sd = spec.noise_sd.value
    y = np.broadcast_to(np.asarray(ratings, dtype=float), mu.shape)
    lo, hi = spec.range
    ll = -0.5 * ((y - mu) / sd) ** 2 - math.log(sd * math.sqrt(2 * math.pi))
    ll = np.where(y <= lo, log_ndtr((lo + 0.5 - mu) / sd), ll)
    ll = np.where(y >= hi, log_ndtr((mu - (hi - 0.5)) / sd), ll)
    return np.where(np.isfinite(ll), ll, -np.inf)


def predictive_sd(scale: str, x: np.ndarray, fvar: np.ndarray, noise_scale: np.ndarray) -> np.ndarray:
    """SD of a rating on ``scale`` given ``x`` (N x T) and the variance of ``f`` (N x T), linearised."""
    g = link_slope(scale, x)
    r = (noise_scale * get_scale(scale).noise_sd.value) ** 2 + ROUNDING_VAR
    return np.sqrt(g * g * fvar + np.asarray(r).reshape((-1,) + (1,) * (x.ndim - 1)))
