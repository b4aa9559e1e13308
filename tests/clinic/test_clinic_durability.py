"""No data lost: SIGKILL during a burst of writes, backup and restore, migrations of empty and populated databases."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
from clinic_helpers import PASSWORD, USERS, free_port, make_clinic, start_server
from sqlalchemy import MetaData, func, select, text

from ketasim.clinic import backup, migrate
from ketasim.clinic.db import Database
from ketasim.clinic.models import Alert, AuditEntry, Base, Patient, Score, TreatmentSession
from ketasim.clinic.settings import sqlite_url

SECRET_ID = "KILL-7731"


def kill_during_writes(url: str, tmp_path: Path) -> None:
    c = make_clinic(url)
    c.db.dispose()
    port, log = free_port(), tmp_path / "server.log"
    proc = start_server(url, port, log)
    base = f"http://127.0.0.1:{port}"
    token = httpx.post(f"{base}/api/login", json={"email": USERS["clinician"], "password": PASSWORD}).json()["token"]
    h = {"Authorization": f"Bearer {token}"}
    pid = httpx.post(f"{base}/api/patients", headers=h, json={"external_id": SECRET_ID, "birth_year": 1975,
                                                              "sex": "female", "weight_kg": 64}).json()["id"]
    httpx.get(f"{base}/api/patients", headers=h, params={"q": SECRET_ID})
    acknowledged: list[tuple[str, int, dict]] = []
    lock, stop = threading.Lock(), threading.Event()

    def writer(k: int) -> None:
        n = 0
        with httpx.Client(base_url=base, headers=h, timeout=10) as cl:
            while not stop.is_set():
                n += 1
                if n % 4 == 0:
                    kind, body = "sessions", {"date": "2025-01-06T10:00", "route": "iv", "dose_mg": 32,
                                              "infusion_minutes": 40, "bp_before": {"systolic": 120, "diastolic": 80}}
                else:
                    items = [(k + n + j) % 4 for j in range(8)] + [n % 2]
                    kind, body = "scores", {"date": "2025-01-07", "instrument": "PHQ-9", "items": items}
                try:
                    r = cl.post(f"/api/patients/{pid}/{kind}", json=body)
                except httpx.HTTPError:
                    return
                if r.status_code == 201:
                    with lock:
                        acknowledged.append((kind, r.json()["id"], body))

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 60 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # in the middle of the burst: the writers are still sending
    proc.wait(10)
    stop.set()
    for t in threads:
        t.join(15)
    assert len(acknowledged) >= 60, f"only {len(acknowledged)} writes acknowledged before the kill"

    proc = start_server(url, port, log)  # restart on the same database: it opens cleanly
    try:
        assert httpx.get(f"{base}/health").status_code == 200
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
    db = Database(url)
    with db.read() as s:
        scores = {x.id: x for x in s.scalars(select(Score))}
        sessions = {x.id: x for x in s.scalars(select(TreatmentSession))}
        for kind, rid, body in acknowledged:  # every acknowledged write is there, as sent
            if kind == "scores":
                assert rid in scores and scores[rid].items == body["items"]
            else:
                assert rid in sessions and sessions[rid].dose_mg == 32
        # No partial record: totals, alerts, summaries and audit entries were written with each record or not at all.
        assert all(x.total == sum(x.items) for x in scores.values())
        item9 = {a.score_id for a in s.scalars(select(Alert).where(Alert.kind == "item9"))}
        assert item9 == {x.id for x in scores.values() if x.items[8] > 0}
        patient = s.get(Patient, pid)
        assert patient.record_version == 1 + len(scores) + len(sessions)
        created = s.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "create",
                                                                   AuditEntry.entity.in_(("score", "session"))))
        assert created == len(scores) + len(sessions)
    db.dispose()
    server_log = log.read_text(errors="replace")
    assert "POST /api/patients/1/scores" in server_log  # the access log was written ...
    assert SECRET_ID not in server_log  # ... without the patient's identifier (the search query is dropped)


def test_sigkill_during_writes_sqlite(tmp_path):
    kill_during_writes(sqlite_url(tmp_path / "clinic.db"), tmp_path)


@pytest.mark.postgres
def test_sigkill_during_writes_postgres(postgres_url, tmp_path):
    kill_during_writes(postgres_url, tmp_path)


def populate(c) -> int:
    h = c.token("clinician")
    pid = c.client.post("/api/patients", headers=h, json={"external_id": "B-1", "birth_year": 1970, "sex": "other",
                                                          "weight_kg": 90}).json()["id"]
    c.client.post(f"/api/patients/{pid}/sessions", headers=h, json={"date": "2025-01-06T10:00", "route": "iv",
                                                                    "dose_mg": 45, "monitoring_minutes": 120})
    for k, items in enumerate(([2] * 9, [1] * 8 + [1], [0] * 9)):
        c.client.post(f"/api/patients/{pid}/scores", headers=h, json={"date": f"2025-01-0{7 + k}",
                                                                      "instrument": "PHQ-9", "items": items})
    c.client.post(f"/api/patients/{pid}/life-events", headers=h, json={"date": "2025-01-02", "description": "move"})
    return pid


def dump(db: Database) -> dict:
    out = {}
    md = MetaData()
    md.reflect(db.engine, only=list(backup.TABLES))  # typed columns: the same values from either backend
    with db.engine.connect() as conn:
        for name in backup.TABLES:
            rows = conn.execute(select(md.tables[name]).order_by(md.tables[name].c.id)).mappings()
            out[name] = [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()} for r in rows]
    return json.loads(json.dumps(out, default=str))


def test_backup_restore_round_trip(db_url, tmp_path):
    c = make_clinic(sqlite_url(tmp_path / "source.db"))
    pid = populate(c)
    file = tmp_path / "clinic-backup.json"
    counts = backup.backup(c.db, file)
    assert counts["patients"] == 1 and counts["scores"] == 3 and counts["audit_log"] > 5
    target = Database(db_url)  # SQLite or PostgreSQL: the backup is portable
    backup.restore(target, file)
    assert dump(target) == dump(c.db)
    assert migrate.current_revision(target) == migrate.head_revision()
    from clinic_helpers import Clinic
    from fastapi.testclient import TestClient

    from ketasim.clinic.app import create_app
    restored = Clinic(db=target, client=TestClient(create_app(c.cfg, target)), cfg=c.cfg)
    h = restored.token("clinician")  # users and their passwords survive; logins do not
    got = restored.client.get(f"/api/patients/{pid}", headers=h).json()
    assert [s["total"] for s in got["scores"]] == [0, 9, 18]
    with pytest.raises(Exception, match="empty database"):
        backup.restore(target, file)
    target.dispose()


def test_backup_refuses_what_is_not_a_backup(tmp_path):
    from ketasim.clinic.db import ClinicError

    bad = tmp_path / "x.json"
    bad.write_text('{"hello": 1}')
    with pytest.raises(ClinicError, match="not a ketasim clinic backup"):
        backup.restore(Database(sqlite_url(tmp_path / "t.db")), bad)
    with pytest.raises(ClinicError, match="no such file"):
        backup.restore(Database(sqlite_url(tmp_path / "t.db")), tmp_path / "missing.json")


def test_migrations_upgrade_empty_and_populated_databases(db_url):
    db = Database(db_url)
    migrate.upgrade(db, "0001")  # a clinic created by the first release ...
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO clinic_settings (id, name, timezone, rise_points, rise_rule, risk_threshold, "
                          "risk_horizon_days, next_session_risk, demo) VALUES (1, 'old', 'UTC', 5, 'both', 0.3, 28, "
                          "0.1, false)"))
        conn.execute(text("INSERT INTO patients (id, external_id, birth_year, sex, weight_kg, synthetic, created_at, "
                          "record_version, open_alerts) VALUES (7, 'OLD-1', 1960, 'male', 75, false, "
                          "'2025-01-01 00:00:00', 1, 0)"))
        conn.execute(text("INSERT INTO audit_log (at, user_email, action, entity, via) VALUES "
                          "('2025-01-01 00:00:00', 'x@y', 'read', 'patient', 'api')"))
        conn.execute(text("UPDATE audit_log SET detail = 'editable before 0002'"))
    migrate.upgrade(db)  # ... upgraded: its data kept, the new rules in force
    assert migrate.current_revision(db) == migrate.head_revision()
    with db.read() as s:
        assert s.get(Patient, 7).external_id == "OLD-1"
    with pytest.raises(Exception, match="append-only"), db.write() as s:
        s.execute(text("DELETE FROM audit_log"))
    db.dispose()


def test_models_and_migrations_agree(tmp_path):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    db = Database(sqlite_url(tmp_path / "m.db"))
    migrate.upgrade(db)
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []
    db.dispose()
