"""Per-patient outcomes of a population run, vectorised, with the conventions of ``ketasim.outcomes``.

The batch engine writes MADRS at the *outcome visits* of each plan (:func:`outcome_visits`):

* ``day1`` = first dose + 24 h; ``end_induction`` = last induction dose + 24 h (the last dose if
  no dose is marked induction);
* weekly visits after the last induction dose (``last + 7 k``), for the SUSTAIN-1 relapse rule
  (MADRS >= 22 at two consecutive visits 5-15 days apart; relapse day = first of the two);
* daily visits at the clock time of the first dose, for loss of response (the first daily
  visit with less than a 50% drop from baseline after response was reached);
* whole days 0..horizon together with the daily visits, for the days in remission (MADRS
  joined by straight lines, ``ketasim.outcomes.days_in_remission``).

Relapse columns are computed for every patient; ``inf`` means no relapse within the horizon and
``NaN`` means the plan has no dose (no induction to relapse from). Summaries restrict relapse to
the patients in response at the end of induction (:mod:`ketasim.population.summary`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import pandas as pd

from ketasim.dosing.plan import Plan
from ketasim.outcomes import (
    default_remission_threshold,
    relapse_loss_of_response,
    relapse_sustain1,
    remission,
    response,
)
from ketasim.outcomes.interventions import number_of_interventions

OUTCOME_COLUMNS = ("patient", "baseline_madrs", "madrs_day1", "response_day1", "remission_day1",
                   "madrs_end_induction", "response_end_induction", "remission_end_induction", "relapse_day_sustain",
                   "relapse_day_loss_of_response", "days_to_relapse_sustain", "days_to_relapse_loss_of_response",
                   "days_in_remission", "mean_madrs", "madrs_end", "n_doses", "last_induction_day", "horizon_days")


@dataclass(frozen=True)
class OutcomeVisits:
    """Visit times (days) of one plan and the positions of each kind of visit in ``times``."""

    times: np.ndarray
    first_dose: float | None
    last_induction: float | None
    horizon: float
    i_day1: int
    i_end_induction: int
    i_weekly: np.ndarray
    i_daily: np.ndarray
    i_grid: np.ndarray
    i_end: int
    remission_threshold: float
    n_doses: int


def outcome_visits(plan: Plan) -> OutcomeVisits:
    """The outcome visits of ``plan`` (see the module docstring)."""
    horizon = float(plan.horizon_days)
    doses = sorted(plan.doses, key=lambda d: d.day)
    first = doses[0].day if doses else None
    induction = [d.day for d in doses if d.phase == "induction"]
    last = max(induction) if induction else (doses[-1].day if doses else None)
    whole = np.arange(0.0, np.floor(horizon + 1e-9) + 1.0)
    parts = [whole, [horizon]]
    weekly = daily = np.zeros(0)
    if first is not None and last is not None:
        clock = first % 1.0
        daily = np.arange(clock, horizon + 1e-9, 1.0)
        n_weeks = int((horizon - last) // 7.0)
        weekly = last + 7.0 * np.arange(1, n_weeks + 1)
        parts += [daily, weekly, [min(first + 1.0, horizon), min(last + 1.0, horizon)]]
    times = np.unique(np.round(np.concatenate([np.asarray(p, dtype=float) for p in parts]), 9))
    times = times[(times >= 0) & (times <= horizon + 1e-9)]

    def pos(x: np.ndarray | list[float]) -> np.ndarray:
        return np.searchsorted(times, np.round(np.asarray(x, dtype=float), 9)).astype(np.int64)

    return OutcomeVisits(
        times=times, first_dose=first, last_induction=last, horizon=horizon,
        i_day1=int(pos([first + 1.0])[0]) if first is not None and first + 1.0 <= horizon + 1e-9 else -1,
        i_end_induction=int(pos([last + 1.0])[0]) if last is not None and last + 1.0 <= horizon + 1e-9 else -1,
        i_weekly=pos(weekly), i_daily=pos(daily), i_grid=pos(np.union1d(whole, daily)), i_end=int(pos([horizon])[0]),
        remission_threshold=default_remission_threshold(plan), n_doses=number_of_interventions(plan)["doses"])


def compute_outcomes(visits: OutcomeVisits, madrs: np.ndarray, baseline: np.ndarray,
                     patient_ids: np.ndarray) -> pd.DataFrame:
    """Outcome table (one row per patient) from MADRS at ``visits.times`` (n x len(times))."""
    n = madrs.shape[0]
    m = madrs[:, :visits.times.size]
    thr = visits.remission_threshold
    nan = np.full(n, np.nan)
    out: dict[str, np.ndarray] = {"patient": np.asarray(patient_ids), "baseline_madrs": np.asarray(baseline, float)}

    def at(i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if i < 0:
            return nan, np.zeros(n, bool), np.zeros(n, bool)
        v = m[:, i]
        return v, response(v[:, None], baseline)[:, 0], remission(v, "madrs", thr)

    out["madrs_day1"], out["response_day1"], out["remission_day1"] = at(visits.i_day1)
    out["madrs_end_induction"], out["response_end_induction"], out["remission_end_induction"] = at(
        visits.i_end_induction)
    last = visits.last_induction
    if last is None or n == 0:
        for c in ("relapse_day_sustain", "relapse_day_loss_of_response", "days_to_relapse_sustain",
                  "days_to_relapse_loss_of_response"):
            out[c] = nan.copy()
    else:
        w = visits.i_weekly
        if w.size >= 2:
            rs = np.asarray(relapse_sustain1(visits.times[w], m[:, w], after_day=last), dtype=float)
        else:
            rs = np.full(n, np.inf)
        d = visits.i_daily
        rl = np.asarray(relapse_loss_of_response(visits.times[d], m[:, d], baseline, after_day=last), dtype=float) \
            if d.size else np.full(n, np.inf)
        out["relapse_day_sustain"] = rs
        out["relapse_day_loss_of_response"] = rl
        out["days_to_relapse_sustain"] = rs - last
        out["days_to_relapse_loss_of_response"] = rl - last
    g = visits.i_grid
    if n and visits.horizon > 0 and g.size >= 2:
        gt = visits.times[g]
        out["days_in_remission"], out["mean_madrs"] = _remission_and_mean(gt, np.ascontiguousarray(m[:, g]), thr)
    else:
        out["days_in_remission"] = nan.copy()
        out["mean_madrs"] = nan.copy()
    out["madrs_end"] = m[:, visits.i_end] if n else nan
    out["n_doses"] = np.full(n, visits.n_doses, dtype=np.int64)
    out["last_induction_day"] = np.full(n, np.nan if last is None else float(last))
    out["horizon_days"] = np.full(n, visits.horizon)
    return pd.DataFrame(out, columns=list(OUTCOME_COLUMNS))


@numba.njit(cache=True)
def _remission_and_mean(days: np.ndarray, scores: np.ndarray, thr: float) -> tuple[np.ndarray, np.ndarray]:
    """Days in remission (``score <= thr``) and mean score over ``days``, per row, scores joined by straight lines.

    The same arithmetic as ``ketasim.outcomes.days_in_remission`` (crossing times of each segment,
    ``np.isclose`` for flat segments) and ``mean_score`` (trapezoids), compiled for whole populations;
    the test suite checks both agree.
    """
    n, k = scores.shape
    dir_ = np.zeros(n)
    mean = np.zeros(n)
    span = days[k - 1] - days[0]
    for i in range(n):
        acc = 0.0
        area = 0.0
        for j in range(k - 1):
            a = scores[i, j]
            b = scores[i, j + 1]
            dt = days[j + 1] - days[j]
            area += 0.5 * (a + b) * dt
            if abs(a - b) <= 1e-8 + 1e-5 * abs(b):
                frac = 1.0 if a <= thr else 0.0
            else:
                tc = (thr - a) / (b - a)
                frac = min(max(tc, 0.0), 1.0) if b > a else min(max(1.0 - tc, 0.0), 1.0)
            acc += frac * dt
        dir_[i] = acc
        mean[i] = area / span
    return dir_, mean
