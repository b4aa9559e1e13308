"""Validation of the forecaster on synthetic patients, and the report ``docs/forecasting.md``.

``python -m ketasim.planning.validation [--patients N] [--train M] [--out docs/forecasting.md]``

The project has no individual patient data, so every per-patient check is on synthetic patients whose
truth is known. Each **scenario** draws test patients from a *truth world* and scores the shipped
forecaster (its prior is always the shipped posterior, ``world.default_world``) against them:

* ``own world``: the forecaster's own prior (simulation-based calibration: it shows the sampler and the
  scoring are right, not that forecasts hold when the world differs from the model);
* misspecification stress tests: the mechanism at its declared values (before the fit), twice and half the
  symptom fluctuation (life's ups and downs), another PK model of racemic ketamine (Domino 1984).

Protocol (the same for every patient): six 0.5 mg/kg IV infusions over two weeks (70 kg); PHQ-9 at days 0,
1, 4, 7, 11 and 14; the forecast is locked at the end of induction (day 14); every other patient has
planned sessions every 14 days after it (known to the forecaster). The truth is rated weekly to day 112 by
the observation model of the virtual trials (placebo response, symptom fluctuation, rater error).

Proper scores, per held-out rating of weeks 5-16 (days 35-112): CRPS (discrete, on the whole-point scale)
and log score (predictive probabilities mixed with 1% of a uniform over the scale, for every method alike);
coverage of the 50/80/95% bands; randomised PIT histogram. Relapse (the one rule of ``relapse_rule.py`` on
the truth's weekly ratings, day 14 included): Brier score by 4, 8 and 12 weeks after the lock, calibration
curve at 8 weeks, and Harrell's C-index of P(relapse by 12 weeks) against the time to relapse (censored at
day 112): a C-index at one horizon, not Antolini's time-dependent one.

Baselines, each scored on the metrics it defines, from a *training* population of the forecaster's own
world (``--train`` patients, the same protocol; a stream of their own):

* last observation carried forward: a normal predictive distribution around the day-14 rating with the
  training population's SD of (rating at weeks 5-16 minus the day-14 rating);
* population average: the training population's distribution of ratings on that day (same schedule group);
* a per-patient two-exponential fit of the patient's own six scores, ``y(t) = y0 - D (exp(-t/tau_loss) -
  exp(-t/tau_gain))``, MAP with weakly informative priors (``TWO_EXP_PRIORS``), normal predictive with the
  fitted residual SD (parameter uncertainty ignored);
* relapse: the training population's Kaplan-Meier curve (same schedule group): Brier; C-index 0.5 (no
  ordering).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import ndtr

from ketasim.planning.forecast import forecast
from ketasim.planning.history import HistoryEvent, PatientHistory
from ketasim.planning.observation import rate, sample_fluctuation, symptom_level, with_placebo
from ketasim.planning.particles import simulate_particles
from ketasim.planning.relapse_rule import DEFAULT_RULE
from ketasim.planning.synthetic import INDUCTION_DAYS, SCORE_HOUR, Schedule, schedule_events, schedule_plan
from ketasim.planning.world import PlanningWorld, default_world, draw_patients
from ketasim.symptoms.scales import get_scale

VALIDATION_SEED = 909  # test patients: a stream of their own, never the prior's particles
TRAIN_SEED = 1909
SCALE = "phq9"
WEIGHT_KG = 70.0
LOCK_DAY = 14
PAST_SCORES = (0, 1, 4, 7, 11, 14)
HELD_DAYS = tuple(range(21, 113, 7))  # weekly visits after the lock (relapse rule); ratings scored from day 35
SCORED_FROM = 35
PLANNED_EVERY = 14
HORIZON_WEEKS = (4, 8, 12)
LOG_SCORE_MIX = 0.01
OTHER_PK = "domino1984"
TWO_EXP_PRIORS = {"log_tau_gain": (math.log(2.0), 1.0), "log_tau_loss": (math.log(60.0), 1.0),
                  "depth_share": (0.5, 0.35), "log_sigma": (math.log(3.0), 0.7)}
#: depth D = depth_share x y0 (normal prior on the share); sigma: residual SD in scale points.


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    world: str = "own"  # own | declared | fluct2 | fluct05
    pk_model: str | None = None


SCENARIOS = (
    Scenario("own world", "truth from the forecaster's own prior (simulation-based calibration)"),
    Scenario("declared mechanism", "response parameters at their declared values (the model before the fit)",
             "declared"),
    Scenario("more fluctuation", "symptom fluctuation twice the posterior's", "fluct2"),
    Scenario("less fluctuation", "symptom fluctuation half the posterior's", "fluct05"),
    Scenario("other PK model", f"racemic ketamine PK of {OTHER_PK} instead of the default", pk_model=OTHER_PK),
)


def truth_world(kind: str) -> PlanningWorld:
    """The world the test patients of a scenario come from."""
    w = default_world()
    if kind == "own":
        return w
    if kind == "declared":
        from ketasim.parameters import RESPONSE_PARAMETERS

        declared = np.array([p.value for p in RESPONSE_PARAMETERS], dtype=float)
        return w.with_sets(tuple(replace(s, params=declared) for s in w.sets), "declared parameter values")
    factor = {"fluct2": 2.0, "fluct05": 0.5}[kind]
    return w.with_sets(tuple(replace(s, measurement=replace(s.measurement, fluctuation_sd=s.measurement.fluctuation_sd
                                                            * factor)) for s in w.sets),
                       f"fluctuation x{factor:g}")


def schedule_of(planned: bool) -> Schedule:
    extra = tuple(range(LOCK_DAY + PLANNED_EVERY, HELD_DAYS[-1] + 1, PLANNED_EVERY)) if planned else ()
    return Schedule(dose_days=(*INDUCTION_DAYS, *extra), score_days=(*PAST_SCORES, *HELD_DAYS), scale=SCALE)


def simulate_cohort(n: int, seed: int, world: PlanningWorld, planned: bool, pk_model: str | None = None):
    """``n`` true patients of ``world`` under the protocol: their ratings (n x visits, PAST_SCORES then
    HELD_DAYS) from the observation model, and the validity mask."""
    parts, _, _ = draw_patients(n, seed, world, pk_model=pk_model)
    sched = schedule_of(planned)
    plan = schedule_plan(sched, WEIGHT_KG)
    if pk_model:
        plan = replace(plan, pk_models={"racemic": pk_model})
    days = np.array(sched.score_days, dtype=float) + SCORE_HOUR / 24
    sessions = np.array([d.day for d in plan.doses])
    m, valid = simulate_particles(plan, parts, days)
    x = with_placebo(m, days, sessions, parts, world)
    rng = np.random.default_rng([seed, 5])
    sd, tau = world.fluctuation_sd[parts.draw], world.fluctuation_tau[parts.draw]
    f = sample_fluctuation(np.zeros(n), sd * sd, days[0], days, sd, tau, 1, rng)
    y = rate(SCALE, symptom_level(x, f), world.noise_scale[parts.draw], rng)[:, 0, :]
    return y, valid


def history_of(ratings_past: np.ndarray, planned: bool, name: str) -> PatientHistory:
    sched = schedule_of(planned)
    events = schedule_events(sched, WEIGHT_KG)
    start = dt.date(2025, 1, 6)
    t0 = dt.datetime.combine(start, dt.time(0, 0))
    for d, v in zip(PAST_SCORES, ratings_past, strict=True):
        events.append(HistoryEvent(t0 + dt.timedelta(days=d, hours=SCORE_HOUR), "score", scale=SCALE, value=float(v)))
    return PatientHistory(weight_kg=WEIGHT_KG, events=tuple(events), name=name,
                          today=start + dt.timedelta(days=LOCK_DAY))


# --- scores ----------------------------------------------------------------------------------------

def _grid() -> np.ndarray:
    lo, hi = get_scale(SCALE).range
    return np.arange(int(lo), int(hi) + 1)


def normal_pmf(mean: float, sd: float) -> np.ndarray:
    """A normal predictive distribution on the whole-point scale (the tails piled on the limits)."""
    g = _grid()
    cdf = ndtr((g + 0.5 - mean) / max(sd, 1e-6))
    cdf[-1] = 1.0
    return np.diff(np.concatenate([[0.0], cdf]))


def sample_pmf(values: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    g = _grid()
    idx = np.clip(np.round(values).astype(int) - g[0], 0, g.size - 1)
    p = np.bincount(idx, weights=w, minlength=g.size).astype(float)
    return p / p.sum()


def crps(pmf: np.ndarray, y: float) -> float:
    """CRPS of an integer-valued predictive distribution: sum over the grid of (F(k) - 1{k >= y})^2."""
    g = _grid()
    return float(np.sum((np.cumsum(pmf) - (g >= y)) ** 2))


def log_score(pmf: np.ndarray, y: float) -> float:
    """Negative log predictive probability of ``y`` (mixed with LOG_SCORE_MIX of a uniform; lower is better)."""
    p = (1 - LOG_SCORE_MIX) * pmf + LOG_SCORE_MIX / pmf.size
    return float(-math.log(p[int(round(y)) - int(_grid()[0])]))


def pit(pmf: np.ndarray, y: float, u: float) -> float:
    k = int(round(y)) - int(_grid()[0])
    c = np.cumsum(pmf)
    below = c[k - 1] if k > 0 else 0.0
    return float(below + u * pmf[k])


def central_interval(pmf: np.ndarray, level: float) -> tuple[float, float]:
    g, c = _grid(), np.cumsum(pmf)
    a = (1 - level) / 2
    return float(g[np.searchsorted(c, a - 1e-12)]), float(g[min(np.searchsorted(c, 1 - a - 1e-12), g.size - 1)])


def two_exp_fit(days: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """MAP of ``y(t) = y0 - D (exp(-t/tau_loss) - exp(-t/tau_gain))`` (y0 = first score) with TWO_EXP_PRIORS;
    returns a function's parameters (y0, D, tau_gain, tau_loss) and the residual SD."""
    y0 = float(y[0])
    pr = TWO_EXP_PRIORS

    def curve(th, t):
        tg, tl = math.exp(th[0]), math.exp(th[1])
        return y0 - th[2] * y0 * (np.exp(-t / tl) - np.exp(-t / tg))

    def neg_log_post(th):
        sig = math.exp(th[3])
        r = y[1:] - curve(th, days[1:])
        nll = 0.5 * np.sum(r * r) / sig ** 2 + r.size * th[3]
        nlp = sum(0.5 * ((th[i] - pr[k][0]) / pr[k][1]) ** 2 for i, k in enumerate(pr))
        return nll + nlp

    th0 = np.array([pr[k][0] for k in pr])
    res = minimize(neg_log_post, th0, method="Nelder-Mead", options={"xatol": 1e-4, "fatol": 1e-6, "maxiter": 4000})
    return res.x, math.exp(res.x[3])


def two_exp_predict(th: np.ndarray, y0: float, t: np.ndarray) -> np.ndarray:
    tg, tl = math.exp(th[0]), math.exp(th[1])
    return y0 - th[2] * y0 * (np.exp(-t / tl) - np.exp(-t / tg))


def true_onsets(ratings: np.ndarray) -> np.ndarray:
    """The rule on the truth's visits from the lock on (day 14 and the weekly held-out visits)."""
    k = PAST_SCORES.index(LOCK_DAY)
    vd = np.array([LOCK_DAY, *HELD_DAYS], dtype=float) + SCORE_HOUR / 24
    marg = DEFAULT_RULE.margin(SCALE, ratings[:, k:])
    return DEFAULT_RULE.onset(vd, marg)


@dataclass
class Training:
    """What the baselines learn from the training population, per schedule group (planned: bool)."""

    locf_sd: float
    pop_pmf: dict[tuple[bool, int], np.ndarray]  # (planned, day) -> pmf
    km: dict[bool, object]  # planned -> fitted lifelines KaplanMeierFitter


def train_baselines(n: int, seed: int = TRAIN_SEED) -> Training:
    from lifelines import KaplanMeierFitter

    world = default_world()
    diffs, pmfs, kms = [], {}, {}
    k = PAST_SCORES.index(LOCK_DAY)
    for planned in (False, True):
        y, valid = simulate_cohort(n, seed + int(planned), world, planned)
        y = y[valid]
        for j, d in enumerate(HELD_DAYS):
            col = len(PAST_SCORES) + j
            pmfs[(planned, d)] = sample_pmf(y[:, col])
            if d >= SCORED_FROM:
                diffs.append(y[:, col] - y[:, k])
        on = true_onsets(y)
        end = HELD_DAYS[-1] + 1.0
        km = KaplanMeierFitter().fit(np.minimum(on, end) - LOCK_DAY, np.isfinite(on))
        kms[planned] = km
    return Training(float(np.std(np.concatenate(diffs))), pmfs, kms)


def score_scenario(sc: Scenario, n: int, train: Training, *, seed: int = VALIDATION_SEED, n_particles: int = 1000,
                   progress=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-rating scores (``ratings``) and per-patient relapse forecasts (``patients``) of one scenario."""
    world = truth_world(sc.world)
    rows, prow = [], []
    rng_u = np.random.default_rng([seed, 9])
    done = 0
    for planned in (False, True):
        m = n // 2 if not planned else n - n // 2
        y, valid = simulate_cohort(m, seed + 17 * SCENARIOS.index(sc) + int(planned), world, planned, sc.pk_model)
        onsets = true_onsets(y)
        for i in np.flatnonzero(valid):
            past = y[i, :len(PAST_SCORES)]
            h = history_of(past, planned, f"{sc.name} {i}")
            fc = forecast(h, n_particles=n_particles, n_forecast=500, seed=seed + i, horizon_days=HELD_DAYS[-1] -
                          LOCK_DAY + 7, bridge_days=7, intervals=None, scale=SCALE)
            wp = fc.path_weights
            th, sig = two_exp_fit(np.array(PAST_SCORES, dtype=float), past)
            for j, d in enumerate(HELD_DAYS):
                if d < SCORED_FROM:
                    continue
                obs = float(y[i, len(PAST_SCORES) + j])
                idx = int(np.searchsorted(fc.days, d + SCORE_HOUR / 24 - 1e-6))
                pm = {"forecaster": sample_pmf(fc.rating_paths[:, :, idx].reshape(-1), wp),
                      "last observation carried forward": normal_pmf(float(past[-1]), train.locf_sd),
                      "population average": train.pop_pmf[(planned, d)],
                      "two-exponential fit": normal_pmf(float(two_exp_predict(th, float(past[0]), np.array([d]))[0]),
                                                        sig)}
                u = float(rng_u.random())
                for method, p in pm.items():
                    r = {"scenario": sc.name, "patient": int(i), "planned": planned, "day": d, "rating": obs,
                         "method": method, "crps": crps(p, obs), "log_score": log_score(p, obs), "pit": pit(p, obs, u)}
                    for b in (50, 80, 95):
                        lo, hi = central_interval(p, b / 100)
                        r[f"inside_{b}"] = bool(lo <= obs <= hi)
                    rows.append(r)
            pr = {"scenario": sc.name, "patient": int(i), "planned": planned, "onset": float(onsets[i]),
                  "ess": fc.posterior.ess}
            for wk in HORIZON_WEEKS:
                cut = LOCK_DAY + 7 * wk + SCORE_HOUR / 24
                k = int(np.searchsorted(fc.days, cut - 1e-6))
                pr[f"p_fc_{wk}w"] = float(fc.p_relapse_planned[min(k, fc.days.size - 1)])
                pr[f"p_km_{wk}w"] = float(1.0 - train.km[planned].survival_function_at_times(7 * wk + SCORE_HOUR / 24)
                                          .iloc[0])
                pr[f"relapsed_{wk}w"] = bool(onsets[i] <= cut)
            prow.append(pr)
            done += 1
            if progress is not None:
                progress(done, n)
    return pd.DataFrame(rows), pd.DataFrame(prow)


@dataclass
class ValidationResult:
    ratings: pd.DataFrame
    patients: pd.DataFrame
    train: Training
    n_train: int
    seconds: float


def validate(n_patients: int = 30, n_train: int = 400, *, scenarios=SCENARIOS, n_particles: int = 1000,
             progress=None) -> ValidationResult:
    t0 = time.perf_counter()
    train = train_baselines(n_train)
    rs, ps = [], []
    for sc in scenarios:
        r, p = score_scenario(sc, n_patients, train, n_particles=n_particles,
                              progress=(lambda i, n, s=sc.name: progress(s, i, n)) if progress else None)
        rs.append(r)
        ps.append(p)
    return ValidationResult(pd.concat(rs, ignore_index=True), pd.concat(ps, ignore_index=True), train, n_train,
                            time.perf_counter() - t0)


def rating_summary(res: ValidationResult) -> pd.DataFrame:
    """Mean CRPS and log score per scenario and method, coverage, and the forecaster's paired advantage."""
    r = res.ratings
    out = []
    for (sc, method), g in r.groupby(["scenario", "method"], sort=False):
        row = {"scenario": sc, "method": method, "ratings": len(g), "CRPS": g.crps.mean(),
               "log score": g.log_score.mean()}
        for b in (50, 80, 95):
            row[f"in {b}%"] = g[f"inside_{b}"].mean()
        if method != "forecaster":
            f = r[(r.scenario == sc) & (r.method == "forecaster")].set_index(["patient", "planned", "day"])
            gg = g.set_index(["patient", "planned", "day"])
            # paired by patient: mean over the patient's ratings, then over patients
            d = (gg.crps - f.crps.loc[gg.index]).groupby(level=[0, 1]).mean()
            se = float(d.std(ddof=1) / math.sqrt(d.size)) if d.size > 1 else float("nan")
            row["CRPS gain of forecaster"] = float(d.mean())
            row["gain 95% CI"] = f"{d.mean() - 1.96 * se:.2f} to {d.mean() + 1.96 * se:.2f}"
            row["gain %"] = float(d.mean() / g.crps.mean())
        out.append(row)
    return pd.DataFrame(out)


def relapse_summary(res: ValidationResult) -> pd.DataFrame:
    from lifelines.utils import concordance_index

    out = []
    for sc, g in res.patients.groupby("scenario", sort=False):
        row = {"scenario": sc, "patients": len(g), "relapsed by 12 w": float(g["relapsed_12w"].mean())}
        for wk in HORIZON_WEEKS:
            yv = g[f"relapsed_{wk}w"].astype(float)
            row[f"Brier {wk} w"] = float(np.mean((g[f"p_fc_{wk}w"] - yv) ** 2))
            row[f"Brier KM {wk} w"] = float(np.mean((g[f"p_km_{wk}w"] - yv) ** 2))
        end = HELD_DAYS[-1] + 1.0
        t = np.minimum(g.onset, end)
        ev = np.isfinite(g.onset)
        row["C-index"] = float(concordance_index(t, -g["p_fc_12w"], ev)) if ev.any() and not ev.all() else float(
            "nan")
        out.append(row)
    return pd.DataFrame(out)


def plot_validation(res: ValidationResult, path: str) -> None:
    """PIT histograms (forecaster, per scenario), the calibration curve of relapse by 8 weeks, CRPS by method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scen = list(dict.fromkeys(res.ratings.scenario))
    fig, axes = plt.subplots(2, max(3, len(scen)), figsize=(3.2 * max(3, len(scen)), 6.4))
    for ax, sc in zip(axes[0], scen, strict=False):
        v = res.ratings[(res.ratings.scenario == sc) & (res.ratings.method == "forecaster")].pit
        ax.hist(v, bins=10, range=(0, 1), color="tab:blue", alpha=0.8, density=True)
        ax.axhline(1.0, color="black", lw=0.8, ls="--")
        ax.set_title(f"PIT: {sc}", fontsize=9)
        ax.set_ylim(0, 3)
    for ax in axes[0][len(scen):]:
        ax.axis("off")
    ax = axes[1][0]
    for sc in scen:
        g = res.patients[res.patients.scenario == sc]
        bins = np.linspace(0, 1, 6)
        k = np.clip(np.digitize(g["p_fc_8w"], bins) - 1, 0, 4)
        xs = [g["p_fc_8w"][k == b].mean() for b in range(5) if (k == b).sum() >= 3]
        ys = [g["relapsed_8w"][k == b].mean() for b in range(5) if (k == b).sum() >= 3]
        ax.plot(xs, ys, "o-", label=sc, ms=4)
    ax.plot([0, 1], [0, 1], color="black", lw=0.8, ls="--")
    ax.set_xlabel("forecast P(relapse by 8 weeks)")
    ax.set_ylabel("observed share")
    ax.set_title("calibration of relapse (bins with >= 3 patients)", fontsize=9)
    ax.legend(fontsize=6)
    ax = axes[1][1]
    summ = rating_summary(res)
    methods = list(dict.fromkeys(summ.method))
    width = 0.8 / len(methods)
    for j, mth in enumerate(methods):
        s = summ[summ.method == mth]
        ax.bar(np.arange(len(scen)) + j * width, s.CRPS, width, label=mth)
    ax.set_xticks(np.arange(len(scen)) + 0.4 - width / 2, scen, rotation=30, ha="right", fontsize=7)
    ax.set_ylabel("mean CRPS (PHQ-9 points; lower is better)")
    ax.legend(fontsize=6)
    ax = axes[1][2]
    rel = relapse_summary(res)
    ax.bar(np.arange(len(scen)) - 0.2, rel["Brier 8 w"], 0.4, label="forecaster")
    ax.bar(np.arange(len(scen)) + 0.2, rel["Brier KM 8 w"], 0.4, label="population Kaplan-Meier")
    ax.set_xticks(np.arange(len(scen)), scen, rotation=30, ha="right", fontsize=7)
    ax.set_ylabel("Brier score, relapse by 8 weeks")
    ax.legend(fontsize=6)
    for ax in axes[1][3:]:
        ax.axis("off")
    fig.suptitle("Forecaster validation on synthetic patients (research software, not a medical device)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _md_table(df: pd.DataFrame, fmt: dict[str, str] | None = None) -> str:
    fmt = fmt or {}
    cols = list(df.columns)
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in df.iterrows():
        cells = []
        for c in cols:
            v = r[c]
            if isinstance(v, float | np.floating):
                cells.append("" if not np.isfinite(v) else format(v, fmt.get(c, ".3g")))
            else:
                cells.append(str(v))
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


@dataclass
class PolicyStudy:
    frontier: pd.DataFrame  # lambda x policy: mean utility, se, best (with the oracle and the personalised interval)
    summary: pd.DataFrame
    n_patients: int
    seconds: float


def policy_study(n_patients: int, *, seed: int = 0, progress=None) -> PolicyStudy:
    """Fixed intervals, symptom- and forecast-triggered policies (no psychotherapy) on the same virtual patients,
    the oracle and the personalised fixed interval, on the stated trade-off over lambda."""
    from ketasim.planning.policies import (
        default_policies,
        personalised_choices,
        personalised_frontier,
        policy_frontier,
        simulate_policies,
    )

    t0 = time.perf_counter()
    res = simulate_policies(default_policies(therapy=False), n_patients=n_patients, seed=seed, progress=progress)
    fr = policy_frontier(res)
    pers = personalised_frontier(res, personalised_choices(res, progress=progress))
    fr = pd.concat([fr, pers], ignore_index=True)
    return PolicyStudy(fr, res.summary, n_patients, time.perf_counter() - t0)


def plot_frontier(study: PolicyStudy, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.8))
    fr = study.frontier
    for name, g in fr.groupby("policy", sort=False):
        style = "--" if name.startswith("oracle") else ("-o" if name.startswith("personalised") else "-")
        ax.plot(g["lambda"], g.utility, style, label=name, lw=2 if "forecast" in name or "personal" in name else 1)
    ax.set_xlabel("worth of one infusion in days in remission (lambda)")
    ax.set_ylabel("mean utility per patient-year\n(days in remission - lambda x infusions)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(alpha=0.3)
    ax.set_title("Maintenance policies on the stated trade-off (virtual patients; not medical advice)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _cell(g: pd.DataFrame, name: str) -> str:
    if name not in g.index:
        return ""
    r = g.loc[name]
    return f"{r.utility:.0f} ± {1.96 * r.utility_se:.0f}"


def _policy_lines(study: PolicyStudy | None) -> list[str]:
    if study is None:
        return ["The policy study was not run with this report (`--policy-patients 0`)."]
    fr = study.frontier
    lines = [
        f"{study.n_patients} virtual patients of the policy simulator (point-estimate world, a quarter after a "
        "recent life event the clinic does not record), a year after six infusions, weekly PHQ-9 visits; the same "
        "patients and rating errors under every policy. Utility per patient = days in remission - lambda x "
        "infusions (w_h = 0: harms counted by infusion; `ketasim.planning.utility`). The oracle picks, for each "
        "patient, the fixed interval best for that patient's true course (known in hindsight: the value of "
        "information); the personalised fixed interval is chosen from the forecaster's posterior after induction "
        f"and its intervals table. Time: {study.seconds:.0f} s.",
        "",
        "| lambda | best policy | its utility | forecast relapse 10% | forecast benefit 2 d | personalised "
        "interval | oracle |",
        "|---|---|---|---|---|---|---|",
    ]
    for lam, g in fr.groupby("lambda"):
        g = g.set_index("policy")
        best = g[g.best.astype(bool)].index[0]
        cells = [_cell(g, name) for name in (best, "forecast relapse 10%", "forecast benefit 2 d",
                                             "personalised fixed interval", "oracle fixed interval")]
        lines.append(f"| {lam:g} | {best} | " + " | ".join(cells) + " |")
    lines += ["", "![utility frontier](forecasting/frontier.png)", ""]
    on = []
    for lam, g in fr.groupby("lambda"):
        g = g.set_index("policy")
        top = g[~g.index.str.startswith("oracle")].utility.max()
        for name in ("forecast relapse 10%", "forecast benefit 2 d", "personalised fixed interval"):
            if name in g.index and g.loc[name, "utility"] + 1.96 * g.loc[name, "utility_se"] >= top:
                on.append(f"{name} at lambda {lam:g}")
    lines.append("Within 95% of the best utility (on the frontier or not distinguishable from it): "
                 + ("; ".join(on) if on else "no forecast-triggered or personalised policy at any lambda") + ". "
                 "The forecast-triggered controller was not redesigned (a look-ahead that maximises expected "
                 "utility is open).")
    return lines


def _verdicts(summ: pd.DataFrame) -> list[str]:
    """One plain sentence per scenario and baseline: beaten (95% interval of the CRPS gain above 0), not beaten."""
    out = []
    for sc, g in summ.groupby("scenario", sort=False):
        parts = []
        for _, r in g[g.method != "forecaster"].iterrows():
            lo, hi = (float(x) for x in r["gain 95% CI"].split(" to "))
            word = "beats" if lo > 0 else ("loses to" if hi < 0 else "does not clearly beat")
            parts.append(f"{word} {r.method} ({r['gain %']:+.0%} CRPS)")
        out.append(f"* **{sc}**: the forecaster " + "; ".join(parts) + ".")
    return out


def _relapse_verdicts(rel: pd.DataFrame) -> list[str]:
    out = []
    for _, r in rel.iterrows():
        better = [wk for wk in HORIZON_WEEKS if r[f"Brier {wk} w"] < r[f"Brier KM {wk} w"]]
        word = ("a lower Brier score than the Kaplan-Meier curve at " + ", ".join(f"{w}" for w in better) + " weeks"
                if better else "no lower Brier score than the Kaplan-Meier curve")
        out.append(f"* **{r.scenario}**: {word}; C-index {r['C-index']:.2f}.")
    return out


def _misses(summ: pd.DataFrame) -> str:
    f = summ[summ.method == "forecaster"]
    miss = [f"{r.scenario} ({r['in 80%']:.0%}: bands too {'narrow' if r['in 80%'] < 0.75 else 'wide'})"
            for _, r in f.iterrows() if not 0.75 <= r["in 80%"] <= 0.85]
    return "; ".join(miss) if miss else "none"


def write_report(path: Path, res: ValidationResult, speed: dict | None = None, command: str = "",
                 study: PolicyStudy | None = None) -> None:
    """docs/forecasting.md: the method, the validation numbers, the misses (figure beside it)."""
    fig_dir = path.parent / "forecasting"
    fig_dir.mkdir(parents=True, exist_ok=True)
    plot_validation(res, str(fig_dir / "validation.png"))
    if study is not None:
        plot_frontier(study, str(fig_dir / "frontier.png"))
    summ = rating_summary(res)
    rel = relapse_summary(res)
    n_pat = res.patients.groupby("scenario").size()
    own = summ[(summ.scenario == SCENARIOS[0].name) & (summ.method == "forecaster")].iloc[0]
    lines = [
        "# Forecasting one patient and planning maintenance",
        "",
        "**All per-patient validation below is on synthetic patients**: the project has no individual patient "
        "data. The synthetic patients are drawn from known parameters, rated by the observation model of the "
        "virtual trials, and forecast by the shipped forecaster; some come from the forecaster's own prior "
        "(simulation-based calibration: it shows that the sampler and the scores are implemented correctly), "
        "others from deliberately different worlds (stress tests: they show how the forecasts degrade when the "
        "world differs from the model in the ways tried). None of it shows that forecasts hold for real "
        "patients, whose course may differ from every virtual patient in ways not tried here.",
        "",
        f"*Generated by `{command or 'python -m ketasim.planning.validation'}` on {dt.date.today().isoformat()}; "
        "do not edit by hand.* Research and decision-support software, not a medical device; nothing here is "
        "medical advice.",
        "",
        "`ketasim forecast HISTORY.csv --out DIR` turns one patient's own ratings into a forecast and a "
        "maintenance recommendation (`recommendation.json`, schema `ketasim/data/recommendation.schema.json`; "
        "`forecast.csv`, `intervals.csv` and two figures). The clinic's background forecast job uses the same "
        "forecaster (`ketasim.clinic.forecasting`).",
        "",
        "## Patient history",
        "",
        "An event log (CSV, YAML or Python objects, `ketasim.planning.history`; see `docs/history-format.md`) of "
        "doses, scores, psychotherapy sessions, life events and other treatments. Scores may be on several scales "
        "(MADRS at the clinic, PHQ-9 at home); doses may be of racemic ketamine and of esketamine (IV infusions, "
        "then nasal spray): the forecaster runs both PK systems side by side (`ketasim.planning.mixed_drugs`). "
        "Doses are checked against the published limits (`ketasim.dosing.limits`); planned sessions added by "
        "`--every`/`--dose-mg` go through `check_dose`.",
        "",
        "## The forecaster",
        "",
        "* **Prior: the population posterior**, not its median. The planning world (`ketasim.planning.world`) "
        "holds 100 of the 400 shipped posterior draws (`ketasim/data/posterior.parquet`); a patient's prior is the "
        "mixture over draws, and the draw is a latent coordinate of each particle, so the patient's posterior "
        "weighs the draws too (`recommendation.json` reports how many draws and particles were used and the "
        "effective number of draws). `--typical` uses the point estimate instead.",
        "* **Observation model per scale** (`ketasim.planning.observation`): the particle's course with its placebo "
        "response (open-label setting), the patient's own symptom fluctuation (an Ornstein-Uhlenbeck process with "
        "the draw's SD and correlation time, integrated out by a Kalman filter), and the rater's error on the "
        "rating's own scale (the scale's published linking from MADRS), rounded and clipped.",
        "* **Individual posterior**: adaptive importance sampling (2,000 particles, up to three stages with kernel "
        "proposals and deterministic-mixture weights).",
        "* **Forecast**: 1,000 particles resampled from the posterior, each continued along several paths of the "
        "observation model (about 2,000 paths) from the filter's state at the last rating: under the planned "
        "treatment (bands, risk by date) and with no further dose (next session, chance of staying well).",
        f"* **Relapse** (`ketasim.planning.relapse_rule`, defined once): {DEFAULT_RULE.describe('phq9')}; on "
        f"MADRS: {DEFAULT_RULE.describe('madrs')}; on QIDS-SR16: {DEFAULT_RULE.describe('qids_sr16')}. Each rating "
        "is compared with its own scale's level; forecasts apply the rule to simulated ratings at weekly visits, "
        "the last observed visit first. A record that already meets the rule is reported as such (and every "
        "relapse probability is 1, so the sentence and the JSON agree).",
        "* **Next session**: the latest date at which the chance of relapse without a session stays at or below "
        "the chosen risk (10%).",
        "* **Which interval keeps this patient well**: for sessions every 7, 14, 21, 28, 35 and 42 days over the "
        "next year (the last dose's route and amount), the expected days in remission (symptoms at MADRS 10 or "
        "less), relapses and sessions, with 80% ranges (`intervals.csv`, `intervals.png`, `intervals` in the JSON).",
        "* The headline is in the patient's own scale; the sentences are made from the JSON's fields "
        "(`ketasim.planning.forecast.advice_sentences`), and a test checks that they agree.",
    ]
    if speed:
        lines += ["", f"Speed on this machine (`benchmarks/forecast_speed.py`, a history of {speed['scores']} "
                  f"scores; load average {speed.get('load_average', float('nan')):.0f} on {speed.get('cpus', 0)} "
                  "cores): "
                  f"posterior {speed['posterior_s']:.2f} s wall-clock ({speed['posterior_cpu_s']:.2f} s CPU), full "
                  f"forecast with the intervals table {speed['forecast_s']:.2f} s "
                  f"({speed.get('forecast_without_intervals_s', float('nan')):.2f} s without it); target 1 s: "
                  "not met."]
    lines += [
        "",
        "## Validation on synthetic patients",
        "",
        f"Protocol: six 0.5 mg/kg IV infusions over two weeks, PHQ-9 at days {', '.join(map(str, PAST_SCORES))}; "
        f"the forecast is locked at the end of induction (day {LOCK_DAY}); every other patient has planned "
        f"sessions every {PLANNED_EVERY} days after it. Held-out: weekly PHQ-9 ratings of the truth, days "
        f"{HELD_DAYS[0]}-{HELD_DAYS[-1]}; ratings scored on weeks 5-16 (days {SCORED_FROM}-{HELD_DAYS[-1]}); "
        f"relapse by 4, 8 and 12 weeks after the lock. Baselines trained on {res.n_train * 2} patients of the "
        f"forecaster's own world (a stream of their own); last-observation SD {res.train.locf_sd:.2f} PHQ-9 "
        f"points. Time: {res.seconds:.0f} s.",
        "",
        "| scenario | the truth | patients |",
        "|---|---|---|",
        *[f"| {s.name} | {s.description} | {int(n_pat.get(s.name, 0))} |" for s in SCENARIOS],
        "",
        "### Ratings: proper scores and coverage",
        "",
        "CRPS in PHQ-9 points and log score (lower is better); `in 80%`: share of held-out ratings inside the "
        "central 80% interval (for whole-point ratings the share can exceed the nominal level); CRPS gain: "
        "the baseline's CRPS minus the forecaster's, paired by patient, with its 95% interval "
        "(positive: the forecaster is better).",
        "",
        _md_table(summ, {"CRPS": ".2f", "log score": ".2f", "in 50%": ".0%", "in 80%": ".0%", "in 95%": ".0%",
                         "CRPS gain of forecaster": ".2f", "gain %": "+.0%"}),
        "",
        *_verdicts(summ),
        "",
        f"Simulation-based calibration (own world): 80% coverage {own['in 80%']:.0%}; the PIT histograms are in "
        "the figure (flat = calibrated; U-shaped = bands too narrow; hump = too wide).",
        "",
        "### Relapse: Brier score and C-index",
        "",
        "Brier score (lower is better) of the forecast P(relapse by 4, 8, 12 weeks after the lock) and of the "
        "training population's Kaplan-Meier curve for the same schedule; Harrell's C-index of P(relapse by 12 "
        "weeks) against the time to relapse (the Kaplan-Meier curve orders nobody: 0.5).",
        "",
        _md_table(rel, {"relapsed by 12 w": ".0%", "Brier 4 w": ".3f", "Brier KM 4 w": ".3f", "Brier 8 w": ".3f",
                        "Brier KM 8 w": ".3f", "Brier 12 w": ".3f", "Brier KM 12 w": ".3f", "C-index": ".2f"}),
        "",
        *_relapse_verdicts(rel),
        "",
        "**Misses** (80% coverage of the forecaster outside 75-85%): " + _misses(summ) + ".",
        "",
        "![validation](forecasting/validation.png)",
        "",
        "## Maintenance policies",
        "",
        *_policy_lines(study),
        "",
        "## Limits",
        "",
        "* All per-patient checks are on synthetic patients (see the first paragraph).",
        "* Stress tests not yet run: the reduced core model as truth; unrecorded life events.",
        "* The two-exponential baseline ignores its parameter uncertainty (its bands are too narrow); the "
        "log score mixes every method's probabilities with 1% of a uniform distribution, so one missed rating "
        "cannot dominate.",
        "* The forecast takes several seconds (posterior, paths and the intervals table); the 1-second target "
        "is not met.",
        "",
    ]
    path.write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Validate the forecaster on synthetic patients; write docs/forecasting.md")
    ap.add_argument("--patients", type=int, default=40, help="test patients per scenario")
    ap.add_argument("--train", type=int, default=400, help="training patients per schedule group (baselines)")
    ap.add_argument("--particles", type=int, default=1000, help="particles of each patient's posterior")
    ap.add_argument("--policy-patients", type=int, default=0, help="virtual patients of the policy study (0: skip)")
    ap.add_argument("--out", type=Path, default=Path("docs/forecasting.md"))
    args = ap.parse_args(argv)
    speed = None
    try:
        import json

        speed = json.loads(Path("benchmarks/forecast_speed.json").read_text())
    except (FileNotFoundError, ValueError):
        pass
    res = validate(args.patients, args.train, n_particles=args.particles,
                   progress=lambda s, i, n: print(f"\r{s}: {i}/{n}   ", end="", flush=True))
    print()
    print(rating_summary(res).round(3).to_string())
    print(relapse_summary(res).round(3).to_string())
    study = None
    if args.policy_patients:
        study = policy_study(args.policy_patients, progress=lambda i, n: print(f"\rpolicies {i}/{n}   ", end="",
                                                                                flush=True))
        print()
        print(study.frontier.round(2).to_string())
    cmd = (f"python -m ketasim.planning.validation --patients {args.patients} --train {args.train} "
           f"--particles {args.particles} --policy-patients {args.policy_patients}")
    write_report(args.out, res, speed, cmd, study)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
