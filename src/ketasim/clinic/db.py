"""Database engines and transactions.

* SQLite (the embedded default): WAL journal, ``synchronous=FULL`` (a committed write survives a
  crash of the server or of the machine), foreign keys on, a 30 s busy timeout; write transactions
  start with ``BEGIN IMMEDIATE`` so that two writers queue instead of failing.
* PostgreSQL: ``postgresql+psycopg://user@host/db``.

Statement parameters are hidden from database error messages (``hide_parameters``), so that an
unexpected error logs no patient data.

Every write is one transaction: :meth:`Database.write` commits everything done inside it or nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import DateTime, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from ketasim.errors import KetasimError


class ClinicError(KetasimError):
    """A clinic operation that cannot be done as asked (bad input, missing record, wrong role)."""

    def __init__(self, message: str, *, status: int = 422, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A date-time stored as naive UTC and returned as aware UTC (SQLite keeps no time zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive date-time given to the database: convert it to UTC first")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


def make_engine(url: str) -> Engine:
    """An engine for ``url`` (SQLite file or PostgreSQL); a clear error for anything else."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ClinicError(f"--db = {url!r}: allowed sqlite:///PATH or postgresql+psycopg://USER@HOST/DB",
                          field="db") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise ClinicError(f"--db = {url!r}: allowed an SQLite file (sqlite:///PATH), not an in-memory database",
                              field="db")
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               pool_size=20, max_overflow=20, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if backend == "postgresql":
        try:
            return create_engine(url, pool_size=20, max_overflow=10, pool_pre_ping=True, hide_parameters=True)
        except (NoSuchModuleError, ModuleNotFoundError):
            raise ClinicError(f"--db = {url!r}: use the psycopg driver, postgresql+psycopg://USER@HOST/DB",
                              field="db") from None
    raise ClinicError(f"--db = {url!r}: allowed sqlite:///PATH or postgresql+psycopg://USER@HOST/DB", field="db")


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # transactions are begun explicitly below
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """One clinic database: sessions for reading and one-transaction writes."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        write_bind = self.engine.execution_options(sqlite_begin="IMMEDIATE") if self.is_sqlite else self.engine
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(write_bind, expire_on_commit=False)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading; closing it ends its transaction and leaves the loaded objects readable."""
        with self._read() as s:
            yield s

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One transaction: committed when the block ends normally, rolled back on any exception."""
        with self._write() as s, s.begin():
            yield s

    def dispose(self) -> None:
        self.engine.dispose()
