"""Validation of the forecasts on synthetic patients, and the report ``docs/forecasting.md``.

``python -m ketasim.planning.validation [--patients N] [--policy-patients M] [--out docs/forecasting.md]``

1. **Calibration of the bands.** Synthetic patients are drawn from the population with a seed
   of their own (they are not the prior's particles). Each gets six infusions, PHQ-9 ratings at
   days 0, 1, 4, 7, 11, 14, 21 and 28 (today = day 28) and, for every other patient, planned
   sessions every 14 days after today. The forecast's 50/80/95% bands are compared with the
   patient's *held-out* ratings (weekly, days 35-112, with measurement error): the share inside
   each band should be close to its nominal level (80%: 75-85%).
2. **Discrimination of the relapse forecast.** For every patient the forecast's restricted mean
   time to relapse without further doses, ``E[min(onset, 182 d)]``, is compared with the true
   time to relapse without further doses (the same rule on the true course; censored at 182 days)
   by Harrell's C-index (``lifelines.utils.concordance_index``).
3. **Forecast-triggered policy against fixed weekly maintenance** on the same virtual patients
   with the same rating errors (``policies.py``): paired differences in days in remission and
   infusions per year, with 95% intervals.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ketasim.planning.forecast import BRIDGE_DAYS, forecast
from ketasim.planning.particles import simulate_particles
from ketasim.planning.posterior import history_plan
from ketasim.planning.prior import PopulationPrior
from ketasim.planning.relapse_rule import latent_onset
from ketasim.planning.synthetic import INDUCTION_DAYS, Schedule, make_history
from ketasim.symptoms.scales import madrs_to, observe

VALIDATION_SEED = 909  # synthetic patients: a stream of their own, never the prior's particles
TODAY = 28
PAST_SCORES = (0, 1, 4, 7, 11, 14, 21, 28)
FUTURE_SCORES = tuple(range(35, 113, 7))
PLANNED_EVERY = 14


@dataclass
class CalibrationResult:
    coverage: dict[int, float]  # band (%) -> share of held-out ratings inside
    n_ratings: int
    c_index: float
    n_patients: int
    n_relapses: int
    table: pd.DataFrame  # one row per held-out rating
    patients: pd.DataFrame  # one row per patient
    seconds: float


def _truths(n: int, seed: int, prior: PopulationPrior):
    rng = np.random.default_rng([seed, 1])
    u = prior.sample_latent(n, 0, rng)
    weights = np.clip(74.0 * np.exp(0.2 * rng.standard_normal(n)), 45.0, 140.0)
    return prior.transform(u, 0), weights


def calibrate_forecasts(n_patients: int = 60, *, seed: int = VALIDATION_SEED, n_particles: int = 2000,
                        progress=None) -> CalibrationResult:
    """Coverage of the bands and C-index of the relapse forecast on ``n_patients`` synthetic patients."""
    t0 = time.perf_counter()
    prior = PopulationPrior()
    truths, weights = _truths(n_patients, seed, prior)
    rows, prow = [], []
    for i in range(n_patients):
        truth = truths.take(np.array([i]))
        planned = i % 2 == 1
        dose_days = (*INDUCTION_DAYS, *((range(TODAY + PLANNED_EVERY - 2, 113, PLANNED_EVERY)) if planned else ()))
        sched = Schedule(dose_days=tuple(dose_days), score_days=(*PAST_SCORES, *FUTURE_SCORES), scale="phq9")
        rng = np.random.default_rng([seed, 2, i])
        try:
            hist, latent = make_history(truth, sched, weight_kg=float(weights[i]), rng=rng, name=f"synthetic {i}",
                                        today_day=TODAY)
        except ValueError:
            continue
        fc = forecast(hist, n_particles=n_particles, seed=seed + i, horizon_days=120)
        # held-out ratings: the true course (with the planned doses) plus measurement error
        future = np.array(FUTURE_SCORES, dtype=float)
        k = len(PAST_SCORES)
        held = observe("phq9", madrs_to("phq9", latent[k:]), np.random.default_rng([seed, 3, i]))
        fday = future + 9.0 / 24.0
        pos = np.searchsorted(fc.days, fday - 1e-6)
        for b in (50, 80, 95):
            lo, hi = (1 - b / 100) / 2, 1 - (1 - b / 100) / 2
            inside = (held >= fc.bands[f"q{lo:g}"][pos] - 1e-9) & (held <= fc.bands[f"q{hi:g}"][pos] + 1e-9)
            for d, y, ins in zip(future, held, inside, strict=True):
                rows.append({"patient": i, "planned": planned, "day": d, "rating": y, "band": b, "inside": ins})
        # true time to relapse without further doses (counterfactual for patients with planned doses)
        plan = history_plan(hist, include_planned=False, horizon_days=TODAY + BRIDGE_DAYS + 10)
        days = TODAY + 1 + np.arange(0, BRIDGE_DAYS + 8, dtype=float) + 9.0 / 24.0
        m, _ = simulate_particles(plan, truth, days)
        onset_true = float(latent_onset(days, m)[0])
        horizon = TODAY + 1 + BRIDGE_DAYS
        observed = np.isfinite(onset_true) and onset_true < horizon
        t_true = (onset_true if observed else horizon) - (TODAY + 1)
        rmst = float(np.sum(fc.weights * np.minimum(fc.onset_no_dose, horizon))) - (TODAY + 1)
        prow.append({"patient": i, "planned": planned, "true_days_to_relapse": t_true, "relapse_observed": observed,
                     "predicted_restricted_mean_days": rmst, "bridge_probability": fc.bridge_probability,
                     "ess": fc.posterior.ess})
        if progress is not None:
            progress(i + 1, n_patients)
    from lifelines.utils import concordance_index

    table = pd.DataFrame(rows)
    pts = pd.DataFrame(prow)
    cov = {b: float(table[table.band == b].inside.mean()) for b in (50, 80, 95)}
    ci = float(concordance_index(pts.true_days_to_relapse, pts.predicted_restricted_mean_days,
                                 pts.relapse_observed)) if pts.relapse_observed.any() else float("nan")
    return CalibrationResult(cov, int((table.band == 80).sum()), ci, len(pts), int(pts.relapse_observed.sum()),
                             table, pts, time.perf_counter() - t0)


@dataclass
class PolicyComparison:
    summary: pd.DataFrame
    paired: pd.DataFrame  # policy vs fixed weekly: mean difference and 95% interval
    results: object
    seconds: float


def compare_with_weekly(n_patients: int = 100, *, seed: int = VALIDATION_SEED, n_particles: int = 32,
                        progress=None) -> PolicyComparison:
    """Forecast-triggered policies against fixed weekly maintenance on the same patients (paired)."""
    from ketasim.planning.policies import Policy, PolicySetting, simulate_policies

    t0 = time.perf_counter()
    pols = [Policy("fixed 7 d", "fixed", interval_days=7),
            Policy("forecast relapse 10%", "forecast", risk=0.10, event="relapse"),
            Policy("forecast benefit 2 d", "forecast", risk=0.10, event="benefit", min_gain_days=2.0),
            Policy("forecast benefit 1 d", "forecast", risk=0.10, event="benefit", min_gain_days=1.0)]
    res = simulate_policies(pols, n_patients=n_patients, seed=seed, setting=PolicySetting(n_particles=n_particles),
                            progress=progress)
    per = res.patients
    ref = per[per.policy == "fixed 7 d"].set_index("patient")
    rows = []
    for p in pols[1:]:
        d = per[per.policy == p.name].set_index("patient")
        for col, label in (("days_in_remission", "days in remission"), ("infusions", "infusions per year"),
                           ("relapse_episodes", "relapse episodes")):
            diff = (d[col] - ref[col]).to_numpy(dtype=float)
            if col == "infusions":
                diff = diff * 365.25 / res.setting.days
            se = float(np.std(diff, ddof=1) / math.sqrt(diff.size))
            base = float(ref[col].mean()) * (365.25 / res.setting.days if col == "infusions" else 1.0)
            rows.append({"policy": p.name, "outcome": label, "weekly": base, "difference": float(diff.mean()),
                         "lower_95": float(diff.mean() - 1.96 * se), "upper_95": float(diff.mean() + 1.96 * se),
                         "relative": float(diff.mean() / base) if base else float("nan")})
    return PolicyComparison(res.summary, pd.DataFrame(rows), res, time.perf_counter() - t0)


def _md_table(df: pd.DataFrame, fmt: dict[str, str] | None = None) -> str:
    fmt = fmt or {}
    cols = list(df.columns)
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in df.iterrows():
        cells = []
        for c in cols:
            v = r[c]
            if isinstance(v, float | np.floating):
                cells.append(format(v, fmt.get(c, ".3g")))
            else:
                cells.append(str(v))
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def write_report(path: Path, calib: CalibrationResult, comp: PolicyComparison, policies_full=None,
                 speed: dict | None = None) -> None:
    """docs/forecasting.md: the method and the validation numbers (figures beside it)."""
    fig_dir = path.parent / "forecasting"
    fig_dir.mkdir(parents=True, exist_ok=True)
    from ketasim.planning.policies import plot_policies

    plot_policies(comp.results, str(fig_dir / "forecast-vs-weekly.png"))
    if policies_full is not None:
        plot_policies(policies_full, str(fig_dir / "pareto.png"))
    cov = calib.coverage
    cov80_ok = 0.75 <= cov[80] <= 0.85
    lines = [
        "# Forecasting one patient and planning maintenance",
        "",
        f"*Generated by `python -m ketasim.planning.validation` on {dt.date.today().isoformat()}; do not edit by "
        "hand.* Research and decision-support software, not a medical device; nothing here is medical advice.",
        "",
        "The clinic of the seed text proceeds \"one step at a time\" and aims for \"the maximum benefit with the "
        "fewest interventions possible\". `ketasim forecast HISTORY.csv --out DIR` turns one patient's own ratings "
        "into a forecast and a maintenance recommendation; `ketasim policies` compares maintenance policies on a "
        "virtual population.",
        "",
        "## Patient history",
        "",
        "An event log (CSV, YAML or Python objects, `ketasim.planning.history`) with the columns `date, kind, "
        "scale, value, route, dose_mg, duration_min, note` and the patient's `weight_kg` and `age`; `kind` is "
        "`dose`, `score`, `therapy`, `life_event` or `treatment`. Optional columns: `drug`, `fade_days` (life "
        "events), `treatment` (`antidepressant`, `antidepressant_stop`, `ect`, `tms`). Scores must be on a known "
        "scale (PHQ-9, MADRS, QIDS-SR16, HDRS-17) within its range; dates ISO from 1900 to 2199, within 2920 days "
        "(8 years) of the first score or treatment (life events up to ten years before it); each event once (a "
        "second dose, score of the same scale, session or life event at the same date and time is refused, "
        "naming both rows); doses within the published limits of `ketasim.dosing.limits` (the plan-file rules: "
        "`check_dose` per dose, administrations per day and per 7 days, no overlap) unless `allow_off_label` "
        "(`allow_off_label: true` in a YAML history), and never above 10 mg/kg; at most 5,000 scores and 10,000 "
        "doses. Files are UTF-8 with or without a byte-order mark (Excel's \"CSV UTF-8\"), comma-separated, "
        "each column once, quotes in pairs, fields of at most 10,000 characters; YAML histories go through the "
        "one YAML reader of the plan files. Every error names the file, the line (the row), the field (the "
        "column), the value and what is allowed, e.g. "
        "`history.csv, line 5: value = 31.0: allowed a PHQ-9 total score of 0-27`. Rows dated after `today` "
        "(default: the last score) are the planned treatment. Three example histories, written from known "
        "virtual patients by `python -m ketasim.planning.examples`, are in `src/ketasim/examples/histories/`: "
        "a good responder, a fast relapser and a bridge case.",
        "",
        "## Individual posterior",
        "",
        "The prior is the calibrated virtual population (`ketasim.population`): each particle is the image of "
        "independent standard-normal coordinates through the population's variability model (the same map as "
        "`sample_patients`), with the patient's recorded weight. A recorded life event whose size is not given "
        "scales with the patient's reactivity to life events; its fading time is uncertain (log-normal, median "
        "90 days, in 8 equally likely bins). The data are the patient's ratings: each is the scale's published "
        "linking of the latent MADRS plus Gaussian measurement error (the scale's SD), rounded and clipped, as "
        "`ketasim.symptoms.scales.observe` simulates them.",
        "",
        "Adaptive importance sampling: 2,000 particles (the baseline coordinate from a proposal centred on the "
        "untreated rating) are run through the history in one call of the population batch engine and weighted "
        "by the likelihood of the ratings; while the effective sample size is below 200 (at most three stages), "
        "2,000 more are drawn from Gaussian kernels around the weighted particles (20% from the first proposal) "
        "and all are reweighted by the deterministic-mixture rule.",
    ]
    if speed:
        lines += ["", f"Speed on this machine (`benchmarks/forecast_speed.py`, a history of {speed['scores']} "
                  f"scores): posterior {speed['posterior_s']:.2f} s wall-clock (median of {speed['repeats']}), full "
                  f"forecast {speed['forecast_s']:.2f} s."]
    lines += [
        "",
        "## Forecast and recommendation",
        "",
        "1,000 particles resampled from the posterior are continued past today twice: under the planned "
        "treatment (the score bands and the relapse risk by date) and with no further dose (the recommendation "
        "and the bridge probability).",
        "",
        "* **Bands**: quantiles of the predicted rating on the patient's scale, measurement error included "
        "(50/80/95% central intervals).",
        "* **Relapse**: latent MADRS >= 22 on a day and seven days later (the SUSTAIN-1 rule, two visits 5-15 "
        "days apart, on the model's noise-free course); `P(relapse before d)` is the share of particles whose "
        "onset precedes `d`.",
        "* **Next session**: the latest date `d` at which `P(relapse before d | no dose until d)` stays at or "
        "below the chosen risk (10% by default).",
        "* **Bridge probability**: the share of particles with no relapse for 182 days without any further dose.",
        "",
        "`recommendation.json` carries these with the relapse risk by week, the current MADRS estimate, the "
        "posterior's effective sample size (a warning below 50) and the statement that this is decision support, "
        "not medical advice.",
        "",
        "## Validation on synthetic patients",
        "",
        f"{calib.n_patients} synthetic patients drawn from the population with a seed of their own "
        f"(`{VALIDATION_SEED}`; not the prior's particles): six infusions, PHQ-9 at days "
        f"{', '.join(map(str, PAST_SCORES))} (today = day {TODAY}); every other patient has planned sessions every "
        f"{PLANNED_EVERY} days after today. Held-out ratings: weekly, days {FUTURE_SCORES[0]}-{FUTURE_SCORES[-1]}, "
        f"with measurement error ({calib.n_ratings} ratings). Time: {calib.seconds:.0f} s.",
        "",
        "| band | share of held-out ratings inside | target |",
        "|---|---|---|",
        f"| 50% | {cov[50]:.1%} | about 50% |",
        f"| 80% | {cov[80]:.1%} | 75-85% {'(met)' if cov80_ok else '(NOT met)'} |",
        f"| 95% | {cov[95]:.1%} | about 95% |",
        "",
        f"C-index of the predicted (restricted mean, 182 days) against the true time to relapse without further "
        f"doses: **{calib.c_index:.3f}** ({calib.n_relapses} of {calib.n_patients} true courses relapse within 182 "
        "days; 0.5 = chance, 1 = perfect ordering).",
        "",
        "Coverage by group:",
        "",
        _md_table(calib.table[calib.table.band == 80].groupby("planned").inside.mean().rename(
            "inside 80% band").reset_index().assign(planned=lambda d: np.where(d.planned, "sessions every 14 d",
                                                                              "no further dose"))),
        "",
        "## Forecast-triggered maintenance against fixed weekly sessions",
        "",
        f"{comp.results.n_patients} virtual patients (seed {comp.results.seed}; a quarter of them after a recent "
        "life event), the same patients and rating errors under every policy; a year of weekly visits after six "
        "infusions; outcomes from the true course. Differences are paired (policy minus weekly), with 95% "
        f"intervals. Time: {comp.seconds:.0f} s.",
        "",
        _md_table(comp.paired, {"weekly": ".3g", "difference": ".2f", "lower_95": ".2f", "upper_95": ".2f",
                                "relative": ".1%"}),
        "",
        "![forecast-triggered vs weekly](forecasting/forecast-vs-weekly.png)",
        "",
    ]
    for _, r in comp.paired[comp.paired.outcome == "infusions per year"].iterrows():
        rem = comp.paired[(comp.paired.policy == r.policy) & (comp.paired.outcome == "days in remission")].iloc[0]
        if rem.lower_95 > 0:
            verdict = "more days in remission than weekly"
        elif rem.upper_95 < 0:
            verdict = "fewer days in remission than weekly: worse"
        else:
            verdict = "no difference shown (the 95% interval includes 0)"
        lines.append(f"* **{r.policy}**: {-r.difference:.1f} fewer infusions per year ({-r.relative:.0%}, 95% "
                     f"{-r.upper_95:.1f} to {-r.lower_95:.1f}); days in remission {rem.difference:+.1f} (95% "
                     f"{rem.lower_95:+.1f} to {rem.upper_95:+.1f}): {verdict}.")
    lines += [
        "",
        "The forecast-triggered policies know the population model the patients come from (no model error), so "
        "this comparison is optimistic for them; with real patients the model's own error adds to the bands.",
        "",
    ]
    if policies_full is not None:
        lines += [
            "## All policies",
            "",
            f"`ketasim policies --patients {policies_full.n_patients} --seed {policies_full.seed}`: fixed intervals, "
            "taper, symptom-triggered (PHQ-9 >= 10) and forecast-triggered, each with and without psychotherapy "
            "(12 weekly sessions from the first infusion).",
            "",
            _md_table(policies_full.summary[["policy", "infusions_per_year", "days_in_remission",
                                             "relapses_per_patient_year", "share_with_relapse", "pareto"]],
                      {"infusions_per_year": ".1f", "days_in_remission": ".1f",
                       "relapses_per_patient_year": ".2f", "share_with_relapse": ".0%"}),
            "",
            "![Pareto frontier](forecasting/pareto.png)",
            "",
        ]
    lines += [
        "## Limits",
        "",
        "* The bands and risks are those of the model given the population prior; a real patient's course can "
        "depart from every virtual patient (the effective sample size warns when few reproduce the ratings).",
        "* The closed-loop policies use weekly visits; the forecast-triggered controller keeps 32-48 particles "
        "per patient and jitters the response parameters that change no initial state when it resamples.",
        "* Relapse is judged on the latent course; a clinic judges it on noisy ratings.",
        "",
    ]
    path.write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Validate the forecasts and write docs/forecasting.md")
    ap.add_argument("--patients", type=int, default=60, help="synthetic patients for coverage and C-index")
    ap.add_argument("--policy-patients", type=int, default=100, help="virtual patients for the policy comparison")
    ap.add_argument("--all-policies", type=int, default=0, help="also run every policy on this many patients")
    ap.add_argument("--out", type=Path, default=Path("docs/forecasting.md"))
    args = ap.parse_args(argv)
    speed = None
    try:
        import json

        speed = json.loads(Path("benchmarks/forecast_speed.json").read_text())
    except (FileNotFoundError, ValueError):
        pass
    calib = calibrate_forecasts(args.patients, progress=lambda i, n: print(f"\rforecasts {i}/{n}", end=""))
    print(f"\ncoverage {calib.coverage}, C-index {calib.c_index:.3f}")
    comp = compare_with_weekly(args.policy_patients, progress=lambda i, n: print(f"\rvisits {i}/{n}", end=""))
    print()
    print(comp.paired.round(3).to_string())
    full = None
    if args.all_policies:
        from ketasim.planning.policies import simulate_policies

        full = simulate_policies(n_patients=args.all_policies, seed=0)
    write_report(args.out, calib, comp, full, speed)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
