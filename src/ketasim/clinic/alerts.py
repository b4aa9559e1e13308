"""Alerts for the clinicians, raised in the transaction of the write (or of the forecast) that causes them.

* ``item9``: any PHQ-9 with item 9 (thoughts of being better off dead or of self-harm) above 0;
* ``rise``: a PHQ-9 total ``rise_points`` (5) or more above the previous PHQ-9 (rule ``previous``),
  above the lowest PHQ-9 since the last session (rule ``lowest``), or either (``both``, the default);
* ``due``: the recommended next session is today or has passed, with no session since the forecast;
* ``risk``: the chance of relapse within ``risk_horizon_days`` (28) without a further session is over
  the clinic's ``risk_threshold`` (30%).

Each alert keeps the time it was raised, first seen (by whom) and acknowledged (by which clinician,
with a note). ``due`` and ``risk`` alerts also close by themselves (``resolved_at``) when a session is
recorded or a newer forecast falls below the threshold; a new ``rise`` alert closes the patient's
earlier open one (only the latest rise stays open).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ketasim.clinic.audit import Actor
from ketasim.clinic.db import ClinicError, utcnow
from ketasim.clinic.forecasting import risk_within
from ketasim.clinic.instruments import ANSWERS, PHQ9
from ketasim.clinic.models import Alert, ClinicSettings, Patient, Score, TreatmentSession

KINDS = {"item9": "PHQ-9 item 9", "rise": "PHQ-9 rise", "due": "session due", "risk": "relapse risk"}
RISE_RULES = ("previous", "lowest", "both")


def _raise(s: Session, patient: Patient, kind: str, message: str, score_id: int | None = None) -> Alert:
    alert = Alert(patient_id=patient.id, kind=kind, message=message, score_id=score_id, raised_at=utcnow())
    s.add(alert)
    return alert


def open_alerts(s: Session, patient_id: int, kind: str | None = None) -> list[Alert]:
    q = select(Alert).where(Alert.patient_id == patient_id, Alert.acknowledged_at.is_(None),
                            Alert.resolved_at.is_(None))
    if kind is not None:
        q = q.where(Alert.kind == kind)
    return list(s.scalars(q))


def update_open_count(s: Session, patient: Patient) -> None:
    s.flush()
    patient.open_alerts = s.scalar(select(func.count(Alert.id)).where(
        Alert.patient_id == patient.id, Alert.acknowledged_at.is_(None), Alert.resolved_at.is_(None))) or 0


def alerts_for_score(s: Session, patient: Patient, score: Score, settings: ClinicSettings) -> list[Alert]:
    """The alerts a new (or amended) PHQ-9 raises; call after the score is flushed."""
    if score.instrument != PHQ9.name:
        return []
    out: list[Alert] = []
    when = score.taken_at
    item9 = score.items[PHQ9.safety_item or 8]
    if item9 > 0:
        out.append(_raise(s, patient, "item9",
                          f"PHQ-9 item 9 (thoughts of being better off dead or of hurting oneself) answered "
                          f"'{ANSWERS[item9]}' ({item9}): contact the patient today.", score.id))
    earlier = list(s.scalars(select(Score).where(
        Score.patient_id == patient.id, Score.instrument == PHQ9.name, Score.status == "current",
        Score.taken_at < when, Score.id != score.id).order_by(Score.taken_at.desc()).limit(200)))
    if earlier:
        reasons = []
        prev = earlier[0]
        if settings.rise_rule in ("previous", "both") and score.total >= prev.total + settings.rise_points:
            reasons.append(f"{score.total - prev.total} points above the previous PHQ-9 ({prev.total})")
        if settings.rise_rule in ("lowest", "both"):
            last_session = s.scalar(select(func.max(TreatmentSession.given_at)).where(
                TreatmentSession.patient_id == patient.id, TreatmentSession.status == "current",
                TreatmentSession.given_at < when))
            since = [e for e in earlier if last_session is None or e.taken_at >= last_session]
            if since:
                low = min(e.total for e in since)
                if score.total >= low + settings.rise_points:
                    reasons.append(f"{score.total - low} points above the lowest PHQ-9 since the last session ({low})")
        if reasons:
            resolve(open_alerts(s, patient.id, "rise"), "superseded by a later rise alert")
            out.append(_raise(s, patient, "rise", f"PHQ-9 total {score.total}: " + "; ".join(reasons) + ".",
                              score.id))
    return out


def resolve(alerts: Iterable[Alert], reason: str) -> None:
    now = utcnow()
    for a in alerts:
        a.resolved_at = now
        a.resolved_reason = reason


def refresh_forecast_alerts(s: Session, patient: Patient, result: dict[str, Any] | None, settings: ClinicSettings,
                            today: dt.date) -> None:
    """Raise or close the ``due`` and ``risk`` alerts from the patient's current forecast result."""
    if result is None:
        return
    risk = risk_within(result, settings.risk_horizon_days)
    open_risk = open_alerts(s, patient.id, "risk")
    if risk > settings.risk_threshold and not open_risk:
        _raise(s, patient, "risk", f"Chance of relapse within {settings.risk_horizon_days} days without a further "
               f"session: {risk:.0%} (the clinic's threshold is {settings.risk_threshold:.0%}).")
    elif risk <= settings.risk_threshold and open_risk:
        resolve(open_risk, f"a newer forecast puts the risk at {risk:.0%}")
    due = result.get("next_session_date")
    due_date = dt.date.fromisoformat(due) if due else (today if result.get("already_relapsed") else None)
    patient.next_session_due = due_date
    forecast_day = dt.date.fromisoformat(result["today"])
    had_session = patient.last_session_at is not None and patient.last_session_at.date() > forecast_day
    if due_date is not None and due_date <= today and not had_session and not open_alerts(s, patient.id, "due"):
        _raise(s, patient, "due", f"The recommended next session ({due_date.isoformat()}) is due.")
    update_open_count(s, patient)


def mark_seen(s: Session, alerts: Iterable[Alert], actor: Actor) -> None:
    """Record the first time a clinician saw each alert (viewers' views are not 'seen')."""
    if not actor.can_write or actor.user_id is None:
        return
    unseen = [a for a in alerts if a.seen_at is None]
    if unseen:
        now = utcnow()
        s.execute(update(Alert).where(Alert.id.in_([a.id for a in unseen]), Alert.seen_at.is_(None))
                  .values(seen_at=now, seen_by_id=actor.user_id))
        for a in unseen:  # the caller's copies show this view as the first sight
            a.seen_at, a.seen_by_id = now, actor.user_id


def acknowledge(s: Session, alert: Alert, actor: Actor, note: str | None) -> None:
    if alert.acknowledged_at is not None:
        raise ClinicError(f"alert {alert.id} was already acknowledged", status=409, field="alert")
    now = utcnow()
    if alert.seen_at is None:
        alert.seen_at, alert.seen_by_id = now, actor.user_id
    alert.acknowledged_at, alert.acknowledged_by_id = now, actor.user_id
    alert.acknowledgement_note = (note or "").strip() or None
