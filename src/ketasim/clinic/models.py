"""The clinic's tables (SQLAlchemy 2 typed models). Times are stored in UTC (:class:`~ketasim.clinic.db.UTCDateTime`).

Patient records (sessions, scores, psychotherapy, life events, other treatments) share
:class:`RecordMixin`: a record is never changed in place. *Amend* marks it ``amended`` and adds the
corrected copy (``replaces_id``) with the reason; *void* marks it ``voided`` with the reason. Only
``current`` records count; the others stay in the history.

``Patient`` carries a summary of its record (last scores, open alerts, next session due) updated in
the transaction of each write, so that the clinic overview is one indexed query.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, relationship

from ketasim.clinic.db import UTCDateTime, utcnow

ROLES = ("admin", "clinician", "viewer")
RECORD_STATUSES = ("current", "amended", "voided")


class Base(DeclarativeBase):
    type_annotation_map = {dt.datetime: UTCDateTime(), dict[str, Any]: JSON, list[int]: JSON}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    @property
    def display_name(self) -> str:
        return self.name or self.email


class LoginSession(Base):
    """A page session (cookie) or an API token; only the SHA-256 of the token is stored."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # "page" | "api"
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    ended_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship(lazy="joined")


class LoginAttempt(Base):
    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_email_at", "email", "at"), Index("ix_login_attempts_ip_at", "ip", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    success: Mapped[bool] = mapped_column(Boolean)


class ClinicSettings(Base):
    """One row: the clinic's name, time zone and alert thresholds (see ``alerts``)."""

    __tablename__ = "clinic_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="ketasim clinic")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    rise_points: Mapped[int] = mapped_column(Integer, default=5)
    rise_rule: Mapped[str] = mapped_column(String(20), default="both")  # previous | lowest | both
    risk_threshold: Mapped[float] = mapped_column(Float, default=0.30)
    risk_horizon_days: Mapped[int] = mapped_column(Integer, default=28)
    next_session_risk: Mapped[float] = mapped_column(Float, default=0.10)
    demo: Mapped[bool] = mapped_column(Boolean, default=False)


class Patient(Base):
    __tablename__ = "patients"
    __table_args__ = (Index("ix_patients_overview", "open_alerts", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    birth_year: Mapped[int] = mapped_column(Integer)
    sex: Mapped[str] = mapped_column(String(10))  # female | male | other
    weight_kg: Mapped[float] = mapped_column(Float)
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    record_version: Mapped[int] = mapped_column(Integer, default=1)
    # Summary of the record, kept by ``records`` in the transaction of each write.
    last_phq9: Mapped[int | None] = mapped_column(Integer)
    last_phq9_at: Mapped[dt.datetime | None]
    previous_phq9: Mapped[int | None] = mapped_column(Integer)
    last_session_at: Mapped[dt.datetime | None]
    open_alerts: Mapped[int] = mapped_column(Integer, default=0)
    next_session_due: Mapped[dt.date | None] = mapped_column(Date)


class RecordMixin:
    """Columns every patient record shares: who recorded it, and its amend/void history."""

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(10), default="current")
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    change_reason: Mapped[str | None] = mapped_column(Text)
    changed_at: Mapped[dt.datetime | None]

    @declared_attr
    def patient_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)

    @declared_attr
    def recorded_by_id(cls) -> Mapped[int | None]:
        return mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    @declared_attr
    def changed_by_id(cls) -> Mapped[int | None]:
        return mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    @declared_attr
    def replaces_id(cls) -> Mapped[int | None]:
        return mapped_column(ForeignKey(f"{cls.__tablename__}.id", ondelete="SET NULL"))  # type: ignore[attr-defined]


class TreatmentSession(RecordMixin, Base):
    """One ketamine or esketamine session with its blood pressures and monitoring."""

    __tablename__ = "treatment_sessions"
    __table_args__ = (Index("ix_sessions_patient_at", "patient_id", "given_at"),)

    given_at: Mapped[dt.datetime]
    route: Mapped[str] = mapped_column(String(12))
    drug: Mapped[str] = mapped_column(String(12))
    dose_mg: Mapped[float] = mapped_column(Float)
    dose_mg_per_kg: Mapped[float] = mapped_column(Float)
    weight_kg: Mapped[float] = mapped_column(Float)
    infusion_minutes: Mapped[float | None] = mapped_column(Float)
    bp_before_systolic: Mapped[int | None] = mapped_column(Integer)
    bp_before_diastolic: Mapped[int | None] = mapped_column(Integer)
    bp_40min_systolic: Mapped[int | None] = mapped_column(Integer)
    bp_40min_diastolic: Mapped[int | None] = mapped_column(Integer)
    bp_discharge_systolic: Mapped[int | None] = mapped_column(Integer)
    bp_discharge_diastolic: Mapped[int | None] = mapped_column(Integer)
    dissociation_score: Mapped[float | None] = mapped_column(Float)
    monitoring_minutes: Mapped[int | None] = mapped_column(Integer)
    sedation: Mapped[str | None] = mapped_column(String(40))
    discharge_ready: Mapped[bool | None] = mapped_column(Boolean)
    adverse_events: Mapped[str | None] = mapped_column(Text)
    off_label: Mapped[bool] = mapped_column(Boolean, default=False)
    off_label_reasons: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)


class Score(RecordMixin, Base):
    """A PHQ-9 or GAD-7 answered item by item; ``total`` is computed from ``items``."""

    __tablename__ = "scores"
    __table_args__ = (Index("ix_scores_patient_at", "patient_id", "taken_at"),)

    taken_at: Mapped[dt.datetime]
    instrument: Mapped[str] = mapped_column(String(10))
    items: Mapped[list[int]]
    total: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(20), default="form")  # form | api | fhir | demo


class TherapySession(RecordMixin, Base):
    __tablename__ = "therapy_sessions"

    held_at: Mapped[dt.datetime]
    kind: Mapped[str] = mapped_column(String(60), default="psychotherapy")
    minutes: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)


class LifeEvent(RecordMixin, Base):
    """A stressful event; ``impact`` 0-3 (the model's load; empty: inferred from the scores)."""

    __tablename__ = "life_events"

    occurred_at: Mapped[dt.datetime]
    description: Mapped[str] = mapped_column(String(200))
    impact: Mapped[float | None] = mapped_column(Float)


class OtherTreatment(RecordMixin, Base):
    """An oral antidepressant started or stopped, or an ECT or TMS session."""

    __tablename__ = "other_treatments"

    started_at: Mapped[dt.datetime]
    kind: Mapped[str] = mapped_column(String(30))  # antidepressant | antidepressant_stop | ect | tms
    detail: Mapped[str | None] = mapped_column(String(200))


RECORD_MODELS: dict[str, type[RecordMixin]] = {
    "sessions": TreatmentSession, "scores": Score, "therapy": TherapySession, "life-events": LifeEvent,
    "treatments": OtherTreatment}
"""The patient record tables by the name used in URLs."""


class Alert(Base):
    """A notice for the clinicians: raised, first seen and acknowledged, each with its time and person."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_open", "acknowledged_at", "resolved_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(12))  # item9 | rise | due | risk
    message: Mapped[str] = mapped_column(Text)
    score_id: Mapped[int | None] = mapped_column(ForeignKey("scores.id", ondelete="SET NULL"))
    raised_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    seen_at: Mapped[dt.datetime | None]
    seen_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    acknowledged_at: Mapped[dt.datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    acknowledgement_note: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[dt.datetime | None]
    resolved_reason: Mapped[str | None] = mapped_column(Text)

    seen_by: Mapped[User | None] = relationship(foreign_keys=[seen_by_id], lazy="joined")
    acknowledged_by: Mapped[User | None] = relationship(foreign_keys=[acknowledged_by_id], lazy="joined")

    @property
    def is_open(self) -> bool:
        return self.acknowledged_at is None and self.resolved_at is None


class StoredForecast(Base):
    """The last forecast of a patient, for the record version and model version it was computed from."""

    __tablename__ = "forecasts"
    __table_args__ = (UniqueConstraint("patient_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    record_version: Mapped[int] = mapped_column(Integer)
    model_version: Mapped[str] = mapped_column(String(64))
    computed_at: Mapped[dt.datetime]
    status: Mapped[str] = mapped_column(String(12))  # ok | not_enough | error
    message: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None]
    fast_path: Mapped[bool] = mapped_column(Boolean, default=False)


class AuditEntry(Base):
    """Who read or wrote what, when. Append-only: the database refuses UPDATE and DELETE (migration 0002)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    user_id: Mapped[int | None] = mapped_column(Integer)  # no foreign key: the log outlives users and patients
    user_email: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(20))  # read | create | amend | void | export | delete | ...
    entity: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    patient_id: Mapped[int | None] = mapped_column(Integer, index=True)
    via: Mapped[str] = mapped_column(String(10))  # page | api | fhir | cli | worker
    detail: Mapped[str | None] = mapped_column(Text)
