"""Maintenance policies compared on a virtual population over one year (``ketasim policies``).

Every virtual patient (``ketasim.population.sample_patients``; a share of them after a recent
life event) gets the same induction, six 0.5 mg/kg IV infusions over two weeks, then a weekly
visit with a PHQ-9 rating (the true score plus measurement error, ``ketasim.symptoms.scales``).
At each visit the policy decides whether to give an infusion that day:

* ``fixed N``: every N days (7, 14, 21, 28);
* ``taper``: start weekly; after each stable period (every rating since the last infusion in
  remission, PHQ-9 < 5) stretch the interval by a week (up to 6 weeks); a rating at or above the
  threshold (PHQ-9 10) brings the infusion forward and shortens the interval by a week;
* ``symptom``: an infusion when the PHQ-9 reaches the threshold (10: moderate, Kroenke 2001);
* ``forecast relapse``: the recommendation of ``ketasim forecast``, updated as each rating
  arrives: an infusion when the chance of a relapse (latent MADRS >= 22 then and 7 days later)
  before the next visit, without an infusion, exceeds the risk (10%);
* ``forecast benefit``: the same, and also an infusion whenever the forecast says it adds at
  least ``min_gain_days`` (2) expected days in remission over the next four weeks.

Each policy runs with and without psychotherapy (12 weekly sessions from the first infusion).

The decisions are closed-loop, so patients are advanced visit by visit (``stepping.py``). The
forecast policy keeps, for each patient, ``n_particles`` particles of the individual posterior:
at the first maintenance visit they are drawn by importance sampling from the population prior
given the ratings so far (all patients in one batched run), then reweighted by each new rating;
when the effective sample size falls below half, they are resampled and the latent coordinates
of the response parameters that change no initial state are jittered (Liu and West 2001 kernel
shrinkage, a = 0.95). Patients and the forecast's prior come from the same population model, so
the forecast is as good as it can be here: the comparison is optimistic for it.

Outcomes per patient, from the true (noise-free) MADRS at 09:00 each day: infusions in the year
(induction included), days in remission (MADRS <= 10) from day 14 to 364, relapse episodes
(onsets of MADRS >= 22 then and 7 days later, two weeks apart at least) and whether any occurred.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from ketasim.dosing.plan import Dose, LifeEvent, Patient, Plan
from ketasim.dynamics import SG, SM, SN
from ketasim.errors import PlanError
from ketasim.outcomes import days_in_remission
from ketasim.outcomes.relapse import SUSTAIN1_THRESHOLD
from ketasim.parameters import HOURS_PER_DAY, IDX, Parameter
from ketasim.planning.observation import rating_log_likelihood
from ketasim.planning.particles import Particles, run_particles
from ketasim.planning.posterior import systematic_resample
from ketasim.planning.prior import EVENT_AMPLITUDE_TYPICAL, PopulationPrior, fade_days_of
from ketasim.planning.relapse_rule import DEFAULT_RULE
from ketasim.planning.stepping import DoseTemplate, advance, dose_templates
from ketasim.planning.world import PlanningWorld
from ketasim.population.patients import sample_patients
from ketasim.symptoms.madrs import madrs
from ketasim.symptoms.scales import MADRS_REMISSION, get_scale, madrs_to, to_madrs

CONFIRM_DAYS = DEFAULT_RULE.visit_every_days  # the relapse rule on the true course (relapse_rule.latent_onset)
INDUCTION_DAYS = (0, 2, 4, 7, 9, 11)
VISIT_HOUR, DOSE_HOUR, THERAPY_HOUR = 9.0, 10.0, 14.0
YEAR_DAYS = 364
DYNAMIC_TARGETS = ("k_form", "kappa_G", "k_prune", "k_mat", "k_hom", "k_T_on", "eta", "w_therapy")
LIU_WEST_A = 0.95
CONTROLLER_RTOL, CONTROLLER_ATOL = 1e-4, 1e-7

EVENT_FRACTION = Parameter(
    "policy_event_fraction", 0.25, "1",
    "assumed: the seed text's bridge cases (bereavement, post-partum); share of patients starting treatment "
    "within weeks of an acute life event", "assumed",
    "share of virtual patients with a recent acute life event in the policy comparison", "planning", (0.0, 1.0))
EVENT_DAY = Parameter(
    "policy_event_day", -30.0, "days", "assumed", "assumed",
    "day of that life event, relative to the first infusion", "planning", (-365.0, 0.0))
PHQ9_THRESHOLD = Parameter(
    "policy_phq9_threshold", 10.0, "PHQ-9 points", "Kroenke 2001 J Gen Intern Med 16:606 (10-14: moderate)",
    "literature", "rating that triggers an infusion (symptom policy) or ends a stable period (taper)",
    "planning", (5.0, 20.0))
POLICY_PARAMETERS = (EVENT_FRACTION, EVENT_DAY, PHQ9_THRESHOLD)


@dataclass(frozen=True)
class Policy:
    """One maintenance policy (see the module docstring)."""

    name: str
    kind: str  # fixed | taper | symptom | forecast
    interval_days: int = 7
    threshold: float = PHQ9_THRESHOLD.value
    risk: float = 0.10
    event: str = "relapse"  # forecast: relapse | benefit
    min_gain_days: float = 2.0  # forecast benefit: expected days in remission an infusion must add
    gain_horizon_days: int = 28  # ... over this many days
    therapy: bool = False
    max_interval_days: int = 42

    def with_therapy(self) -> Policy:
        return replace(self, name=f"{self.name} + therapy", therapy=True)


def default_policies(*, therapy: bool = True) -> list[Policy]:
    """Fixed 7/14/21/28 days, taper, symptom-triggered and two forecast-triggered variants; each also with therapy."""
    base = [Policy(f"fixed {d} d", "fixed", interval_days=d) for d in (7, 14, 21, 28)]
    base += [Policy("taper", "taper"), Policy("symptom PHQ-9>=10", "symptom"),
             Policy("forecast relapse 10%", "forecast", risk=0.10, event="relapse"),
             Policy("forecast benefit 2 d", "forecast", risk=0.10, event="benefit", min_gain_days=2.0)]
    return base + ([p.with_therapy() for p in base] if therapy else [])


@dataclass(frozen=True)
class PolicySetting:
    """The year every policy is run over."""

    days: int = YEAR_DAYS
    mg_per_kg: float = 0.5
    therapy_days: tuple[int, ...] = tuple(7 * k for k in range(12))
    event_fraction: float = EVENT_FRACTION.value
    event_day: float = EVENT_DAY.value
    n_particles: int = 48
    n_fit: int = 600

    @property
    def visits(self) -> np.ndarray:
        return np.array([*INDUCTION_DAYS, *range(14, self.days, 7)], dtype=float)


@dataclass
class Cohort:
    """The true virtual patients and what stepping them needs."""

    truth: Particles
    weight_kg: np.ndarray
    has_event: np.ndarray
    d_trait: np.ndarray
    y0: np.ndarray
    chronic: np.ndarray
    ev_t: np.ndarray
    ev_amp: np.ndarray
    ev_tau: np.ndarray
    template: DoseTemplate

    def __len__(self) -> int:
        return len(self.truth)


def history_plan(setting: PolicySetting, weight_kg: float, *, therapy: bool, event: bool, until_day: float) -> Plan:
    """The induction, sessions and life event up to ``until_day``, as the clinic would record them."""
    doses = tuple(Dose(day=d + DOSE_HOUR / 24, amount_mg=setting.mg_per_kg * weight_kg, mg_per_kg=setting.mg_per_kg)
                  for d in INDUCTION_DAYS if d < until_day)
    ther = tuple(d + THERAPY_HOUR / 24 for d in setting.therapy_days if d < until_day) if therapy else ()
    ev = (LifeEvent(day=setting.event_day, amplitude=EVENT_AMPLITUDE_TYPICAL.value, fade_days=90.0),) if event else ()
    return Plan(name="policy history", patient=Patient(weight_kg=weight_kg, life_events=ev), doses=doses,
                therapy_days=ther, horizon_days=float(until_day) + 1.0)


def make_cohort(n: int, seed: int, setting: PolicySetting) -> Cohort:
    """``n`` patients of the population (seeded), a share with a recent life event, and their initial state."""
    vp = sample_patients(n, seed)
    rng = np.random.default_rng([seed, 7])
    has_event = rng.random(n) < setting.event_fraction
    fade = fade_days_of(rng.standard_normal(n))
    scale = np.where(has_event, vp.acute_load_scale, 0.0)
    truth = Particles(params=vp.params.copy(), pk_cl=vp.pk_cl, pk_v=vp.pk_v, pk_ka=vp.pk_ka,
                      baseline_madrs=vp.baseline_madrs, chronic_load=vp.chronic_load.copy(), acute_load_scale=scale,
                      event_amp=(EVENT_AMPLITUDE_TYPICAL.value * scale)[:, None], event_fade_days=fade[:, None],
                      latent=np.zeros((n, 0)), draw=np.zeros(n, dtype=np.int64), placebo_mult=np.ones(n))
    plan = history_plan(setting, 70.0, therapy=False, event=True, until_day=1.0)
    run = run_particles(plan, truth, np.array([0.5]), weight_kg=vp.weight_kg)
    keep = run.valid
    if not keep.all():  # life events alone explain more than the baseline: draw those patients without the event
        truth.acute_load_scale[~keep] = 0.0
        truth.event_amp[~keep] = 0.0
        has_event &= keep
        run = run_particles(plan, truth, np.array([0.5]), weight_kg=vp.weight_kg)
    tmpl = dose_templates(truth.params, vp.weight_kg, truth.pk, mg_per_kg=setting.mg_per_kg)
    return Cohort(truth=truth, weight_kg=vp.weight_kg, has_event=has_event, d_trait=run.d_trait, y0=run.y0,
                  chronic=run.chronic_load, ev_t=np.full((n, 1), setting.event_day * HOURS_PER_DAY),
                  ev_amp=truth.event_amp, ev_tau=truth.event_fade_days * HOURS_PER_DAY, template=tmpl)


def _madrs_rows(Y: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Latent MADRS of rows of states (rows x 9, or rows x times x 9)."""
    shape = (-1,) + (1,) * (Y.ndim - 2)
    return madrs(Y[..., SN], Y[..., SM], Y[..., SG], params[:, IDX["madrs_floor"]].reshape(shape),
                 params[:, IDX["kappa"]].reshape(shape), params[:, IDX["kappa_G"]].reshape(shape))


def _phq(latent: np.ndarray, eps: np.ndarray) -> np.ndarray:
    lo, hi = get_scale("phq9").range
    return np.clip(np.round(madrs_to("phq9", latent) + eps), lo, hi)


# --- the forecast controller ------------------------------------------------------------------------------


@dataclass
class _Rows:
    """Stepping inputs of a set of rows (patients or particles)."""

    params: np.ndarray
    template: DoseTemplate
    chronic: np.ndarray
    ev_t: np.ndarray
    ev_amp: np.ndarray
    ev_tau: np.ndarray
    d_trait: np.ndarray

    def take(self, idx: np.ndarray) -> _Rows:
        return _Rows(self.params[idx], self.template.take(idx), self.chronic[idx], self.ev_t[idx], self.ev_amp[idx],
                     self.ev_tau[idx], self.d_trait[idx])


class ForecastController:
    """Particles of every patient's posterior, updated visit by visit; decides infusions (module docstring)."""

    def __init__(self, policy: Policy, setting: PolicySetting, cohort: Cohort, seed: int) -> None:
        self.policy = policy
        self.setting = setting
        self.cohort = cohort
        self.rng = np.random.default_rng([seed, 11])
        self.prior = PopulationPrior(world=PlanningWorld.typical())
        self.P = setting.n_particles
        self.ready = False

    def start(self, visit_days: np.ndarray, scores: np.ndarray, day: float) -> None:
        """Importance sampling from the prior given the ratings at ``visit_days`` (n x k), for all patients."""
        c, s, P = self.cohort, self.setting, self.P
        n, F = len(c), s.n_fit
        prior = self.prior
        ib = prior.baseline_index
        obs_days = visit_days + VISIT_HOUR / 24
        m0 = to_madrs("phq9", scores[:, 0])
        b_mu = np.array([prior.baseline_z(float(x)) for x in m0])
        b_sd = min(1.0, 2.0 * get_scale("phq9").noise_sd.value * 1.8 / prior.baseline_sd)
        u = prior.sample_latent(n * F, 1, self.rng)
        owner = np.repeat(np.arange(n), F)
        u[:, ib] = b_mu[owner] + b_sd * u[:, ib]
        log_corr = -0.5 * u[:, ib] ** 2 + 0.5 * ((u[:, ib] - b_mu[owner]) / b_sd) ** 2 + math.log(b_sd)
        parts = prior.transform(u, 1, [(None, None)])
        ll = np.full(n * F, -np.inf)
        states = np.zeros((n * F, 9))
        chronic = parts.chronic_load.copy()
        d_trait = np.zeros(n * F)
        for ev in (False, True):
            rows = np.flatnonzero(c.has_event[owner] == ev)
            if rows.size == 0:
                continue
            sub = parts.take(rows)
            if not ev:
                sub.acute_load_scale[:] = 0.0
                sub.event_amp[:] = 0.0
                parts.acute_load_scale[rows] = 0.0
                parts.event_amp[rows] = 0.0
            plan = history_plan(s, 70.0, therapy=self.policy.therapy, event=True, until_day=day + 1)
            run = run_particles(plan, sub, obs_days, state_days=np.array([day + VISIT_HOUR / 24]),
                                weight_kg=c.weight_kg[owner[rows]])
            ok = rows[run.valid]
            obs = scores[owner[ok]]
            ll[ok] = _ll_rows(run.madrs[run.valid], obs)
            states[rows] = np.nan_to_num(run.states[:, 0, :])
            chronic[rows] = run.chronic_load
            d_trait[rows] = run.d_trait
        logw = (ll + log_corr).reshape(n, F)
        pick = np.empty((n, P), dtype=np.int64)
        for i in range(n):
            if not np.isfinite(logw[i].max()):  # no particle reproduces the ratings: keep the valid prior draws
                valid_i = np.isfinite(log_corr.reshape(n, F)[i]) & (states.reshape(n, F, 9)[i, :, SM] != 0)
                logw[i] = np.where(valid_i, 0.0, -np.inf) if valid_i.any() else 0.0
            w = np.exp(logw[i] - np.max(logw[i]))
            w /= w.sum()
            pick[i] = i * F + systematic_resample(w, P, self.rng)
        idx = pick.ravel()
        self.owner = owner[idx]
        self.u = u[idx]
        self.parts = parts.take(idx)
        self.Y = states[idx]
        self.rows = _Rows(self.parts.params, dose_templates(self.parts.params, c.weight_kg[self.owner], self.parts.pk,
                                                            mg_per_kg=s.mg_per_kg),
                          chronic[idx], np.full((idx.size, 1), s.event_day * HOURS_PER_DAY), self.parts.event_amp,
                          self.parts.event_fade_days * HOURS_PER_DAY, d_trait[idx])
        self.logw = np.zeros((n, P))
        self.prev_dose = np.full(idx.size, (INDUCTION_DAYS[-1] * 24 + DOSE_HOUR))
        self.ready = True

    def _look(self, t: float, days: int, dosed: bool, ther: np.ndarray) -> np.ndarray:
        R = self.Y.shape[0]
        return advance(self.Y, self.rows.params, t, np.arange(0.0, days + 1e-9) * 24, np.full(R, dosed), ther,
                       self.rows.template, self.rows.chronic, self.rows.ev_t, self.rows.ev_amp, self.rows.ev_tau,
                       self.rows.d_trait, prev_dose_h=self.prev_dose, rtol=CONTROLLER_RTOL, atol=CONTROLLER_ATOL)

    def decide(self, day: float, next_day: float, therapy: bool) -> np.ndarray:
        """Whether each patient gets an infusion at this visit; advances the particles to ``next_day``.

        ``relapse``: infuse if P(relapse onset before the next visit | no infusion) > risk.
        ``benefit``: also infuse if an infusion now adds at least ``min_gain_days`` expected days in
        remission over the next ``gain_horizon_days`` (no further infusion in either branch).
        """
        n, P = len(self.cohort), self.P
        t = day * 24 + VISIT_HOUR
        gap = int(next_day - day)
        look = max(2 * CONFIRM_DAYS, gap, self.policy.gain_horizon_days if self.policy.event == "benefit" else 0)
        ther = np.full(n * P, therapy)
        res = self._look(t, look, False, ther)
        m = _madrs_rows(res, self.rows.params)
        w = self._weights()
        hi = m >= SUSTAIN1_THRESHOLD
        relapse = (hi[:, :-CONFIRM_DAYS] & hi[:, CONFIRM_DAYS:])[:, :gap].any(axis=1)
        p = np.sum(w * relapse.reshape(n, P), axis=1)
        dose = p > self.policy.risk
        res_d = None
        if self.policy.event == "benefit":
            res_d = self._look(t, look, True, ther)
            m_d = _madrs_rows(res_d, self.rows.params)
            gain = np.sum((m_d[:, 1:] <= MADRS_REMISSION) & ~(m[:, 1:] <= MADRS_REMISSION), axis=1) - np.sum(
                (m[:, 1:] <= MADRS_REMISSION) & ~(m_d[:, 1:] <= MADRS_REMISSION), axis=1)
            expected_gain = np.sum(w * gain.reshape(n, P), axis=1)
            dose |= expected_gain >= self.policy.min_gain_days
        Ynext = res[:, gap].copy()
        rows = np.flatnonzero(np.repeat(dose, P))
        if rows.size:
            if res_d is not None:
                Ynext[rows] = res_d[rows, gap]
            else:
                sub = self.rows.take(rows)
                r2 = advance(self.Y[rows], sub.params, t, np.arange(0.0, gap + 1e-9) * 24, np.ones(rows.size, bool),
                             ther[rows], sub.template, sub.chronic, sub.ev_t, sub.ev_amp, sub.ev_tau, sub.d_trait,
                             prev_dose_h=self.prev_dose[rows], rtol=CONTROLLER_RTOL, atol=CONTROLLER_ATOL)
                Ynext[rows] = r2[:, -1]
            self.prev_dose[rows] = t + (DOSE_HOUR - VISIT_HOUR)
        self.Y = Ynext
        self.last_p = p
        return dose

    def observe(self, scores: np.ndarray) -> None:
        """Reweight by the ratings at the visit the particles have reached; resample and jitter when ESS < P/2."""
        n, P = len(self.cohort), self.P
        m = _madrs_rows(self.Y, self.rows.params)
        self.logw += _ll_rows(m[:, None], np.repeat(scores, P)[:, None]).reshape(n, P)
        w = self._weights()
        ess = 1.0 / np.sum(w * w, axis=1)
        for i in np.flatnonzero(ess < P / 2):
            self._resample(i, w[i])

    def _weights(self) -> np.ndarray:
        lw = self.logw - self.logw.max(axis=1, keepdims=True)
        w = np.exp(lw)
        return w / w.sum(axis=1, keepdims=True)

    def _resample(self, i: int, w: np.ndarray) -> None:
        P = self.P
        base = i * P
        idx = base + systematic_resample(w, P, self.rng)
        rows = np.arange(base, base + P)
        self.Y[rows] = self.Y[idx]
        self.prev_dose[rows] = self.prev_dose[idx]
        for name in ("params", "chronic", "ev_amp", "ev_tau", "d_trait"):
            getattr(self.rows, name)[rows] = getattr(self.rows, name)[idx]
        tm = self.rows.template
        for name in ("seg", "c0", "c1", "lam"):
            getattr(tm, name)[rows] = getattr(tm, name)[idx]
        u = self.u[idx].copy()
        dyn = [self.prior.targets.index(t) for t in DYNAMIC_TARGETS if t in self.prior.targets]
        ud = u[:, dyn]
        mean = ud.mean(axis=0)
        cov = np.cov(ud.T) + 1e-9 * np.eye(len(dyn))
        a = LIU_WEST_A
        ud = a * ud + (1 - a) * mean + math.sqrt(1 - a * a) * self.rng.standard_normal(ud.shape) @ np.linalg.cholesky(
            cov).T
        u[:, dyn] = ud
        self.u[rows] = u
        fresh = self.prior.transform(u, 1)
        cols = [IDX[t] for t in DYNAMIC_TARGETS if t in IDX]
        self.rows.params[np.ix_(rows, cols)] = fresh.params[:, cols]
        self.logw[i] = 0.0


def _ll_rows(madrs_latent: np.ndarray, phq: np.ndarray) -> np.ndarray:
    """Log-likelihood per row of PHQ-9 ratings (rows x k) given latent MADRS (rows x k)."""
    return rating_log_likelihood("phq9", phq, madrs_latent).sum(axis=1)


# --- the simulation -----------------------------------------------------------------------------------------


@dataclass
class PolicyResults:
    """Per-patient outcomes (``patients``) and the per-policy summary (``summary``)."""

    patients: pd.DataFrame
    summary: pd.DataFrame
    setting: PolicySetting
    n_patients: int
    seed: int
    trajectories: dict[str, np.ndarray] = field(default_factory=dict)


def relapse_episodes(m: np.ndarray, start: int, end: int, *, gap_days: int = 14) -> np.ndarray:
    """Relapse episodes per row of daily latent MADRS: onsets of the relapse state (MADRS >= 22 on day d and on
    d + 7) in [start, end) not preceded by that state in the ``gap_days`` before (a new episode needs two weeks
    out of relapse)."""
    hi = m >= SUSTAIN1_THRESHOLD
    state = hi[:, start:end - CONFIRM_DAYS] & hi[:, start + CONFIRM_DAYS:end]
    seen = np.zeros_like(state)
    for lag in range(1, gap_days + 1):
        seen[:, lag:] |= state[:, :-lag]
    return np.sum(state & ~seen, axis=1)


def simulate_policies(policies: list[Policy] | None = None, *, n_patients: int = 200, seed: int = 0,
                      setting: PolicySetting | None = None,
                      progress: Callable[[int, int], None] | None = None) -> PolicyResults:
    """Run every policy on the same virtual patients with the same measurement errors (common random numbers)."""
    policies = policies or default_policies()
    setting = setting or PolicySetting()
    c = make_cohort(n_patients, seed, setting)
    n, K = n_patients, len(policies)
    visits = setting.visits
    eps = np.random.default_rng([seed, 3]).normal(0.0, get_scale("phq9").noise_sd.value, (n, visits.size))
    # rows: policy-major (row = k * n + i)
    owner = np.tile(np.arange(n), K)
    rows = _Rows(c.truth.params[owner], c.template.take(owner), c.chronic[owner], c.ev_t[owner], c.ev_amp[owner],
                 c.ev_tau[owner], c.d_trait[owner])
    Y = advance(c.y0[owner], rows.params, 0.0, np.array([0.0, VISIT_HOUR]), np.zeros(n * K, bool),
                np.zeros(n * K, bool), rows.template, rows.chronic, rows.ev_t, rows.ev_amp, rows.ev_tau,
                rows.d_trait)[:, -1]
    daily = np.zeros((n * K, setting.days + 1))
    doses = np.zeros(n * K, dtype=np.int64)
    last = np.full(n * K, -np.inf)
    prev_dose_h = np.full(n * K, -np.inf)
    interval = np.full(n * K, 7.0)
    stable = np.ones(n * K, bool)
    score_hist = np.zeros((n * K, visits.size))
    ctrl = {k: ForecastController(p, setting, c, seed + k) for k, p in enumerate(policies) if p.kind == "forecast"}
    kind = np.array([p.kind for p in policies])[np.repeat(np.arange(K), n)]
    therapy_arm = np.array([p.therapy for p in policies])[np.repeat(np.arange(K), n)]
    fixed_int = np.array([p.interval_days for p in policies], dtype=float)[np.repeat(np.arange(K), n)]
    thr = np.array([p.threshold for p in policies])[np.repeat(np.arange(K), n)]
    max_int = np.array([p.max_interval_days for p in policies], dtype=float)[np.repeat(np.arange(K), n)]
    for j, v in enumerate(visits):
        nxt = visits[j + 1] if j + 1 < visits.size else float(setting.days)
        t = v * 24 + VISIT_HOUR
        m_now = _madrs_rows(Y, rows.params)
        phq_rows = _phq(m_now, eps[owner, j])
        score_hist[:, j] = phq_rows
        # a period is stable while every rating since the last infusion is in remission (PHQ-9 < 5)
        stable[phq_rows >= get_scale("phq9").remission_threshold] = False
        if v in INDUCTION_DAYS:
            dose = np.ones(n * K, bool)
        else:
            dose = np.zeros(n * K, bool)
            since = v - last
            f = kind == "fixed"
            dose[f] = since[f] >= fixed_int[f] - 0.5
            sy = kind == "symptom"
            dose[sy] = phq_rows[sy] >= thr[sy]
            tp = kind == "taper"
            rescue = tp & (phq_rows >= thr)
            due = tp & ~rescue & (since >= interval - 0.5)
            dose[rescue | due] = True
            interval[rescue] = np.maximum(7.0, interval[rescue] - 7.0)
            grow = due & stable
            interval[grow] = np.minimum(max_int[grow], interval[grow] + 7.0)
            for k, ct in ctrl.items():
                sel = slice(k * n, (k + 1) * n)
                if not ct.ready:
                    ct.start(visits[:j + 1], score_hist[sel, :j + 1], v)
                else:
                    ct.observe(phq_rows[sel])
                ther_now = bool(policies[k].therapy and v in setting.therapy_days)
                dose[sel] = ct.decide(v, nxt, ther_now)
        stable[dose] = True
        ther = therapy_arm & np.isin(v, setting.therapy_days)
        out_rel = np.arange(0.0, nxt - v + 1e-9) * 24
        res = advance(Y, rows.params, t, out_rel, dose, ther, rows.template, rows.chronic, rows.ev_t, rows.ev_amp,
                      rows.ev_tau, rows.d_trait, prev_dose_h=prev_dose_h)
        daily[:, int(v):int(nxt)] = _madrs_rows(res[:, :-1], rows.params)
        Y = res[:, -1].copy()
        doses += dose
        last[dose] = v
        prev_dose_h[dose] = t + (DOSE_HOUR - VISIT_HOUR)
        if progress is not None:
            progress(j + 1, visits.size)
    daily[:, setting.days] = _madrs_rows(Y, rows.params)
    res = _summarise(policies, setting, c, daily, doses, therapy_arm, n, seed)
    k0 = next((k for k, p in enumerate(policies) if not p.therapy), None)
    if k0 is not None:  # every arm without therapy sees the same ratings until the end of induction
        n_ind = int(np.sum(visits <= INDUCTION_DAYS[-1] + 3))
        res.trajectories.update({"induction_ratings": score_hist[k0 * n:(k0 + 1) * n, :n_ind].copy(),
                                 "induction_visits": visits[:n_ind].copy(), "weight_kg": c.weight_kg.copy()})
    return res


def _summarise(policies: list[Policy], setting: PolicySetting, c: Cohort, daily: np.ndarray, doses: np.ndarray,
               therapy_arm: np.ndarray, n: int, seed: int) -> PolicyResults:
    days = np.arange(setting.days + 1, dtype=float)
    start = INDUCTION_DAYS[-1] + 3
    remission_days = days_in_remission(days, daily, scale="madrs", start=float(start), end=float(setting.days))
    episodes = relapse_episodes(daily, start, setting.days + 1)
    sessions = np.where(therapy_arm, len(setting.therapy_days), 0)
    K = len(policies)
    per = pd.DataFrame({
        "policy": np.repeat([p.name for p in policies], n), "patient": np.tile(np.arange(n), K),
        "kind": np.repeat([p.kind for p in policies], n), "therapy": therapy_arm,
        "infusions": doses, "maintenance_infusions": doses - len(INDUCTION_DAYS), "therapy_sessions": sessions,
        "days_in_remission": remission_days, "relapse_episodes": episodes, "any_relapse": episodes > 0,
        "life_event": np.tile(c.has_event, K), "mean_madrs": daily[:, start:].mean(axis=1),
    })
    years = (setting.days - start) / 365.25
    rows = []
    for p in policies:
        d = per[per.policy == p.name]
        se = lambda x: float(np.std(x, ddof=1) / math.sqrt(len(x))) if len(x) > 1 else float("nan")  # noqa: E731
        rows.append({
            "policy": p.name, "kind": p.kind, "therapy": p.therapy, "patients": len(d),
            "infusions_per_year": d.infusions.mean() * 365.25 / setting.days,
            "infusions_per_year_se": se(d.infusions) * 365.25 / setting.days,
            "maintenance_infusions": d.maintenance_infusions.mean(),
            "days_in_remission": d.days_in_remission.mean(), "days_in_remission_se": se(d.days_in_remission),
            "relapses_per_patient_year": d.relapse_episodes.mean() / years,
            "relapses_se": se(d.relapse_episodes) / years,
            "share_with_relapse": d.any_relapse.mean(), "mean_madrs": d.mean_madrs.mean(),
        })
    summary = pd.DataFrame(rows)
    summary["pareto"] = pareto_front(summary["infusions_per_year"].to_numpy(), summary["days_in_remission"].to_numpy())
    return PolicyResults(per, summary, setting, n, seed)


def pareto_front(cost: np.ndarray, benefit: np.ndarray) -> np.ndarray:
    """True for the points no other point beats: fewer or equal infusions and at least as many days, one strictly."""
    cost, benefit = np.asarray(cost, float), np.asarray(benefit, float)
    out = np.ones(cost.size, bool)
    for i in range(cost.size):
        better = (cost <= cost[i]) & (benefit >= benefit[i]) & ((cost < cost[i]) | (benefit > benefit[i]))
        out[i] = not better.any()
    return out


def plot_policies(res: PolicyResults, path: str | None = None):
    """Days in remission and relapses against infusions per year, with the Pareto frontier."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = res.summary
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(14, 6))
    colors = {"fixed": "tab:blue", "taper": "tab:green", "symptom": "tab:orange", "forecast": "tab:red"}
    for _, r in s.iterrows():
        mk = "s" if r.therapy else "o"
        a1.errorbar(r.infusions_per_year, r.days_in_remission, xerr=1.96 * r.infusions_per_year_se,
                    yerr=1.96 * r.days_in_remission_se, fmt=mk, color=colors[r.kind], ms=7, capsize=2,
                    mfc=colors[r.kind] if r.therapy else "white")
        a1.annotate(r.policy, (r.infusions_per_year, r.days_in_remission), fontsize=7, xytext=(4, 3),
                    textcoords="offset points")
        a2.errorbar(r.infusions_per_year, r.relapses_per_patient_year, xerr=1.96 * r.infusions_per_year_se,
                    yerr=1.96 * r.relapses_se, fmt=mk, color=colors[r.kind], ms=7, capsize=2,
                    mfc=colors[r.kind] if r.therapy else "white")
        a2.annotate(r.policy, (r.infusions_per_year, r.relapses_per_patient_year), fontsize=7, xytext=(4, 3),
                    textcoords="offset points")
    front = s[s.pareto].sort_values("infusions_per_year")
    a1.plot(front.infusions_per_year, front.days_in_remission, "k--", lw=1, label="Pareto frontier")
    a1.set_xlabel("infusions per year (induction included)")
    a1.set_ylabel(f"days in remission (MADRS ≤ {MADRS_REMISSION:g}), day {INDUCTION_DAYS[-1] + 3}-{res.setting.days}")
    a1.legend(loc="lower right", fontsize=8)
    a2.set_xlabel("infusions per year (induction included)")
    a2.set_ylabel("relapse episodes per patient-year")
    for a in (a1, a2):
        a.grid(alpha=0.3)
        a.plot([], [], "o", color="gray", mfc="white", label="without psychotherapy")
        a.plot([], [], "s", color="gray", label="with psychotherapy (12 weekly sessions)")
    a2.legend(loc="upper right", fontsize=8)
    fig.suptitle(f"Maintenance policies on {res.n_patients} virtual patients over {res.setting.days} days "
                 f"(seed {res.seed}; bars: 95% Monte-Carlo intervals)", fontsize=11)
    fig.text(0.01, 0.005, "ketasim: research and decision-support software, not a medical device.", fontsize=7,
             color="gray")
    fig.tight_layout(rect=(0, 0.02, 1, 0.96))
    if path is not None:
        fig.savefig(path, dpi=120)
        plt.close(fig)
    return fig


def policy_frontier(res: PolicyResults, lambdas: tuple[float, ...] | None = None, w_h: float = 0.0) -> pd.DataFrame:
    """The trade-off stated (``utility.py``): for each ``lambda``, every policy's mean utility per patient
    (days in remission - lambda x (infusions + w_h x hours)), with its standard error, the best policy, and the
    *oracle*: for each patient the fixed interval (same therapy arm) that is best for that patient's true
    course, known in hindsight: its excess over the best single fixed interval is the value of knowing the
    patient perfectly (an upper bound for any personalised interval)."""
    from ketasim.planning.utility import DEFAULT_LAMBDAS, Tradeoff

    lambdas = DEFAULT_LAMBDAS if lambdas is None else lambdas
    per = res.patients
    out = []
    for lam in lambdas:
        t = Tradeoff(float(lam), w_h)
        u = per.assign(utility=t.utility(per.days_in_remission.to_numpy(), per.infusions.to_numpy()))
        rows = []
        for name, g in u.groupby("policy", sort=False):
            rows.append({"lambda": float(lam), "w_h": w_h, "policy": name, "utility": float(g.utility.mean()),
                         "utility_se": float(g.utility.std(ddof=1) / math.sqrt(len(g))) if len(g) > 1 else math.nan})
        for therapy, g in u[u.kind == "fixed"].groupby("therapy"):
            best = g.groupby("patient").utility.max()
            rows.append({"lambda": float(lam), "w_h": w_h, "policy": "oracle fixed interval" + (
                " + therapy" if therapy else ""), "utility": float(best.mean()),
                "utility_se": float(best.std(ddof=1) / math.sqrt(len(best))) if len(best) > 1 else math.nan})
        df = pd.DataFrame(rows)
        real = df[~df.policy.str.startswith("oracle")]
        df["best"] = df.policy == real.loc[real.utility.idxmax(), "policy"]
        out.append(df)
    return pd.concat(out, ignore_index=True)


def personalised_choices(res: PolicyResults, lambdas: tuple[float, ...] | None = None, *,
                         intervals: tuple[int, ...] = (7, 14, 21, 28), n_particles: int = 1000,
                         progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """The personalised fixed interval: for each virtual patient, the forecaster's posterior after induction
    (PHQ-9 ratings of the induction visits, as the clinic records them; a life event of the truth is not recorded)
    and its intervals table give, for each ``lambda``, the interval with the most expected utility
    (``utility.best_interval``); the patient's outcome is that of the same patient under that fixed interval.
    Rows: lambda, patient, chosen interval."""
    import datetime as dt

    from ketasim.planning.forecast import interval_table
    from ketasim.planning.history import HistoryEvent, PatientHistory
    from ketasim.planning.posterior import fit_posterior
    from ketasim.planning.utility import DEFAULT_LAMBDAS, best_interval

    lambdas = DEFAULT_LAMBDAS if lambdas is None else lambdas
    tr = res.trajectories
    if "induction_ratings" not in tr:
        raise PlanError("policies", "no arm without therapy", "a fixed-interval policy without therapy")
    t0 = dt.datetime(2025, 1, 6)
    out = []
    for i in range(res.n_patients):
        w = float(tr["weight_kg"][i])
        ev = [HistoryEvent(t0 + dt.timedelta(days=float(d), hours=DOSE_HOUR), "dose", route="iv", drug="racemic",
                           dose_mg=round(res.setting.mg_per_kg * w, 1), duration_min=40.0) for d in INDUCTION_DAYS]
        ev += [HistoryEvent(t0 + dt.timedelta(days=float(d), hours=VISIT_HOUR), "score", scale="phq9", value=float(y))
               for d, y in zip(tr["induction_visits"], tr["induction_ratings"][i], strict=True)]
        today = (t0 + dt.timedelta(days=float(tr["induction_visits"][-1]))).date()
        h = PatientHistory(weight_kg=w, events=tuple(sorted(ev, key=lambda e: e.when)), name=f"virtual {i}",
                           today=today)
        post = fit_posterior(h, n_particles=n_particles, seed=res.seed + i)
        for choice in best_interval(interval_table(h, post, intervals=intervals, seed=res.seed + i), lambdas):
            out.append({"lambda": choice["lambda"], "patient": i, "interval_days": choice["interval_days"]})
        if progress is not None:
            progress(i + 1, res.n_patients)
    return pd.DataFrame(out)


def personalised_frontier(res: PolicyResults, choices: pd.DataFrame, w_h: float = 0.0) -> pd.DataFrame:
    """Mean utility per ``lambda`` of the personalised fixed interval (``personalised_choices``), read from the
    same patients' outcomes under the fixed-interval policies without therapy."""
    from ketasim.planning.utility import Tradeoff

    per = res.patients[(res.patients.kind == "fixed") & ~res.patients.therapy]
    by = {int(round(float(p.split()[1]))): g.set_index("patient") for p, g in per.groupby("policy")}
    rows = []
    for lam, g in choices.groupby("lambda"):
        t = Tradeoff(float(lam), w_h)
        u = np.array([float(t.utility(by[int(k)].loc[i, "days_in_remission"], by[int(k)].loc[i, "infusions"]))
                      for i, k in zip(g.patient, g.interval_days, strict=True)])
        rows.append({"lambda": float(lam), "w_h": w_h, "policy": "personalised fixed interval",
                     "utility": float(u.mean()), "utility_se": float(u.std(ddof=1) / math.sqrt(u.size)),
                     "best": False, "mean_interval_days": float(g.interval_days.mean())})
    return pd.DataFrame(rows)
