"""Helpers of the clinic tests (imported by ``conftest.py`` and by test modules as ``clinic_helpers``)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from ketasim.clinic.app import create_app
from ketasim.clinic.db import Database
from ketasim.clinic.security import create_user
from ketasim.clinic.server import init_db
from ketasim.clinic.settings import ServerConfig

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


SERVER_CODE = "from ketasim.interfaces.cli import main; main()"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(url: str, port: int, log: Path, *, worker: bool = False) -> subprocess.Popen:
    """``ketasim clinic serve`` in its own process group (so that a test can SIGKILL it), once it answers."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2] / "src"),
                                                         os.environ.get("PYTHONPATH", "")])}
    fh = open(log, "ab")
    argv = [sys.executable, "-c", SERVER_CODE, "clinic", "serve", "--db", url, "--port", str(port),
            "--worker" if worker else "--no-worker"]
    proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {log.read_text()[-2000:]}")
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("server did not start in 60 s")
