"""The adapter over ketasim.planning: the record as a history, the forecast in the patient's scale."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from ketasim.clinic import worker
from ketasim.clinic.demo import phq9_items
from ketasim.clinic.forecasting import (
    PatientRecord,
    compute_forecast,
    history_from_record,
    model_version,
    relapse_level,
)
from ketasim.clinic.models import Patient, Score, TreatmentSession
from ketasim.clinic.records import load_record

TZ = ZoneInfo("Europe/Berlin")
T0 = dt.datetime(2025, 1, 6, 9, 0, tzinfo=dt.UTC)


def record(totals: list[tuple[int, int]], sessions: list[int]) -> PatientRecord:
    p = Patient(id=1, external_id="X", birth_year=1980, sex="female", weight_kg=70.0, record_version=1)
    rec = PatientRecord(patient=p)
    for d in sessions:
        rec.sessions.append(TreatmentSession(given_at=T0 + dt.timedelta(days=d, hours=1), route="iv", drug="racemic",
                                             dose_mg=35.0, dose_mg_per_kg=0.5, weight_kg=70.0, infusion_minutes=40.0,
                                             off_label=False))
    for d, total in totals:
        rec.scores.append(Score(taken_at=T0 + dt.timedelta(days=d), instrument="PHQ-9", items=phq9_items(total),
                                total=total))
    rec.scores.append(Score(taken_at=T0, instrument="GAD-7", items=[1] * 7, total=7))  # not a depression scale
    return rec


def test_history_from_record_uses_phq9_sessions_and_clinic_time():
    rec = record([(0, 18), (3, 9)], [0, 2])
    h = history_from_record(rec, TZ, dt.date(2025, 1, 20))
    assert [e.scale for e in h.scores] == ["phq9", "phq9"] and [e.value for e in h.scores] == [18, 9]
    assert h.events[0].when == dt.datetime(2025, 1, 6, 10, 0)  # 09:00 UTC is 10:00 in Berlin
    assert len(h.doses()) == 2 and h.weight_kg == 70 and h.today == dt.date(2025, 1, 20)


def test_not_enough_data_says_so():
    out = compute_forecast(record([(0, 18)], []), TZ, dt.date(2025, 1, 20))
    assert out.status == "not_enough" and out.result is None and "PHQ-9" in out.message


def test_forecast_result_in_phq9_and_already_relapsed():
    well = compute_forecast(record([(0, 18), (1, 10), (4, 7), (8, 5), (12, 4), (19, 3)], [0, 2, 4, 7, 9, 11]), TZ,
                            dt.date(2025, 1, 27), n_particles=400)
    assert well.status == "ok"
    r = well.result
    assert r["scale"] == "PHQ-9" and r["headline"].startswith("PHQ-9 now about") and not r["already_relapsed"]
    assert 0 <= r["current_estimate"]["q10"] <= r["current_estimate"]["median"] <= r["current_estimate"]["q90"] <= 27
    assert all(0 <= p <= 1 for p in r["p_relapse_no_further_session"])
    assert r["p_relapse_no_further_session"] == sorted(r["p_relapse_no_further_session"])
    assert "14 or more" in r["relapse_definition"] and 13 < relapse_level() < 14
    sick = compute_forecast(record([(0, 18), (1, 10), (4, 7), (20, 17), (27, 19)], [0, 2, 4]), TZ,
                            dt.date(2025, 2, 3), n_particles=400)
    s = sick.result
    assert s["already_relapsed"] and s["next_session_date"] is None
    assert "already meet the relapse definition" in s["headline"]
    assert "PHQ-9 17 on 2025-01-26" in s["headline"] and "PHQ-9 19 on 2025-02-02" in s["headline"]
    assert all(p == 1.0 for p in s["p_relapse_no_further_session"])  # the JSON agrees with the sentence
    # which interval keeps the patient well: 7-42 days, more sessions never fewer days in remission by much
    rows = r["intervals"]
    assert [x["interval_days"] for x in rows] == [7, 14, 21, 28, 35, 42]
    assert all(0 <= x["days_in_remission"]["q10"] <= x["days_in_remission"]["q90"] <= 364
               and 0 <= x["days_in_remission"]["mean"] <= 364 for x in rows)
    assert rows[0]["sessions_per_year"] > rows[-1]["sessions_per_year"]
    assert s["last_observed"]["total"] == 19


def test_model_change_makes_every_forecast_stale(sqlite_clinic, monkeypatch):
    from ketasim.clinic.db import utcnow
    from ketasim.clinic.models import StoredForecast

    h = sqlite_clinic.token("clinician")
    pid = sqlite_clinic.client.post("/api/patients", headers=h, json={"external_id": "M-1", "birth_year": 1980,
                                                                      "sex": "male", "weight_kg": 80}).json()["id"]
    with sqlite_clinic.db.write() as s:
        s.add(StoredForecast(patient_id=pid, record_version=s.get(Patient, pid).record_version,
                             model_version=model_version(), computed_at=utcnow(), status="not_enough"))
    assert worker.stale_patients(sqlite_clinic.db) == []
    monkeypatch.setattr(worker, "model_version", lambda: "another model")
    assert worker.stale_patients(sqlite_clinic.db) == [pid]
    with sqlite_clinic.db.read() as s:
        assert load_record(s, pid).patient.external_id == "M-1"
