"""The pages as a clinician uses them: forms, corrections, alerts, report, demo marking, time zone."""

from __future__ import annotations

import re

from ketasim.clinic.demo import create_demo, phq9_items
from ketasim.clinic.models import ClinicSettings, Score


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def form_session(page, pid: int, **fields) -> object:
    token = csrf(page.get(f"/patients/{pid}/sessions/new").text)
    return page.post(f"/patients/{pid}/sessions/new", data={"csrf_token": token, **fields})


def test_record_a_patient_through_the_forms(sqlite_clinic):
    page = sqlite_clinic.page_login("clinician")
    token = csrf(page.get("/patients/new").text)
    bad = page.post("/patients/new", data={"csrf_token": token, "external_id": "PG-1", "birth_year": "1980",
                                           "sex": "female", "weight_kg": "20"})
    assert bad.status_code == 422 and "weight_kg" in bad.text and 'value="PG-1"' in bad.text
    r = page.post("/patients/new", data={"csrf_token": token, "external_id": "PG-1", "birth_year": "1980",
                                         "sex": "female", "weight_kg": "70"})
    assert r.status_code == 303
    pid = int(r.headers["location"].rsplit("/", 1)[1])
    r = form_session(page, pid, date="2025-01-06T10:00", drug="racemic", route="iv", dose_mg_per_kg="0.5",
                     infusion_minutes="40", bp_before_systolic="130", bp_before_diastolic="85",
                     monitoring_minutes="120", discharge_ready="yes")
    assert r.status_code == 303
    off = form_session(page, pid, date="2025-01-08T10:00", drug="racemic", route="iv", dose_mg="105")
    assert off.status_code == 422 and "off-label" in off.text
    half_bp = form_session(page, pid, date="2025-01-08T10:00", drug="racemic", route="iv", dose_mg="35",
                           bp_40min_systolic="140")
    assert half_bp.status_code == 422 and "bp_40min.diastolic" in half_bp.text
    token = csrf(page.get(f"/patients/{pid}/scores/new?instrument=PHQ-9").text)
    items = {f"item_{k + 1}": str(v) for k, v in enumerate(phq9_items(12, item9=2))}
    r = page.post(f"/patients/{pid}/scores/new", data={"csrf_token": token, "instrument": "PHQ-9",
                                                       "date": "2025-01-07T09:00", **items})
    assert r.status_code == 303
    missing = {k: v for k, v in items.items() if k != "item_4"}
    r = page.post(f"/patients/{pid}/scores/new", data={"csrf_token": token, "instrument": "PHQ-9",
                                                       "date": "2025-01-07T09:00", **missing})
    assert r.status_code == 422 and "items.3" in r.text
    view = page.get(f"/patients/{pid}").text
    assert "0.50 mg/kg" in view or "(0.5 mg/kg)" in view
    assert "PHQ-9 item 9" in view and "more than half the days" in view and "open PHQ-9 item 9 alert" in view
    assert "Forecast pending" in view
    # Correct the questionnaire, then void it: both stay in the history with their reasons.
    with sqlite_clinic.db.read() as s:
        sid = s.query(Score).one().id
    form = page.get(f"/patients/{pid}/scores/{sid}/amend").text
    assert 'value="2" aria-label="item 9: more than half the days" checked' in form
    items["item_9"] = "0"
    r = page.post(f"/patients/{pid}/scores/{sid}/amend", data={"csrf_token": token, "instrument": "PHQ-9",
                                                               "date": "2025-01-07T09:00", "reason": "item 9 misread",
                                                               **items})
    assert r.status_code == 303
    view = page.get(f"/patients/{pid}").text
    assert "amended</span> item 9 misread" in view and "correction</span> item 9 misread" in view
    # The alert of the original answer stays until a clinician acknowledges it.
    alerts = page.get("/alerts").text
    aid = re.search(r'action="/alerts/(\d+)/acknowledge"', alerts).group(1)
    r = page.post(f"/alerts/{aid}/acknowledge", data={"csrf_token": token, "note": "called the patient",
                                                      "next": "/alerts"})
    assert r.status_code == 303
    assert "No open alerts" in page.get("/alerts").text
    everything = page.get("/alerts?show=all").text
    assert "acknowledged" in everything and "by Clinician" in everything and "called the patient" in everything


def test_times_shown_in_the_clinic_time_zone(sqlite_clinic):
    h = sqlite_clinic.token("clinician")
    pid = sqlite_clinic.client.post("/api/patients", headers=h, json={"external_id": "TZ-1", "birth_year": 1980,
                                                                      "sex": "male", "weight_kg": 80}).json()["id"]
    r = sqlite_clinic.client.post(f"/api/patients/{pid}/scores", headers=h,
                                  json={"date": "2025-07-01T08:00:00Z", "instrument": "PHQ-9", "items": [0] * 9})
    assert r.json()["taken_at"].startswith("2025-07-01T08:00:00")  # stored in UTC
    page = sqlite_clinic.page_login("clinician")
    assert "2025-07-01 10:00" in page.get(f"/patients/{pid}").text  # Europe/Berlin, summer time
    naive = sqlite_clinic.client.post(f"/api/patients/{pid}/scores", headers=h,
                                      json={"date": "2025-01-10T09:00", "instrument": "PHQ-9", "items": [0] * 9})
    assert naive.json()["taken_at"].startswith("2025-01-10T08:00:00")  # entered in clinic time (winter)


def test_report_html_and_pdf_in_plain_language(sqlite_clinic):
    c = sqlite_clinic
    h = c.token("clinician")
    pid = c.client.post("/api/patients", headers=h, json={"external_id": "R-1", "birth_year": 1980, "sex": "male",
                                                          "weight_kg": 80}).json()["id"]
    c.client.post(f"/api/patients/{pid}/sessions", headers=h, json={"date": "2025-01-06T10:00", "route": "iv",
                                                                    "dose_mg": 40})
    for k, total in enumerate((20, 9, 6)):
        c.client.post(f"/api/patients/{pid}/scores", headers=h,
                      json={"date": f"2025-01-0{7 + k}", "instrument": "PHQ-9", "items": phq9_items(total)})
    page = c.page_login("viewer")
    html = page.get(f"/patients/{pid}/report").text
    assert "Your first PHQ-9 was 20 (severe) and your latest is 6 (mild): 14 points lower" in html
    assert "Why the benefit of ketamine fades, and what keeps it" in html and "psychotherapy" in html
    assert "not medical advice" in html and "<svg" in html
    for internal in ("seed text", "latent", "particles", "posterior", "date1"):
        assert internal not in html.lower()
    pdf = page.get(f"/patients/{pid}/report.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF") and pdf.headers["content-type"] == \
        "application/pdf"


def test_demo_clinic_marks_every_page_synthetic(sqlite_clinic):
    c = sqlite_clinic
    logins = create_demo(c.db)
    with c.db.read() as s:
        assert s.get(ClinicSettings, 1).demo
    page = c.page_login("clinician")
    paths = ["/", "/alerts", "/patients/1", "/patients/2/forecast", "/patients/1/sessions/new",
             "/patients/3/scores/new?instrument=GAD-7", "/patients/4/life-events/new"]
    for path in paths:
        r = page.get(path)
        assert r.status_code == 200 and "DEMO CLINIC: every patient here is synthetic" in r.text, path
    report = page.get("/patients/2/report").text
    assert "SYNTHETIC DEMO PATIENT" in report
    assert "item 9" in page.get("/alerts").text
    assert set(logins) == {"admin@demo.clinic", "clinician@demo.clinic"}
