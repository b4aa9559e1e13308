"""The forecast worker: recomputes forecasts in the background, never on a page view.

A patient's forecast is recomputed when it is missing, when the record changed since
(``Patient.record_version``), when the shipped model changed (:func:`forecasting.model_version`) or
when it is older than a day. The worker runs in its own process beside the web server (``ketasim
clinic serve`` starts it), reads the record in one transaction, computes without holding any
database lock, and stores the result with the record version it was computed from, so that a
write during the computation makes it stale again at once. It also raises the ``due`` alerts of
the day.
"""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import time
from typing import Any

from sqlalchemy import or_, select

from ketasim.clinic import alerts as alert_rules
from ketasim.clinic.db import Database, utcnow
from ketasim.clinic.forecasting import compute_forecast, model_version
from ketasim.clinic.models import Patient, StoredForecast
from ketasim.clinic.records import load_record, settings
from ketasim.clinic.timezones import local_today, zone

log = logging.getLogger("ketasim.clinic.worker")
REFRESH_AFTER = dt.timedelta(days=1)


def stale_patients(db: Database, limit: int = 20) -> list[int]:
    """Patients whose forecast is missing, stale or older than a day (those with changed records first)."""
    version = model_version()
    old = utcnow() - REFRESH_AFTER
    with db.read() as s:
        q = (select(Patient.id).outerjoin(StoredForecast, StoredForecast.patient_id == Patient.id)
             .where(or_(StoredForecast.id.is_(None), StoredForecast.record_version != Patient.record_version,
                        StoredForecast.model_version != version, StoredForecast.computed_at < old))
             .order_by(StoredForecast.id.is_not(None), Patient.id).limit(limit))
        return list(s.scalars(q))


def refresh_patient(db: Database, patient_id: int, **forecast_options: Any) -> str:
    """Recompute and store one patient's forecast; returns its status."""
    with db.read() as s:
        cfg = settings(s)
        tz_name, risk = cfg.timezone, cfg.next_session_risk
        rec = load_record(s, patient_id)
        version = rec.patient.record_version
    tz = zone(tz_name)
    today = local_today(tz)
    outcome = compute_forecast(rec, tz, today, risk=risk, **forecast_options)
    with db.write() as s:
        patient = s.get(Patient, patient_id, with_for_update=True)
        if patient is None:  # deleted meanwhile
            return "deleted"
        row = s.scalar(select(StoredForecast).where(StoredForecast.patient_id == patient_id))
        if row is None:
            row = StoredForecast(patient_id=patient_id)
            s.add(row)
        row.record_version, row.model_version, row.computed_at = version, model_version(), utcnow()
        row.status, row.message, row.result, row.fast_path = outcome.status, outcome.message, outcome.result, False
        alert_rules.refresh_forecast_alerts(s, patient, outcome.result, settings(s), today)
    return outcome.status


def run_once(db: Database, limit: int = 20) -> int:
    """Refresh up to ``limit`` stale forecasts; returns how many were computed."""
    ids = stale_patients(db, limit)
    for pid in ids:
        try:
            refresh_patient(db, pid)
        except Exception:  # keep serving the others; the message names the patient id only
            log.exception("forecast of patient %s failed", pid)
    return len(ids)


def run_forever(db_url: str, poll_seconds: float = 2.0) -> None:
    """The worker process's loop (stops when its parent stops it)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(levelname)s %(message)s")
    db = Database(db_url)
    while True:
        try:
            n = run_once(db)
        except Exception:
            log.exception("forecast worker pass failed")
            n = 0
        if n == 0:
            time.sleep(poll_seconds)


def start_process(db_url: str) -> multiprocessing.Process:
    """Start the worker in its own process (spawned: a fresh interpreter, no state shared with the server)."""
    proc = multiprocessing.get_context("spawn").Process(target=run_forever, args=(db_url,), name="ketasim-forecast",
                                                        daemon=True)
    proc.start()
    return proc
