"""The JSON API: the same operations as the pages, for other systems (documented at ``/api/docs``, admins only).

``POST /api/login`` returns ``{"token"}``; every other route needs ``Authorization: Bearer TOKEN``.
Bad input answers 4xx with ``{"detail": "<field> = <value>: allowed ...", "field": ...}``.
"""

from typing import Any

from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel, ValidationError
from sqlalchemy import select

from ketasim.clinic import audit, fhir, records, security
from ketasim.clinic.audit import Actor
from ketasim.clinic.db import ClinicError
from ketasim.clinic.models import AuditEntry, Patient, Score, StoredForecast
from ketasim.clinic.schemas import (
    RECORD_SCHEMAS,
    AcknowledgeIn,
    DeleteIn,
    LifeEventIn,
    LoginIn,
    PatientDetailsIn,
    PatientIn,
    ReasonIn,
    ScoreIn,
    SessionIn,
    TherapyIn,
    TreatmentIn,
)
from ketasim.clinic.web import api_actor, api_admin, client_ip, state, validation_messages

public = APIRouter(prefix="/api")
api = APIRouter(prefix="/api", dependencies=[Depends(api_actor)])
api_admin_router = APIRouter(prefix="/api", dependencies=[Depends(api_admin)])


columns = records.as_json_row


@public.post("/login")
def login(request: Request, body: LoginIn) -> dict[str, str]:
    st = state(request)
    result = security.login(st.db, st.cfg, body.email, body.password, ip=client_ip(request), kind="api")
    return {"token": result.token, "expires_at": result.expires_at.isoformat(), "role": result.user.role}


@api.post("/logout")
def logout(request: Request) -> dict[str, str]:
    security.end_session(state(request).db, request.headers.get("authorization", "").partition(" ")[2].strip())
    return {"status": "logged out"}


@api.get("/patients")
def list_patients(request: Request, q: str = "", page: int = 1, actor: Actor = Depends(api_actor)) -> dict[str, Any]:
    rows, total = records.list_patients(state(request).db, actor, query=q.strip()[:64], page=max(1, min(page, 100_000)))
    return {"total": total, "page": page, "per_page": records.PAGE_SIZE, "patients": [columns(p) for p in rows]}


@api.post("/patients", status_code=201)
def create_patient(request: Request, body: PatientIn, actor: Actor = Depends(api_actor)) -> dict[str, Any]:
    return columns(records.create_patient(state(request).db, actor, body))


@api.get("/patients/{patient_id}")
def get_patient(request: Request, patient_id: int, actor: Actor = Depends(api_actor)) -> dict[str, Any]:
    view = records.patient_view(state(request).db, actor, patient_id)
    return {"patient": columns(view["patient"]),
            **{kind: [columns(r) for r in view[kind]] for kind in RECORD_SCHEMAS},
            "alerts": [columns(a) for a in view["alerts"]]}


def _add(request: Request, actor: Actor, patient_id: int, kind: str, body: BaseModel) -> dict[str, Any]:
    row, raised = records.add_record(state(request).db, actor, patient_id, kind, body, source="api")
    return {**columns(row), "alerts_raised": [columns(a) for a in raised]}


@api.post("/patients/{patient_id}/details")
def update_patient(request: Request, patient_id: int, body: PatientDetailsIn,
                   actor: Actor = Depends(api_actor)) -> dict:
    """Correct birth year, sex or weight, with a reason (kept in the audit log)."""
    return columns(records.update_patient(state(request).db, actor, patient_id, body))


@api.post("/patients/{patient_id}/sessions", status_code=201)
def add_session(request: Request, patient_id: int, body: SessionIn, actor: Actor = Depends(api_actor)) -> dict:
    return _add(request, actor, patient_id, "sessions", body)


@api.post("/patients/{patient_id}/scores", status_code=201)
def add_score(request: Request, patient_id: int, body: ScoreIn, actor: Actor = Depends(api_actor)) -> dict:
    return _add(request, actor, patient_id, "scores", body)


@api.post("/patients/{patient_id}/therapy", status_code=201)
def add_therapy(request: Request, patient_id: int, body: TherapyIn, actor: Actor = Depends(api_actor)) -> dict:
    return _add(request, actor, patient_id, "therapy", body)


@api.post("/patients/{patient_id}/life-events", status_code=201)
def add_life_event(request: Request, patient_id: int, body: LifeEventIn, actor: Actor = Depends(api_actor)) -> dict:
    return _add(request, actor, patient_id, "life-events", body)


@api.post("/patients/{patient_id}/treatments", status_code=201)
def add_treatment(request: Request, patient_id: int, body: TreatmentIn, actor: Actor = Depends(api_actor)) -> dict:
    return _add(request, actor, patient_id, "treatments", body)


@api.post("/patients/{patient_id}/{kind}/{record_id}/amend", status_code=201)
def amend(request: Request, patient_id: int, kind: str, record_id: int,
          body: dict[str, Any] = Body(..., examples=[{"reason": "item 3 mistyped",
                                                      "record": {"date": "2025-01-06", "instrument": "PHQ-9",
                                                                 "items": [1, 1, 1, 1, 0, 0, 0, 0, 0]}}]),
          actor: Actor = Depends(api_actor)) -> dict[str, Any]:
    """Replace a record by a corrected copy: ``{"reason", "record": {...fields of its kind...}}``."""
    records.record_kind(kind)
    reason = ReasonIn.model_validate({"reason": body.get("reason")}).reason
    try:
        data = RECORD_SCHEMAS[kind].model_validate(body.get("record"))
    except ValidationError as exc:
        first = validation_messages(exc, "record.")[0]
        raise ClinicError(first["message"], field=first["field"]) from None
    row, raised = records.amend_record(state(request).db, actor, patient_id, kind, record_id, data, reason)
    return {**columns(row), "alerts_raised": [columns(a) for a in raised]}


@api.post("/patients/{patient_id}/{kind}/{record_id}/void")
def void(request: Request, patient_id: int, kind: str, record_id: int, body: ReasonIn,
         actor: Actor = Depends(api_actor)) -> dict[str, Any]:
    return columns(records.void_record(state(request).db, actor, patient_id, kind, record_id, body.reason))


@api.get("/patients/{patient_id}/forecast")
def forecast(request: Request, patient_id: int, actor: Actor = Depends(api_actor)) -> dict[str, Any]:
    """The stored forecast: ``status`` pending (none yet), ok, not_enough or error; ``stale``: the record changed."""
    db = state(request).db
    with db.read() as s:
        p = records.get_patient(s, patient_id)
        fc = s.scalar(select(StoredForecast).where(StoredForecast.patient_id == patient_id))
        version = p.record_version
    audit.record_read(db, actor, "forecast", patient_id=patient_id)
    if fc is None:
        return {"status": "pending", "message": "forecast pending: the background worker has not computed it yet"}
    return {"status": fc.status, "computed_at": fc.computed_at.isoformat(), "stale": fc.record_version != version,
            "message": fc.message, "result": fc.result}


@api.get("/patients/{patient_id}/export")
def export(request: Request, patient_id: int, actor: Actor = Depends(api_actor)) -> dict[str, Any]:
    return records.export_patient(state(request).db, actor, patient_id)


@api.post("/patients/{patient_id}/delete")
def delete(request: Request, patient_id: int, body: DeleteIn, actor: Actor = Depends(api_actor)) -> dict[str, Any]:
    records.delete_patient(state(request).db, actor, patient_id, body.confirm_external_id, body.reason)
    return {"status": "deleted", "id": patient_id}


@api.get("/alerts")
def alerts(request: Request, show: str = "open", actor: Actor = Depends(api_actor)) -> dict[str, Any]:
    rows = records.list_alerts(state(request).db, actor, open_only=show != "all")
    return {"alerts": [{**columns(a), "external_id": ext} for a, ext in rows]}


@api.post("/alerts/{alert_id}/acknowledge")
def acknowledge(request: Request, alert_id: int, body: AcknowledgeIn, actor: Actor = Depends(api_actor)) -> dict:
    return columns(records.acknowledge_alert(state(request).db, actor, alert_id, body.note))


@api_admin_router.get("/audit")
def audit_log(request: Request, before_id: int | None = None, limit: int = 100) -> dict[str, Any]:
    limit = max(1, min(limit, 1000))
    with state(request).db.read() as s:
        q = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if before_id is not None:
            q = q.where(AuditEntry.id < before_id)
        return {"entries": [columns(e) for e in s.scalars(q)]}


# --- FHIR R4 --------------------------------------------------------------------------------------------------


@api.post("/fhir/QuestionnaireResponse", status_code=201)
def fhir_in(request: Request, resource: dict[str, Any] = Body(...), actor: Actor = Depends(api_actor)) -> dict:
    """Store a PHQ-9 QuestionnaireResponse (LOINC 44249-1) as a score; returns it as stored."""
    qr = fhir.parse(resource)
    items, authored = fhir.phq9_items(qr)
    pid, external = fhir.subject(qr)
    db = state(request).db
    with db.read() as s:
        if pid is None:
            pid = s.scalar(select(Patient.id).where(Patient.external_id == external))
            if pid is None:
                raise ClinicError(f"subject.identifier.value = {external!r}: no patient has this identifier",
                                  status=404, field="subject.identifier.value")
    row, raised = records.add_record(db, actor, pid, "scores", ScoreIn(date=authored, instrument="PHQ-9", items=items),
                                     source="fhir")
    with db.read() as s:
        patient = records.get_patient(s, pid)
        score = s.get(Score, row.id)
        assert score is not None
        return {**fhir.to_resource(patient, score), "id": f"phq9-{row.id}"}


@api.get("/fhir/Patient/{patient_id}/QuestionnaireResponse")
def fhir_out(request: Request, patient_id: int, actor: Actor = Depends(api_actor)) -> dict[str, Any]:
    """The patient's current PHQ-9s as a FHIR R4 searchset Bundle of QuestionnaireResponses."""
    db = state(request).db
    with db.read() as s:
        patient = records.get_patient(s, patient_id)
        scores = list(s.scalars(select(Score).where(Score.patient_id == patient_id, Score.instrument == "PHQ-9",
                                                    Score.status == "current").order_by(Score.taken_at)))
    audit.record_read(db, actor, "fhir_export", patient_id=patient_id)
    return fhir.bundle(patient, scores)
