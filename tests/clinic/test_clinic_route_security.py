"""Every route of the application against the access lists: public, login required, admin only."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute
from starlette.routing import Mount

from ketasim.clinic.web import ADMIN_PREFIXES, PUBLIC_PREFIXES, PUBLIC_ROUTES

SAMPLE_PARAMS = {"patient_id": "1", "record_id": "1", "alert_id": "1", "kind": "scores"}


def _flat(app) -> list[tuple[object, str, set[str] | None]]:
    """(route, path, methods) of every route, included routers flattened (FastAPI >= 0.120 includes lazily)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: app.routes is already flat
        return [(r, r.path, getattr(r, "methods", None)) for r in app.routes]
    return [(rc.original_route, rc.path, rc.methods) for rc in iter_route_contexts(app.routes)]


def routes(app) -> list[tuple[str, str, str]]:
    """(method, template, concrete path) of every route; a mount as one file under it."""
    out = []
    for r, template, methods in _flat(app):
        if isinstance(r, APIRoute):
            path = re.sub(r"\{(\w+)\}", lambda m: SAMPLE_PARAMS[m.group(1)], template)
            for method in sorted(set(methods or ()) - {"HEAD"}):
                out.append((method, template, path))
        elif isinstance(r, Mount):
            out.append(("GET", template + "/", template + ("/clinic.css" if template == "/static" else "/index.css")))
        else:
            raise AssertionError(f"unexpected route type {type(r).__name__} at {template}")
    return out


def classify(method: str, template: str) -> str:
    if (template, method) in PUBLIC_ROUTES or any(template.startswith(p) for p in PUBLIC_PREFIXES):
        return "public"
    if any(template.startswith(p) for p in ADMIN_PREFIXES):
        return "admin"
    return "login"


def test_every_route_is_checked_against_the_lists(sqlite_clinic):
    c = sqlite_clinic
    app = c.client.app
    all_routes = routes(app)
    templates = {t for _, t, _ in all_routes}
    # The lists name real routes only, and the expected doors exist.
    for path, method in PUBLIC_ROUTES:
        assert (method, path) in {(m, t) for m, t, _ in all_routes}, (method, path)
    for must in ("/api/docs", "/api/openapi.json", "/api/audit", "/api/login", "/health", "/",
                 "/api/fhir/QuestionnaireResponse", "/api/fhir/Patient/{patient_id}/QuestionnaireResponse"):
        assert must in templates, must
    api_headers = {"viewer": c.token("viewer"), "admin": c.token("admin")}
    viewer_page = c.page_login("viewer")
    admin_page = c.page_login("admin")
    seen = {"public": 0, "admin": 0, "login": 0}
    for method, template, path in all_routes:
        kind = classify(method, template)
        seen[kind] += 1
        anon = c.client.request(method, path)
        if kind == "public":
            assert anon.status_code != 401, (method, path, anon.status_code)
            if anon.status_code == 403:  # the login form without its CSRF cookie: refused as such, no login asked
                assert (method, path) == ("POST", "/login") and "login form expired" in anon.text
            assert not (anon.status_code == 303 and "/login" in anon.headers.get("location", "") and path != "/login")
            continue
        if path.startswith("/api/"):
            assert anon.status_code == 401, (method, path, anon.status_code, anon.text)
            # A token that does not exist is refused the same way.
            bogus = c.client.request(method, path, headers={"Authorization": "Bearer not-a-token"})
            assert bogus.status_code == 401, (method, path)
        else:
            assert anon.status_code == 303 and anon.headers["location"].startswith("/login"), (method, path,
                                                                                              anon.status_code)
        if kind == "admin":
            if path.startswith("/api/"):
                assert c.client.request(method, path, headers=api_headers["viewer"]).status_code == 403, path
                assert c.client.request(method, path, headers=api_headers["admin"]).status_code == 200, path
            else:
                assert viewer_page.request(method, path).status_code == 403, (method, path)
                if method == "GET":
                    assert admin_page.get(path).status_code == 200, path
    assert seen["public"] >= 5 and seen["admin"] >= 6 and seen["login"] >= 30, seen


def test_openapi_documents_the_api_for_admins(sqlite_clinic):
    c = sqlite_clinic
    spec = c.client.get("/api/openapi.json", headers=c.token("admin")).json()
    for path in ("/api/login", "/api/patients", "/api/patients/{patient_id}/sessions",
                 "/api/patients/{patient_id}/scores", "/api/patients/{patient_id}/forecast", "/api/alerts",
                 "/api/audit", "/api/fhir/QuestionnaireResponse"):
        assert path in spec["paths"], path
    docs = c.client.get("/api/docs", headers=c.token("admin"))
    assert docs.status_code == 200 and "/static/swagger/swagger-ui-bundle.js" in docs.text
    assert c.client.get("/static/swagger/swagger-ui-bundle.js").status_code == 200


def test_viewer_cannot_write_through_pages(sqlite_clinic):
    c = sqlite_clinic
    admin = c.page_login("clinician")
    page = admin.get("/patients/new")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = admin.post("/patients/new", data={"csrf_token": csrf, "external_id": "W1", "birth_year": "1970",
                                          "sex": "male", "weight_kg": "80"})
    assert r.status_code == 303
    viewer = c.page_login("viewer")
    page = viewer.get("/patients/1")
    assert page.status_code == 200 and "Record session" not in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    form = {"csrf_token": csrf, "instrument": "PHQ-9", "date": "2025-01-06T09:00",
            **{f"item_{k}": "0" for k in range(1, 10)}}
    r = viewer.post("/patients/1/scores/new", data=form)
    assert r.status_code == 403
