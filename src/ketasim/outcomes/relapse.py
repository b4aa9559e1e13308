"""Relapse after treatment, by the two definitions in use, vectorised over patients.

SUSTAIN-1 (Daly 2019 JAMA Psychiatry 76:893):
    relapse at the first pair of *consecutive* visits i, i+1, both after ``after_day``, with
    MADRS >= 22 at both and 5 <= day[i+1] - day[i] <= 15. The relapse day is the first visit
    of the pair (``at="first"``) or the confirming one (``at="second"``).

Loss of response (earlier open-label ketamine series, e.g. Murrough 2013; aan het Rot 2010):
    relapse at the first visit after ``after_day`` at which the score is no longer >= 50% below
    baseline, counted only once response was reached at an earlier visit (a patient who never
    responded cannot relapse). ``consecutive`` = 2 asks for two such visits in a row (the day is
    the first of them).

Convention: the relapse *day* is a plan day; **no relapse is ``np.inf``** (never NaN), so
``days_to_relapse`` is ``inf`` too and sorts after every observed relapse (censored at the
last visit). Inputs: ``days`` (1-D visit days) and ``scores`` (n_visits, or n_patients x
n_visits); the result is a float for one patient, an array (n_patients,) otherwise.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ketasim.errors import PlanError
from ketasim.outcomes._arrays import baselines, score_matrix, visit_days
from ketasim.symptoms.scales import RESPONSE_FRACTION

NO_RELAPSE = np.inf
SUSTAIN1_THRESHOLD = 22.0  # MADRS
SUSTAIN1_GAP_DAYS = (5.0, 15.0)
DEFINITIONS = ("sustain1", "loss_of_response")
Definition = Literal["sustain1", "loss_of_response"]


def _first_day(flags: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Day of the first True per row, inf where none."""
    hit = flags.any(axis=1)
    idx = np.argmax(flags, axis=1)
    return np.where(hit, days[idx], NO_RELAPSE)


def _out(x: np.ndarray, one: bool) -> float | np.ndarray:
    return float(x[0]) if one else x


def relapse_sustain1(days: np.ndarray, scores: np.ndarray, *, after_day: float = 0.0,
                     threshold: float = SUSTAIN1_THRESHOLD, gap_days: tuple[float, float] = SUSTAIN1_GAP_DAYS,
                     at: Literal["first", "second"] = "first") -> float | np.ndarray:
    """Day of relapse by the SUSTAIN-1 rule (MADRS >= 22 at two consecutive visits 5-15 days apart); inf if none."""
    d = visit_days(days)
    s, one = score_matrix(scores, d.size)
    if at not in ("first", "second"):
        raise PlanError("at", at, "'first' or 'second'")
    if d.size < 2:
        return _out(np.full(s.shape[0], NO_RELAPSE), one)
    gap = np.diff(d)
    pair = ((s[:, :-1] >= threshold) & (s[:, 1:] >= threshold)
            & ((gap >= gap_days[0]) & (gap <= gap_days[1]) & (d[:-1] > after_day))[None, :])
    return _out(_first_day(pair, d[:-1] if at == "first" else d[1:]), one)


def relapse_loss_of_response(days: np.ndarray, scores: np.ndarray, baseline: float | np.ndarray, *,
                             after_day: float = 0.0, consecutive: int = 1,
                             fraction: float = RESPONSE_FRACTION) -> float | np.ndarray:
    """Day of the first visit after ``after_day`` without response, once response was reached; inf if none."""
    d = visit_days(days)
    s, one = score_matrix(scores, d.size)
    if consecutive < 1:
        raise PlanError("consecutive", consecutive, "1 or more visits")
    b = baselines(baseline, s.shape[0])
    responding = s <= (1.0 - fraction) * b + 1e-9
    reached_before = np.zeros_like(responding)
    reached_before[:, 1:] = np.logical_or.accumulate(responding, axis=1)[:, :-1]
    lost = ~responding & reached_before & (d > after_day)[None, :]
    if consecutive > 1:
        n = d.size - consecutive + 1
        if n <= 0:
            return _out(np.full(s.shape[0], NO_RELAPSE), one)
        run = lost[:, :n].copy()
        for k in range(1, consecutive):
            run &= ~responding[:, k:k + n]
        lost = run
        return _out(_first_day(lost, d[:n]), one)
    return _out(_first_day(lost, d), one)


def relapse_day(days: np.ndarray, scores: np.ndarray, *, definition: Definition = "sustain1",
                after_day: float = 0.0, baseline: float | np.ndarray | None = None) -> float | np.ndarray:
    """Day of relapse by ``definition`` (``sustain1`` or ``loss_of_response``; the latter needs ``baseline``)."""
    if definition == "sustain1":
        return relapse_sustain1(days, scores, after_day=after_day)
    if definition == "loss_of_response":
        if baseline is None:
            raise PlanError("baseline", None, "a baseline score for the loss-of-response definition")
        return relapse_loss_of_response(days, scores, baseline, after_day=after_day)
    raise PlanError("definition", definition, ", ".join(DEFINITIONS))


def days_to_relapse(days: np.ndarray, scores: np.ndarray, *, after_day: float,
                    definition: Definition = "sustain1",
                    baseline: float | np.ndarray | None = None) -> float | np.ndarray:
    """Days from ``after_day`` (the last infusion, or randomisation) to relapse; inf if none."""
    return relapse_day(days, scores, definition=definition, after_day=after_day, baseline=baseline) - after_day
