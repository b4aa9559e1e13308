"""A resolved treatment plan: the patient and every dated intervention, as Python objects.

Times are days from the plan's start (``day`` 0 = ``start_date`` at midnight; fractions of a
day give the clock time). Plan files (``ketasim.dosing.planfile``) expand series such as
"6 infusions Mon-Wed-Fri" into these objects; Python users can build them directly.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Literal

Route = Literal["iv", "im", "oral", "sublingual", "intranasal"]
Drug = Literal["racemic", "esketamine"]
Phase = Literal["induction", "maintenance"]
TreatmentKind = Literal["antidepressant", "ect", "tms"]

ROUTES: tuple[str, ...] = ("iv", "im", "oral", "sublingual", "intranasal")
DRUGS: tuple[str, ...] = ("racemic", "esketamine")


@dataclass(frozen=True)
class LifeEvent:
    """A dated stressor that raises the load by ``amplitude`` and fades with ``fade_days``.

    Use a day <= 0 for an event that happened before treatment (the bereavement that
    brought the patient in); its load at day 0 counts towards the baseline severity.
    """

    day: float
    amplitude: float
    fade_days: float = 90.0
    label: str = "life event"


@dataclass(frozen=True)
class Patient:
    """The virtual patient: weight (kg), untreated MADRS, chronic load and dated life events."""

    weight_kg: float = 70.0
    baseline_madrs: float = 33.0
    chronic_load: float = 0.5
    life_events: tuple[LifeEvent, ...] = ()
    age: float | None = None
    sex: Literal["female", "male"] | None = None


@dataclass(frozen=True)
class Dose:
    """One administration. ``amount_mg`` is the total dose; ``duration_min`` 0 is a bolus.

    For intranasal esketamine ``devices`` sprays are given ``device_interval_min`` apart,
    each delivering ``amount_mg / devices``.
    """

    day: float
    amount_mg: float
    route: Route = "iv"
    drug: Drug = "racemic"
    duration_min: float = 40.0
    phase: Phase = "induction"
    devices: int = 1
    device_interval_min: float = 5.0
    mg_per_kg: float | None = None  # as written in the plan, for reports


@dataclass(frozen=True)
class LifestylePeriod:
    """A period of healthy lifestyle (sleep, exercise) at ``level`` in [0, 1]."""

    start_day: float
    end_day: float
    level: float = 1.0
    label: str = "lifestyle"


@dataclass(frozen=True)
class OtherTreatment:
    """An oral antidepressant taken over [start_day, end_day), or ECT/TMS sessions on ``session_days``."""

    kind: TreatmentKind
    start_day: float = 0.0
    end_day: float | None = None
    session_days: tuple[float, ...] = ()
    label: str = ""


@dataclass(frozen=True)
class Plan:
    """Everything the simulator needs for one patient.

    ``pk_models`` maps a drug to a PK model name (see ``ketasim.exposure.models``); missing
    drugs use the default model of their route. ``allow_off_label`` records that dose limits
    were lifted: every output then says so.
    """

    name: str = "plan"
    patient: Patient = field(default_factory=Patient)
    doses: tuple[Dose, ...] = ()
    therapy_days: tuple[float, ...] = ()
    lifestyle: tuple[LifestylePeriod, ...] = ()
    treatments: tuple[OtherTreatment, ...] = ()
    horizon_days: float = 90.0
    start_date: dt.date = dt.date(2025, 1, 6)
    pk_models: dict[str, str] = field(default_factory=dict)
    allow_off_label: bool = False
    description: str = ""
    source_file: str | None = None

    def date_of(self, day: float) -> dt.date:
        """Calendar date of plan day ``day``."""
        return self.start_date + dt.timedelta(days=int(day // 1))

    def day_of(self, date: dt.date) -> float:
        """Plan day of a calendar date (midnight)."""
        return float((date - self.start_date).days)

    def without(self, *, therapy: bool = False, lifestyle: bool = False, maintenance: bool = False,
                treatments: bool = False) -> Plan:
        """The same plan with the named strategies removed (for attributing gains)."""
        return replace(
            self,
            therapy_days=() if therapy else self.therapy_days,
            lifestyle=() if lifestyle else self.lifestyle,
            doses=tuple(d for d in self.doses if not (maintenance and d.phase == "maintenance")),
            treatments=() if treatments else self.treatments,
        )

    @property
    def n_interventions(self) -> int:
        """Doses plus psychotherapy and ECT/TMS sessions (the clinic's 'interventions')."""
        return len(self.doses) + len(self.therapy_days) + sum(len(t.session_days) for t in self.treatments)
