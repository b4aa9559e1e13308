"""Forecast for one patient: banded score trajectory, relapse risk by date, next session, bridge probability.

From the individual posterior (``posterior.py``), ``n_forecast`` particles are resampled and
continued past ``today`` in two batched simulations:

* **planned**: the history with its planned future doses and sessions (rows dated after
  ``today``, plus ``extra_doses``); gives the score bands and the relapse risk by date;
* **no further dose**: the history alone; gives the recommended date of the next session and
  the bridge probability.

Definitions (``t`` = plan day, ``m_i(t)`` = particle i's latent MADRS at 09:00):

* predicted score on the patient's scale: ``y = link(m_i(t)) + e``, ``e ~ N(0, SD_scale)``; the
  bands are quantiles of this mixture over particles (50/80/95% central intervals);
* relapse onset: the first day ``t >= today`` with ``m(t) >= 22`` and ``m(t + 7) >= 22`` (the
  SUSTAIN-1 rule, MADRS >= 22 at two visits 5-15 days apart, applied to the latent course with
  visits a week apart);
* ``P(relapse before d)`` = share of particles whose onset is before day ``d``;
* recommended next session: the latest date ``d`` with ``P(relapse before d | no dose until d)
  <= risk`` (10% by default); a session is then due on or before ``d``;
* bridge probability: the share of particles with no relapse for ``bridge_days`` (182) without
  any further dose.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.special import ndtri

from ketasim.dosing.plan import Dose
from ketasim.errors import PlanError
from ketasim.outcomes.relapse import SUSTAIN1_THRESHOLD
from ketasim.planning.history import SCALE_NAMES, PatientHistory
from ketasim.planning.particles import Particles, simulate_particles
from ketasim.planning.posterior import IndividualPosterior, fit_posterior, history_plan
from ketasim.symptoms.scales import get_scale, madrs_to

DISCLAIMER = ("Decision support from research software (ketasim), not medical advice and not a medical device: "
              "the forecast comes from a mechanistic model with assumed and calibrated parameters and the "
              "patient's own scores; a clinician decides the treatment.")
BANDS = (0.50, 0.80, 0.95)
CONFIRM_DAYS = 7
DEFAULT_RISK = 0.10
DEFAULT_HORIZON_DAYS = 182
BRIDGE_DAYS = 182
LOW_ESS = 50.0


@dataclass
class Forecast:
    """Result of :func:`forecast`. Days are plan days (day 0 = midnight of the first event)."""

    history: PatientHistory
    posterior: IndividualPosterior
    scale: str
    days: np.ndarray  # forecast days (today + 0 .. horizon), whole days at 09:00
    bands: dict[str, np.ndarray]  # "q0.025", ..., "q0.975" and "median": predicted score on ``scale``
    latent_madrs_median: np.ndarray
    p_relapse_planned: np.ndarray  # P(relapse onset before each day) under the planned treatment
    p_relapse_no_dose: np.ndarray  # same with no further dose
    onset_planned: np.ndarray  # per particle onset day (inf if none within the horizon)
    onset_no_dose: np.ndarray
    weights: np.ndarray  # per forecast particle (sum 1)
    risk: float
    recommended_day: float | None  # plan day; None if no session is needed within the horizon
    bridge_probability: float
    bridge_days: int
    planned_doses: tuple[Dose, ...]
    current_latent_madrs: np.ndarray = field(default_factory=lambda: np.zeros(0))
    past_fit: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def today_day(self) -> float:
        return self.history.today_day

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

    def recommendation(self, every_days: int = 7) -> dict:
        """The JSON-ready recommendation: next session date, relapse risk by date, bridge probability."""
        rows = []
        for k in range(0, self.days.size, every_days):
            rows.append({"date": self.date(self.days[k]).isoformat(),
                         "p_relapse_planned_treatment": round(float(self.p_relapse_planned[k]), 4),
                         "p_relapse_no_further_dose": round(float(self.p_relapse_no_dose[k]), 4)})
        rec = self.recommended_date
        cur = weighted_quantile_1d(self.current_latent_madrs, self.weights, (0.1, 0.5, 0.9))
        if rec is None:
            advice = (f"no session needed within {int(self.days[-1] - self.today_day)} days: the chance of relapse "
                      f"without further doses stays at or below {self.risk:.0%}")
        elif rec <= self.history.today + dt.timedelta(days=1):
            advice = f"a session as soon as possible: the chance of relapse already exceeds {self.risk:.0%}"
        else:
            advice = (f"next session on or before {rec.isoformat()}: until then the chance of relapse without a "
                      f"session stays at or below {self.risk:.0%}")
        warnings = []
        if self.posterior.ess < LOW_ESS:
            warnings.append(f"only about {self.posterior.ess:.0f} virtual patients of the population reproduce these "
                            "scores (effective sample size): the forecast is less certain than its bands show; "
                            "check the history for typing errors")
        if self.history.allow_off_label:
            warnings.append("doses outside published ranges were allowed")
        return {
            "patient": self.history.name,
            "today": self.history.today.isoformat() if self.history.today else None,
            "scale": SCALE_NAMES[self.scale],
            "next_session_date": rec.isoformat() if rec is not None else None,
            "next_session_advice": advice,
            "risk_threshold": self.risk,
            "relapse_definition": (f"latent MADRS >= {SUSTAIN1_THRESHOLD:g} on a day and {CONFIRM_DAYS} days later "
                                   "(SUSTAIN-1 rule, Daly 2019, applied to the model's noise-free course)"),
            "relapse_risk_by_date": rows,
            "bridge_probability": round(self.bridge_probability, 4),
            "bridge_definition": f"no relapse for {self.bridge_days} days without any further dose",
            "current_madrs_estimate": {"q10": round(cur[0], 1), "median": round(cur[1], 1), "q90": round(cur[2], 1)},
            "planned_doses_after_today": [
                {"date": self.date(d.day).isoformat(), "dose_mg": d.amount_mg, "route": d.route}
                for d in self.planned_doses],
            "posterior": {"particles_simulated": self.posterior.n_simulated,
                          "effective_sample_size": round(self.posterior.ess, 1), "stages": self.posterior.stages,
                          "prior": self.posterior.prior.source},
            "allow_off_label": self.history.allow_off_label,
            "warnings": warnings,
            "disclaimer": DISCLAIMER,
        }


def weighted_quantile_1d(x: np.ndarray, w: np.ndarray, qs) -> list[float]:
    from ketasim.planning.posterior import weighted_quantile

    if x.size == 0:
        return [float("nan")] * len(qs)
    return [float(v) for v in weighted_quantile(x, w, qs)]


def relapse_onset(days: np.ndarray, madrs: np.ndarray, *, threshold: float = SUSTAIN1_THRESHOLD,
                  confirm_days: int = CONFIRM_DAYS) -> np.ndarray:
    """First day (N,) with latent MADRS >= threshold then and ``confirm_days`` later; inf if none.

    ``days`` must be a whole-day grid; the last ``confirm_days`` days can only confirm.
    """
    hi = madrs >= threshold
    pair = hi[:, :-confirm_days] & hi[:, confirm_days:]
    any_ = pair.any(axis=1)
    first = np.argmax(pair, axis=1)
    return np.where(any_, days[:-confirm_days][first], np.inf)


def p_before(onset: np.ndarray, w: np.ndarray, days: np.ndarray) -> np.ndarray:
    """P(onset < d) for each day d."""
    order = np.argsort(onset)
    cum = np.concatenate([[0.0], np.cumsum(w[order])])
    return cum[np.searchsorted(onset[order], days, side="left")]


def predictive_quantiles(mu: np.ndarray, sd: float, w: np.ndarray, qs, lo: float, hi: float,
                         nodes: int = 24) -> np.ndarray:
    """Quantiles (len(qs) x T) of the mixture sum_i w_i N(mu_i(t), sd^2), clipped to [lo, hi].

    Each particle's Gaussian is represented by ``nodes`` equally weighted points at its normal
    quantiles (k + 1/2) / nodes, so the quantiles are deterministic.
    """
    z = ndtri((np.arange(nodes) + 0.5) / nodes)
    pts = (mu[:, None, :] + sd * z[None, :, None]).reshape(-1, mu.shape[1])
    pw = np.repeat(w / nodes, nodes)
    order = np.argsort(pts, axis=0)
    ys = np.take_along_axis(pts, order, axis=0)
    cw = np.cumsum(pw[order], axis=0) - 0.5 * pw[order]
    out = np.empty((len(qs), mu.shape[1]))
    for t in range(mu.shape[1]):
        out[:, t] = np.interp(qs, cw[:, t], ys[:, t])
    return np.clip(out, lo, hi)


def _dedupe(particles: Particles, idx: np.ndarray) -> tuple[Particles, np.ndarray]:
    """Unique particles among resampled indices and their weights (counts / n)."""
    uniq, counts = np.unique(idx, return_counts=True)
    return particles.take(uniq), counts / counts.sum()


def forecast(history: PatientHistory, posterior: IndividualPosterior | None = None, *,
             horizon_days: int = DEFAULT_HORIZON_DAYS, risk: float = DEFAULT_RISK, n_particles: int = 2000,
             n_forecast: int = 1000, extra_doses: tuple[Dose, ...] = (), extra_therapy_days: tuple[float, ...] = (),
             bridge_days: int = BRIDGE_DAYS, seed: int = 0, scale: str | None = None) -> Forecast:
    """Posterior (if not given), then the two continuations described in the module docstring."""
    if not 0.0 < risk < 1.0:
        raise PlanError("risk", risk, "a probability between 0 and 1 (0.10 = 10%)")
    if posterior is None:
        posterior = fit_posterior(history, n_particles=n_particles, seed=seed)
    rng = np.random.default_rng(seed + 1)
    from ketasim.planning.posterior import systematic_resample

    idx = systematic_resample(posterior.weights, n_forecast, rng)
    parts, w = _dedupe(posterior.particles, idx)
    scale = scale or history.scores[-1].scale
    today = history.today_day
    span = max(horizon_days, bridge_days)
    days = today + 9.0 / 24.0 + np.arange(0, span + CONFIRM_DAYS + 1, dtype=float)
    past_days = np.array([history.day_of(e.when) for e in history.scores])
    out_days = np.unique(np.concatenate([past_days, days]))
    future_doses = tuple(sorted((*history.doses(past=False), *extra_doses), key=lambda d: d.day))
    future_therapy = (*history.therapy_days(past=False), *extra_therapy_days)

    plan_none = history_plan(history, include_planned=False, horizon_days=float(math.ceil(out_days[-1] + 1)))
    m_none, valid = simulate_particles(plan_none, parts, out_days)
    if future_doses or future_therapy:
        plan_plan = history_plan(history, include_planned=True, horizon_days=float(math.ceil(out_days[-1] + 1)),
                                 extra_doses=extra_doses, extra_therapy_days=extra_therapy_days)
        m_plan, _ = simulate_particles(plan_plan, parts, out_days)
    else:
        m_plan = m_none
    w = np.where(valid, w, 0.0)
    w = w / w.sum()
    pos = np.searchsorted(out_days, days)
    onset_none = relapse_onset(days, m_none[:, pos])
    onset_plan = relapse_onset(days, m_plan[:, pos])
    H = horizon_days + 1
    fdays = days[:H]
    p_none = p_before(onset_none, w, fdays + 1e-9)
    p_plan = p_before(onset_plan, w, fdays + 1e-9)
    ok = np.flatnonzero(p_none <= risk)
    if ok.size == fdays.size:
        recommended = None
    elif ok.size == 0 or ok[0] != 0:
        recommended = float(math.floor(fdays[0]))
    else:
        # p_none is non-decreasing: the last day still under the risk, as a whole plan day.
        recommended = float(math.floor(fdays[ok[-1]]))
    bridge = float(np.sum(w[onset_none >= today + bridge_days]))

    spec = get_scale(scale)
    mu = madrs_to(scale, m_plan[:, pos[:H]])
    sd = spec.noise_sd.value
    qs = sorted({0.5, *[(1 - b) / 2 for b in BANDS], *[1 - (1 - b) / 2 for b in BANDS]})
    q = predictive_quantiles(mu, sd, w, qs, *spec.range)
    bands = {f"q{v:g}": q[k] for k, v in enumerate(qs)}
    bands["median"] = bands["q0.5"]
    latent_med = np.array([weighted_quantile_1d(m_plan[:, pos[k]], w, (0.5,))[0] for k in range(H)])
    # Fit to the past: predictive bands at the observed score days.
    ppos = np.searchsorted(out_days, past_days)
    pmu = madrs_to(scale, m_none[:, ppos])
    pq = predictive_quantiles(pmu, sd, w, (0.1, 0.5, 0.9), *spec.range)
    past_fit = {"day": past_days, "q0.1": pq[0], "q0.5": pq[1], "q0.9": pq[2]}
    return Forecast(history=history, posterior=posterior, scale=scale, days=fdays, bands=bands,
                    latent_madrs_median=latent_med, p_relapse_planned=p_plan, p_relapse_no_dose=p_none,
                    onset_planned=onset_plan, onset_no_dose=onset_none, weights=w, risk=risk,
                    recommended_day=recommended, bridge_probability=bridge, bridge_days=bridge_days,
                    planned_doses=future_doses, current_latent_madrs=m_none[:, pos[0]], past_fit=past_fit)


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
                    yerr=[fc.past_fit["q0.5"] - fc.past_fit["q0.1"], fc.past_fit["q0.9"] - fc.past_fit["q0.5"]],
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
    rel = float(madrs_to(fc.scale, SUSTAIN1_THRESHOLD))
    ax.axhline(rel, color="tab:red", ls="--", lw=0.8)
    ax.text(x[-1], rel, f" relapse level (MADRS {SUSTAIN1_THRESHOLD:g})", va="bottom", ha="right", fontsize=8,
            color="tab:red")
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
    ax.set_title(f"{h.name}: forecast from the patient's own scores  |  next session "
                 f"{'by ' + rec.isoformat() if rec else 'not needed within the horizon'}  |  "
                 f"bridge probability {fc.bridge_probability:.0%}", fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7)
    ax2.plot(x, fc.p_relapse_no_dose, color="tab:red", ls="--", zorder=3, label="no further dose")
    ax2.plot(x, fc.p_relapse_planned, color="tab:blue", label="planned treatment")
    ax2.axhline(fc.risk, color="tab:orange", ls="--", lw=0.8, label=f"risk {fc.risk:.0%}")
    ax2.set_ylim(0, 1)
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
