"""A demo clinic: synthetic patients, marked synthetic on every page.

The patients are the project's example histories (``ketasim/examples/histories``: virtual patients
of the seeded model population, not real people), moved in time so that their last score was two
days ago, plus one new patient with no record yet. The histories give PHQ-9 totals; the demo
spreads each total over the nine items (item 9 stays 0 except on one patient's last PHQ-9, to show
the safety alert). Everything is written through ``records`` like a clinician's entries.
"""

from __future__ import annotations

import datetime as dt
import secrets
from importlib import resources

from ketasim.clinic import records, security
from ketasim.clinic.audit import Actor
from ketasim.clinic.db import Database
from ketasim.clinic.models import ClinicSettings
from ketasim.clinic.schemas import LifeEventIn, PatientIn, ScoreIn, SessionIn, TherapyIn, TreatmentIn
from ketasim.planning import read_history

EXAMPLES = ("good-responder", "fast-relapser", "bridge-case")
DEMO_ADMIN = "admin@demo.clinic"
DEMO_CLINICIAN = "clinician@demo.clinic"


def phq9_items(total: int, *, item9: int = 0) -> list[int]:
    """Nine answers 0-3 summing to ``total`` (spread evenly over items 1-8, item 9 as given)."""
    rest = max(0, min(24, total - item9))
    items = [rest // 8 + (1 if k < rest % 8 else 0) for k in range(8)]
    return [*items, item9]


def seed(db: Database, actor: Actor) -> list[int]:
    """Add the demo patients; returns their ids."""
    ids = []
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    folder = resources.files("ketasim") / "examples" / "histories"
    for n, name in enumerate(EXAMPLES):
        with resources.as_file(folder / f"{name}.csv") as path:
            h = read_history(path)
        last = max(e.when for e in h.events)
        shift = (now - dt.timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0) - last.replace(
            hour=0, minute=0)
        p = records.create_patient(db, actor, PatientIn(external_id=f"DEMO-{n + 1:03d}",
                                                        birth_year=now.year - int(h.age or 40),
                                                        sex="female" if n % 2 == 0 else "male",
                                                        weight_kg=h.weight_kg), synthetic=True)
        ids.append(p.id)
        scores = h.of_kind("score")
        for e in h.events:
            when = (e.when + shift).replace(tzinfo=dt.UTC)
            if e.kind == "dose":
                records.add_record(db, actor, p.id, "sessions", SessionIn(
                    date=when, route=e.route, drug=e.drug or "racemic", dose_mg=e.dose_mg,  # type: ignore[arg-type]
                    infusion_minutes=e.duration_min, bp_before={"systolic": 124, "diastolic": 80},
                    bp_40min={"systolic": 138, "diastolic": 86}, bp_discharge={"systolic": 126, "diastolic": 82},
                    dissociation_score=12, monitoring_minutes=120, sedation="mild", discharge_ready=True))
            elif e.kind == "score":
                item9 = 1 if (name == "fast-relapser" and e is scores[-1]) else 0
                records.add_record(db, actor, p.id, "scores", ScoreIn(
                    date=when, instrument="PHQ-9", items=phq9_items(int(round(e.value or 0)), item9=item9)),
                    source="demo")
            elif e.kind == "therapy":
                records.add_record(db, actor, p.id, "therapy", TherapyIn(date=when, kind="CBT", minutes=50))
            elif e.kind == "life_event":
                records.add_record(db, actor, p.id, "life-events",
                                   LifeEventIn(date=when, description=e.note or "life event", impact=e.value))
            elif e.kind == "treatment":
                records.add_record(db, actor, p.id, "treatments", TreatmentIn(date=when, kind=e.treatment))
    p = records.create_patient(db, actor, PatientIn(external_id="DEMO-004", birth_year=now.year - 45, sex="female",
                                                    weight_kg=72), synthetic=True)
    ids.append(p.id)
    return ids


def create_demo(db: Database) -> dict[str, str]:
    """Mark the clinic as a demo, add an admin and a clinician with random passwords and the patients."""
    with db.write() as s:
        cfg = s.get(ClinicSettings, 1)
        assert cfg is not None
        cfg.demo = True
        cfg.name = "ketasim demo clinic"
    logins = {}
    for email, role in ((DEMO_ADMIN, "admin"), (DEMO_CLINICIAN, "clinician")):
        password = secrets.token_urlsafe(12)
        security.create_user(db, email, password, role, name=f"Demo {role}")
        logins[email] = password
    seed(db, Actor(None, "demo seed", "admin", "cli"))
    return logins
