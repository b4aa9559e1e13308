"""The server's configuration: database URL and the security constants (session lifetime, throttling).

The clinic's own settings (time zone, alert thresholds) live in the database (``models.ClinicSettings``)
so that an administrator changes them on the settings page.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DB_FILE = "ketasim-clinic.db"
ENV_DB_URL = "KETASIM_CLINIC_DB"


def sqlite_url(path: str | Path) -> str:
    """SQLAlchemy URL of an SQLite file."""
    return f"sqlite:///{Path(path).expanduser().resolve()}"


def default_db_url() -> str:
    """``$KETASIM_CLINIC_DB``, else ``ketasim-clinic.db`` in the working folder (SQLite)."""
    return os.environ.get(ENV_DB_URL) or sqlite_url(DEFAULT_DB_FILE)


@dataclass(frozen=True)
class ServerConfig:
    """Security constants of one server.

    A page session ends ``idle_minutes`` after its last request and at most ``max_hours`` after
    login; an API token lives ``token_hours``. Login is refused for ``throttle_minutes`` after
    ``throttle_failures`` failed attempts for one e-mail address or from one client address.
    ``secure_cookies`` marks cookies Secure (set it behind HTTPS).
    """

    db_url: str
    idle_minutes: int = 30
    max_hours: int = 12
    token_hours: int = 12
    throttle_failures: int = 5
    throttle_minutes: int = 15
    secure_cookies: bool = False
    run_worker: bool = True
