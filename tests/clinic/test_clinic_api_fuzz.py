"""The JSON API and FHIR import under generated and mutated input: a 4xx naming a field, never a 500 (seeded)."""

from __future__ import annotations

import copy
import json

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from test_clinic_fhir import resource

JSON = st.recursive(st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=True) |
                    st.text(max_size=30), lambda inner: st.lists(inner, max_size=5) |
                    st.dictionaries(st.text(max_size=10), inner, max_size=5), max_leaves=20)
FIELDS = {
    "scores": {"date": "2025-01-06", "instrument": "PHQ-9", "items": [1] * 9},
    "sessions": {"date": "2025-01-06T10:00", "route": "iv", "dose_mg": 35, "bp_before": {"systolic": 120,
                                                                                         "diastolic": 80}},
    "therapy": {"date": "2025-01-06", "kind": "CBT", "minutes": 50},
    "life-events": {"date": "2025-01-06", "description": "loss", "impact": 1},
    "treatments": {"date": "2025-01-06", "kind": "antidepressant"},
}


@seed(20250106)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(sorted(FIELDS)), key=st.sampled_from(["date", "items", "route", "dose_mg", "impact",
                                                                  "kind", "bp_before", "minutes", "extra"]),
       value=JSON)
def test_record_routes_never_fail_with_500(sqlite_clinic, kind, key, value):
    c = sqlite_clinic
    if not hasattr(c, "_h"):
        c._h = c.token("clinician")
        c._pid = c.client.post("/api/patients", headers=c._h, json={"external_id": "FZ", "birth_year": 1980,
                                                                    "sex": "male", "weight_kg": 80}).json()["id"]
    body = {**FIELDS[kind], key: value}
    r = c.client.post(f"/api/patients/{c._pid}/{kind}", headers={**c._h, "content-type": "application/json"},
                      content=json.dumps(body).encode())  # NaN and Infinity as Python's json writes them
    assert r.status_code < 500, (body, r.text)
    if r.status_code >= 400:
        assert r.json()["detail"] and "field" in r.json()


@seed(20250107)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.lists(st.sampled_from(["item", 0, 3, 8, "answer", "valueCoding", "code", "linkId", "subject",
                                      "authored", "status"]), min_size=1, max_size=4), value=JSON)
def test_fhir_import_never_fails_with_500(sqlite_clinic, path, value):
    c = sqlite_clinic
    if not hasattr(c, "_h"):
        c._h = c.token("clinician")
        c._pid = c.client.post("/api/patients", headers=c._h, json={"external_id": "FZ", "birth_year": 1980,
                                                                    "sex": "male", "weight_kg": 80}).json()["id"]
    body = copy.deepcopy(resource(c._pid, slash=True))
    node = body
    for step in path[:-1]:  # walk as far as the path exists, then replace
        nxt = node[step] if isinstance(node, dict) and isinstance(step, str) and step in node else (
            node[step] if isinstance(node, list) and isinstance(step, int) and step < len(node) else None)
        if not isinstance(nxt, dict | list):
            break
        node = nxt
    last = path[-1]
    if isinstance(node, dict) and isinstance(last, str):
        node[last] = value
    elif isinstance(node, list) and isinstance(last, int) and last < len(node):
        node[last] = value
    r = c.client.post("/api/fhir/QuestionnaireResponse", headers={**c._h, "content-type": "application/json"},
                      content=json.dumps(body).encode())
    assert r.status_code < 500, (body, r.text)
