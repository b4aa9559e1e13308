"""The server-rendered pages (Jinja2 templates in ``templates/``). Every POST form carries the session's CSRF token."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy import func, select

from ketasim.clinic import records, security
from ketasim.clinic.audit import Actor
from ketasim.clinic.chart import score_chart
from ketasim.clinic.db import ClinicError
from ketasim.clinic.forecasting import relapse_definition
from ketasim.clinic.instruments import GAD7, PHQ9, instrument
from ketasim.clinic.models import ROLES, AuditEntry, User
from ketasim.clinic.report import report_content, report_pdf
from ketasim.clinic.schemas import RECORD_SCHEMAS, PatientDetailsIn, PatientIn
from ketasim.clinic.timezones import local_today, zone
from ketasim.clinic.web import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    client_ip,
    clinic_settings,
    page_actor,
    page_admin,
    page_session,
    render,
    state,
    validation_messages,
)

public = APIRouter()
pages = APIRouter(dependencies=[Depends(page_actor)])
admin = APIRouter(prefix="/admin", dependencies=[Depends(page_admin)])

RECORD_TITLES = {"sessions": "Ketamine session", "scores": "Questionnaire", "therapy": "Psychotherapy session",
                 "life-events": "Life event", "treatments": "Other treatment"}
SESSION_FIELDS = ("date", "route", "drug", "dose_mg", "dose_mg_per_kg", "infusion_minutes", "dissociation_score",
                  "monitoring_minutes", "sedation", "adverse_events", "note")
SIMPLE_FIELDS = {"therapy": ("date", "kind", "minutes", "note"), "life-events": ("date", "description", "impact"),
                 "treatments": ("date", "kind", "detail")}
BP_NAMES = ("before", "40min", "discharge")


async def checked_form(request: Request) -> dict[str, str]:
    """The posted form after its CSRF token was checked against the session's."""
    form = await request.form()
    login = getattr(request.state, "login", None) or page_session(request)
    if not security.csrf_ok(login.csrf_token, form.get("csrf_token")):  # type: ignore[arg-type]
        raise ClinicError("the form expired or did not come from this site (CSRF check): reload the page and try again",
                          status=403, field="csrf_token")
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _blank(v: Any) -> str | None:
    return None if v is None or str(v).strip() == "" else str(v).strip()


def form_input(kind: str, form: dict[str, str]) -> BaseModel:
    """A record's form fields as its input schema (raises ``ValidationError`` naming the field)."""
    schema = RECORD_SCHEMAS[kind]
    if kind == "sessions":
        data: dict[str, Any] = {k: _blank(form.get(k)) for k in SESSION_FIELDS}
        data["drug"] = data["drug"] or "racemic"
        data["off_label"] = form.get("off_label") == "on"
        data["discharge_ready"] = {"yes": True, "no": False}.get(form.get("discharge_ready", ""))
        for name in BP_NAMES:
            sys_, dia = _blank(form.get(f"bp_{name}_systolic")), _blank(form.get(f"bp_{name}_diastolic"))
            data[f"bp_{name}"] = None if sys_ is None and dia is None else {"systolic": sys_, "diastolic": dia}
    elif kind == "scores":
        inst = instrument(form.get("instrument", "PHQ-9"))
        data = {"date": _blank(form.get("date")), "instrument": inst.name,
                "items": [_blank(form.get(f"item_{k + 1}")) for k in range(len(inst.items))]}
    else:
        data = {k: _blank(form.get(k)) for k in SIMPLE_FIELDS[kind]}
        if kind == "therapy" and data["kind"] is None:
            data["kind"] = "psychotherapy"
    data = {k: v for k, v in data.items() if v is not None or k in ("date",)}
    return schema.model_validate(data)


def _form_values(kind: str, values: dict[str, Any]) -> dict[str, Any]:
    """Stored input values as the form's field values (for an amendment)."""
    out = dict(values)
    if isinstance(out.get("date"), dt.datetime):
        out["date"] = out["date"].strftime("%Y-%m-%dT%H:%M")
    for name in BP_NAMES:
        bp = out.pop(f"bp_{name}", None)
        if bp:
            out[f"bp_{name}_systolic"], out[f"bp_{name}_diastolic"] = bp["systolic"], bp["diastolic"]
    if "items" in out:
        for k, v in enumerate(out.pop("items")):
            out[f"item_{k + 1}"] = v
    if out.get("discharge_ready") is not None:
        out["discharge_ready"] = "yes" if out["discharge_ready"] else "no"
    if out.get("off_label"):
        out["off_label"] = "on"
    return {k: v for k, v in out.items() if v is not None}


# --- public ----------------------------------------------------------------------------------------------------


@public.get("/health")
def health(request: Request) -> dict[str, str]:
    with state(request).db.read() as s:
        s.execute(select(1))
    return {"status": "ok"}


@public.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> Response:
    token = secrets.token_urlsafe(24)
    resp = render(request, "login.html", {"login_csrf": token, "next": _safe_next(next), "error": None})
    resp.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                    secure=state(request).cfg.secure_cookies)
    return resp


def _safe_next(target: str) -> str:
    return target if target.startswith("/") and not target.startswith("//") else "/"


@public.post("/login", response_class=HTMLResponse)
async def login_submit(request: Request) -> Response:
    form = await request.form()
    st = state(request)
    nxt = _safe_next(str(form.get("next") or "/"))
    token = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not token or not security.csrf_ok(token, str(form.get("login_csrf") or "")):
        return render(request, "login.html", {"login_csrf": token or "", "next": nxt,
                                              "error": "The login form expired: reload the page and try again."},
                      status=403)
    try:
        from starlette.concurrency import run_in_threadpool

        login = await run_in_threadpool(security.login, st.db, st.cfg, str(form.get("email") or ""),
                                        str(form.get("password") or ""), ip=client_ip(request), kind="page")
    except ClinicError as exc:
        return render(request, "login.html", {"login_csrf": token, "next": nxt, "error": str(exc)},
                      status=exc.status)
    resp = RedirectResponse(nxt, status_code=303)
    resp.set_cookie(SESSION_COOKIE, login.token, httponly=True, samesite="lax", secure=st.cfg.secure_cookies,
                    max_age=st.cfg.max_hours * 3600)
    resp.delete_cookie(LOGIN_CSRF_COOKIE)
    return resp


# --- pages -----------------------------------------------------------------------------------------------------


@pages.post("/logout")
def logout(request: Request, form: dict[str, str] = Depends(checked_form)) -> Response:
    security.end_session(state(request).db, request.cookies.get(SESSION_COOKIE))
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE)
    return resp


@pages.get("/", response_class=HTMLResponse)
def overview(request: Request, q: str = "", page: int = 1, actor: Actor = Depends(page_actor)) -> Response:
    q = q.strip()[:64]
    page = max(1, min(page, 100_000))
    rows, total = records.list_patients(state(request).db, actor, query=q, page=page)
    pages_total = max(1, -(-total // records.PAGE_SIZE))
    return render(request, "overview.html", {"patients": rows, "total": total, "q": q, "page": page,
                                             "pages": pages_total, "today": local_today(_tz(request))})


def _tz(request: Request) -> Any:
    return zone(clinic_settings(request).timezone)


@pages.get("/patients/new", response_class=HTMLResponse)
def patient_new(request: Request) -> Response:
    return render(request, "patient_new.html", {"values": {}, "errors": []})


@pages.post("/patients/new", response_class=HTMLResponse)
def patient_create(request: Request, form: dict[str, str] = Depends(checked_form),
                   actor: Actor = Depends(page_actor)) -> Response:
    try:
        data = PatientIn.model_validate({k: _blank(form.get(k)) for k in ("external_id", "birth_year", "sex",
                                                                           "weight_kg")})
        p = records.create_patient(state(request).db, actor, data)
    except ValidationError as exc:
        return render(request, "patient_new.html", {"values": form, "errors": validation_messages(exc)}, status=422)
    except ClinicError as exc:
        return render(request, "patient_new.html", {"values": form, "errors": [{"message": str(exc)}]},
                      status=exc.status)
    return RedirectResponse(f"/patients/{p.id}", status_code=303)


def _chart(view: dict[str, Any], tz: Any) -> str:
    current = [s for s in view["scores"] if s.status == "current"]
    fc = view["forecast"]
    return score_chart([(s.taken_at.astimezone(tz).date(), s.total) for s in reversed(current)
                        if s.instrument == PHQ9.name],
                       [(s.taken_at.astimezone(tz).date(), s.total) for s in reversed(current)
                        if s.instrument == GAD7.name],
                       [s.given_at.astimezone(tz).date() for s in view["sessions"] if s.status == "current"],
                       fc.result if fc is not None and fc.status == "ok" else None, local_today(tz))


def _forecast_state(view: dict[str, Any]) -> str:
    """``pending`` (none yet), ``stale`` (the record changed since: an update is pending) or ``current``."""
    fc = view["forecast"]
    if fc is None:
        return "pending"
    return "current" if fc.record_version == view["patient"].record_version else "stale"


@pages.get("/patients/{patient_id}", response_class=HTMLResponse)
def patient_page(request: Request, patient_id: int, actor: Actor = Depends(page_actor)) -> Response:
    view = records.patient_view(state(request).db, actor, patient_id)
    tz = _tz(request)
    return render(request, "patient.html", {**view, "life_events": view["life-events"], "chart": _chart(view, tz),
                                            "forecast_state": _forecast_state(view), "titles": RECORD_TITLES})


@pages.post("/patients/{patient_id}/details")
def patient_details(request: Request, patient_id: int, form: dict[str, str] = Depends(checked_form),
                    actor: Actor = Depends(page_actor)) -> Response:
    try:
        data = PatientDetailsIn.model_validate({k: _blank(form.get(k)) for k in ("birth_year", "sex", "weight_kg",
                                                                              "reason")})
    except ValidationError as exc:
        raise ClinicError("; ".join(m["message"] for m in validation_messages(exc)), field="details") from None
    records.update_patient(state(request).db, actor, patient_id, data)
    return RedirectResponse(f"/patients/{patient_id}", status_code=303)


@pages.get("/patients/{patient_id}/forecast", response_class=HTMLResponse)
def forecast_page(request: Request, patient_id: int, actor: Actor = Depends(page_actor)) -> Response:
    view = records.patient_view(state(request).db, actor, patient_id, score_limit=200)
    tz = _tz(request)
    fc = view["forecast"]
    weekly = []
    if fc is not None and fc.status == "ok":
        r = fc.result
        for k in range(0, len(r["dates"]), 7):
            weekly.append((r["dates"][k], r["bands"]["median"][k], r["bands"]["lower_80"][k], r["bands"]["upper_80"][k],
                           r["p_relapse_no_further_session"][k]))
    return render(request, "forecast.html", {**view, "chart": _chart(view, tz), "weekly": weekly,
                                             "forecast_state": _forecast_state(view),
                                             "relapse_definition": relapse_definition()})


@pages.get("/patients/{patient_id}/report", response_class=HTMLResponse)
def report_page(request: Request, patient_id: int, actor: Actor = Depends(page_actor)) -> Response:
    view = records.patient_view(state(request).db, actor, patient_id, score_limit=500)
    cfg = clinic_settings(request)
    tz, name = zone(cfg.timezone), cfg.name
    return render(request, "report.html", {"report": report_content(view, tz, name), "patient": view["patient"]})


@pages.get("/patients/{patient_id}/report.pdf")
def report_pdf_page(request: Request, patient_id: int, actor: Actor = Depends(page_actor)) -> Response:
    view = records.patient_view(state(request).db, actor, patient_id, score_limit=500)
    cfg = clinic_settings(request)
    tz, name = zone(cfg.timezone), cfg.name
    pdf = report_pdf(report_content(view, tz, name))
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="report-{patient_id}.pdf"'})


@pages.get("/patients/{patient_id}/export")
def export_page(request: Request, patient_id: int, actor: Actor = Depends(page_actor)) -> Response:
    data = records.export_patient(state(request).db, actor, patient_id)
    return Response(json.dumps(data, indent=2), media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="patient-{patient_id}.json"'})


@pages.get("/patients/{patient_id}/delete", response_class=HTMLResponse)
def delete_page(request: Request, patient_id: int, actor: Actor = Depends(page_actor)) -> Response:
    view = records.patient_view(state(request).db, actor, patient_id, score_limit=1)
    return render(request, "delete.html", {"patient": view["patient"], "errors": []})


@pages.post("/patients/{patient_id}/delete", response_class=HTMLResponse)
def delete_submit(request: Request, patient_id: int, form: dict[str, str] = Depends(checked_form),
                  actor: Actor = Depends(page_actor)) -> Response:
    st = state(request)
    try:
        reason = (form.get("reason") or "").strip()
        if len(reason) < 3:
            raise ClinicError("reason: allowed a reason of 3 or more characters", field="reason")
        records.delete_patient(st.db, actor, patient_id, (form.get("confirm_external_id") or "").strip(), reason)
    except ClinicError as exc:
        view = records.patient_view(st.db, actor, patient_id, score_limit=1)
        return render(request, "delete.html", {"patient": view["patient"], "errors": [{"message": str(exc)}]},
                      status=exc.status)
    return RedirectResponse("/", status_code=303)


def _record_form(request: Request, patient_id: int, kind: str, actor: Actor, *, values: dict[str, Any],
                 errors: list[dict[str, str]], record_id: int | None = None, status: int = 200) -> Response:
    records.record_kind(kind)
    with state(request).db.read() as s:
        p = records.get_patient(s, patient_id)
    inst = instrument(values.get("instrument") or request.query_params.get("instrument") or "PHQ-9") \
        if kind == "scores" else None
    template = {"sessions": "session_form.html", "scores": "score_form.html"}.get(kind, "event_form.html")
    return render(request, template, {"patient": p, "kind": kind, "title": RECORD_TITLES[kind], "values": values,
                                      "errors": errors, "record_id": record_id, "instrument": inst},
                  status=status)


@pages.get("/patients/{patient_id}/{kind}/new", response_class=HTMLResponse)
def record_new(request: Request, patient_id: int, kind: str, actor: Actor = Depends(page_actor)) -> Response:
    now = dt.datetime.now(_tz(request)).strftime("%Y-%m-%dT%H:%M")
    return _record_form(request, patient_id, kind, actor, values={"date": now}, errors=[])


@pages.post("/patients/{patient_id}/{kind}/new", response_class=HTMLResponse)
def record_create(request: Request, patient_id: int, kind: str, form: dict[str, str] = Depends(checked_form),
                  actor: Actor = Depends(page_actor)) -> Response:
    records.record_kind(kind)
    try:
        records.add_record(state(request).db, actor, patient_id, kind, form_input(kind, form), source="form")
    except ValidationError as exc:
        return _record_form(request, patient_id, kind, actor, values=form, errors=validation_messages(exc),
                            status=422)
    except ClinicError as exc:
        if exc.status in (403, 404):
            raise
        return _record_form(request, patient_id, kind, actor, values=form, errors=[{"message": str(exc)}],
                            status=exc.status)
    return RedirectResponse(f"/patients/{patient_id}#{kind}", status_code=303)


@pages.get("/patients/{patient_id}/{kind}/{record_id}/amend", response_class=HTMLResponse)
def record_amend_page(request: Request, patient_id: int, kind: str, record_id: int,
                      actor: Actor = Depends(page_actor)) -> Response:
    row = records.get_record(state(request).db, actor, patient_id, kind, record_id)
    tz_name = clinic_settings(request).timezone
    values = _form_values(kind, records.record_as_input(kind, row, tz_name))
    return _record_form(request, patient_id, kind, actor, values=values, errors=[], record_id=record_id)


@pages.post("/patients/{patient_id}/{kind}/{record_id}/amend", response_class=HTMLResponse)
def record_amend(request: Request, patient_id: int, kind: str, record_id: int,
                 form: dict[str, str] = Depends(checked_form), actor: Actor = Depends(page_actor)) -> Response:
    records.record_kind(kind)
    try:
        reason = (form.get("reason") or "").strip()
        if len(reason) < 3:
            raise ClinicError("reason: allowed a reason for the correction (3 or more characters)", field="reason")
        records.amend_record(state(request).db, actor, patient_id, kind, record_id, form_input(kind, form), reason)
    except ValidationError as exc:
        return _record_form(request, patient_id, kind, actor, values=form, errors=validation_messages(exc),
                            record_id=record_id, status=422)
    except ClinicError as exc:
        if exc.status in (403, 404):
            raise
        return _record_form(request, patient_id, kind, actor, values=form, errors=[{"message": str(exc)}],
                            record_id=record_id, status=exc.status)
    return RedirectResponse(f"/patients/{patient_id}#{kind}", status_code=303)


@pages.post("/patients/{patient_id}/{kind}/{record_id}/void")
def record_void(request: Request, patient_id: int, kind: str, record_id: int,
                form: dict[str, str] = Depends(checked_form), actor: Actor = Depends(page_actor)) -> Response:
    reason = (form.get("reason") or "").strip()
    if len(reason) < 3:
        raise ClinicError("reason: allowed a reason for voiding the record (3 or more characters)", field="reason")
    records.void_record(state(request).db, actor, patient_id, kind, record_id, reason)
    return RedirectResponse(f"/patients/{patient_id}#{kind}", status_code=303)


@pages.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, show: str = "open", actor: Actor = Depends(page_actor)) -> Response:
    rows = records.list_alerts(state(request).db, actor, open_only=show != "all")
    with state(request).db.read() as s:
        users = {u.id: u.display_name for u in s.scalars(select(User))}
    return render(request, "alerts.html", {"alerts": rows, "show": show, "users": users})


@pages.post("/alerts/{alert_id}/acknowledge")
def alert_acknowledge(request: Request, alert_id: int, form: dict[str, str] = Depends(checked_form),
                      actor: Actor = Depends(page_actor)) -> Response:
    records.acknowledge_alert(state(request).db, actor, alert_id, form.get("note"))
    return RedirectResponse(_safe_next(form.get("next") or "/alerts"), status_code=303)


# --- admin -----------------------------------------------------------------------------------------------------


@admin.get("/users", response_class=HTMLResponse)
def users_page(request: Request) -> Response:
    with state(request).db.read() as s:
        users = list(s.scalars(select(User).order_by(User.email)))
    return render(request, "admin_users.html", {"users": users, "roles": ROLES, "errors": [], "values": {}})


@admin.post("/users", response_class=HTMLResponse)
def users_create(request: Request, form: dict[str, str] = Depends(checked_form),
                 actor: Actor = Depends(page_admin)) -> Response:
    st = state(request)
    try:
        security.create_user(st.db, form.get("email", ""), form.get("password", ""), form.get("role", ""),
                             name=form.get("name", ""), actor=actor)
    except ClinicError as exc:
        with st.db.read() as s:
            users = list(s.scalars(select(User).order_by(User.email)))
        values = {k: v for k, v in form.items() if k != "password"}
        return render(request, "admin_users.html", {"users": users, "roles": ROLES, "values": values,
                                                    "errors": [{"message": str(exc)}]}, status=exc.status)
    return RedirectResponse("/admin/users", status_code=303)


@admin.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, page: int = 1) -> Response:
    page = max(1, page)
    with state(request).db.read() as s:
        total = s.scalar(select(func.count(AuditEntry.id))) or 0
        rows = list(s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(100).offset((page - 1) * 100)))
    return render(request, "admin_audit.html", {"entries": rows, "page": page, "pages": max(1, -(-total // 100))})


@admin.get("/settings", response_class=HTMLResponse)
def settings_page(request: Request) -> Response:
    with state(request).db.read() as s:
        cfg = records.settings(s)
    return render(request, "admin_settings.html", {"cfg": cfg, "errors": []})


@admin.post("/settings", response_class=HTMLResponse)
def settings_save(request: Request, form: dict[str, str] = Depends(checked_form),
                  actor: Actor = Depends(page_admin)) -> Response:
    st = state(request)
    try:
        values = parse_settings(form)
        with st.db.write() as s:
            cfg = records.settings(s)
            for k, v in values.items():
                setattr(cfg, k, v)
            from ketasim.clinic import audit

            audit.record(s, actor, "update", "settings", 1, detail=", ".join(sorted(values)))
    except ClinicError as exc:
        with st.db.read() as s:
            cfg = records.settings(s)
        return render(request, "admin_settings.html", {"cfg": cfg, "errors": [{"message": str(exc)}]},
                      status=exc.status)
    return RedirectResponse("/admin/settings", status_code=303)


def parse_settings(form: dict[str, str]) -> dict[str, Any]:
    """The clinic settings of the form, each checked (a :class:`ClinicError` names the field)."""
    out: dict[str, Any] = {}
    name = (form.get("name") or "").strip()
    if not 1 <= len(name) <= 200:
        raise ClinicError("name: allowed 1-200 characters", field="name")
    out["name"] = name
    zone(form.get("timezone", ""))
    out["timezone"] = form["timezone"]
    rules = ("previous", "lowest", "both")
    if form.get("rise_rule") not in rules:
        raise ClinicError(f"rise_rule = {form.get('rise_rule')!r}: allowed {' | '.join(rules)}", field="rise_rule")
    out["rise_rule"] = form["rise_rule"]
    for key, lo, hi, cast in (("rise_points", 1, 27, int), ("risk_threshold", 0.01, 0.99, float),
                              ("risk_horizon_days", 7, 182, int), ("next_session_risk", 0.01, 0.5, float)):
        try:
            v = cast(form.get(key, ""))
        except ValueError:
            raise ClinicError(f"{key} = {form.get(key)!r}: allowed a number {lo}-{hi}", field=key) from None
        if not lo <= v <= hi:
            raise ClinicError(f"{key} = {v}: allowed {lo}-{hi}", field=key)
        out[key] = v
    return out

