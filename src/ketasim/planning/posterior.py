"""The individual posterior: the population (posterior draws) as prior, the patient's own scores as data.

Importance sampling over prior particles (``prior.py``), in at most two stages:

1. Draw ``N`` particles from the prior (the baseline coordinate from a proposal centred on the
   patient's untreated score), simulate them all through the history in one batched call
   (``particles.py``), and weight each by the likelihood of the observed scores.
2. If the effective sample size ``ESS = 1 / sum w_i^2`` is below ``ess_target``, draw ``N``
   more from a kernel density of the weighted particles (Gaussian kernels in the latent space,
   covariance ``h^2 Sigma_w``, at 256 centres resampled from them) mixed with the stage-1
   proposal, simulate and weight them (repeated up to ``max_stages``); all particles are then
   weighted by the *deterministic mixture* rule

       w_i  propto  p(z_i) L(z_i) / [(N_1 q_1(z_i) + N_2 q_2(z_i)) / (N_1 + N_2)]

   which is an unbiased importance-sampling estimator for any mixture of proposals.

Observation model (``observation.py``): the virtual trials' one. A score on scale ``s`` is the
scale's linking of the particle's course with its placebo response, plus the patient's own
symptom fluctuation (an Ornstein-Uhlenbeck process of the particle's population draw) and the
rater's measurement error, rounded and clipped to the range; the fluctuation is integrated out
by a Kalman filter, whose last state the forecast continues.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from ketasim.dosing.plan import Patient, Plan
from ketasim.engine.compile import pk_model_name
from ketasim.errors import PlanError
from ketasim.parameters import IDX
from ketasim.planning.history import PatientHistory
from ketasim.planning.mixed_drugs import drugs_of
from ketasim.planning.observation import fluctuation_of, kalman_filter, with_placebo
from ketasim.planning.particles import Particles, simulate_particles
from ketasim.planning.prior import EVENT_AMPLITUDE_TYPICAL, PopulationPrior
from ketasim.planning.world import PlanningWorld, default_world, describe_draws
from ketasim.symptoms.scales import get_scale, to_madrs

DEFAULT_PARTICLES = 2000
DEFAULT_ESS_TARGET = 200.0
DEFENSIVE_FRACTION = 0.2
KERNEL_CENTRES = 256


@dataclass(frozen=True)
class Observations:
    """The scores of a history as arrays: plan day, scale key, value, noise SD."""

    day: np.ndarray
    scale: tuple[str, ...]
    value: np.ndarray
    noise_sd: np.ndarray

    @staticmethod
    def of(history: PatientHistory) -> Observations:
        s = history.scores
        return Observations(day=np.array([history.day_of(e.when) for e in s]), scale=tuple(e.scale for e in s),
                            value=np.array([e.value for e in s], dtype=float),
                            noise_sd=np.array([get_scale(e.scale).noise_sd.value for e in s]))

    def __len__(self) -> int:
        return int(self.day.size)


def history_plan(history: PatientHistory, *, include_planned: bool = False, horizon_days: float | None = None,
                 extra_doses=(), extra_therapy_days=()) -> Plan:
    """The plan the particles run: the history's doses, sessions, treatments and life-event days."""
    n_ev = len(history.of_kind("life_event"))
    patient = Patient(weight_kg=history.weight_kg, age=history.age,
                      life_events=history.life_events(amplitudes=[EVENT_AMPLITUDE_TYPICAL.value] * n_ev))
    return history.to_plan(patient, include_planned=include_planned, horizon_days=horizon_days,
                           extra_doses=extra_doses, extra_therapy_days=extra_therapy_days)


def prior_for(history: PatientHistory, world: PlanningWorld | None = None) -> PopulationPrior:
    """The population prior (``world``'s draws) with the PK variability of the model the history's doses use
    (with two drugs: racemic ketamine's)."""
    world = world or default_world()
    plan = history_plan(history, include_planned=True)
    drugs = drugs_of(plan)
    if len(drugs) > 1:
        plan = Plan(**{**plan.__dict__, "doses": tuple(d for d in plan.doses if d.drug == drugs[0])})
    drug_model = pk_model_name(plan)
    return PopulationPrior.for_pk_model(drug_model[1], world) if drug_model else PopulationPrior(world=world)


def session_days(history: PatientHistory, *, include_planned: bool = False, extra_doses=()) -> np.ndarray:
    """Plan days of the treatment sessions (doses) that drive the placebo response."""
    past = None if include_planned else True
    return np.array(sorted([d.day for d in history.doses(past=past)] + [d.day for d in extra_doses]), dtype=float)


def known_events(history: PatientHistory) -> list[tuple[float | None, float | None]]:
    return [(e.value, e.fade_days) for e in history.of_kind("life_event")]


def _log_std_normal(z: np.ndarray) -> np.ndarray:
    return -0.5 * np.sum(z * z, axis=1) - 0.5 * z.shape[1] * math.log(2 * math.pi)


@dataclass
class IndividualPosterior:
    """Weighted particles for one patient (``weights`` sum to 1) and how they were obtained."""

    history: PatientHistory
    prior: PopulationPrior
    particles: Particles
    weights: np.ndarray
    log_likelihood: np.ndarray
    ess: float
    n_simulated: int
    stages: int
    fluct_mean: np.ndarray  # filtered mean of the fluctuation at the last rating (MADRS points), per particle
    fluct_var: np.ndarray
    last_rating_day: float

    @property
    def world(self) -> PlanningWorld:
        return self.prior.world

    def draws(self) -> dict[str, float | int]:
        """Population draws represented by the weighted particles (``world.describe_draws``)."""
        return describe_draws(self.particles.draw, self.weights, self.world)

    def resample(self, n: int, rng: np.random.Generator) -> tuple[Particles, np.ndarray]:
        """``n`` particles drawn by systematic resampling, and their source indices."""
        idx = systematic_resample(self.weights, n, rng)
        return self.particles.take(idx), idx

    def quantiles(self, name: str, qs=(0.05, 0.5, 0.95)) -> np.ndarray:
        """Weighted quantiles of a response parameter or attribute (``chronic_load``, ``baseline_madrs``, ...)."""
        return weighted_quantile(self.values(name), self.weights, qs)

    def values(self, name: str) -> np.ndarray:
        if name in IDX:
            return self.particles.params[:, IDX[name]]
        if name.startswith("event_amp"):
            return self.particles.event_amp[:, int(name.rsplit("_", 1)[-1]) if name[-1].isdigit() else 0]
        return np.asarray(getattr(self.particles, name))

    def summary(self) -> list[dict[str, float | str]]:
        """Prior vs posterior 5/50/95% of every attribute the prior varies."""
        names = [*self.prior.response_names, "chronic_load", "baseline_madrs"]
        names += [f"event_amp_{e}" for e in range(self.particles.event_amp.shape[1])]
        rows = []
        flat = np.full(len(self.particles), 1.0 / len(self.particles))
        for nm in names:
            v = self.values(nm)
            pq = weighted_quantile(v, flat, (0.05, 0.5, 0.95))
            q = weighted_quantile(v, self.weights, (0.05, 0.5, 0.95))
            rows.append({"name": nm, "prior_median": pq[1], "q05": q[0], "median": q[1], "q95": q[2]})
        return rows


def systematic_resample(w: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``n`` draws by systematic resampling of normalised weights ``w``."""
    c = np.cumsum(w)
    c[-1] = 1.0
    u = (rng.random() + np.arange(n)) / n
    return np.searchsorted(c, u)


def weighted_quantile(x: np.ndarray, w: np.ndarray, qs) -> np.ndarray:
    """Quantiles of ``x`` under normalised weights ``w`` (inverse of the weighted CDF, midpoint rule)."""
    x = np.asarray(x, dtype=float)
    order = np.argsort(x)
    xs, ws = x[order], np.asarray(w, dtype=float)[order]
    keep = ws > 0
    xs, ws = xs[keep], ws[keep]
    if xs.size == 0:
        return np.full(len(qs), np.nan)
    cdf = np.cumsum(ws) - 0.5 * ws
    cdf /= ws.sum()
    return np.interp(np.asarray(qs, dtype=float), cdf, xs)


def _normalise(logw: np.ndarray) -> tuple[np.ndarray, float]:
    if not np.any(np.isfinite(logw)):
        raise PlanError("scores", "all of them", "scores that at least one virtual patient of the population can "
                        "reproduce (check the scale and the dates of the scores and doses)")
    w = np.exp(logw - logsumexp(logw))
    return w, float(1.0 / np.sum(w * w))


def fit_posterior(history: PatientHistory, prior: PopulationPrior | None = None, *,
                  n_particles: int = DEFAULT_PARTICLES, ess_target: float = DEFAULT_ESS_TARGET, seed: int = 0,
                  max_stages: int = 3, world: PlanningWorld | None = None) -> IndividualPosterior:
    """Posterior over the patient's hidden attributes given their scores (see the module docstring)."""
    rng = np.random.default_rng(seed)
    obs = Observations.of(history)
    E = len(history.of_kind("life_event"))
    known = known_events(history)
    plan = history_plan(history, include_planned=False)
    prior = prior or prior_for(history, world)
    sessions = session_days(history)
    plan = Plan(**{**plan.__dict__, "horizon_days": float(math.ceil(max(plan.horizon_days, obs.day.max() + 1e-6)))})
    ib = prior.baseline_index

    # Stage-1 proposal: prior, except the baseline coordinate centred on the untreated score.
    base_ev = history.baseline_score()
    b_mu, b_sd = 0.0, 1.0
    if base_ev is not None:
        m_obs = float(to_madrs(base_ev.scale, base_ev.value))
        spec = get_scale(base_ev.scale)
        slope = float(np.gradient(to_madrs(base_ev.scale, np.array([base_ev.value - 1, base_ev.value,
                                                                    base_ev.value + 1])))[1])
        b_mu = prior.baseline_z(m_obs)
        spread = math.hypot(spec.noise_sd.value * max(slope, 0.5), float(np.median(prior.world.fluctuation_sd)))
        b_sd = min(1.0, 2.0 * spread / prior.baseline_sd)

    def log_q1(z: np.ndarray) -> np.ndarray:
        zz = z.copy()
        zz[:, ib] = (z[:, ib] - b_mu) / b_sd
        return _log_std_normal(zz) - math.log(b_sd)

    filt: list[tuple[np.ndarray, np.ndarray]] = []

    def run(z: np.ndarray) -> tuple[Particles, np.ndarray]:
        parts = prior.transform(z, E, known)
        m, valid = simulate_particles(plan, parts, obs.day)
        ll = np.full(len(parts), -np.inf)
        fm, fv = np.zeros(len(parts)), np.zeros(len(parts))
        if valid.any():
            ok = parts.take(np.flatnonzero(valid))
            x = with_placebo(m[valid], obs.day, sessions, ok, prior.world)
            ll[valid], fm[valid], fv[valid] = kalman_filter(obs.day, obs.scale, obs.value, x, *fluctuation_of(
                ok, prior.world))
        filt.append((fm, fv))
        return parts, ll

    z1 = prior.sample_latent(n_particles, E, rng)
    z1[:, ib] = b_mu + b_sd * z1[:, ib]
    parts1, ll1 = run(z1)
    w, ess = _normalise(_log_std_normal(z1) + ll1 - log_q1(z1))
    zs, lls, parts_list = [z1], [ll1], [parts1]
    proposals: list[tuple[int, object]] = [(n_particles, log_q1)]
    z_all, ll_all = z1, ll1
    while ess < ess_target and len(proposals) < max_stages:
        # Next stage: kernel density of the current weighted particles, with a defensive share of q1.
        log_q = _kernel_proposal(z_all, w, ess, log_q1)
        zk = log_q.sample(n_particles, rng, b_mu, b_sd, ib)
        pk, llk = run(zk)
        zs.append(zk)
        lls.append(llk)
        parts_list.append(pk)
        proposals.append((n_particles, log_q))
        z_all, ll_all = np.vstack(zs), np.concatenate(lls)
        n_tot = sum(n for n, _ in proposals)
        log_mix = logsumexp(np.column_stack([math.log(n) + q(z_all) for n, q in proposals]), axis=1)
        log_mix -= math.log(n_tot)
        w, ess = _normalise(_log_std_normal(z_all) + ll_all - log_mix)
    parts = parts_list[0] if len(parts_list) == 1 else Particles.concat(parts_list)
    fm = np.concatenate([f[0] for f in filt])
    fv = np.concatenate([f[1] for f in filt])
    return IndividualPosterior(history, prior, parts, w, ll_all, ess, int(z_all.shape[0]), len(proposals), fm, fv,
                               float(obs.day.max()))


class _kernel_proposal:
    """Mixture proposal: Gaussian kernels (covariance ``h^2 Sigma_w``) at ``KERNEL_CENTRES`` particles drawn from
    the weighted ones (systematic resampling: the mixture weights are the draw counts), plus ``q1``."""

    def __init__(self, z: np.ndarray, w: np.ndarray, ess: float, log_q1) -> None:
        d = z.shape[1]
        mean = w @ z
        diff = z - mean
        cov = diff.T @ (diff * w[:, None]) + 1e-6 * np.eye(d)
        idx, counts = np.unique(systematic_resample(w, KERNEL_CENTRES, np.random.default_rng(0)), return_counts=True)
        self.centres, self.cw = z[idx], counts / counts.sum()
        h = float(np.clip((4.0 / ((d + 2) * max(ess, 2.0))) ** (1.0 / (d + 4)), 0.3, 1.0))
        self.chol = np.linalg.cholesky(h * h * cov)
        self.inv = np.linalg.inv(self.chol)
        self.log_det = float(np.sum(np.log(np.diag(self.chol))))
        self.log_q1 = log_q1
        self.d = d

    def sample(self, n: int, rng: np.random.Generator, b_mu: float, b_sd: float, ib: int) -> np.ndarray:
        n_def = int(round(DEFENSIVE_FRACTION * n))
        pick = systematic_resample(self.cw, n - n_def, rng)
        zk = self.centres[pick] + rng.standard_normal((n - n_def, self.d)) @ self.chol.T
        zd = rng.standard_normal((n_def, self.d))
        zd[:, ib] = b_mu + b_sd * zd[:, ib]
        return np.vstack([zk, zd])

    def log_kde(self, z: np.ndarray) -> np.ndarray:
        a = self.centres @ self.inv.T
        b = z @ self.inv.T
        d2 = np.sum(b * b, axis=1)[:, None] + np.sum(a * a, axis=1)[None, :] - 2.0 * b @ a.T
        e = -0.5 * np.maximum(d2, 0.0) + np.log(self.cw)[None, :]
        top = e.max(axis=1)
        out = top + np.log(np.exp(e - top[:, None]).sum(axis=1))
        return out - self.log_det - 0.5 * self.d * math.log(2 * math.pi)

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return np.logaddexp(math.log(1 - DEFENSIVE_FRACTION) + self.log_kde(z),
                            math.log(DEFENSIVE_FRACTION) + self.log_q1(z))
