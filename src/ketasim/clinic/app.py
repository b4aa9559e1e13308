"""The web application: :func:`create_app` wires the pages, the API, static files and error handling.

OpenAPI: FastAPI's schema at ``/api/openapi.json`` and its Swagger UI page at ``/api/docs``, both for
admins only (served from the ``swagger-ui-bundle`` package: no outside site is contacted).
"""

from __future__ import annotations

import logging
from importlib import resources
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

import ketasim
from ketasim.clinic import api, pages
from ketasim.clinic.db import ClinicError, Database
from ketasim.clinic.settings import ServerConfig
from ketasim.clinic.web import NeedLogin, State, api_admin, make_templates, render, validation_messages

log = logging.getLogger("ketasim.clinic")


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def create_app(cfg: ServerConfig, db: Database | None = None) -> FastAPI:
    """The clinic application on ``cfg.db_url`` (the schema must be migrated: ``ketasim clinic init``)."""
    app = FastAPI(title="ketasim clinic", version=ketasim.__version__, docs_url=None, redoc_url=None,
                  openapi_url=None,
                  description="Records, alerts and forecasts of a ketamine clinic. Research and decision-support "
                              "software, not a medical device.")
    app.state.clinic = State(db=db or Database(cfg.db_url), cfg=cfg, templates=make_templates())
    app.mount("/static/swagger", StaticFiles(directory=_swagger_dir()), name="swagger")
    app.mount("/static", StaticFiles(directory=str(resources.files("ketasim.clinic") / "static")), name="static")
    app.include_router(pages.public)
    app.include_router(api.public)
    app.include_router(api.api)
    app.include_router(api.api_admin_router)
    app.include_router(pages.admin)
    app.include_router(pages.pages)

    @app.get("/api/openapi.json", include_in_schema=False, dependencies=[Depends(api_admin_or_page_admin)])
    def openapi_schema() -> dict[str, Any]:
        return app.openapi()

    @app.get("/api/docs", include_in_schema=False, dependencies=[Depends(api_admin_or_page_admin)])
    def openapi_page() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/api/openapi.json", title="ketasim clinic API",
                                   swagger_js_url="/static/swagger/swagger-ui-bundle.js",
                                   swagger_css_url="/static/swagger/swagger-ui.css",
                                   swagger_favicon_url="/static/swagger/favicon-32x32.png")

    @app.exception_handler(NeedLogin)
    def need_login(request: Request, exc: NeedLogin) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": "login required", "field": "Authorization"}, status_code=401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={_quote(target)}", status_code=303)

    @app.exception_handler(ClinicError)
    def clinic_error(request: Request, exc: ClinicError) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": str(exc), "field": exc.field}, status_code=exc.status)
        return render(request, "error.html", {"message": str(exc), "status": exc.status}, status=exc.status)

    @app.exception_handler(RequestValidationError)
    def validation_error(request: Request, exc: RequestValidationError) -> Response:
        msgs = validation_messages(exc)
        if _is_api(request):
            return JSONResponse({"detail": msgs[0]["message"] if msgs else "invalid request", "field":
                                 msgs[0]["field"] if msgs else None, "errors": msgs}, status_code=422)
        return render(request, "error.html", {"message": "; ".join(m["message"] for m in msgs), "status": 422},
                      status=422)

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _is_api(request) or getattr(request.state, "login", None) is None:
            return JSONResponse({"detail": str(exc.detail)}, status_code=exc.status_code)
        return render(request, "error.html", {"message": str(exc.detail), "status": exc.status_code},
                      status=exc.status_code)

    @app.exception_handler(Exception)
    def unexpected(request: Request, exc: Exception) -> Response:  # a bug: logged without request data
        log.error("internal error on %s %s: %s", request.method, request.scope.get("route").path  # type: ignore
                  if request.scope.get("route") else "?", type(exc).__name__)
        return JSONResponse({"detail": "internal error (logged)"}, status_code=500)

    return app


def api_admin_or_page_admin(request: Request) -> None:
    """The OpenAPI pages: an admin's Bearer token, or an admin's page session (to open them in a browser)."""
    if request.headers.get("authorization"):
        api_admin(request)
        return
    from ketasim.clinic.web import page_admin

    page_admin(request)


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")


def _swagger_dir() -> str:
    import swagger_ui_bundle

    return str(swagger_ui_bundle.swagger_ui_path)
