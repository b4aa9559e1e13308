"""Passwords, sessions, CSRF, throttling, no patient data in logs, append-only audit log."""

from __future__ import annotations

import datetime as dt
import logging
import re

import pytest
from clinic_helpers import PASSWORD, make_clinic
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from ketasim.clinic.models import AuditEntry, LoginSession, User
from ketasim.clinic.security import MIN_PASSWORD


def test_passwords_are_argon2_hashes(sqlite_clinic):
    with sqlite_clinic.db.read() as s:
        hashes = [u.password_hash for u in s.scalars(select(User))]
    assert hashes and all(h.startswith("$argon2id$") and PASSWORD not in h for h in hashes)
    from ketasim.clinic.db import ClinicError
    from ketasim.clinic.security import create_user

    with pytest.raises(ClinicError, match=f"allowed {MIN_PASSWORD} or more"):
        create_user(sqlite_clinic.db, "short@test.clinic", "short", "viewer")


def test_page_sessions_expire_when_idle_and_on_logout(tmp_path):
    from ketasim.clinic.settings import sqlite_url

    c = make_clinic(sqlite_url(tmp_path / "c.db"), idle_minutes=30)
    page = c.page_login("clinician")
    assert page.get("/").status_code == 200
    with c.db.write() as s:  # 31 minutes pass without a request
        s.execute(update(LoginSession).values(last_seen_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=31)))
    r = page.get("/")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    page = c.page_login("clinician")
    with c.db.write() as s:  # past the absolute lifetime
        s.execute(update(LoginSession).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    assert page.get("/").status_code == 303
    page = c.page_login("clinician")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get("/").text).group(1)
    assert page.post("/logout", data={"csrf_token": csrf}).status_code == 303
    assert page.get("/").status_code == 303
    h = c.token("clinician")
    with c.db.write() as s:
        s.execute(update(LoginSession).where(LoginSession.kind == "api")
                  .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    assert c.client.get("/api/patients", headers=h).status_code == 401


def test_forms_need_the_session_csrf_token(sqlite_clinic):
    page = sqlite_clinic.page_login("clinician")
    body = {"external_id": "C1", "birth_year": "1970", "sex": "male", "weight_kg": "80"}
    assert page.post("/patients/new", data=body).status_code == 403
    assert page.post("/patients/new", data={**body, "csrf_token": "forged"}).status_code == 403
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get("/patients/new").text).group(1)
    assert page.post("/patients/new", data={**body, "csrf_token": csrf}).status_code == 303
    other = sqlite_clinic.page_login("admin")  # another session's token does not work either
    assert other.post("/patients/new", data={**body, "external_id": "C2", "csrf_token": csrf}).status_code == 403


def test_login_attempts_are_throttled(sqlite_clinic):
    c = sqlite_clinic
    for _ in range(c.cfg.throttle_failures):
        assert c.client.post("/api/login", json={"email": "clinician@test.clinic", "password": "guess guess"}
                             ).status_code == 401
    r = c.client.post("/api/login", json={"email": "clinician@test.clinic", "password": PASSWORD})
    assert r.status_code == 429 and "too many failed logins" in r.json()["detail"]
    # From the same address, other accounts are throttled too (guessing across accounts).
    assert c.client.post("/api/login", json={"email": "admin@test.clinic", "password": PASSWORD}).status_code == 429


def test_no_patient_data_in_logs(sqlite_clinic, caplog):
    c = sqlite_clinic
    secret_id, secret_note = "ZQX-4471", "lives-at-Elm-Street-12"
    with caplog.at_level(logging.DEBUG):
        h = c.token("clinician")
        pid = c.client.post("/api/patients", headers=h, json={"external_id": secret_id, "birth_year": 1961,
                                                               "sex": "male", "weight_kg": 83.5}).json()["id"]
        c.client.post(f"/api/patients/{pid}/therapy", headers=h, json={"date": "2025-01-06", "note": secret_note})
        c.client.get("/api/patients", headers=h, params={"q": secret_id})
        page = c.page_login("clinician")
        page.get("/", params={"q": secret_id})
        page.get(f"/patients/{pid}")
        page.get(f"/patients/{pid}/report.pdf")
    # httpx is the test's own client (the caller's side), not the server.
    text_logged = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records if not r.name.startswith("httpx"))
    assert "fpdf" in text_logged  # the server side's logging was captured
    assert secret_id not in text_logged and secret_note not in text_logged and "1961" not in text_logged


def test_access_log_drops_query_strings():
    from ketasim.clinic.server import DropQueryString

    rec = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                            ("127.0.0.1:5000", "GET", "/?q=ZQX-4471&page=2", "1.1", 200), None)
    assert DropQueryString().filter(rec)
    assert "ZQX" not in rec.getMessage() and '"GET / HTTP/1.1" 200' in rec.getMessage()


def test_audit_log_is_append_only(clinic):
    c = clinic
    h = c.token("clinician")
    c.client.post("/api/patients", headers=h, json={"external_id": "A1", "birth_year": 1970, "sex": "male",
                                                    "weight_kg": 80})
    with c.db.read() as s:
        n = len(list(s.scalars(select(AuditEntry))))
    assert n >= 2
    for statement in ("UPDATE audit_log SET action = 'read'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            with c.db.write() as s:
                s.execute(text(statement))
    entries = c.client.get("/api/audit", headers=c.token("admin")).json()["entries"]
    assert len(entries) >= n and {"login", "create"} <= {e["action"] for e in entries}
    admin_page = c.page_login("admin")
    assert "Append-only" in admin_page.get("/admin/audit").text
