"""The inputs of every write, shared by the pages (form fields) and the JSON API (request bodies).

Ranges come from the project's own limits where it has them (weight from ``ketasim.dosing.limits``,
life-event load from ``ketasim.planning.history``); the rest are stated here.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ketasim.dosing.limits import PATIENT_RANGES
from ketasim.planning.history import LIFE_EVENT_AMPLITUDE

WEIGHT = PATIENT_RANGES["weight_kg"]
Route = Literal["iv", "im", "oral", "sublingual", "intranasal"]
Drug = Literal["racemic", "esketamine"]
Sex = Literal["female", "male", "other"]
TreatmentKind = Literal["antidepressant", "antidepressant_stop", "ect", "tms"]
Sedation = Literal["none", "mild", "moderate", "severe"]
CADSS_MAX = 92  # Clinician-Administered Dissociative States Scale, 23 items scored 0-4 (Bremner 1998)


def _past_year(year: int) -> int:
    if year > dt.date.today().year:
        raise ValueError(f"a birth year up to {dt.date.today().year}")
    return year


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PatientIn(Strict):
    external_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
                             description="The clinic's own identifier (letters, digits, . _ -)")
    birth_year: int = Field(ge=1900, le=2100)
    sex: Sex
    weight_kg: float = Field(ge=WEIGHT.low, le=WEIGHT.high, description=f"kg ({WEIGHT.text()})")

    _birth_year = field_validator("birth_year")(lambda v: _past_year(v))


class PatientDetailsIn(Strict):
    """A correction of a patient's details (the identifier stays)."""

    birth_year: int = Field(ge=1900, le=2100)
    sex: Sex
    weight_kg: float = Field(ge=WEIGHT.low, le=WEIGHT.high, description=f"kg ({WEIGHT.text()})")
    reason: str = Field(min_length=3, max_length=500)

    _birth_year = field_validator("birth_year")(lambda v: _past_year(v))


class BloodPressure(Strict):
    systolic: int = Field(ge=50, le=300, description="mmHg")
    diastolic: int = Field(ge=20, le=200, description="mmHg")

    @model_validator(mode="after")
    def _order(self) -> BloodPressure:
        if self.diastolic >= self.systolic:
            raise ValueError(f"diastolic ({self.diastolic}) below systolic ({self.systolic})")
        return self


class SessionIn(Strict):
    date: dt.datetime | dt.date = Field(description="When the session started (clinic time unless an offset "
                                        "is given); a date alone means 10:00")
    route: Route
    drug: Drug = "racemic"
    dose_mg: float | None = Field(None, gt=0, le=10_000)
    dose_mg_per_kg: float | None = Field(None, gt=0, le=100)
    infusion_minutes: float | None = Field(None, ge=0, le=600)
    bp_before: BloodPressure | None = None
    bp_40min: BloodPressure | None = None
    bp_discharge: BloodPressure | None = None
    dissociation_score: float | None = Field(None, ge=0, le=CADSS_MAX, description=f"CADSS, 0-{CADSS_MAX}")
    monitoring_minutes: int | None = Field(None, ge=0, le=1440, description="Observed after dosing (the "
                                           "esketamine label asks for at least 120)")
    sedation: Sedation | None = None
    discharge_ready: bool | None = None
    adverse_events: str | None = Field(None, max_length=2000)
    off_label: bool = Field(False, description="Record a dose outside the published ranges (reasons are kept)")
    note: str | None = Field(None, max_length=2000)


class ScoreIn(Strict):
    date: dt.datetime | dt.date = Field(description="When the questionnaire was answered; a date alone means 09:00")
    instrument: str = Field(description="PHQ-9 or GAD-7")
    items: list[int] = Field(max_length=20, description="The answers 0-3 in questionnaire order")


class TherapyIn(Strict):
    date: dt.datetime | dt.date
    kind: str = Field("psychotherapy", min_length=1, max_length=60)
    minutes: int | None = Field(None, ge=1, le=600)
    note: str | None = Field(None, max_length=2000)


class LifeEventIn(Strict):
    date: dt.datetime | dt.date
    description: str = Field(min_length=1, max_length=200)
    impact: float | None = Field(None, ge=LIFE_EVENT_AMPLITUDE[0], le=LIFE_EVENT_AMPLITUDE[1],
                                 description="0-3 (1 about a bereavement); empty: inferred from the scores")


class TreatmentIn(Strict):
    date: dt.datetime | dt.date
    kind: TreatmentKind
    detail: str | None = Field(None, max_length=200)


class ReasonIn(Strict):
    reason: str = Field(min_length=3, max_length=500)


class AcknowledgeIn(Strict):
    note: str | None = Field(None, max_length=500)


class DeleteIn(Strict):
    confirm_external_id: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=3, max_length=500)


class LoginIn(Strict):
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=1000)


RECORD_SCHEMAS: dict[str, type[Strict]] = {"sessions": SessionIn, "scores": ScoreIn, "therapy": TherapyIn,
                                           "life-events": LifeEventIn, "treatments": TreatmentIn}
