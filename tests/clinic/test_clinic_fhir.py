"""FHIR R4 PHQ-9 QuestionnaireResponse in and out (LOINC 44249-1), validated with fhir.resources R4B."""

from __future__ import annotations

import copy

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from ketasim.clinic.fhir import ANSWER_CODES, ITEM_CODES

ANSWERS = [1, 2, 0, 3, 1, 0, 2, 1, 1]


def resource(pid: int, *, slash: bool, answers=ANSWERS, total: int | None = None) -> dict:
    items = [{"linkId": ("/" if slash else "") + code,
              "answer": [{"valueCoding": {"system": "http://loinc.org", "code": ANSWER_CODES[a]}}]}
             for code, a in zip(ITEM_CODES, answers, strict=True)]
    if total is not None:
        items.append({"linkId": ("/" if slash else "") + "44261-6", "answer": [{"valueInteger": total}]})
    return {"resourceType": "QuestionnaireResponse", "status": "completed",
            "questionnaire": "http://loinc.org/q/44249-1", "subject": {"reference": f"Patient/{pid}"},
            "authored": "2025-01-06T08:30:00+01:00", "item": items}


def test_fhir_in_with_and_without_slash_and_out_again(clinic):
    h = clinic.token("clinician")
    pid = clinic.client.post("/api/patients", headers=h, json={"external_id": "F-1", "birth_year": 1990,
                                                               "sex": "female", "weight_kg": 60}).json()["id"]
    a = clinic.client.post("/api/fhir/QuestionnaireResponse", headers=h, json=resource(pid, slash=True, total=11))
    assert a.status_code == 201, a.text
    b = clinic.client.post("/api/fhir/QuestionnaireResponse", headers=h,
                           json={**resource(pid, slash=False), "subject": {"identifier": {"value": "F-1"}}})
    assert b.status_code == 201, b.text
    alerts = clinic.client.get("/api/alerts", headers=h).json()["alerts"]
    assert sum(al["kind"] == "item9" for al in alerts) == 2  # item 9 answered "several days" in both
    bundle = clinic.client.get(f"/api/fhir/Patient/{pid}/QuestionnaireResponse", headers=h).json()
    Bundle.model_validate(bundle)
    assert bundle["total"] == 2
    for entry in bundle["entry"]:
        qr = QuestionnaireResponse.model_validate(entry["resource"])
        answers = {it.linkId: it.answer[0] for it in qr.item}
        assert [ANSWER_CODES.index(answers[c].valueCoding.code) for c in ITEM_CODES] == ANSWERS
        assert answers["44261-6"].valueInteger == sum(ANSWERS)
        assert qr.subject.reference == f"Patient/{pid}"
        assert qr.authored.isoformat().startswith("2025-01-06T07:30:00")  # stored in UTC


def test_fhir_bad_input_names_the_field(clinic):
    h = clinic.token("clinician")
    pid = clinic.client.post("/api/patients", headers=h, json={"external_id": "F-2", "birth_year": 1990,
                                                               "sex": "male", "weight_kg": 80}).json()["id"]
    good = resource(pid, slash=True)
    unknown = copy.deepcopy(good)
    unknown["item"][3]["linkId"] = "/99999-9"
    missing = copy.deepcopy(good)
    del missing["item"][8]
    bad_code = copy.deepcopy(good)
    bad_code["item"][0]["answer"][0]["valueCoding"]["code"] = "LA0000-0"
    wrong_total = resource(pid, slash=False, total=3)
    cases = [
        (unknown, "item[3].linkId", "99999-9"),
        (missing, "item", "44260-8"),
        (bad_code, "item[0].answer[0].valueCoding", "LA0000-0"),
        (wrong_total, "item", "sum of the nine answers"),
        ({**good, "questionnaire": "http://loinc.org/q/69737-5"}, "questionnaire", "44249-1"),
        ({**good, "status": "in-progress"}, "status", "completed"),
        ({**good, "subject": {"reference": "Group/1"}}, "subject.reference", "Patient/"),
        ({**good, "subject": {"reference": "Patient/999"}}, "patient_id", "no such patient"),
        ({**good, "resourceType": "Observation"}, "resourceType", "QuestionnaireResponse"),
        ({**good, "item": [{"linkId": 5}]}, "item[0].linkId", "string"),
        ({k: v for k, v in good.items() if k != "authored"}, "authored", "answered"),
    ]
    for body, field, words in cases:
        r = clinic.client.post("/api/fhir/QuestionnaireResponse", headers=h, json=body)
        assert 400 <= r.status_code < 500, (field, r.status_code, r.text)
        assert r.json()["field"] == field and words in r.json()["detail"], (field, r.json())
