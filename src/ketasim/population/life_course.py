"""The course of life: each virtual patient's own life events as a dated random process (issue 11, item 2).

Events arrive as a Poisson process of rate ``life_event_rate`` (per year) after the start of the plan. An event
is *major* (a bereavement, a birth followed by post-partum depression: the bridge case, a large load that fades)
with probability ``major_event_share``, else *ordinary* (a conflict, a job loss, an illness). Its size ``A`` (load
units) and its recovery time ``tau`` (days) are log-normal around the medians of its kind:

    ordinary:  A = life_event_load  exp(omega_life_event_load z_1),   tau = life_event_recovery_days  exp(0.5 z_2)
    major:     A = major_event_load exp(omega_life_event_load z_1),   tau = major_event_recovery_days exp(0.5 z_2)

times the patient's reactivity ``acute_load_scale`` (``ketasim.population.variability``). Each event adds
``A exp(-(t - t_e) / tau)`` to the load ``L(t)`` from its day ``t_e`` on: the same law as a plan's dated life
events (``ketasim.dynamics``), so the batch engine takes them as :class:`~ketasim.engine.batch.PatientEvents`
and the one-patient engines, the SciPy reference and the SBML export as dated events of the plan
(:func:`as_life_events`). Only events after day 0 are drawn: the baseline severity already holds what came
before.

The draws come from the stream ``SeedSequence([seed, block, 2, k])`` of the patient's block (``k`` counts
batches of :data:`BATCH` events per patient), so a patient's events do not depend on the horizon, on the
number of patients or on the chunking. Switched off (``LifeCourse.off()`` or ``life_events=False`` of
``simulate_population``) no event is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ketasim.dosing.plan import LifeEvent
from ketasim.engine.batch import PatientEvents
from ketasim.parameters import HOURS_PER_DAY, DeclaredValues, Parameter

DAYS_PER_YEAR = 365.25
BATCH = 8  # events drawn per patient at a time
LIFE_STREAM = 2  # third entry of the seed sequence (0: patients, 1: classes)
RECOVERY_OMEGA = 0.5

_SRC = ("assumed: stressful life events raise the risk of a depressive episode for weeks to months (mechanism "
        "literature); to be calibrated on the maintenance and relapse arms of the evidence base")

#: The course-of-life model's numbers.
LIFE_COURSE_PARAMETERS: tuple[Parameter, ...] = (
    Parameter("life_event_rate", 1.0, "1/year", _SRC, "assumed",
              "rate of life events that raise the load (ordinary and major)", "life course", (0.0, 6.0)),
    Parameter("life_event_load", 0.3, "load units", _SRC, "assumed",
              "median load added by an ordinary life event", "life course", (0.0, 2.0)),
    Parameter("omega_life_event_load", 0.6, "1 (SD of log)", _SRC, "assumed",
              "between-event spread of the load an event adds", "life course", (0.0, 1.0)),
    Parameter("life_event_recovery_days", 45.0, "days", _SRC, "assumed",
              "median time constant of the fading of an ordinary event's load", "life course", (3.0, 365.0)),
    Parameter("major_event_share", 0.1, "1", "assumed: bereavement, childbirth and similar losses are a minority "
              "of stressful events", "assumed", "share of life events that are major (the bridge case)",
              "life course", (0.0, 1.0)),
    Parameter("major_event_load", 1.3, "load units", "assumed: the bereavement bridge example (amplitude 1.3)",
              "assumed", "median load added by a major life event", "life course", (0.0, 4.0)),
    Parameter("major_event_recovery_days", 90.0, "days", "assumed: acute grief fades over months", "assumed",
              "median time constant of the fading of a major event's load", "life course", (7.0, 730.0)),
)
_DEFAULT = {p.name: p.value for p in LIFE_COURSE_PARAMETERS}


@dataclass(frozen=True)
class LifeCourse(DeclaredValues):
    """The course-of-life process (module docstring); ``life_event_rate = 0`` switches it off."""

    PARAMETERS: ClassVar[tuple[Parameter, ...]] = LIFE_COURSE_PARAMETERS
    PREFIX: ClassVar[str] = "life_course"

    life_event_rate: float = _DEFAULT["life_event_rate"]
    life_event_load: float = _DEFAULT["life_event_load"]
    omega_life_event_load: float = _DEFAULT["omega_life_event_load"]
    life_event_recovery_days: float = _DEFAULT["life_event_recovery_days"]
    major_event_share: float = _DEFAULT["major_event_share"]
    major_event_load: float = _DEFAULT["major_event_load"]
    major_event_recovery_days: float = _DEFAULT["major_event_recovery_days"]

    @classmethod
    def off(cls) -> LifeCourse:
        """No life events."""
        return cls(life_event_rate=0.0)

    @property
    def enabled(self) -> bool:
        return self.life_event_rate > 0.0

    def _batch(self, seed: int, block: int, k: int, size: int) -> tuple[np.ndarray, ...]:
        """Gaps (h), sizes (load units, before reactivity), recovery times (h) and major flags of batch ``k``."""
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(block), LIFE_STREAM, int(k)]))
        gaps = rng.exponential(DAYS_PER_YEAR * HOURS_PER_DAY / self.life_event_rate, (size, BATCH))
        major = rng.random((size, BATCH)) < self.major_event_share
        z1 = rng.standard_normal((size, BATCH))
        z2 = rng.standard_normal((size, BATCH))
        amp = np.where(major, self.major_event_load, self.life_event_load) * np.exp(self.omega_life_event_load * z1)
        tau = np.where(major, self.major_event_recovery_days, self.life_event_recovery_days) * np.exp(
            RECOVERY_OMEGA * z2) * HOURS_PER_DAY
        return gaps, amp, tau, major

    def draw(self, seed: int, ids: np.ndarray, horizon_days: float,
             acute_load_scale: np.ndarray | None = None) -> tuple[PatientEvents, np.ndarray]:
        """Events in ``(0, horizon_days]`` of the patients ``ids`` of the population drawn with ``seed``.

        Returns the events (sizes times ``acute_load_scale``) and, per event, whether it is major.
        """
        from ketasim.population.patients import BLOCK

        ids = np.asarray(ids, dtype=np.int64)
        n = ids.size
        horizon_h = float(horizon_days) * HOURS_PER_DAY
        if not self.enabled or n == 0 or horizon_h <= 0:
            return PatientEvents.none(n), np.zeros(0, dtype=bool)
        scale = np.ones(n) if acute_load_scale is None else np.asarray(acute_load_scale, dtype=float)
        per_t: list[list[np.ndarray]] = [[] for _ in range(n)]
        per_a: list[list[np.ndarray]] = [[] for _ in range(n)]
        per_tau: list[list[np.ndarray]] = [[] for _ in range(n)]
        per_major: list[list[np.ndarray]] = [[] for _ in range(n)]
        blocks = ids // BLOCK
        for b in np.unique(blocks):
            rows = np.flatnonzero(blocks == b)
            pos = ids[rows] - b * BLOCK
            t_last = np.zeros(BLOCK)
            k = 0
            while True:
                gaps, amp, tau, major = self._batch(seed, b, k, BLOCK)
                times = t_last[:, None] + np.cumsum(gaps, axis=1)
                for r, p in zip(rows, pos, strict=True):
                    keep = times[p] <= horizon_h
                    if keep.any():
                        per_t[r].append(times[p, keep])
                        per_a[r].append(amp[p, keep] * scale[r])
                        per_tau[r].append(tau[p, keep])
                        per_major[r].append(major[p, keep])
                t_last = times[:, -1]
                k += 1
                if np.all(t_last[pos] > horizon_h):
                    break
        counts = np.array([sum(a.size for a in per_t[r]) for r in range(n)], dtype=np.int64)
        off = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

        def flat(parts: list[list[np.ndarray]], dtype: type) -> np.ndarray:
            pieces = [a for row in parts for a in row]
            return np.concatenate(pieces).astype(dtype) if pieces else np.zeros(0, dtype=dtype)

        return (PatientEvents(off, flat(per_t, float), flat(per_a, float), flat(per_tau, float)),
                flat(per_major, bool))


def as_life_events(events: PatientEvents, patient: int, major: np.ndarray | None = None) -> tuple[LifeEvent, ...]:
    """One patient's drawn events as dated life events of a plan (days; for the one-patient engines, the SciPy
    reference and the SBML export)."""
    a, b = int(events.off[patient]), int(events.off[patient + 1])
    kinds = ["major life event" if major is not None and major[j] else "life event" for j in range(a, b)]
    return tuple(LifeEvent(day=float(events.t_h[j] / HOURS_PER_DAY), amplitude=float(events.amp[j]),
                           fade_days=float(events.tau_h[j] / HOURS_PER_DAY), label=kind)
                 for j, kind in zip(range(a, b), kinds, strict=True))


def event_rate_per_year(events: PatientEvents, horizon_days: float) -> np.ndarray:
    """Each patient's number of events per year of the horizon."""
    return np.diff(events.off) / (float(horizon_days) / DAYS_PER_YEAR)
