"""The one adapter between the clinic's records and ``ketasim.planning``.

:func:`history_from_record` turns a patient's current records into a
:class:`~ketasim.planning.history.PatientHistory` (times in the clinic's time zone; PHQ-9 scores,
sessions as doses, psychotherapy, life events, other treatments; GAD-7 is not a depression scale of
the model and is left out). :func:`compute_forecast` calls :func:`ketasim.planning.forecast` and
reads the banded forecast, the relapse risk by date and the recommended next session into a JSON
result, in the patient's own scale (PHQ-9), with the intervals table ("which interval keeps this patient
well", ``result["intervals"]``). Sentences, relapse assessment and numbers come from the forecaster's one
recommendation object (``Forecast.recommendation``), so the page cannot contradict the stored JSON.

The relapse rule shown to clinicians is the forecaster's (``ketasim.planning.relapse_rule``): MADRS >= 22
(SUSTAIN-1), carried to PHQ-9 through the project's scale linking, at two visits 5-15 days apart.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

import ketasim
from ketasim.clinic.models import LifeEvent, OtherTreatment, Patient, Score, TherapySession, TreatmentSession
from ketasim.errors import KetasimError
from ketasim.parameters import shipped_calibration
from ketasim.planning import DISCLAIMER, PatientHistory, forecast
from ketasim.planning.forecast import BANDS
from ketasim.planning.history import HistoryEvent
from ketasim.planning.relapse_rule import DEFAULT_RULE

SCALE = "phq9"
SCALE_LABEL = "PHQ-9"
N_PARTICLES = 2000
RESULT_VERSION = 2


def model_version() -> str:
    """Identifies the shipped model: ketasim's version and the shipped calibration (a change recomputes forecasts)."""
    text = json.dumps({"ketasim": ketasim.__version__, "calibration": shipped_calibration(),
                       "result": RESULT_VERSION}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def relapse_level() -> float:
    """The relapse threshold on the PHQ-9: MADRS 22 carried through the scale linking (``relapse_rule.py``)."""
    return DEFAULT_RULE.level(SCALE)


def relapse_definition() -> str:
    """The forecaster's relapse definition on the PHQ-9, in words."""
    return DEFAULT_RULE.describe(SCALE)


@dataclass
class PatientRecord:
    """A patient's current records (as loaded by ``records.load_record``)."""

    patient: Patient
    sessions: list[TreatmentSession] = field(default_factory=list)
    scores: list[Score] = field(default_factory=list)
    therapy: list[TherapySession] = field(default_factory=list)
    life_events: list[LifeEvent] = field(default_factory=list)
    treatments: list[OtherTreatment] = field(default_factory=list)


@dataclass(frozen=True)
class ForecastOutcome:
    status: str  # ok | not_enough | error
    message: str | None
    result: dict[str, Any] | None


def _naive_local(t: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    return t.astimezone(tz).replace(tzinfo=None)


def history_from_record(rec: PatientRecord, tz: ZoneInfo, today: dt.date) -> PatientHistory:
    """The record as a validated ``PatientHistory`` (raises ``KetasimError`` if it is not one)."""
    events: list[HistoryEvent] = []
    for s in rec.sessions:
        events.append(HistoryEvent(when=_naive_local(s.given_at, tz), kind="dose", route=s.route, drug=s.drug,
                                   dose_mg=s.dose_mg, duration_min=s.infusion_minutes if s.route == "iv" else None))
    for sc in rec.scores:
        if sc.instrument == SCALE_LABEL:
            events.append(HistoryEvent(when=_naive_local(sc.taken_at, tz), kind="score", scale=SCALE,
                                       value=float(sc.total)))
    for t in rec.therapy:
        events.append(HistoryEvent(when=_naive_local(t.held_at, tz), kind="therapy", note=t.kind))
    for e in rec.life_events:
        events.append(HistoryEvent(when=_naive_local(e.occurred_at, tz), kind="life_event", value=e.impact,
                                   note=e.description))
    for o in rec.treatments:
        events.append(HistoryEvent(when=_naive_local(o.started_at, tz), kind="treatment", treatment=o.kind))
    events.sort(key=lambda e: e.when)
    age = float(today.year - rec.patient.birth_year)
    last_score = max((e.when.date() for e in events if e.kind == "score"), default=today)
    return PatientHistory(weight_kg=rec.patient.weight_kg, events=tuple(events), age=age,
                          name=f"patient {rec.patient.id}", today=max(today, last_score),
                          allow_off_label=any(s.off_label for s in rec.sessions))


def _r(x: Any, nd: int = 1) -> Any:
    arr = np.asarray(x, dtype=float)
    return [round(float(v), nd) for v in arr]


def compute_forecast(rec: PatientRecord, tz: ZoneInfo, today: dt.date, *, risk: float = 0.10,
                     n_particles: int = N_PARTICLES, seed: int = 0) -> ForecastOutcome:
    """Forecast one patient from the record; never raises for a record the forecaster cannot use."""
    phq9 = [s for s in rec.scores if s.instrument == SCALE_LABEL]
    if not phq9 or not rec.sessions:
        return ForecastOutcome("not_enough", "A forecast needs at least one PHQ-9 and one ketamine session.", None)
    try:
        history = history_from_record(rec, tz, today)
        fc = forecast(history, risk=risk, n_particles=n_particles, seed=seed, scale=SCALE)
    except KetasimError as exc:
        return ForecastOutcome("error", f"The forecast cannot use this record: {exc}", None)
    return ForecastOutcome("ok", None, result_from_forecast(fc, history))


def result_from_forecast(fc: Any, history: PatientHistory) -> dict[str, Any]:
    """The JSON result the pages, the API and the alerts read (all in the patient's scale), taken from the
    forecaster's one recommendation object (its sentences, its relapse assessment, its intervals table)."""
    rec = fc.recommendation()
    dates = [fc.date(d).isoformat() for d in fc.days]
    bands: dict[str, list[float]] = {"median": _r(fc.bands["median"])}
    for b in BANDS:
        lo, hi = (1 - b) / 2, 1 - (1 - b) / 2
        bands[f"lower_{int(b * 100)}"] = _r(fc.bands[f"q{lo:g}"])
        bands[f"upper_{int(b * 100)}"] = _r(fc.bands[f"q{hi:g}"])
    already = rec["already_meets_relapse_definition"]
    last = rec["last_observed"]
    return {
        "version": RESULT_VERSION,
        "schema_version": rec["schema_version"],
        "today": rec["today"],
        "scale": SCALE_LABEL,
        "headline": rec["headline"],
        "advice": rec["next_session_advice"],
        "already_relapsed": already,
        "relapse_level": round(relapse_level(), 2),
        "relapse_definition": rec["relapse_definition"],
        "relapse_rule": rec["relapse_rule"],
        "next_session_date": None if already else rec["next_session_date"],
        "risk_threshold": fc.risk,
        "current_estimate": {k: rec["current_estimate"][k] for k in ("q10", "median", "q90")},
        "last_observed": {"date": last["date"], "total": last["value"], "position": last["position"],
                          "band_80": last["band_80"], "note": last["note"]},
        "dates": dates,
        "bands": bands,
        "p_relapse_no_further_session": _r(fc.p_relapse_no_dose, 3),
        "bridge_probability": rec["bridge_probability"],
        "bridge_definition": rec["bridge_definition"],
        "posterior": rec["posterior"],
        "warnings": rec["warnings"],
        "allow_off_label": rec["allow_off_label"],
        "intervals": rec["intervals"],
        "interval_advice": rec["interval_advice"],
        "disclaimer": DISCLAIMER,
    }


def risk_within(result: dict[str, Any], days: int) -> float:
    """P(relapse within ``days`` of the forecast date with no further session), from a stored result."""
    p = result["p_relapse_no_further_session"]
    if result.get("already_relapsed"):
        return 1.0
    return float(p[min(days, len(p) - 1)])
