"""Clinic test fixtures: a migrated database on SQLite and (when available) PostgreSQL, users, clients.

PostgreSQL tests need ``KETASIM_TEST_POSTGRES_URL`` (a server URL whose user may create databases; each
test gets its own database, dropped afterwards); the browser test needs ``KETASIM_TEST_CHROMIUM``. Without
them those tests are skipped with the reason, unless ``KETASIM_REQUIRE_CLINIC_SERVICES=1`` (CI), which
makes them fail instead.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the clinic extra is not installed: pip install -e '.[clinic]'")

from clinic_helpers import POSTGRES_ENV, Clinic, make_clinic, need_service  # noqa: E402

from ketasim.clinic.settings import sqlite_url  # noqa: E402


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test (dropped afterwards)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    server = need_service(POSTGRES_ENV, "PostgreSQL")
    name = f"ketasim_test_{secrets.token_hex(6)}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database URL on each backend."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "clinic.db")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def clinic(db_url: str) -> Iterator[Clinic]:
    c = make_clinic(db_url)
    yield c
    c.db.dispose()


@pytest.fixture
def sqlite_clinic(tmp_path: Path) -> Iterator[Clinic]:
    c = make_clinic(sqlite_url(tmp_path / "clinic.db"))
    yield c
    c.db.dispose()

