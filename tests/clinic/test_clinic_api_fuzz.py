"""The JSON API and FHIR import under generated and mutated input: a 4xx naming a field, never a 500 (seeded).

The default suite runs ``CI_EXAMPLES`` inputs per route family; the long run (``pytest -m fuzz_long tests/clinic``)
runs ``LONG_EXAMPLES`` per family, i.e. at least 1,000 of each kind of input (record routes, FHIR import).
"""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from test_clinic_fhir import resource

JSON = st.recursive(st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=True) |
                    st.text(max_size=30), lambda inner: st.lists(inner, max_size=5) |
                    st.dictionaries(st.text(max_size=10), inner, max_size=5), max_leaves=20)
CI_EXAMPLES = 80
LONG_EXAMPLES = 1000
FIELDS = {
    "scores": {"date": "2025-01-06", "instrument": "PHQ-9", "items": [1] * 9},
    "sessions": {"date": "2025-01-06T10:00", "route": "iv", "dose_mg": 35, "bp_before": {"systolic": 120,
                                                                                         "diastolic": 80}},
    "therapy": {"date": "2025-01-06", "kind": "CBT", "minutes": 50},
    "life-events": {"date": "2025-01-06", "description": "loss", "impact": 1},
    "treatments": {"date": "2025-01-06", "kind": "antidepressant"},
}


RECORD_INPUTS = dict(kind=st.sampled_from(sorted(FIELDS)),
                     key=st.sampled_from(["date", "items", "route", "dose_mg", "impact", "kind", "bp_before",
                                          "minutes", "extra"]),
                     value=JSON)
FHIR_INPUTS = dict(path=st.lists(st.sampled_from(["item", 0, 3, 8, "answer", "valueCoding", "code", "linkId",
                                                  "subject", "authored", "status"]), min_size=1, max_size=4),
                   value=JSON)


def _fuzz_settings(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def check_record_route(c, kind, key, value) -> None:
    """One generated record posted to the patient's record route: a 4xx naming a field, or accepted; never 500."""
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


def check_fhir_import(c, path, value) -> None:
    """A FHIR QuestionnaireResponse with one generated value put at ``path``: a 4xx or accepted; never 500."""
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


@seed(20250106)
@_fuzz_settings(CI_EXAMPLES)
@given(**RECORD_INPUTS)
def test_record_routes_never_fail_with_500(sqlite_clinic, kind, key, value):
    check_record_route(sqlite_clinic, kind, key, value)


@seed(20250107)
@_fuzz_settings(CI_EXAMPLES)
@given(**FHIR_INPUTS)
def test_fhir_import_never_fails_with_500(sqlite_clinic, path, value):
    check_fhir_import(sqlite_clinic, path, value)


@pytest.mark.fuzz_long
@seed(20260106)
@_fuzz_settings(LONG_EXAMPLES)
@given(**RECORD_INPUTS)
def test_record_routes_long(sqlite_clinic, kind, key, value):
    check_record_route(sqlite_clinic, kind, key, value)


@pytest.mark.fuzz_long
@seed(20260107)
@_fuzz_settings(LONG_EXAMPLES)
@given(**FHIR_INPUTS)
def test_fhir_import_long(sqlite_clinic, path, value):
    check_fhir_import(sqlite_clinic, path, value)
