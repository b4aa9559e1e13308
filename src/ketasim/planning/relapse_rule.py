"""The relapse definition of every planning output, on the patient's own scale.

SUSTAIN-1's rule (Daly 2019 JAMA Psychiatry 76:893): MADRS >= 22 at two consecutive visits 5-15 days
apart. On another scale the threshold is carried through the project's scale linking
(``ketasim.symptoms.scales.madrs_to``): a rating of ``L = link(22)`` or more, i.e. a whole-point
rating of at least ``ceil(L)`` (PHQ-9 22 -> 13.4, so 14 or more; QIDS-SR16 13.7, so 14; HDRS-17 16.9,
so 17). A record that mixes scales (MADRS at the clinic, PHQ-9 at home) compares each rating with
its own scale's threshold; a visit with ratings on several scales the same day is at the relapse
level when all of them are. The relapse is dated at the first visit of the pair (as
``ketasim.outcomes.relapse.relapse_sustain1``).

:func:`assess_relapse` is the one public function the forecaster and the clinic use: the
definition in words on the patient's scale and whether the record already meets it (the last two
visits after the first dose meet the rule). Forecasts apply the same rule to simulated ratings at
visits every ``visit_every_days`` (7 by default).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ketasim.errors import PlanError
from ketasim.outcomes.relapse import SUSTAIN1_GAP_DAYS, SUSTAIN1_THRESHOLD, relapse_sustain1
from ketasim.symptoms.scales import SCALES, get_scale, madrs_to


@dataclass(frozen=True)
class RelapseRule:
    """Relapse: ratings at or above the MADRS threshold (carried to each scale) at two consecutive visits
    ``gap_days`` apart; forecasts assume visits every ``visit_every_days``."""

    madrs_threshold: float = SUSTAIN1_THRESHOLD
    gap_days: tuple[float, float] = SUSTAIN1_GAP_DAYS
    visit_every_days: int = 7

    def __post_init__(self) -> None:
        if not 0.0 < self.madrs_threshold <= 60.0:
            raise PlanError("relapse threshold", self.madrs_threshold, "a MADRS total between 0 and 60")
        lo, hi = self.gap_days
        if not 0.0 <= lo <= hi:
            raise PlanError("relapse gap_days", self.gap_days, "two numbers of days, the first at most the second")
        if not (isinstance(self.visit_every_days, int) and lo <= self.visit_every_days <= hi):
            raise PlanError("relapse visit_every_days", self.visit_every_days,
                            f"a whole number of days within the gap of the rule ({lo:g}-{hi:g})")

    def level(self, scale: str) -> float:
        """The threshold on ``scale`` (linked from MADRS; not rounded)."""
        return float(madrs_to(scale, self.madrs_threshold))

    def cutoff(self, scale: str) -> int:
        """The smallest whole-point rating on ``scale`` at the relapse level."""
        return int(math.ceil(self.level(scale) - 1e-9))

    def describe(self, scale: str) -> str:
        """The definition in words, e.g. 'PHQ-9 of 14 or more (MADRS 22, ...) at two consecutive visits 5-15 days
        apart'."""
        spec = get_scale(scale)
        lo, hi = self.gap_days
        carried = "" if scale == "madrs" else (f" (the equivalent of MADRS {self.madrs_threshold:g} through the "
                                               "scale linking)")
        return (f"{spec.label} of {self.cutoff(scale)} or more{carried} at two consecutive visits {lo:g}-{hi:g} "
                f"days apart (SUSTAIN-1 rule, Daly 2019)")

    def as_dict(self, scale: str) -> dict:
        return {"text": self.describe(scale), "scale": get_scale(scale).label, "madrs_threshold": self.madrs_threshold,
                "level_on_scale": round(self.level(scale), 2), "cutoff_on_scale": self.cutoff(scale),
                "gap_days": list(self.gap_days), "forecast_visit_every_days": self.visit_every_days,
                "dated_at": "the first visit of the pair"}

    def margin(self, scale: str, ratings: np.ndarray) -> np.ndarray:
        """Ratings minus the scale's cutoff (>= 0: at the relapse level)."""
        return np.asarray(ratings, dtype=float) - self.cutoff(scale)

    def onset(self, visit_days: np.ndarray, margins: np.ndarray, *, after_day: float = -math.inf) -> np.ndarray:
        """First visit day of a qualifying pair for each row of ``margins`` (rows x visits); inf if none."""
        return np.asarray(relapse_sustain1(np.asarray(visit_days, dtype=float), np.atleast_2d(margins),
                                           after_day=after_day, threshold=0.0, gap_days=self.gap_days), dtype=float)


DEFAULT_RULE = RelapseRule()


def latent_onset(days: np.ndarray, madrs: np.ndarray, rule: RelapseRule = DEFAULT_RULE) -> np.ndarray:
    """The rule on a noise-free daily MADRS course (N x T on the whole-day grid ``days``): the first day with
    MADRS at the threshold then and ``visit_every_days`` later; inf if none (the last days can only confirm).

    Used where the truth of a virtual patient is scored (validation, policies), not for forecasts of ratings.
    """
    k = rule.visit_every_days
    hi = np.atleast_2d(madrs) >= rule.madrs_threshold
    pair = hi[:, :-k] & hi[:, k:]
    return np.where(pair.any(axis=1), np.asarray(days)[:-k][np.argmax(pair, axis=1)], np.inf)


@dataclass(frozen=True)
class RelapseAssessment:
    """What :func:`assess_relapse` found: the definition on ``scale`` and whether the record meets it now."""

    rule: RelapseRule
    scale: str
    met: bool
    pair: tuple[tuple[str, str, float], ...]  # (date, scale label, rating) of the last two visits, when met
    definition: str

    @property
    def level(self) -> float:
        return self.rule.level(self.scale)

    @property
    def cutoff(self) -> int:
        return self.rule.cutoff(self.scale)

    def as_dict(self) -> dict:
        return {"definition": self.rule.as_dict(self.scale), "already_meets_definition": self.met,
                "visits": [{"date": d, "scale": s, "rating": v} for d, s, v in self.pair]}


def visits_of(history, rule: RelapseRule = DEFAULT_RULE) -> tuple[np.ndarray, np.ndarray, list[list]]:
    """The record's visits (distinct rating days after the first dose): day, relapse margin (the smallest of the
    day's ratings minus their scale's cutoff) and the ratings of each visit."""
    doses = history.doses(past=True)
    first = doses[0].day if doses else -math.inf
    by_day: dict[int, list] = {}
    for e in history.scores:
        day = history.day_of(e.when)
        if day <= first:
            continue
        by_day.setdefault(int(math.floor(day)), []).append(e)
    days = np.array(sorted(by_day), dtype=float)
    margin = np.array([min(float(rule.margin(e.scale, e.value)) for e in by_day[int(d)]) for d in days])
    return days, margin, [by_day[int(d)] for d in days]


def assess_relapse(history, scale: str | None = None, rule: RelapseRule = DEFAULT_RULE) -> RelapseAssessment:
    """The relapse definition on ``scale`` (default: the scale of the last rating) and whether the record
    already meets it: its last two visits after the first dose are at the relapse level, ``gap_days`` apart."""
    scores = history.scores
    scale = scale or (scores[-1].scale if scores else "madrs")
    if scale not in SCALES:
        raise PlanError("scale", scale, ", ".join(SCALES))
    days, margin, events = visits_of(history, rule)
    met = False
    pair: tuple = ()
    if days.size >= 2:
        onset = float(rule.onset(days[-2:], margin[-2:])[0])
        met = math.isfinite(onset)
        if met:
            pair = tuple((e.when.date().isoformat(), get_scale(e.scale).label, float(e.value))
                         for ev in events[-2:] for e in ev)
    return RelapseAssessment(rule, scale, met, pair, rule.describe(scale))
