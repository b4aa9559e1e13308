"""Synthetic patients with known truth: histories written from a virtual patient's simulated scores.

Used by the validation report, the tests and the script that writes the bundled example
histories. The *truth* is one particle (``Particles`` of length 1); its history records the
doses given and noisy ratings (``ketasim.symptoms.scales.observe``) at the visit days.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from ketasim.dosing.plan import Dose
from ketasim.planning.history import HistoryEvent, PatientHistory
from ketasim.planning.particles import Particles, simulate_particles
from ketasim.symptoms.scales import madrs_to, observe

INDUCTION_DAYS = (0, 2, 4, 7, 9, 11)  # six infusions Mon-Wed-Fri over two weeks (Murrough 2013)
DOSE_HOUR = 10.0
SCORE_HOUR = 9.0


@dataclass
class Schedule:
    """When doses, ratings and therapy sessions happen (days from the start, given at the usual hours)."""

    dose_days: tuple[float, ...] = INDUCTION_DAYS
    score_days: tuple[float, ...] = (0, 1, 4, 7, 11, 14, 21, 28, 35, 42)
    therapy_days: tuple[float, ...] = ()
    mg_per_kg: float = 0.5
    scale: str = "phq9"
    score_scales: tuple[str, ...] | None = None  # one scale per score day (default: ``scale`` for all)
    life_events: tuple[tuple[float, float | None, float | None, str], ...] = field(default_factory=tuple)
    # (day, recorded amplitude or None, recorded fade days or None, label)


def make_history(truth: Particles, schedule: Schedule, *, weight_kg: float, rng: np.random.Generator,
                 start: dt.date = dt.date(2025, 1, 6), name: str = "synthetic", age: float | None = None,
                 today_day: float | None = None) -> tuple[PatientHistory, np.ndarray]:
    """A history of ``truth`` under ``schedule`` and the true latent MADRS at the score days.

    Scores after ``today_day`` are not recorded (they are the held-out future); doses after it
    are recorded as the planned treatment.
    """
    events = schedule_events(schedule, weight_kg, start)
    plan = schedule_plan(schedule, weight_kg, start)
    score_t = np.array([d + SCORE_HOUR / 24.0 for d in schedule.score_days])
    truth_k = truth.take(np.zeros(1, dtype=int))
    truth_k.event_amp = truth.event_amp[:1, :len(schedule.life_events)]
    truth_k.event_fade_days = truth.event_fade_days[:1, :len(schedule.life_events)]
    m, valid = simulate_particles(plan, truth_k, score_t)
    if not valid[0]:
        raise ValueError("the true patient is invalid (load explains more than the baseline severity)")
    latent = m[0]
    scales = schedule.score_scales or (schedule.scale,) * len(schedule.score_days)
    for d, sc, mm in zip(schedule.score_days, scales, latent, strict=True):
        y = float(observe(sc, madrs_to(sc, mm), rng))
        if today_day is None or d <= today_day:
            events.append(HistoryEvent(_at(start, d, SCORE_HOUR), "score", scale=sc, value=y))
    today = (start + dt.timedelta(days=int(today_day))) if today_day is not None else None
    return PatientHistory(weight_kg=weight_kg, age=age, name=name, events=tuple(events), today=today), latent


def _at(start: dt.date, day: float, hour: float) -> dt.datetime:
    return dt.datetime.combine(start, dt.time(0, 0)) + dt.timedelta(days=float(day), hours=hour)


def schedule_events(schedule: Schedule, weight_kg: float, start: dt.date = dt.date(2025, 1, 6)) -> list[HistoryEvent]:
    """The doses, sessions and life events of ``schedule`` as history events (no scores)."""
    events: list[HistoryEvent] = []
    for d in schedule.dose_days:
        events.append(HistoryEvent(_at(start, d, DOSE_HOUR), "dose", route="iv",
                                   dose_mg=round(schedule.mg_per_kg * weight_kg, 1), duration_min=40.0, drug="racemic"))
    for d in schedule.therapy_days:
        events.append(HistoryEvent(_at(start, d, 14.0), "therapy", note="psychotherapy session"))
    for day, amp, fade, label in schedule.life_events:
        events.append(HistoryEvent(_at(start, day, 0.0), "life_event", value=amp, fade_days=fade, note=label))
    return events


def schedule_plan(schedule: Schedule, weight_kg: float, start: dt.date = dt.date(2025, 1, 6)):
    """The plan a schedule's particles run (a placeholder score lets the history validate)."""
    from ketasim.planning.posterior import history_plan

    h0 = PatientHistory(weight_kg=weight_kg, events=(*schedule_events(schedule, weight_kg, start),
                                                     HistoryEvent(_at(start, 0, SCORE_HOUR), "score", scale="madrs",
                                                                  value=30.0)))
    return history_plan(h0, include_planned=True)


def dose_objects(days, mg: float) -> tuple[Dose, ...]:
    return tuple(Dose(day=d + DOSE_HOUR / 24.0, amount_mg=mg, duration_min=40.0) for d in days)
