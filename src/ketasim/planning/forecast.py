"""Forecast for one patient: banded ratings, relapse risk by date, next session, bridge probability, intervals.

From the individual posterior (``posterior.py``: particles over the population's posterior draws and
the patient's own attributes), ``n_forecast`` particles are resampled and continued past ``today``:

* **planned**: the history with its planned future doses and sessions (rows dated after
  ``today``, plus ``extra_doses``); gives the rating bands and the relapse risk by date;
* **no further dose**: the history alone; gives the recommended date of the next session and
  the bridge probability;
* **intervals** (:func:`interval_table`): maintenance sessions every 7 ... 42 days for a year.

Each particle is continued along ``paths_per_particle`` paths of the observation model
(``observation.py``): its course with the placebo response, its own symptom fluctuation drawn
forward from the Kalman filter's state at the last rating, and rater error on the patient's scale:

* bands: weighted quantiles of the simulated ratings ``y`` on the patient's scale (50/80/95%);
* relapse (``relapse_rule.py``, the one definition): simulated ratings at visits every 7 days
  after today, the last observed visit first; the rule's onset (first visit of the pair);
  a record that already meets the rule has relapsed (probability 1 from today);
* ``P(relapse before d)`` = weighted share of paths whose onset is before day ``d``;
* recommended next session: the latest date ``d`` with ``P(relapse before d | no dose until d)
  <= risk`` (10% by default);
* bridge probability: the share of paths with no relapse for ``bridge_days`` (182) without
  any further dose.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field, replace

import numpy as np

from ketasim.dosing.plan import Dose
from ketasim.errors import PlanError
from ketasim.planning.history import SCALE_NAMES, PatientHistory
from ketasim.planning.observation import rate, sample_fluctuation, symptom_level, with_placebo
from ketasim.planning.particles import Particles, simulate_particles
from ketasim.planning.posterior import (
    IndividualPosterior,
    fit_posterior,
    history_plan,
    session_days,
    systematic_resample,
)
from ketasim.planning.relapse_rule import DEFAULT_RULE, RelapseAssessment, RelapseRule, assess_relapse, visits_of
from ketasim.planning.utility import best_interval
from ketasim.planning.world import PlanningWorld
from ketasim.symptoms.scales import MADRS_REMISSION, get_scale, madrs_to

DISCLAIMER = ("Decision support from research software (ketasim), not medical advice and not a medical device: "
              "the forecast comes from a mechanistic model with assumed and calibrated parameters and the "
              "patient's own scores; a clinician decides the treatment.")
SCHEMA_VERSION = "2.0"
BANDS = (0.50, 0.80, 0.95)
DEFAULT_RISK = 0.10
DEFAULT_HORIZON_DAYS = 182
BRIDGE_DAYS = 182
LOW_ESS = 50.0
VISIT_HOUR = 9.0
PATHS_TOTAL = 2000  # forecast paths (particles x paths per particle), at least two per particle
INTERVAL_DAYS = (7, 14, 21, 28, 35, 42)
INTERVAL_YEAR_DAYS = 364
INTERVAL_PARTICLES = 200
INTERVAL_PATHS = 4


@dataclass
class Forecast:
    """Result of :func:`forecast`. Days are plan days (day 0 = midnight of the first event)."""

    history: PatientHistory
    posterior: IndividualPosterior
    scale: str
    days: np.ndarray  # forecast days (the day after today + 0 .. horizon), whole days at 09:00
    bands: dict[str, np.ndarray]  # "q0.025", ..., "q0.975" and "median": predicted rating on ``scale``
    latent_madrs_median: np.ndarray  # median of the course with placebo (MADRS, no fluctuation, no rater error)
    p_relapse_planned: np.ndarray  # P(relapse onset before each day) under the planned treatment
    p_relapse_no_dose: np.ndarray  # same with no further dose
    onset_planned: np.ndarray  # per path onset day (inf if none within the horizon)
    onset_no_dose: np.ndarray
    weights: np.ndarray  # per forecast particle (sum 1)
    risk: float
    recommended_day: float | None  # plan day; None if no session is needed within the horizon
    bridge_probability: float
    bridge_days: int
    planned_doses: tuple[Dose, ...]
    rule: RelapseRule = DEFAULT_RULE
    assessment: RelapseAssessment | None = None
    paths_per_particle: int = 1
    current_latent_madrs: np.ndarray = field(default_factory=lambda: np.zeros(0))  # symptom level today, per path
    current_on_scale: tuple[float, float, float] = (math.nan, math.nan, math.nan)  # q10, median, q90 on ``scale``
    past_fit: dict[str, np.ndarray] = field(default_factory=dict)
    intervals: list[dict] | None = None
    rating_paths: np.ndarray | None = None  # simulated ratings under the planned treatment (N x K x days), on scale

    @property
    def today_day(self) -> float:
        return self.history.today_day

    @property
    def already_relapsed(self) -> bool:
        return bool(self.assessment is not None and self.assessment.met)

    @property
    def path_weights(self) -> np.ndarray:
        return np.repeat(self.weights / self.paths_per_particle, self.paths_per_particle)

    def date(self, day: float) -> dt.date:
        return self.history.date_of(day)

    @property
    def recommended_date(self) -> dt.date | None:
        return None if self.recommended_day is None else self.date(self.recommended_day)

    def table(self):
        """The forecast as a pandas DataFrame (one row per day)."""
        import pandas as pd

        cols = {"date": [self.date(d) for d in self.days], "day": self.days}
        cols["median"] = self.bands["median"]
        for b in BANDS:
            lo, hi = (1 - b) / 2, 1 - (1 - b) / 2
            cols[f"lower_{int(b * 100)}"] = self.bands[f"q{lo:g}"]
            cols[f"upper_{int(b * 100)}"] = self.bands[f"q{hi:g}"]
        cols["latent_madrs_median"] = self.latent_madrs_median
        cols["p_relapse_planned"] = self.p_relapse_planned
        cols["p_relapse_no_further_dose"] = self.p_relapse_no_dose
        df = pd.DataFrame(cols)
        df.attrs["scale"] = SCALE_NAMES[self.scale]
        return df

    def interval_frame(self):
        """The intervals table (:func:`interval_table`) as a pandas DataFrame (``intervals.csv``)."""
        import pandas as pd

        return pd.DataFrame(self.intervals or [])

    def recommendation(self, every_days: int = 7) -> dict:
        """The JSON-ready recommendation (``recommendation.schema.json``); its sentences come from the same
        numbers (:func:`advice_sentences`)."""
        rows = []
        for k in range(0, self.days.size, every_days):
            rows.append({"date": self.date(self.days[k]).isoformat(),
                         "p_relapse_planned_treatment": round(float(self.p_relapse_planned[k]), 4),
                         "p_relapse_no_further_dose": round(float(self.p_relapse_no_dose[k]), 4)})
        rec = self.recommended_date
        cur = weighted_quantile_1d(self.current_latent_madrs, self.path_weights, (0.1, 0.5, 0.9))
        label = SCALE_NAMES[self.scale]
        warnings = []
        if self.posterior.ess < LOW_ESS:
            warnings.append(f"only about {self.posterior.ess:.0f} virtual patients of the population reproduce these "
                            "scores (effective sample size): the forecast is less certain than its bands show; "
                            "check the history for typing errors")
        if self.history.allow_off_label:
            warnings.append("doses outside published ranges were allowed")
        scales = sorted({SCALE_NAMES[e.scale] for e in self.history.scores})
        if len(scales) > 1:
            warnings.append(f"the record mixes scales ({', '.join(scales)}): each rating is compared with the relapse "
                            "level of its own scale")
        last = self.history.scores[-1]
        lo, hi = self.past_fit["last_q0.1"], self.past_fit["last_q0.9"]
        band_lo, band_hi = float(math.floor(lo)), float(math.ceil(hi))
        position = "inside" if band_lo <= last.value <= band_hi else ("above" if last.value > band_hi else "below")
        assessment = self.assessment or assess_relapse(self.history, self.scale, self.rule)
        post = self.posterior
        out = {
            "schema_version": SCHEMA_VERSION,
            "patient": self.history.name,
            "today": self.history.today.isoformat() if self.history.today else None,
            "scale": label,
            "already_meets_relapse_definition": assessment.met,
            "relapse_definition": assessment.definition,
            "relapse_rule": assessment.as_dict(),
            "next_session_date": rec.isoformat() if rec is not None else None,
            "risk_threshold": self.risk,
            "p_relapse_by_next_session_date": None if rec is None else round(float(self.p_relapse_no_dose[min(
                int(np.searchsorted(self.days, self.recommended_day + VISIT_HOUR / 24 - 1e-6)), self.days.size - 1)]),
                4),
            "relapse_risk_by_date": rows,
            "bridge_probability": round(self.bridge_probability, 4),
            "bridge_definition": f"no relapse for {self.bridge_days} days without any further dose",
            "current_estimate": {"scale": label, "q10": round(self.current_on_scale[0], 1),
                                 "median": round(self.current_on_scale[1], 1),
                                 "q90": round(self.current_on_scale[2], 1)},
            "current_madrs_estimate": {"q10": round(cur[0], 1), "median": round(cur[1], 1), "q90": round(cur[2], 1)},
            "last_observed": {"date": last.when.date().isoformat(), "scale": SCALE_NAMES[last.scale],
                              "value": float(last.value), "band_80": [band_lo, band_hi], "position": position},
            "planned_doses_after_today": [
                {"date": self.date(d.day).isoformat(), "dose_mg": d.amount_mg, "route": d.route}
                for d in self.planned_doses],
            "intervals": self.intervals,
            "interval_tradeoff": best_interval(self.intervals or []),
            "posterior": {"particles_simulated": post.n_simulated,
                          "effective_sample_size": round(post.ess, 1), "stages": post.stages,
                          "particles_forecast": int(self.weights.size),
                          "paths_per_particle": int(self.paths_per_particle),
                          **post.draws(), "prior": post.prior.source},
            "allow_off_label": self.history.allow_off_label,
            "warnings": warnings,
            "disclaimer": DISCLAIMER,
        }
        sentences = advice_sentences(out)
        out["headline"] = sentences["headline"]
        out["next_session_advice"] = sentences["advice"]
        out["last_observed"]["note"] = sentences["last_observed"]
        out["interval_advice"] = sentences["intervals"]
        return out


def advice_sentences(rec: dict) -> dict[str, str]:
    """The plain-language sentences of a recommendation, from its JSON fields only (so they cannot disagree)."""
    label = rec["scale"]
    risk = rec["risk_threshold"]
    cur = rec["current_estimate"]
    rule = rec["relapse_rule"]
    met = rec["already_meets_relapse_definition"]
    if met:
        advice = "a session as soon as possible: the patient already meets the relapse definition"
    elif rec["next_session_date"] is None:
        advice = (f"no session needed within the forecast horizon: the chance of relapse without further doses "
                  f"stays at or below {risk:.0%}")
    elif rec["next_session_date"] <= rec["today"] or rec["p_relapse_by_next_session_date"] > risk:
        advice = f"a session as soon as possible: the chance of relapse within the next days exceeds {risk:.0%}"
    else:
        advice = (f"next session on or before {rec['next_session_date']}: until then the chance of relapse without "
                  f"a session stays at or below {risk:.0%} "
                  f"(forecast {rec['p_relapse_by_next_session_date']:.0%})")
    if met:
        pair = " and ".join(f"{v['scale']} {v['rating']:g} on {v['date']}" for v in rule["visits"])
        headline = (f"The last two visits ({pair}) already meet the relapse definition ({rec['relapse_definition']}):"
                    " a session as soon as possible.")
    else:
        headline = f"{label} now about {cur['median']:.0f} (80% range {cur['q10']:.0f}-{cur['q90']:.0f}); {advice}."
    last = rec["last_observed"]
    lo, hi = last["band_80"]
    where = {"inside": "inside", "above": "above", "below": "below"}[last["position"]]
    note = f"The last {last['scale']} ({last['value']:g}, {last['date']}) lies {where} the model's 80% range for " \
           f"that day ({lo:.0f}-{hi:.0f})"
    note += {"inside": ".", "above": ": the patient is doing worse than the model expects.",
             "below": ": the patient is doing better than the model expects."}[last["position"]]
    trade = {t["lambda"]: t for t in rec.get("interval_tradeoff") or []}
    if trade:
        low, high = trade.get(1.0, next(iter(trade.values()))), trade.get(4.0, list(trade.values())[-1])
        intervals = (f"Most benefit for the sessions given: every {low['interval_days']} days if a session is worth "
                     f"giving up about {low['lambda']:g} day in remission, every {high['interval_days']} days if "
                     f"about {high['lambda']:g} days (table of intervals: expected days in remission, relapses and "
                     "sessions in the next year).")
    else:
        intervals = "The table of intervals was not computed for this forecast."
    return {"headline": headline, "advice": advice, "last_observed": note, "intervals": intervals}


def weighted_quantile_1d(x: np.ndarray, w: np.ndarray, qs) -> list[float]:
    from ketasim.planning.posterior import weighted_quantile

    if x.size == 0:
        return [float("nan")] * len(qs)
    return [float(v) for v in weighted_quantile(x, w, qs)]


def weighted_quantiles(values: np.ndarray, w: np.ndarray, qs) -> np.ndarray:
    """Quantiles (len(qs) x T) of the columns of ``values`` (M x T) with row weights ``w`` (M,) (midpoint rule)."""
    order = np.argsort(values, axis=0, kind="stable")
    ys = np.take_along_axis(values, order, axis=0)
    ww = np.asarray(w, dtype=float)[order]
    cw = np.cumsum(ww, axis=0) - 0.5 * ww
    cw /= ww.sum(axis=0)
    out = np.empty((len(qs), values.shape[1]))
    for t in range(values.shape[1]):
        out[:, t] = np.interp(qs, cw[:, t], ys[:, t])
    return out


def p_before(onset: np.ndarray, w: np.ndarray, days: np.ndarray) -> np.ndarray:
    """P(onset < d) for each day d."""
    order = np.argsort(onset)
    cum = np.concatenate([[0.0], np.cumsum(w[order])])
    return cum[np.searchsorted(onset[order], days, side="left")]


def _dedupe(particles: Particles, idx: np.ndarray) -> tuple[Particles, np.ndarray, np.ndarray]:
    """Unique particles among resampled indices, their weights (counts / n) and their source indices."""
    uniq, counts = np.unique(idx, return_counts=True)
    return particles.take(uniq), counts / counts.sum(), uniq


@dataclass
class _Paths:
    """Continuation of particles along observation paths: course with placebo ``x`` (N x T), symptom level
    ``s`` and ratings ``y`` (N x K x T) at ``days``."""

    x: np.ndarray
    s: np.ndarray
    y: np.ndarray
    valid: np.ndarray


def continue_paths(posterior: IndividualPosterior, parts: Particles, src: np.ndarray, plan, sessions: np.ndarray,
                   days: np.ndarray, scale: str, n_paths: int, rng: np.random.Generator) -> _Paths:
    """Simulate ``parts`` (resampled from ``posterior``, source indices ``src``) under ``plan`` at ``days``
    (after the last rating) along ``n_paths`` paths each (see the module docstring)."""
    world = posterior.world
    m, valid = simulate_particles(plan, parts, days)
    x = with_placebo(m, days, sessions, parts, world)
    sd, tau = world.fluctuation_sd[parts.draw], world.fluctuation_tau[parts.draw]
    f = sample_fluctuation(posterior.fluct_mean[src], posterior.fluct_var[src], posterior.last_rating_day, days, sd,
                           tau, n_paths, rng)
    s = symptom_level(x, f)
    y = rate(scale, s, world.noise_scale[parts.draw], rng)
    return _Paths(x, s, y, valid)


def _visit_grid(history: PatientHistory, rule: RelapseRule, days: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Indices into ``days`` of the forecast visits (every ``visit_every_days`` after today) and the last observed
    visit after the first dose: its day and relapse margin (NaN if none)."""
    idx = np.arange(rule.visit_every_days - 1, days.size, rule.visit_every_days)
    vdays, margin, _ = visits_of(history, rule)
    if vdays.size == 0:
        return idx, math.nan, math.nan
    return idx, float(vdays[-1] + VISIT_HOUR / 24), float(margin[-1])


def path_onsets(y: np.ndarray, days: np.ndarray, scale: str, rule: RelapseRule, visit_idx: np.ndarray,
                last_day: float, last_margin: float) -> np.ndarray:
    """Relapse onset (N*K,) of every rating path ``y`` (N x K x T): the rule on the visits ``visit_idx``,
    preceded by the last observed visit (``last_day``, ``last_margin``) when there is one."""
    marg = rule.margin(scale, y[:, :, visit_idx]).reshape(-1, visit_idx.size)
    vd = days[visit_idx]
    if math.isfinite(last_margin):
        vd = np.concatenate([[last_day], vd])
        marg = np.hstack([np.full((marg.shape[0], 1), last_margin), marg])
    return rule.onset(vd, marg)


def forecast(history: PatientHistory, posterior: IndividualPosterior | None = None, *,
             horizon_days: int = DEFAULT_HORIZON_DAYS, risk: float = DEFAULT_RISK, n_particles: int = 2000,
             n_forecast: int = 1000, extra_doses: tuple[Dose, ...] = (), extra_therapy_days: tuple[float, ...] = (),
             bridge_days: int = BRIDGE_DAYS, seed: int = 0, scale: str | None = None,
             rule: RelapseRule = DEFAULT_RULE, world: PlanningWorld | None = None,
             intervals: tuple[int, ...] | None = INTERVAL_DAYS, interval_dose_mg: float | None = None) -> Forecast:
    """Posterior (if not given), then the continuations described in the module docstring."""
    if not 0.0 < risk < 1.0:
        raise PlanError("risk", risk, "a probability between 0 and 1 (0.10 = 10%)")
    if not history.scores:
        raise PlanError("history", "no scores", "at least one score up to today")
    if posterior is None:
        posterior = fit_posterior(history, n_particles=n_particles, seed=seed, world=world)
    rng = np.random.default_rng(seed + 1)
    idx = systematic_resample(posterior.weights, n_forecast, rng)
    parts, w, src = _dedupe(posterior.particles, idx)
    K = max(2, int(math.ceil(PATHS_TOTAL / len(parts))))
    scale = scale or history.scores[-1].scale
    get_scale(scale)  # a known scale (raises otherwise)
    today = history.today_day
    span = max(horizon_days, bridge_days) + rule.visit_every_days
    days = today + VISIT_HOUR / 24.0 + np.arange(0, span + 1, dtype=float)
    end = float(math.ceil(days[-1] + 1))
    future_doses = tuple(sorted((*history.doses(past=False), *extra_doses), key=lambda d: d.day))
    future_therapy = (*history.therapy_days(past=False), *extra_therapy_days)
    plan_none = history_plan(history, include_planned=False, horizon_days=end)
    none = continue_paths(posterior, parts, src, plan_none, session_days(history), days, scale, K, rng)
    if future_doses or future_therapy:
        plan_plan = history_plan(history, include_planned=True, horizon_days=end, extra_doses=extra_doses,
                                 extra_therapy_days=extra_therapy_days)
        planned = continue_paths(posterior, parts, src, plan_plan,
                                 session_days(history, include_planned=True, extra_doses=extra_doses), days, scale, K,
                                 rng)
    else:
        planned = none
    w = np.where(none.valid & planned.valid, w, 0.0)
    if w.sum() <= 0:
        raise PlanError("history", "scores no virtual patient of the population can reproduce",
                        "a history whose scores and doses are consistent (check for typing errors)")
    w = w / w.sum()
    wp = np.repeat(w / K, K)
    assessment = assess_relapse(history, scale, rule)
    visit_idx, last_day, last_margin = _visit_grid(history, rule, days)
    if assessment.met:
        first_day = history.day_of(dt.datetime.fromisoformat(assessment.pair[0][0])) + VISIT_HOUR / 24
        onset_none = onset_plan = np.full(wp.size, first_day)
    else:
        onset_none = path_onsets(none.y, days, scale, rule, visit_idx, last_day, last_margin)
        onset_plan = path_onsets(planned.y, days, scale, rule, visit_idx, last_day, last_margin)
    H = horizon_days + 1
    fdays = days[:H]
    p_none = p_before(onset_none, wp, fdays + 1e-9)
    p_plan = p_before(onset_plan, wp, fdays + 1e-9)
    ok = np.flatnonzero(p_none <= risk)
    if ok.size == fdays.size:
        recommended = None
    elif ok.size == 0 or ok[0] != 0:
        recommended = float(math.floor(fdays[0]))
    else:
        # p_none is non-decreasing: the last day still under the risk, as a whole plan day.
        recommended = float(math.floor(fdays[ok[-1]]))
    bridge = 0.0 if assessment.met else float(np.sum(wp[onset_none >= today + bridge_days]))

    qs = sorted({0.5, *[(1 - b) / 2 for b in BANDS], *[1 - (1 - b) / 2 for b in BANDS]})
    yq = weighted_quantiles(planned.y[:, :, :H].reshape(-1, H), wp, qs)
    bands = {f"q{v:g}": yq[k] for k, v in enumerate(qs)}
    bands["median"] = bands["q0.5"]
    latent_med = weighted_quantiles(planned.x[:, :H], w, (0.5,))[0]
    # Today's symptom level (the first forecast day's course with the fluctuation), on MADRS and on the scale.
    s0 = none.s[:, :, 0].reshape(-1)
    cur_scale = tuple(weighted_quantile_1d(madrs_to(scale, s0), wp, (0.1, 0.5, 0.9)))
    past_fit = _past_fit(history, posterior, parts, src, w, scale, rng)
    table = None
    if intervals:
        table = interval_table(history, posterior, intervals=intervals, rule=rule, scale=scale, seed=seed,
                               dose_mg=interval_dose_mg)
    return Forecast(history=history, posterior=posterior, scale=scale, days=fdays, bands=bands,
                    latent_madrs_median=latent_med, p_relapse_planned=p_plan, p_relapse_no_dose=p_none,
                    onset_planned=onset_plan, onset_no_dose=onset_none, weights=w, risk=risk,
                    recommended_day=recommended, bridge_probability=bridge, bridge_days=bridge_days,
                    planned_doses=future_doses, rule=rule, assessment=assessment, paths_per_particle=K,
                    current_latent_madrs=s0, current_on_scale=cur_scale, past_fit=past_fit, intervals=table,
                    rating_paths=planned.y[:, :, :H].astype(np.float32))


def _past_fit(history: PatientHistory, posterior: IndividualPosterior, parts: Particles, src: np.ndarray,
              w: np.ndarray, scale: str, rng: np.random.Generator, n_paths: int = 8) -> dict[str, np.ndarray]:
    """Posterior predictive 80% range of a rating on ``scale`` at each observed score time (fluctuation at its
    stationary spread, rater error included): what the model expects a rating there to be; ``last_q0.1`` and
    ``last_q0.9``: the same for the last score on its own scale."""
    pdays = np.array([history.day_of(e.when) for e in history.scores])
    plan = history_plan(history, include_planned=False)
    m, _ = simulate_particles(plan, parts, pdays)
    world = posterior.world
    x = with_placebo(m, pdays, session_days(history), parts, world)
    sd = world.fluctuation_sd[parts.draw]
    f = sd[:, None, None] * rng.standard_normal((len(parts), n_paths, pdays.size))
    s = symptom_level(x, f)
    y = rate(scale, s, world.noise_scale[parts.draw], rng)
    wp = np.repeat(w / n_paths, n_paths)
    q = weighted_quantiles(y.reshape(-1, pdays.size), wp, (0.1, 0.5, 0.9))
    # the last score on its own scale (a mixed record's last rating may be on another scale than the headline's)
    last = history.scores[-1].scale
    y_last = rate(last, s[:, :, -1:], world.noise_scale[parts.draw], rng).reshape(-1, 1)
    ql = weighted_quantiles(y_last, wp, (0.1, 0.9))[:, 0]
    return {"day": pdays, "q0.1": q[0], "q0.5": q[1], "q0.9": q[2], "last_q0.1": ql[0], "last_q0.9": ql[1]}


def interval_table(history: PatientHistory, posterior: IndividualPosterior, *,
                   intervals: tuple[int, ...] = INTERVAL_DAYS, rule: RelapseRule = DEFAULT_RULE,
                   scale: str | None = None, seed: int = 0, dose_mg: float | None = None,
                   n_particles: int = INTERVAL_PARTICLES, n_paths: int = INTERVAL_PATHS) -> list[dict]:
    """Which interval keeps this patient well: for maintenance sessions every ``k`` days (the route, drug and
    amount of the last dose, or ``dose_mg`` checked by ``check_dose``) over the next ``INTERVAL_YEAR_DAYS`` days,
    the expected days in remission (symptom level at MADRS <= 10), relapse episodes (the rule on weekly visits;
    a new episode needs a visit below the relapse level first) and sessions, each with its 80% interval over the
    patient's posterior predictive paths."""
    scale = scale or history.scores[-1].scale
    rng = np.random.default_rng([seed, 12])
    idx = systematic_resample(posterior.weights, n_particles, rng)
    parts, w, src = _dedupe(posterior.particles, idx)
    wp = np.repeat(w / n_paths, n_paths)
    today = history.today_day
    days = today + VISIT_HOUR / 24.0 + np.arange(INTERVAL_YEAR_DAYS, dtype=float)
    visit_idx = np.arange(rule.visit_every_days - 1, days.size, rule.visit_every_days)
    rows = []
    for k in intervals:
        extra = with_extra_maintenance(history, float(k), dose_mg=dose_mg, horizon_days=INTERVAL_YEAR_DAYS)
        plan = history_plan(history, include_planned=False, horizon_days=float(math.ceil(days[-1] + 1)),
                            extra_doses=extra)
        p = continue_paths(posterior, parts.take(np.arange(len(parts))), src, plan,
                           session_days(history, extra_doses=extra), days, scale, n_paths, rng)
        ww = np.where(np.repeat(p.valid, n_paths), wp, 0.0)
        ww = ww / ww.sum()
        remission = (p.s <= MADRS_REMISSION).sum(axis=2).reshape(-1).astype(float)
        hi = rule.margin(scale, p.y[:, :, visit_idx]).reshape(-1, visit_idx.size) >= 0
        gap = np.diff(days[visit_idx])
        lo_gap, hi_gap = rule.gap_days
        pair = hi[:, :-1] & hi[:, 1:] & ((gap >= lo_gap) & (gap <= hi_gap))[None, :]
        starts = pair & ~np.hstack([np.zeros((pair.shape[0], 1), bool), pair[:, :-1]])
        episodes = starts.sum(axis=1).astype(float)
        n_sessions = float(sum(1 for d in extra if d.day < today + INTERVAL_YEAR_DAYS))

        rows.append({"interval_days": int(k), "sessions_per_year": n_sessions,
                     "dose_mg": extra[0].amount_mg if extra else None, "route": extra[0].route if extra else None,
                     "days_in_remission": _summary(remission, ww), "relapses": _summary(episodes, ww),
                     "p_any_relapse": round(float(ww @ (episodes > 0)), 3)})
    return rows


def _summary(v: np.ndarray, w: np.ndarray) -> dict[str, float]:
    """Weighted mean and 80% interval (10th and 90th percentiles)."""
    q = weighted_quantile_1d(v, w, (0.1, 0.9))
    return {"mean": round(float(w @ v), 1), "q10": round(q[0], 1), "q90": round(q[1], 1)}


def interval_rows_flat(rows: list[dict]) -> list[dict]:
    """The intervals table with one column per number (``intervals.csv``)."""
    out = []
    for r in rows:
        flat = {k: v for k, v in r.items() if not isinstance(v, dict)}
        for key in ("days_in_remission", "relapses"):
            for stat, v in r[key].items():
                flat[f"{key}_{stat}"] = v
        out.append(flat)
    return out


def plot_forecast(fc: Forecast, path: str | None = None):
    """Past scores, doses, the banded forecast and the relapse risk by date (two panels)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    h = fc.history
    spec = get_scale(fc.scale)
    label = SCALE_NAMES[fc.scale]

    def to_dt(day: float) -> dt.datetime:
        return h.start + dt.timedelta(days=float(day))

    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(13, 7.5), sharex=True, gridspec_kw={"height_ratios": [3, 1.2]})
    x = [to_dt(d) for d in fc.days]
    for b, alpha in zip(sorted(BANDS, reverse=True), (0.15, 0.25, 0.4), strict=True):
        lo, hi = (1 - b) / 2, 1 - (1 - b) / 2
        ax.fill_between(x, fc.bands[f"q{lo:g}"], fc.bands[f"q{hi:g}"], color="tab:blue", alpha=alpha, lw=0,
                        label=f"{int(b * 100)}% band")
    ax.plot(x, fc.bands["median"], color="tab:blue", lw=1.8, label="forecast median (planned treatment)")
    same = [e for e in h.scores if e.scale == fc.scale]
    other = [e for e in h.scores if e.scale != fc.scale]
    ax.plot([e.when for e in same], [e.value for e in same], "o", color="black", ms=5, label=f"{label} scores")
    if other:
        ax.plot([e.when for e in other], [float(madrs_to(fc.scale, _to_madrs(e))) for e in other], "s",
                color="gray", ms=4, label=f"other scales, converted to {label}")
    if fc.past_fit:
        ax.errorbar([to_dt(d) for d in fc.past_fit["day"]], fc.past_fit["q0.5"],
                    yerr=[np.maximum(fc.past_fit["q0.5"] - fc.past_fit["q0.1"], 0.0),
                          np.maximum(fc.past_fit["q0.9"] - fc.past_fit["q0.5"], 0.0)],
                    fmt="none", ecolor="tab:blue", alpha=0.5, capsize=2, label="model fit to past (80%)")
    ymax = spec.range[1]
    for d in h.of_kind("dose"):
        past = h.day_of(d.when) < h.today_day
        ax.plot([d.when], [ymax * 0.03], "^", color="tab:purple" if past else "none", mec="tab:purple", ms=7)
    ax.plot([], [], "^", color="tab:purple", label="dose given (open: planned)")
    for e in h.of_kind("therapy"):
        ax.plot([e.when], [ymax * 0.08], "|", color="tab:green", ms=8)
    if h.of_kind("therapy"):
        ax.plot([], [], "|", color="tab:green", label="psychotherapy session")
    for e in h.of_kind("life_event"):
        ax.axvline(e.when, color="tab:red", ls=":", lw=1)
        ax.text(e.when, ymax * 0.85, " " + (e.note or "life event"), color="tab:red", fontsize=8)
    rem = spec.remission_threshold
    ax.axhline(rem, color="tab:green", ls="--", lw=0.8)
    ax.text(x[-1], rem, f" remission ({spec.remission_rule})", va="bottom", ha="right", fontsize=8, color="tab:green")
    rel = fc.rule.cutoff(fc.scale)
    ax.axhline(rel, color="tab:red", ls="--", lw=0.8)
    ax.text(x[-1], rel, f" relapse level ({label} {rel})", va="bottom", ha="right", fontsize=8, color="tab:red")
    today = to_dt(h.today_day)
    for a in (ax, ax2):
        a.axvline(today, color="black", lw=1)
        if fc.recommended_day is not None:
            a.axvline(to_dt(fc.recommended_day), color="tab:orange", lw=1.5)
    ax.text(today, ymax * 0.97, "today ", fontsize=8, ha="right", va="top")
    if fc.recommended_day is not None:
        ax.text(to_dt(fc.recommended_day), ymax * 0.92, " next session by", fontsize=8, color="tab:orange", va="top")
    ax.set_ylim(spec.range[0], ymax)
    ax.set_ylabel(f"{label} score")
    rec = fc.recommended_date
    advice = fc.recommendation()["next_session_advice"]  # the title says what the JSON says
    if fc.already_relapsed:
        nxt = "as soon as possible (already meets the relapse definition)"
    elif advice.startswith("a session as soon as possible"):
        nxt = "as soon as possible"
    else:
        nxt = "by " + rec.isoformat() if rec else "not needed within the horizon"
    ax.set_title(f"{h.name}: forecast from the patient's own scores  |  next session {nxt}  |  "
                 f"chance of staying well 6 months without sessions {fc.bridge_probability:.0%}", fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7)
    ax2.plot(x, fc.p_relapse_no_dose, color="tab:red", ls="--", zorder=3, label="no further dose")
    ax2.plot(x, fc.p_relapse_planned, color="tab:blue", label="planned treatment")
    ax2.axhline(fc.risk, color="tab:orange", ls="--", lw=0.8, label=f"risk {fc.risk:.0%}")
    ax2.set_ylim(-0.03, 1.03)  # a curve at 0 or 1 stays visible inside the frame
    ax2.set_ylabel("chance of relapse\nbefore the date")
    ax2.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7)
    ax2.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
    fig.autofmt_xdate()
    fig.text(0.01, 0.005, "ketasim: research and decision-support software, not a medical device; not medical advice."
             + ("  Doses outside published ranges were allowed." if h.allow_off_label else ""), fontsize=7,
             color="gray")
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    if path is not None:
        fig.savefig(path, dpi=120)
        plt.close(fig)
    return fig


def plot_intervals(fc: Forecast, path: str | None = None):
    """Which interval keeps this patient well: days in remission and relapses per year against sessions per
    year, one point per interval with its 80% range."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = fc.intervals or []
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, key, title in ((axes[0], "days_in_remission", "days in remission in the next year"),
                           (axes[1], "relapses", "relapses in the next year")):
        x = [r["sessions_per_year"] for r in rows]
        m = [r[key]["mean"] for r in rows]
        # the 80% range as a bar of its own: a skewed outcome's mean may lie outside it
        ax.vlines(x, [r[key]["q10"] for r in rows], [r[key]["q90"] for r in rows], color="tab:blue", alpha=0.4, lw=6)
        ax.plot(x, m, "o-", color="tab:blue")
        for r, xi, mi in zip(rows, x, m, strict=True):
            ax.annotate(f"every {r['interval_days']} d", (xi, mi), textcoords="offset points", xytext=(4, 4),
                        fontsize=7)
        ax.set_xlabel("sessions in the next year")
        ax.set_ylabel(title + " (mean, 80% range)")
        ax.grid(alpha=0.3)
    fig.suptitle(f"{fc.history.name}: which maintenance interval keeps this patient well", fontsize=10)
    fig.text(0.01, 0.005, "ketasim: research and decision-support software, not a medical device; not medical advice.",
             fontsize=7, color="gray")
    fig.tight_layout(rect=(0, 0.03, 1, 0.95))
    if path is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig


def _to_madrs(e) -> float:
    from ketasim.symptoms.scales import to_madrs

    return float(to_madrs(e.scale, e.value))


def with_extra_maintenance(history: PatientHistory, every_days: float, *, dose_mg: float | None = None,
                           horizon_days: int = DEFAULT_HORIZON_DAYS,
                           first_day: float | None = None) -> tuple[Dose, ...]:
    """Planned maintenance doses every ``every_days`` after today: the route and drug of the last dose, and its
    amount unless ``dose_mg`` is given (``None``: the last dose's amount).

    ``dose_mg`` goes through the one dose validator (:func:`ketasim.dosing.limits.check_dose`) for the
    patient's weight; dose limits are lifted only by the history's ``allow_off_label``.
    """
    past = history.doses(past=True)
    if not past:
        return ()
    last = past[-1]
    if dose_mg is not None:
        _check_planned_dose(last, dose_mg, history)
    start = first_day if first_day is not None else last.day + every_days
    while start < history.today_day:
        start += every_days
    out = []
    d = start
    while d < history.today_day + horizon_days:
        out.append(replace(last, day=d, amount_mg=last.amount_mg if dose_mg is None else float(dose_mg),
                           phase="maintenance"))
        d += every_days
    _check_planned_schedule(history, tuple(out), every_days)
    return tuple(out)


def _check_planned_dose(last: Dose, dose_mg: float, history: PatientHistory) -> None:
    """``dose_mg`` for the planned sessions, through :func:`~ketasim.dosing.limits.check_dose`."""
    from ketasim.dosing.limits import OFF_LABEL_HINT_PYTHON, LimitError, check_dose

    try:
        candidate = replace(last, amount_mg=float(dose_mg), mg_per_kg=None)
    except (TypeError, ValueError):
        raise PlanError("dose_mg", dose_mg, "a dose in mg") from None
    except LimitError as exc:
        found = exc.violations
    except PlanError as exc:
        raise PlanError("dose_mg", dose_mg, exc.allowed) from None
    else:
        found = check_dose(candidate, weight_kg=history.weight_kg, allow_off_label=history.allow_off_label)
    if found:
        v = min(found, key=lambda v: not v.hard)
        hint = "" if v.hard else f"; {OFF_LABEL_HINT_PYTHON}"
        raise PlanError("dose_mg", dose_mg, f"{v.allowed} for this patient ({history.weight_kg:g} kg){hint}")


def _check_planned_schedule(history: PatientHistory, planned: tuple[Dose, ...], every_days: float) -> None:
    """The planned sessions with the history's doses must respect the frequency limits (one validator:
    building the plan runs :func:`~ketasim.dosing.limits.check_plan`)."""
    from ketasim.dosing.limits import OFF_LABEL_HINT_PYTHON, LimitError

    try:
        history.to_plan(extra_doses=planned)
    except LimitError as exc:
        v = exc.violations[0]
        hint = "" if v.hard else f"; {OFF_LABEL_HINT_PYTHON}"
        raise PlanError("every_days", every_days, f"planned sessions that respect {v.allowed}{hint}") from None
