"""Running the clinic: database set-up (``init``) and the web server with its forecast worker (``serve``).

One server process (uvicorn, one event loop; page and API handlers run in its thread pool of 40)
plus one forecast worker process. The access log records method, path (database ids only) and
status; query strings (which may hold a search for a patient identifier) are dropped.
"""

from __future__ import annotations

import logging
from typing import Any

from ketasim.clinic import migrate
from ketasim.clinic.db import Database
from ketasim.clinic.models import ClinicSettings
from ketasim.clinic.settings import ServerConfig
from ketasim.clinic.timezones import zone


def init_db(url: str, *, timezone: str = "UTC", name: str = "ketasim clinic") -> Database:
    """Create or upgrade the schema and the settings row (safe to run again: nothing is overwritten)."""
    zone(timezone)
    db = Database(url)
    migrate.upgrade(db)
    with db.write() as s:
        if s.get(ClinicSettings, 1) is None:
            s.add(ClinicSettings(id=1, name=name, timezone=timezone))
    return db


class DropQueryString(logging.Filter):
    """Keep patient data out of the access log: ``GET /?q=ABC`` is logged as ``GET /``."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


def log_config() -> dict[str, Any]:
    from uvicorn.config import LOGGING_CONFIG

    cfg: dict[str, Any] = {**LOGGING_CONFIG, "filters": {"drop_query": {"()": DropQueryString}}}
    cfg["handlers"] = {k: dict(v) for k, v in LOGGING_CONFIG["handlers"].items()}
    cfg["handlers"]["access"]["filters"] = ["drop_query"]
    return cfg


def serve(cfg: ServerConfig, *, host: str, port: int, access_log: bool = True) -> None:
    """Serve until interrupted; the forecast worker runs beside it unless ``cfg.run_worker`` is False."""
    import uvicorn

    from ketasim.clinic.app import create_app
    from ketasim.clinic.worker import start_process

    app = create_app(cfg)
    worker = start_process(cfg.db_url) if cfg.run_worker else None
    try:
        uvicorn.run(app, host=host, port=port, log_config=log_config(), access_log=access_log, workers=1)
    finally:
        if worker is not None:
            worker.terminate()
            worker.join(5)
