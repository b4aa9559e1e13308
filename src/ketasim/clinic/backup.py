"""Backup and restore of a whole clinic as one JSON file (any backend to any backend).

The backup is read in one transaction (a consistent snapshot) and written to a temporary file that
is renamed into place when complete. It holds every table except logins (sessions and attempts),
with the schema revision. Restore needs an empty database: it brings the schema to the backup's
revision, inserts every row in one transaction, then upgrades to the newest revision.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Date, DateTime, MetaData, func, insert, select, text

from ketasim.clinic import migrate
from ketasim.clinic.db import ClinicError, Database, utcnow

FORMAT = "ketasim-clinic backup"
# Parents before children; logins are not carried over (restored users log in again).
TABLES = ("users", "clinic_settings", "patients", "treatment_sessions", "scores", "therapy_sessions", "life_events",
          "other_treatments", "alerts", "forecasts", "audit_log")


def _reflect(db: Database) -> MetaData:
    md = MetaData()
    md.reflect(db.engine, only=list(TABLES))
    return md


def _plain(v: Any) -> Any:
    return v.isoformat() if isinstance(v, dt.datetime | dt.date) else v


def backup(db: Database, out: Path) -> dict[str, int]:
    """Write the clinic to ``out``; returns the row count per table."""
    revision = migrate.current_revision(db)
    if revision is None:
        raise ClinicError(f"--db {db.url}: no clinic database here (run `ketasim clinic init` first)", field="db")
    md = _reflect(db)
    tables: dict[str, list[dict[str, Any]]] = {}
    with db.engine.connect() as conn:
        if not db.is_sqlite:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            for name in TABLES:
                t = md.tables[name]
                rows = conn.execute(select(t).order_by(*t.primary_key.columns)).mappings()
                tables[name] = [{k: _plain(v) for k, v in r.items()} for r in rows]
    doc = {"format": FORMAT, "version": 1, "schema_revision": revision, "created_at": utcnow().isoformat(),
           "tables": tables}
    out = Path(out)
    tmp = out.with_name(f".{out.name}.partial")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(doc, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ClinicError(f"--out {out}: cannot write the backup ({exc.strerror})", field="out") from None
    return {k: len(v) for k, v in tables.items()}


def _read(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ClinicError(f"backup file {path}: no such file", field="file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ClinicError(f"backup file {path}: not a ketasim clinic backup ({exc})", field="file") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("tables"), dict):
        raise ClinicError(f"backup file {path}: not a ketasim clinic backup (format {FORMAT!r} expected)",
                          field="file")
    return doc


def _value(col: Any, v: Any) -> Any:
    if v is None:
        return None
    if isinstance(col.type, DateTime):
        return dt.datetime.fromisoformat(v)
    if isinstance(col.type, Date):
        return dt.date.fromisoformat(v)
    if isinstance(col.type, JSON) or not isinstance(v, list | dict):
        return v
    return json.dumps(v)


def restore(db: Database, path: Path) -> dict[str, int]:
    """Restore a backup into an empty database; returns the row count per table."""
    doc = _read(path)
    revision = doc.get("schema_revision")
    if migrate.current_revision(db) is not None:
        with db.read() as s:
            if any(s.scalar(text(f"SELECT count(*) FROM {t}")) for t in ("users", "patients")):
                raise ClinicError(f"--db {db.url}: allowed an empty database (this one has users or patients)",
                                  field="db")
    migrate.upgrade(db, revision)
    md = _reflect(db)
    counts = {}
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM clinic_settings"))
        for name in TABLES:
            t = md.tables[name]
            rows = doc["tables"].get(name, [])
            for r in rows:
                unknown = set(r) - set(t.columns.keys())
                if unknown:
                    raise ClinicError(f"backup file {path}: table {name} has columns {sorted(unknown)} that schema "
                                      f"{revision} does not", field="file")
            if rows:
                conn.execute(insert(t), [{k: _value(t.columns[k], v) for k, v in r.items()} for r in rows])
            counts[name] = len(rows)
        if not db.is_sqlite:
            for name in TABLES:
                top = conn.execute(select(func.max(md.tables[name].c.id))).scalar()
                if top is not None:
                    conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), {int(top)})"))
    migrate.upgrade(db)
    return counts
