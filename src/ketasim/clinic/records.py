"""Every read and write of patient data. The pages and the JSON API call these same functions.

Each write is one transaction (:meth:`Database.write`): the record, the patient's summary, the alerts
it raises and its audit entry commit together or not at all. Every read is logged in the audit log.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ketasim.clinic import alerts as alert_rules
from ketasim.clinic import audit
from ketasim.clinic.audit import Actor
from ketasim.clinic.db import ClinicError, Database, utcnow
from ketasim.clinic.dose_check import LOOKBACK_DAYS, EarlierSession, check_session_dose
from ketasim.clinic.forecasting import PatientRecord
from ketasim.clinic.instruments import PHQ9, checked_items, instrument
from ketasim.clinic.models import (
    RECORD_MODELS,
    Alert,
    ClinicSettings,
    LifeEvent,
    OtherTreatment,
    Patient,
    RecordMixin,
    Score,
    StoredForecast,
    TherapySession,
    TreatmentSession,
    User,
)
from ketasim.clinic.schemas import (
    RECORD_SCHEMAS,
    LifeEventIn,
    PatientDetailsIn,
    PatientIn,
    ScoreIn,
    SessionIn,
    TherapyIn,
    TreatmentIn,
)
from ketasim.clinic.timezones import to_utc, zone

PAGE_SIZE = 50
DEFAULT_CLOCK = {"sessions": dt.time(10, 0), "scores": dt.time(9, 0), "therapy": dt.time(14, 0),
                 "life-events": dt.time(0, 0), "treatments": dt.time(9, 0)}
TIME_COLUMN = {"sessions": "given_at", "scores": "taken_at", "therapy": "held_at", "life-events": "occurred_at",
               "treatments": "started_at"}
ENTITY = {"sessions": "session", "scores": "score", "therapy": "therapy", "life-events": "life_event",
          "treatments": "treatment"}


# --- settings and lookups ------------------------------------------------------------------------------------


def settings(s: Session) -> ClinicSettings:
    row = s.get(ClinicSettings, 1)
    if row is None:
        raise ClinicError("the database has no clinic settings: run `ketasim clinic init --db URL` first", status=500)
    return row


def _require_write(actor: Actor) -> None:
    if not actor.can_write:
        raise ClinicError(f"role {actor.role!r} cannot change records: allowed admin or clinician", status=403,
                          field="role")


def get_patient(s: Session, patient_id: int, *, lock: bool = False) -> Patient:
    """The patient; ``lock`` holds its row until the transaction ends (writes that update its summary: on
    PostgreSQL two concurrent writes would otherwise both read and overwrite the same version)."""
    p = s.get(Patient, patient_id, with_for_update=lock or None)
    if p is None:
        raise ClinicError(f"patient_id = {patient_id}: no such patient", status=404, field="patient_id")
    return p


def record_kind(kind: str) -> type[RecordMixin]:
    try:
        return RECORD_MODELS[kind]
    except KeyError:
        raise ClinicError(f"record kind = {kind!r}: allowed {', '.join(RECORD_MODELS)}", status=404,
                          field="kind") from None


# --- patients ------------------------------------------------------------------------------------------------


def create_patient(db: Database, actor: Actor, data: PatientIn, *, synthetic: bool = False) -> Patient:
    _require_write(actor)
    with db.write() as s:
        if s.scalar(select(Patient.id).where(Patient.external_id == data.external_id)) is not None:
            raise ClinicError(f"external_id = {data.external_id!r}: allowed an identifier no other patient has",
                              status=409, field="external_id")
        p = Patient(**data.model_dump(), synthetic=synthetic, created_by_id=actor.user_id)
        s.add(p)
        s.flush()
        audit.record(s, actor, "create", "patient", p.id, patient_id=p.id)
    return p


def update_patient(db: Database, actor: Actor, patient_id: int, data: PatientDetailsIn) -> Patient:
    """Correct a patient's birth year, sex or weight (a new weight counts for sessions recorded from now on)."""
    _require_write(actor)
    with db.write() as s:
        p = get_patient(s, patient_id, lock=True)
        changed = [k for k in ("birth_year", "sex", "weight_kg") if getattr(p, k) != getattr(data, k)]
        for k in changed:
            setattr(p, k, getattr(data, k))
        p.record_version += 1
        audit.record(s, actor, "amend", "patient", patient_id, patient_id=patient_id,
                     detail=f"{', '.join(changed) or 'nothing'} changed: {data.reason}")
    return p


def list_patients(db: Database, actor: Actor, *, query: str = "", page: int = 1,
                  per_page: int = PAGE_SIZE) -> tuple[list[Patient], int]:
    """One page of the overview: patients with open alerts first, searchable by identifier."""
    page = max(1, int(page))
    with db.read() as s:
        q = select(Patient)
        count = select(func.count(Patient.id))
        if query:
            pattern = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            cond = Patient.external_id.ilike(pattern, escape="\\")
            q, count = q.where(cond), count.where(cond)
        total = s.scalar(count) or 0
        rows = list(s.scalars(q.order_by(Patient.open_alerts.desc(), Patient.external_id)
                              .limit(per_page).offset((page - 1) * per_page)))
    audit.record_read(db, actor, "overview", detail=f"page {page}")
    return rows, total


def patient_view(db: Database, actor: Actor, patient_id: int, *, score_limit: int = PAGE_SIZE) -> dict[str, Any]:
    """Everything the patient page shows: details, records with their history, alerts, stored forecast."""
    with db.read() as s:
        p = get_patient(s, patient_id)
        out: dict[str, Any] = {"patient": p}
        for kind, model in RECORD_MODELS.items():
            col = getattr(model, TIME_COLUMN[kind])
            q = select(model).where(model.patient_id == patient_id).order_by(col.desc(), model.id.desc())
            if kind == "scores":
                q = q.limit(score_limit)
            out[kind] = list(s.scalars(q))
        out["alerts"] = list(s.scalars(select(Alert).where(Alert.patient_id == patient_id)
                                       .order_by((Alert.kind == "item9").desc(), Alert.raised_at.desc()).limit(100)))
        out["forecast"] = s.scalar(select(StoredForecast).where(StoredForecast.patient_id == patient_id))
        out["users"] = {u.id: u.display_name for u in s.scalars(select(User))}
    with db.write() as s:
        alert_rules.mark_seen(s, [a for a in out["alerts"] if a.is_open], actor)
        audit.record(s, actor, "read", "patient", patient_id, patient_id=patient_id)
    return out


def load_record(s: Session, patient_id: int) -> PatientRecord:
    """The patient's current records (amended and voided ones left out), oldest first."""
    p = get_patient(s, patient_id)
    parts = {}
    for kind, model in RECORD_MODELS.items():
        col = getattr(model, TIME_COLUMN[kind])
        parts[kind] = list(s.scalars(select(model).where(model.patient_id == patient_id, model.status == "current")
                                     .order_by(col, model.id)))
    return PatientRecord(patient=p, sessions=parts["sessions"], scores=parts["scores"], therapy=parts["therapy"],
                         life_events=parts["life-events"], treatments=parts["treatments"])


# --- records -------------------------------------------------------------------------------------------------


def _on_antidepressant(s: Session, patient_id: int, when: dt.datetime) -> bool:
    last = s.scalar(select(OtherTreatment.kind).where(
        OtherTreatment.patient_id == patient_id, OtherTreatment.status == "current",
        OtherTreatment.kind.in_(("antidepressant", "antidepressant_stop")), OtherTreatment.started_at <= when)
        .order_by(OtherTreatment.started_at.desc()).limit(1))
    return last == "antidepressant"


def _local(when: dt.datetime, tz: Any) -> dt.datetime:
    """A stored UTC time as the clinic's wall-clock time (naive)."""
    aware = when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)
    return aware.astimezone(tz).replace(tzinfo=None)


def _earlier_sessions(s: Session, patient_id: int, when: dt.datetime, tz: Any) -> list[EarlierSession]:
    """The patient's current sessions up to ``when`` from the previous :data:`LOOKBACK_DAYS` (+1, for time zones)."""
    rows = s.scalars(select(TreatmentSession).where(
        TreatmentSession.patient_id == patient_id, TreatmentSession.status == "current",
        TreatmentSession.given_at <= when, TreatmentSession.given_at >= when - dt.timedelta(days=LOOKBACK_DAYS + 1)))
    return [EarlierSession(at=_local(r.given_at, tz), route=r.route, drug=r.drug, dose_mg=r.dose_mg,
                           infusion_minutes=r.infusion_minutes) for r in rows]


def _fields(s: Session, kind: str, patient: Patient, data: BaseModel, cfg: ClinicSettings) -> dict[str, Any]:
    """The model columns of a new record from its validated input (dose check, computed totals, UTC times)."""
    tz = zone(cfg.timezone)
    when = to_utc(data.date, tz, default_time=DEFAULT_CLOCK[kind])  # type: ignore[attr-defined]
    if isinstance(data, SessionIn):
        checked = check_session_dose(route=data.route, drug=data.drug, dose_mg=data.dose_mg,
                                     dose_mg_per_kg=data.dose_mg_per_kg, weight_kg=patient.weight_kg,
                                     infusion_minutes=data.infusion_minutes,
                                     on_antidepressant=_on_antidepressant(s, patient.id, when),
                                     allow_off_label=data.off_label, at=_local(when, tz),
                                     earlier=_earlier_sessions(s, patient.id, when, tz))
        out: dict[str, Any] = {"given_at": when, "route": data.route, "drug": data.drug, "dose_mg": checked.dose_mg,
                               "dose_mg_per_kg": round(checked.dose_mg_per_kg, 4), "weight_kg": patient.weight_kg,
                               "infusion_minutes": data.infusion_minutes if data.route == "iv" else None,
                               "off_label": checked.off_label,
                               "off_label_reasons": "; ".join(checked.off_label_reasons) or None}
        for name in ("before", "40min", "discharge"):
            bp = getattr(data, f"bp_{name}")
            out[f"bp_{name}_systolic"] = bp.systolic if bp else None
            out[f"bp_{name}_diastolic"] = bp.diastolic if bp else None
        for name in ("dissociation_score", "monitoring_minutes", "sedation", "discharge_ready", "adverse_events",
                     "note"):
            out[name] = getattr(data, name)
        return out
    if isinstance(data, ScoreIn):
        inst = instrument(data.instrument)
        items = checked_items(inst, data.items)
        return {"taken_at": when, "instrument": inst.name, "items": items, "total": sum(items)}
    if isinstance(data, TherapyIn):
        return {"held_at": when, "kind": data.kind, "minutes": data.minutes, "note": data.note}
    if isinstance(data, LifeEventIn):
        return {"occurred_at": when, "description": data.description, "impact": data.impact}
    if isinstance(data, TreatmentIn):
        return {"started_at": when, "kind": data.kind, "detail": data.detail}
    raise TypeError(type(data).__name__)


def refresh_summary(s: Session, patient: Patient) -> None:
    """Recompute the patient's summary columns from the current records (same transaction)."""
    s.flush()
    last_two = list(s.execute(select(Score.total, Score.taken_at).where(
        Score.patient_id == patient.id, Score.instrument == PHQ9.name, Score.status == "current")
        .order_by(Score.taken_at.desc(), Score.id.desc()).limit(2)))
    patient.last_phq9 = last_two[0][0] if last_two else None
    patient.last_phq9_at = last_two[0][1] if last_two else None
    patient.previous_phq9 = last_two[1][0] if len(last_two) > 1 else None
    patient.last_session_at = s.scalar(select(func.max(TreatmentSession.given_at)).where(
        TreatmentSession.patient_id == patient.id, TreatmentSession.status == "current"))
    patient.record_version += 1


def _after_write(s: Session, kind: str, patient: Patient, row: RecordMixin, cfg: ClinicSettings) -> list[Alert]:
    refresh_summary(s, patient)
    raised: list[Alert] = []
    if isinstance(row, Score) and row.status == "current":
        raised = alert_rules.alerts_for_score(s, patient, row, cfg)
    if kind == "sessions":
        alert_rules.resolve(alert_rules.open_alerts(s, patient.id, "due"), "a session was recorded")
    alert_rules.update_open_count(s, patient)
    return raised


def add_record(db: Database, actor: Actor, patient_id: int, kind: str, data: BaseModel, *,
               source: str | None = None) -> tuple[RecordMixin, list[Alert]]:
    """Add one session, score, psychotherapy session, life event or treatment; returns it and the alerts raised."""
    _require_write(actor)
    model = record_kind(kind)
    with db.write() as s:
        cfg = settings(s)
        patient = get_patient(s, patient_id, lock=True)
        fields = _fields(s, kind, patient, data, cfg)
        if source is not None and model is Score:
            fields["source"] = source
        row = model(patient_id=patient_id, recorded_by_id=actor.user_id, **fields)
        s.add(row)
        s.flush()
        raised = _after_write(s, kind, patient, row, cfg)
        audit.record(s, actor, "create", ENTITY[kind], row.id, patient_id=patient_id)
    return row, raised


def _current_record(s: Session, patient_id: int, kind: str, record_id: int) -> RecordMixin:
    model = record_kind(kind)
    row = s.get(model, record_id)
    if row is None or row.patient_id != patient_id:
        raise ClinicError(f"{ENTITY[kind]} {record_id}: no such record for patient {patient_id}", status=404,
                          field="record_id")
    if row.status != "current":
        raise ClinicError(f"{ENTITY[kind]} {record_id} is {row.status}: allowed only the current version",
                          status=409, field="record_id")
    return row


def amend_record(db: Database, actor: Actor, patient_id: int, kind: str, record_id: int, data: BaseModel,
                 reason: str) -> tuple[RecordMixin, list[Alert]]:
    """Replace a record by a corrected copy; the original stays in the history as ``amended``."""
    _require_write(actor)
    model = record_kind(kind)
    if not isinstance(data, RECORD_SCHEMAS[kind]):
        raise TypeError(f"{kind} amended with {type(data).__name__}")
    with db.write() as s:
        cfg = settings(s)
        patient = get_patient(s, patient_id, lock=True)
        old = _current_record(s, patient_id, kind, record_id)
        old.status, old.changed_at, old.changed_by_id, old.change_reason = "amended", utcnow(), actor.user_id, reason
        s.flush()
        fields = _fields(s, kind, patient, data, cfg)
        if model is Score:
            fields["source"] = old.source  # type: ignore[attr-defined]
        new = model(patient_id=patient_id, recorded_by_id=actor.user_id, replaces_id=old.id, change_reason=reason,
                    **fields)
        s.add(new)
        s.flush()
        raised = _after_write(s, kind, patient, new, cfg)
        audit.record(s, actor, "amend", ENTITY[kind], new.id, patient_id=patient_id, detail=f"replaces {old.id}")
    return new, raised


def void_record(db: Database, actor: Actor, patient_id: int, kind: str, record_id: int, reason: str) -> RecordMixin:
    """Mark a record void (entered in error); it stays in the history with the reason."""
    _require_write(actor)
    with db.write() as s:
        cfg = settings(s)
        patient = get_patient(s, patient_id, lock=True)
        row = _current_record(s, patient_id, kind, record_id)
        row.status, row.changed_at, row.changed_by_id, row.change_reason = "voided", utcnow(), actor.user_id, reason
        _after_write(s, kind, patient, row, cfg)
        audit.record(s, actor, "void", ENTITY[kind], row.id, patient_id=patient_id)
    return row


def record_as_input(kind: str, row: RecordMixin, tz_name: str) -> dict[str, Any]:
    """A record's fields as the input form of its kind (to prefill an amendment), times in clinic time."""
    tz = zone(tz_name)
    when = getattr(row, TIME_COLUMN[kind]).astimezone(tz).replace(tzinfo=None)
    out: dict[str, Any] = {"date": when}
    if isinstance(row, TreatmentSession):
        out.update(route=row.route, drug=row.drug, dose_mg=row.dose_mg, infusion_minutes=row.infusion_minutes,
                   dissociation_score=row.dissociation_score, monitoring_minutes=row.monitoring_minutes,
                   sedation=row.sedation, discharge_ready=row.discharge_ready, adverse_events=row.adverse_events,
                   off_label=row.off_label, note=row.note)
        for name in ("before", "40min", "discharge"):
            sys_, dia = getattr(row, f"bp_{name}_systolic"), getattr(row, f"bp_{name}_diastolic")
            out[f"bp_{name}"] = {"systolic": sys_, "diastolic": dia} if sys_ is not None else None
    elif isinstance(row, Score):
        out.update(instrument=row.instrument, items=list(row.items))
    elif isinstance(row, TherapySession):
        out.update(kind=row.kind, minutes=row.minutes, note=row.note)
    elif isinstance(row, LifeEvent):
        out.update(description=row.description, impact=row.impact)
    elif isinstance(row, OtherTreatment):
        out.update(kind=row.kind, detail=row.detail)
    return out


def get_record(db: Database, actor: Actor, patient_id: int, kind: str, record_id: int) -> RecordMixin:
    with db.read() as s:
        model = record_kind(kind)
        row = s.get(model, record_id)
        if row is None or row.patient_id != patient_id:
            raise ClinicError(f"{ENTITY[kind]} {record_id}: no such record for patient {patient_id}", status=404,
                              field="record_id")
    audit.record_read(db, actor, ENTITY[kind], record_id, patient_id=patient_id)
    return row


# --- alerts --------------------------------------------------------------------------------------------------


def list_alerts(db: Database, actor: Actor, *, open_only: bool = True, limit: int = 200) -> list[tuple[Alert, str]]:
    """Alerts (newest first) with the patient's identifier; item 9 first among open ones."""
    with db.read() as s:
        q = select(Alert, Patient.external_id).join(Patient, Patient.id == Alert.patient_id)
        if open_only:
            q = q.where(Alert.acknowledged_at.is_(None), Alert.resolved_at.is_(None))
        q = q.order_by((Alert.kind == "item9").desc(), Alert.raised_at.desc()).limit(limit)
        rows = [(a, ext) for a, ext in s.execute(q)]
    with db.write() as s:
        alert_rules.mark_seen(s, [a for a, _ in rows if a.is_open], actor)
        audit.record(s, actor, "read", "alerts", detail=f"{len(rows)} alerts")
    return rows


def count_urgent(db: Database) -> int:
    """Open item-9 alerts in the clinic (shown at once on every page)."""
    with db.read() as s:
        return s.scalar(select(func.count(Alert.id)).where(
            Alert.kind == "item9", Alert.acknowledged_at.is_(None), Alert.resolved_at.is_(None))) or 0


def acknowledge_alert(db: Database, actor: Actor, alert_id: int, note: str | None) -> Alert:
    _require_write(actor)
    with db.write() as s:
        alert = s.get(Alert, alert_id)
        if alert is None:
            raise ClinicError(f"alert_id = {alert_id}: no such alert", status=404, field="alert_id")
        alert_rules.acknowledge(s, alert, actor, note)
        alert_rules.update_open_count(s, get_patient(s, alert.patient_id, lock=True))
        audit.record(s, actor, "acknowledge", "alert", alert_id, patient_id=alert.patient_id)
    return alert


# --- export and deletion -------------------------------------------------------------------------------------


def as_json_row(row: Any) -> dict[str, Any]:
    """A row's columns as JSON data (times ISO 8601 in UTC)."""
    out = {}
    for c in row.__table__.columns:
        v = getattr(row, c.key)
        out[c.key] = v.isoformat() if isinstance(v, dt.datetime | dt.date) else v
    return out


def export_patient(db: Database, actor: Actor, patient_id: int) -> dict[str, Any]:
    """The patient's whole record (every version of every record, alerts, last forecast) as JSON data."""
    with db.read() as s:
        p = get_patient(s, patient_id)
        out: dict[str, Any] = {"format": "ketasim-clinic patient export", "version": 1,
                               "exported_at": utcnow().isoformat(), "patient": as_json_row(p)}
        for kind, model in RECORD_MODELS.items():
            out[kind] = [as_json_row(r) for r in s.scalars(select(model).where(model.patient_id == patient_id)
                                                        .order_by(model.id))]
        out["alerts"] = [as_json_row(a) for a in s.scalars(select(Alert).where(Alert.patient_id == patient_id)
                                                        .order_by(Alert.id))]
        fc = s.scalar(select(StoredForecast).where(StoredForecast.patient_id == patient_id))
        out["forecast"] = as_json_row(fc) if fc else None
    with db.write() as s:
        audit.record(s, actor, "export", "patient", patient_id, patient_id=patient_id)
    return out


def delete_patient(db: Database, actor: Actor, patient_id: int, confirm_external_id: str, reason: str) -> None:
    """Delete a patient and every record on request (the audit log keeps that it happened, by id only)."""
    _require_write(actor)
    with db.write() as s:
        p = get_patient(s, patient_id, lock=True)
        if confirm_external_id != p.external_id:
            raise ClinicError("confirm_external_id: allowed the patient's identifier exactly, to confirm the deletion",
                              field="confirm_external_id")
        s.delete(p)
        s.flush()
        audit.record(s, actor, "delete", "patient", patient_id, patient_id=patient_id,
                     detail=f"deleted on request: {reason}")

