"""What the pages and the API share: the request's database and login, templates, error messages.

Access rules (checked by ``tests/clinic/test_route_security.py`` on every route of the application):
:data:`PUBLIC_ROUTES` need no login; :data:`ADMIN_PREFIXES` need an admin; every other route needs a
login (pages: the session cookie, redirected to the login page otherwise; API: a Bearer token, 401
otherwise). Viewers can read but every write answers 403.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import resources
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from ketasim.clinic import security
from ketasim.clinic.audit import Actor
from ketasim.clinic.db import ClinicError, Database
from ketasim.clinic.instruments import ANSWERS, GAD7, PHQ9
from ketasim.clinic.models import LoginSession
from ketasim.clinic.settings import ServerConfig
from ketasim.clinic.timezones import format_local, zone

SESSION_COOKIE = "ketasim_session"
LOGIN_CSRF_COOKIE = "ketasim_login_csrf"
PUBLIC_ROUTES = {("/login", "GET"), ("/login", "POST"), ("/health", "GET"), ("/api/login", "POST")}
PUBLIC_PREFIXES = ("/static/",)
ADMIN_PREFIXES = ("/admin", "/api/audit", "/api/docs", "/api/openapi.json")
log = logging.getLogger("ketasim.clinic")


class NeedLogin(Exception):
    """A page asked for without a live session: answered by a redirect to the login page."""


@dataclass
class State:
    db: Database
    cfg: ServerConfig
    templates: Jinja2Templates


def state(request: Request) -> State:
    return request.app.state.clinic


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def page_session(request: Request) -> LoginSession:
    st = state(request)
    row = security.session_for(st.db, st.cfg, request.cookies.get(SESSION_COOKIE), kind="page")
    if row is None:
        raise NeedLogin()
    request.state.login = row
    return row


def page_actor(request: Request) -> Actor:
    """Dependency of every page route: the logged-in user (or a redirect to the login page)."""
    return security.actor_of(page_session(request), "page")


def page_admin(request: Request) -> Actor:
    actor = page_actor(request)
    if not actor.is_admin:
        raise ClinicError("this page is for admins only", status=403, field="role")
    return actor


def api_actor(request: Request) -> Actor:
    """Dependency of every API route: the user of the Bearer token (401 without a live one)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    st = state(request)
    row = security.session_for(st.db, st.cfg, token.strip(), kind="api") if scheme.lower() == "bearer" else None
    if row is None:
        raise ClinicError("Authorization: allowed 'Bearer TOKEN' with a live token from POST /api/login", status=401,
                          field="Authorization")
    return security.actor_of(row, "fhir" if request.url.path.startswith("/api/fhir") else "api")


def api_admin(request: Request) -> Actor:
    actor = api_actor(request)
    if not actor.is_admin:
        raise ClinicError("admins only", status=403, field="role")
    return actor


def validation_messages(exc: ValidationError | Any, prefix: str = "") -> list[dict[str, str]]:
    """Pydantic errors as ``{"field", "message"}``: ``weight_kg = 500: Input should be ...``."""
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"] if p != "body"]
        name = prefix + ".".join(loc) if loc else (prefix.rstrip(".") or "body")
        value = err.get("input")
        shown = "" if isinstance(value, dict | list) or value is None else f" = {value!r}"
        msg = err["msg"].removeprefix("Value error, ")
        out.append({"field": name, "message": f"{name}{shown}: {msg}"})
    return out


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(resources.files("ketasim.clinic") / "templates"))
    env = templates.env
    env.globals.update(PHQ9=PHQ9, GAD7=GAD7, ANSWERS=ANSWERS)
    for name in env.list_templates():  # compiled once at start-up (a template error stops the server here)
        env.get_template(name)
    return templates


def clinic_settings(request: Request) -> Any:
    """The clinic's settings row, read once per request."""
    cached = getattr(request.state, "clinic_settings", None)
    if cached is None:
        from ketasim.clinic import records

        with state(request).db.read() as s:
            cached = records.settings(s)
        request.state.clinic_settings = cached
    return cached


def render(request: Request, name: str, context: dict[str, Any], *, status: int = 200) -> Any:
    """A page with the clinic's common context: user, CSRF token, time zone, demo and urgent banners."""
    from ketasim.clinic import records

    st = state(request)
    cfg = clinic_settings(request)
    tz_name, demo, clinic_name = cfg.timezone, cfg.demo, cfg.name
    login = getattr(request.state, "login", None)
    tz = zone(tz_name)
    ctx = {"request": request, "user": login.user if login else None, "csrf": login.csrf_token if login else "",
           "tz": tz, "tz_name": tz_name, "demo": demo, "clinic_name": clinic_name,
           "urgent": records.count_urgent(st.db) if login else 0,
           "when": lambda t, with_time=True: format_local(t, tz, with_time=with_time)}
    ctx.update(context)
    return st.templates.TemplateResponse(request, name, ctx, status_code=status)
