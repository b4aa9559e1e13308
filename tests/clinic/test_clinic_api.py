"""The JSON API as another system would use it, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt

from ketasim.clinic import worker

PATIENT = {"external_id": "P-0001", "birth_year": 1980, "sex": "female", "weight_kg": 70}
DAY0 = dt.date.today() - dt.timedelta(days=40)


def day(k: int, hour: int = 9) -> str:
    return dt.datetime.combine(DAY0 + dt.timedelta(days=k), dt.time(hour, 0)).isoformat()


def phq9(c, h, pid, k, items):
    r = c.client.post(f"/api/patients/{pid}/scores", headers=h, json={"date": day(k), "instrument": "PHQ-9",
                                                                        "items": items})
    assert r.status_code == 201, r.text
    return r.json()


def session(c, h, pid, k, **extra):
    body = {"date": day(k, 10), "route": "iv", "drug": "racemic", "dose_mg": 35, "infusion_minutes": 40,
            "bp_before": {"systolic": 128, "diastolic": 82}, "bp_40min": {"systolic": 141, "diastolic": 88},
            "bp_discharge": {"systolic": 125, "diastolic": 80}, "dissociation_score": 14, "monitoring_minutes": 120,
            "discharge_ready": True, **extra}
    return c.client.post(f"/api/patients/{pid}/sessions", headers=h, json=body)


def new_patient(c, h, **over):
    r = c.client.post("/api/patients", headers=h, json={**PATIENT, **over})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_login_token_and_patients(clinic):
    assert clinic.client.post("/api/login", json={"email": "clinician@test.clinic", "password": "wrong password"}
                              ).status_code == 401
    h = clinic.token("clinician")
    r = clinic.client.post("/api/patients", headers=h, json=PATIENT)
    assert r.status_code == 201
    rec = r.json()
    assert rec["id"] > 0 and rec["external_id"] == "P-0001" and rec["weight_kg"] == 70
    again = clinic.client.post("/api/patients", headers=h, json=PATIENT)
    assert again.status_code == 409 and again.json()["field"] == "external_id"
    listed = clinic.client.get("/api/patients", headers=h, params={"q": "p-00"}).json()
    assert listed["total"] == 1 and listed["patients"][0]["id"] == rec["id"]
    assert clinic.client.get("/api/patients", headers=h, params={"q": "nobody"}).json()["total"] == 0


def test_sessions_and_scores_item_by_item(clinic):
    h = clinic.token("clinician")
    pid = new_patient(clinic, h)
    r = session(clinic, h, pid, 0)
    assert r.status_code == 201, r.text
    s = r.json()
    assert s["dose_mg"] == 35 and abs(s["dose_mg_per_kg"] - 0.5) < 1e-9 and s["bp_40min_systolic"] == 141
    assert s["off_label"] is False and s["monitoring_minutes"] == 120
    by_kg = session(clinic, h, pid, 2, dose_mg=None, dose_mg_per_kg=0.5).json()
    assert by_kg["dose_mg"] == 35
    score = phq9(clinic, h, pid, 1, [2, 2, 1, 1, 1, 0, 1, 0, 0])
    assert score["total"] == 8 and score["items"] == [2, 2, 1, 1, 1, 0, 1, 0, 0]
    gad = clinic.client.post(f"/api/patients/{pid}/scores", headers=h,
                             json={"date": day(1), "instrument": "GAD-7", "items": [1, 1, 1, 1, 1, 1, 3]})
    assert gad.status_code == 201 and gad.json()["total"] == 9
    typed_total = clinic.client.post(f"/api/patients/{pid}/scores", headers=h,
                                     json={"date": day(1), "instrument": "PHQ-9", "items": [0] * 9, "total": 20})
    assert typed_total.status_code == 422 and typed_total.json()["field"] == "total"
    for path, body in (("therapy", {"date": day(3), "kind": "CBT", "minutes": 50}),
                       ("life-events", {"date": day(5), "description": "job loss", "impact": 1.0}),
                       ("treatments", {"date": day(-3), "kind": "antidepressant", "detail": "sertraline"})):
        assert clinic.client.post(f"/api/patients/{pid}/{path}", headers=h, json=body).status_code == 201
    full = clinic.client.get(f"/api/patients/{pid}", headers=h).json()
    assert len(full["sessions"]) == 2 and len(full["scores"]) == 2 and len(full["therapy"]) == 1
    assert full["patient"]["last_phq9"] == 8


def test_bad_input_names_the_field_never_500(clinic):
    h = clinic.token("clinician")
    pid = new_patient(clinic, h)
    cases = [
        ("/api/patients", {**PATIENT, "external_id": "X", "weight_kg": 500}, "weight_kg"),
        ("/api/patients", {**PATIENT, "external_id": "Y", "sex": "unknown"}, "sex"),
        ("/api/patients", {**PATIENT, "external_id": "a b"}, "external_id"),
        (f"/api/patients/{pid}/scores", {"date": day(1), "instrument": "PHQ-9", "items": [0] * 8}, "items"),
        (f"/api/patients/{pid}/scores", {"date": day(1), "instrument": "PHQ-9", "items": [0] * 8 + [4]}, "items[8]"),
        (f"/api/patients/{pid}/scores", {"date": day(1), "instrument": "BDI", "items": [0] * 9}, "instrument"),
        (f"/api/patients/{pid}/scores", {"date": "yesterday", "instrument": "PHQ-9", "items": [0] * 9}, "date"),
        (f"/api/patients/{pid}/scores", {"date": day(400), "instrument": "PHQ-9", "items": [0] * 9}, "date"),
        (f"/api/patients/{pid}/sessions", {"date": day(0), "route": "rectal", "dose_mg": 35}, "route"),
        (f"/api/patients/{pid}/sessions", {"date": day(0), "route": "iv", "dose_mg": 35,
                                           "bp_before": {"systolic": 80, "diastolic": 120}}, "bp_before"),
        (f"/api/patients/{pid}/sessions", {"date": day(0), "route": "iv", "dose_mg": 35, "dose_mg_per_kg": 1.0},
         "dose_mg"),
        ("/api/patients/999/scores", {"date": day(1), "instrument": "PHQ-9", "items": [0] * 9}, "patient_id"),
    ]
    for path, body, field in cases:
        r = clinic.client.post(path, headers=h, json=body)
        assert 400 <= r.status_code < 500, (path, body, r.status_code, r.text)
        j = r.json()
        assert j["field"].startswith(field), (body, j)
        assert field.split("[")[0] in j["detail"], j
    assert clinic.client.post(f"/api/patients/{pid}/scores", headers=h, content=b"{not json").status_code == 422


def test_dose_limits_and_off_label_flag(clinic):
    h = clinic.token("clinician")
    pid = new_patient(clinic, h)
    high = session(clinic, h, pid, 0, dose_mg=105)  # 1.5 mg/kg IV: above the published 0.1-1.0 mg/kg
    assert high.status_code == 422 and high.json()["field"] == "dose_mg"
    assert "0.1-1.0 mg/kg" in high.json()["detail"] and "off-label" in high.json()["detail"]
    allowed = session(clinic, h, pid, 0, dose_mg=105, off_label=True)
    assert allowed.status_code == 201
    assert allowed.json()["off_label"] is True and "mg/kg" in allowed.json()["off_label_reasons"]
    hard = session(clinic, h, pid, 2, dose_mg=800, off_label=True)  # 11 mg/kg: a hard limit
    assert hard.status_code == 422 and "never lifted" in hard.json()["detail"]
    nasal = session(clinic, h, pid, 4, route="intranasal", drug="esketamine", dose_mg=50, off_label=True)
    assert nasal.status_code == 422 and "28 mg" in nasal.json()["detail"]


def test_the_dose_check_counts_the_sessions_of_the_previous_7_days(clinic):
    h = clinic.token("clinician")
    pid = new_patient(clinic, h)
    for k in (0, 2, 4):  # Monday, Wednesday, Friday: three IV infusions in 7 days, as published
        r = session(clinic, h, pid, k)
        assert r.status_code == 201, r.text
    fourth = session(clinic, h, pid, 5)
    assert fourth.status_code == 422 and fourth.json()["field"] == "given_at", fourth.text
    assert "in any 7 days" in fourth.json()["detail"] and "off-label" in fourth.json()["detail"]
    flagged = session(clinic, h, pid, 5, off_label=True)
    assert flagged.status_code == 201 and "7 days" in flagged.json()["off_label_reasons"]
    assert session(clinic, h, pid, 7).status_code == 422  # day 7: days 2, 4 and 5 are in its 7 days
    assert session(clinic, h, pid, 9).status_code == 201  # day 9: only day 5 (and none before 3) counts


def test_amend_and_void_keep_history(clinic):
    h = clinic.token("clinician")
    pid = new_patient(clinic, h)
    s = phq9(clinic, h, pid, 1, [3, 3, 3, 3, 3, 3, 3, 3, 0])
    r = clinic.client.post(f"/api/patients/{pid}/scores/{s['id']}/amend", headers=h,
                           json={"reason": "items typed from the wrong sheet",
                                 "record": {"date": day(1), "instrument": "PHQ-9", "items": [1] * 8 + [0]}})
    assert r.status_code == 201, r.text
    new = r.json()
    assert new["replaces_id"] == s["id"] and new["total"] == 8
    twice = clinic.client.post(f"/api/patients/{pid}/scores/{s['id']}/amend", headers=h,
                               json={"reason": "again", "record": {"date": day(1), "instrument": "PHQ-9",
                                                                   "items": [0] * 9}})
    assert twice.status_code == 409
    bad = clinic.client.post(f"/api/patients/{pid}/scores/{new['id']}/amend", headers=h,
                             json={"reason": "x y z", "record": {"date": day(1), "items": [0] * 9}})
    assert bad.status_code == 422 and bad.json()["field"] == "record.instrument"
    v = clinic.client.post(f"/api/patients/{pid}/scores/{new['id']}/void", headers=h, json={"reason": "wrong patient"})
    assert v.status_code == 200 and v.json()["status"] == "voided"
    full = clinic.client.get(f"/api/patients/{pid}", headers=h).json()
    statuses = sorted((x["id"], x["status"], x["change_reason"]) for x in full["scores"])
    assert statuses == [(s["id"], "amended", "items typed from the wrong sheet"),
                        (new["id"], "voided", "wrong patient")]
    assert full["patient"]["last_phq9"] is None  # only current records count


def test_alerts_item9_rise_and_acknowledgement(clinic):
    h = clinic.token("clinician")
    pid = new_patient(clinic, h)
    assert session(clinic, h, pid, 0).status_code == 201
    phq9(clinic, h, pid, 1, [1, 1, 1, 1, 0, 0, 0, 0, 0])  # 4
    phq9(clinic, h, pid, 3, [1, 1, 1, 1, 1, 0, 0, 0, 0])  # 5
    s3 = phq9(clinic, h, pid, 5, [2, 2, 2, 1, 1, 1, 0, 0, 1])  # 10: +5 on the previous; item 9 = 1
    kinds = sorted(a["kind"] for a in s3["alerts_raised"])
    assert kinds == ["item9", "rise"]
    alerts = clinic.client.get("/api/alerts", headers=h).json()["alerts"]
    item9 = next(a for a in alerts if a["kind"] == "item9")
    assert item9["raised_at"] and item9["seen_at"] and item9["acknowledged_at"] is None
    assert item9["external_id"] == "P-0001"
    viewer = clinic.token("viewer")
    assert clinic.client.post(f"/api/alerts/{item9['id']}/acknowledge", headers=viewer, json={}).status_code == 403
    ack = clinic.client.post(f"/api/alerts/{item9['id']}/acknowledge", headers=h, json={"note": "called, safe"})
    assert ack.status_code == 200
    a = ack.json()
    assert a["acknowledged_by_id"] is not None and a["acknowledgement_note"] == "called, safe"
    assert dt.datetime.fromisoformat(a["raised_at"]) <= dt.datetime.fromisoformat(a["seen_at"]) \
        <= dt.datetime.fromisoformat(a["acknowledged_at"])
    again = clinic.client.post(f"/api/alerts/{item9['id']}/acknowledge", headers=h, json={})
    assert again.status_code == 409
    open_kinds = [x["kind"] for x in clinic.client.get("/api/alerts", headers=h).json()["alerts"]]
    assert open_kinds == ["rise"]
    # No rise: 9 after 10 is lower; a session resets the "lowest since the last session" reference.
    assert not phq9(clinic, h, pid, 7, [1, 1, 1, 1, 1, 1, 1, 1, 0])["alerts_raised"]


def test_viewer_reads_but_cannot_write_and_audit_is_admin_only(clinic):
    c, h, v = clinic, clinic.token("clinician"), clinic.token("viewer")
    pid = new_patient(c, h)
    assert c.client.get(f"/api/patients/{pid}", headers=v).status_code == 200
    assert c.client.post("/api/patients", headers=v, json={**PATIENT, "external_id": "V1"}).status_code == 403
    assert c.client.post(f"/api/patients/{pid}/scores", headers=v,
                         json={"date": day(1), "instrument": "PHQ-9", "items": [0] * 9}).status_code == 403
    assert c.client.get("/api/audit", headers=h).status_code == 403
    entries = c.client.get("/api/audit", headers=c.token("admin")).json()["entries"]
    reads = [e for e in entries if e["action"] == "read" and e["patient_id"] == pid]
    assert reads and reads[0]["user_email"] == "viewer@test.clinic" and reads[0]["via"] == "api"
    assert any(e["action"] == "create" and e["entity"] == "patient" and e["entity_id"] == pid for e in entries)


def test_export_then_delete_on_request(clinic):
    h = clinic.token("clinician")
    pid = new_patient(clinic, h)
    session(clinic, h, pid, 0)
    phq9(clinic, h, pid, 1, [0] * 8 + [2])
    exported = clinic.client.get(f"/api/patients/{pid}/export", headers=h).json()
    assert exported["patient"]["external_id"] == "P-0001"
    assert len(exported["sessions"]) == 1 and len(exported["scores"]) == 1 and len(exported["alerts"]) == 1
    wrong = clinic.client.post(f"/api/patients/{pid}/delete", headers=h,
                               json={"confirm_external_id": "P-9999", "reason": "patient's request"})
    assert wrong.status_code == 422
    ok = clinic.client.post(f"/api/patients/{pid}/delete", headers=h,
                            json={"confirm_external_id": "P-0001", "reason": "patient's request"})
    assert ok.status_code == 200
    assert clinic.client.get(f"/api/patients/{pid}", headers=h).status_code == 404
    assert clinic.client.get("/api/alerts", headers=h).json()["alerts"] == []
    from sqlalchemy import func, select

    from ketasim.clinic.models import Score, TreatmentSession
    with clinic.db.read() as s:
        assert s.scalar(select(func.count(Score.id))) == 0 and s.scalar(select(func.count(TreatmentSession.id))) == 0
    entries = clinic.client.get("/api/audit", headers=clinic.token("admin")).json()["entries"]
    assert any(e["action"] == "delete" and e["patient_id"] == pid for e in entries)


def test_forecast_pending_then_computed_by_the_worker(clinic):
    h = clinic.token("clinician")
    pid = new_patient(clinic, h)
    assert clinic.client.get(f"/api/patients/{pid}/forecast", headers=h).json()["status"] == "pending"
    for k in (0, 2, 4, 7, 9, 11):
        assert session(clinic, h, pid, k).status_code == 201
    for k, total in ((0, 18), (1, 12), (4, 9), (8, 6), (12, 5), (19, 4), (26, 6), (33, 8)):
        items = [min(3, max(0, total - 3 * j)) for j in range(8)]
        phq9(clinic, h, pid, k, [*items[:8], 0] if sum(items) == total else [*items, 0])
    assert worker.stale_patients(clinic.db) == [pid]
    assert worker.refresh_patient(clinic.db, pid, n_particles=400) == "ok"
    assert worker.stale_patients(clinic.db) == []
    fc = clinic.client.get(f"/api/patients/{pid}/forecast", headers=h).json()
    assert fc["status"] == "ok" and fc["stale"] is False
    r = fc["result"]
    assert r["scale"] == "PHQ-9" and "PHQ-9" in r["headline"]
    assert len(r["dates"]) == len(r["bands"]["median"]) == len(r["p_relapse_no_further_session"])
    assert all(lo <= m <= hi for lo, m, hi in zip(r["bands"]["lower_80"], r["bands"]["median"],
                                                  r["bands"]["upper_80"], strict=True))
    assert r["last_observed"]["total"] == 8
    # A new score makes it stale (shown with its date until the worker recomputes it).
    phq9(clinic, h, pid, 35, [1] * 9)
    assert clinic.client.get(f"/api/patients/{pid}/forecast", headers=h).json()["stale"] is True
    assert worker.stale_patients(clinic.db) == [pid]


def test_patient_details_corrected_with_a_reason(clinic):
    h = clinic.token("clinician")
    pid = new_patient(clinic, h)
    r = clinic.client.post(f"/api/patients/{pid}/details", headers=h,
                           json={"birth_year": 1981, "sex": "female", "weight_kg": 74.5, "reason": "weighed today"})
    assert r.status_code == 200 and r.json()["weight_kg"] == 74.5 and r.json()["birth_year"] == 1981
    future = clinic.client.post(f"/api/patients/{pid}/details", headers=h,
                                json={"birth_year": 2999, "sex": "female", "weight_kg": 74.5, "reason": "typo"})
    assert future.status_code == 422 and future.json()["field"] == "birth_year"
    assert session(clinic, h, pid, 0).json()["dose_mg_per_kg"] == round(35 / 74.5, 4)  # the new weight counts
    entries = clinic.client.get("/api/audit", headers=clinic.token("admin")).json()["entries"]
    assert any(e["action"] == "amend" and e["entity"] == "patient" and "weight_kg" in e["detail"] for e in entries)
