"""The append-only audit log: every read and write of patient data (who, what, when, through what).

Entries name records by their database ids only, never by patient data. The database refuses to
change or delete an entry (triggers of migration 0002).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from ketasim.clinic.db import Database
from ketasim.clinic.models import AuditEntry


@dataclass(frozen=True)
class Actor:
    """Who acts and through which door (``page``, ``api``, ``fhir``, ``cli``, ``worker``)."""

    user_id: int | None
    email: str
    role: str
    via: str = "page"

    @property
    def can_write(self) -> bool:
        return self.role in ("admin", "clinician")

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def record(s: Session, actor: Actor, action: str, entity: str, entity_id: int | None = None, *,
           patient_id: int | None = None, detail: str | None = None) -> None:
    """Add one entry in the caller's transaction (writes: the entry commits with the change or not at all)."""
    s.add(AuditEntry(user_id=actor.user_id, user_email=actor.email, action=action, entity=entity,
                     entity_id=entity_id, patient_id=patient_id, via=actor.via, detail=detail))


def record_read(db: Database, actor: Actor, entity: str, entity_id: int | None = None, *,
                patient_id: int | None = None, detail: str | None = None) -> None:
    """Log a read in its own short transaction."""
    with db.write() as s:
        record(s, actor, "read", entity, entity_id, patient_id=patient_id, detail=detail)
