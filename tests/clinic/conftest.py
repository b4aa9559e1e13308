"""Clinic test fixtures: a migrated database on SQLite and (when available) PostgreSQL, users, clients.

PostgreSQL tests need ``KETASIM_TEST_POSTGRES_URL`` (a server URL whose user may create databases; each
test gets its own database, dropped afterwards); the browser test needs ``KETASIM_TEST_CHROMIUM``. Without
them those tests are skipped with the reason, unless ``KETASIM_REQUIRE_CLINIC_SERVICES=1`` (CI), which
makes them fail instead.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the clinic extra is not installed: pip install -e '.[clinic]'")

from fastapi.testclient import TestClient  # noqa: E402

from ketasim.clinic.app import create_app  # noqa: E402
from ketasim.clinic.db import Database  # noqa: E402
from ketasim.clinic.security import create_user  # noqa: E402
from ketasim.clinic.server import init_db  # noqa: E402
from ketasim.clinic.settings import ServerConfig, sqlite_url  # noqa: E402

POSTGRES_ENV = "KETASIM_TEST_POSTGRES_URL"
CHROMIUM_ENV = "KETASIM_TEST_CHROMIUM"
REQUIRE_ENV = "KETASIM_REQUIRE_CLINIC_SERVICES"
PASSWORD = "correct horse battery"
USERS = {"admin": "admin@test.clinic", "clinician": "clinician@test.clinic", "viewer": "viewer@test.clinic"}


def need_service(env: str, what: str) -> str:
    """The value of ``env``, or skip (fail under ``KETASIM_REQUIRE_CLINIC_SERVICES=1``) naming what is missing."""
    value = os.environ.get(env)
    if value:
        return value
    reason = f"{what} not available: set {env} (.ci/run does)"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason}; {REQUIRE_ENV}=1 requires it")
    pytest.skip(reason)


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


@dataclass
class Clinic:
    db: Database
    client: TestClient
    cfg: ServerConfig

    def token(self, role: str) -> dict[str, str]:
        r = self.client.post("/api/login", json={"email": USERS[role], "password": PASSWORD})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['token']}"}

    def page_login(self, role: str, client: TestClient | None = None) -> TestClient:
        import re

        c = client or TestClient(self.client.app, follow_redirects=False)
        page = c.get("/login")
        token = re.search(r'name="login_csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        r = c.post("/login", data={"login_csrf": token, "email": USERS[role], "password": PASSWORD, "next": "/"})
        assert r.status_code == 303, r.text
        return c


def make_clinic(url: str, *, timezone: str = "Europe/Berlin", **cfg_options) -> Clinic:
    db = init_db(url, timezone=timezone)
    for role, email in USERS.items():
        create_user(db, email, PASSWORD, role, name=role.capitalize())
    cfg = ServerConfig(db_url=url, run_worker=False, **cfg_options)
    return Clinic(db=db, client=TestClient(create_app(cfg, db), follow_redirects=False), cfg=cfg)


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
