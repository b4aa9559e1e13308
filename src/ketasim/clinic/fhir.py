"""PHQ-9 answers as FHIR R4 ``QuestionnaireResponse`` resources, in and out.

Codes (``/work/shared/reference/phq9-fhir.md``; LOINC): panel 44249-1, items 44250-9 ... 44260-8 in
questionnaire order, total 44261-6, answers LL358-3 (LA6568-5 = 0, LA6569-3 = 1, LA6570-1 = 2,
LA6571-9 = 3). ``linkId`` is accepted with or without a leading "/" (form builders such as LHC-Forms
write ``/44260-8``). Resources are validated with the ``fhir.resources`` R4B models (R4B's
QuestionnaireResponse is R4's); the clinic then checks the codes and refuses unknown items by name.

The subject is ``Patient/{id}`` (the clinic's patient id) or an identifier whose value is the
patient's external identifier.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from pydantic import ValidationError

from ketasim.clinic.db import ClinicError
from ketasim.clinic.instruments import ANSWERS, PHQ9
from ketasim.clinic.models import Patient, Score

LOINC = "http://loinc.org"
PANEL = "44249-1"
TOTAL = "44261-6"
ITEM_CODES = ("44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3", "44260-8")
ANSWER_CODES = ("LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9")
QUESTIONNAIRE = f"{LOINC}/q/{PANEL}"
STATUSES = ("completed", "amended")


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse(resource: Any) -> QuestionnaireResponse:
    """Validate against the R4B model; a :class:`ClinicError` names the first bad field."""
    if not isinstance(resource, dict):
        raise ClinicError("body: allowed a JSON object (a FHIR QuestionnaireResponse)", field="body")
    if resource.get("resourceType") != "QuestionnaireResponse":
        raise ClinicError(f"resourceType = {resource.get('resourceType')!r}: allowed 'QuestionnaireResponse'",
                          field="resourceType")
    try:
        return QuestionnaireResponse.model_validate(resource)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ClinicError(f"{_loc(err['loc'])} = {err.get('input')!r}: {err['msg']} (FHIR R4 QuestionnaireResponse)",
                          field=_loc(err["loc"])) from None


def _flatten(items: list[Any] | None, path: str = "item") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for k, it in enumerate(items or []):
        here = f"{path}[{k}]"
        if it.item:
            out += _flatten(it.item, f"{here}.item")
        if it.answer or not it.item:
            out.append((here, it))
    return out


def _answer_value(where: str, code: str, it: Any) -> int:
    if not it.answer or len(it.answer) != 1:
        raise ClinicError(f"{where}.answer (linkId {code}): allowed exactly one answer", field=f"{where}.answer")
    a = it.answer[0]
    if a.valueCoding is not None:
        c = a.valueCoding
        if c.system not in (None, LOINC) or c.code not in ANSWER_CODES:
            raise ClinicError(f"{where}.answer[0].valueCoding = {c.system or ''}|{c.code}: allowed the LOINC answers "
                              f"{', '.join(f'{x} ({i})' for i, x in enumerate(ANSWER_CODES))}",
                              field=f"{where}.answer[0].valueCoding")
        return ANSWER_CODES.index(c.code)
    if a.valueInteger is not None and 0 <= a.valueInteger <= 3:
        return int(a.valueInteger)
    raise ClinicError(f"{where}.answer[0] (linkId {code}): allowed a valueCoding from LL358-3 or a valueInteger 0-3",
                      field=f"{where}.answer[0]")


def phq9_items(qr: QuestionnaireResponse) -> tuple[list[int], dt.datetime | dt.date]:
    """The nine answers and the authored time of a PHQ-9 QuestionnaireResponse."""
    if qr.status not in STATUSES:
        raise ClinicError(f"status = {qr.status!r}: allowed {' or '.join(STATUSES)}", field="status")
    if qr.questionnaire is not None and PANEL not in str(qr.questionnaire).split("|")[0].rsplit("/", 1)[-1]:
        raise ClinicError(f"questionnaire = {qr.questionnaire!r}: allowed the PHQ-9 panel (LOINC {PANEL}, e.g. "
                          f"{QUESTIONNAIRE})", field="questionnaire")
    if qr.authored is None:
        raise ClinicError("authored: allowed the date and time the questionnaire was answered", field="authored")
    answers: dict[str, int] = {}
    total: int | None = None
    for where, it in _flatten(qr.item):
        code = str(it.linkId).lstrip("/")
        if code == PANEL and not it.answer:
            continue
        if code == TOTAL:
            a = it.answer[0] if it.answer else None
            value = a.valueInteger if a is not None and a.valueInteger is not None else (
                a.valueDecimal if a is not None else None)
            if value is None:
                raise ClinicError(f"{where}.answer (linkId {TOTAL}, the total): allowed a valueInteger",
                                  field=f"{where}.answer")
            total = int(value)
            continue
        if code not in ITEM_CODES:
            raise ClinicError(f"{where}.linkId = {it.linkId!r}: allowed the PHQ-9 item codes {', '.join(ITEM_CODES)} "
                              f"(with or without a leading '/') or the total {TOTAL}", field=f"{where}.linkId")
        if code in answers:
            raise ClinicError(f"{where}.linkId = {it.linkId!r}: this item is answered twice", field=f"{where}.linkId")
        answers[code] = _answer_value(where, code, it)
    missing = [c for c in ITEM_CODES if c not in answers]
    if missing:
        raise ClinicError(f"item: no answer for {', '.join(missing)}: allowed a complete PHQ-9 (nine items)",
                          field="item")
    items = [answers[c] for c in ITEM_CODES]
    if total is not None and total != sum(items):
        raise ClinicError(f"item (linkId {TOTAL}) = {total}: allowed the sum of the nine answers ({sum(items)})",
                          field="item")
    return items, qr.authored


def subject(qr: QuestionnaireResponse) -> tuple[int | None, str | None]:
    """(patient id from ``Patient/{id}``, external identifier) of the subject."""
    if qr.subject is None:
        raise ClinicError("subject: allowed a reference Patient/{id} or an identifier with the patient's external id",
                          field="subject")
    ref = qr.subject.reference
    if ref:
        kind, _, pid = str(ref).rpartition("/")
        if not kind.endswith("Patient") or not pid.isdigit():
            raise ClinicError(f"subject.reference = {ref!r}: allowed Patient/{{id}}", field="subject.reference")
        return int(pid), None
    ident = qr.subject.identifier
    if ident is not None and ident.value:
        return None, str(ident.value)
    raise ClinicError("subject: allowed a reference Patient/{id} or an identifier with the patient's external id",
                      field="subject")


def to_resource(patient: Patient, score: Score) -> dict[str, Any]:
    """One stored PHQ-9 as a QuestionnaireResponse (validated by the R4B model before it leaves)."""
    def coding(v: int) -> dict[str, Any]:
        return {"valueCoding": {"system": LOINC, "code": ANSWER_CODES[v], "display": ANSWERS[v].capitalize()}}

    items = [{"linkId": code, "text": text, "answer": [coding(v)]}
             for code, text, v in zip(ITEM_CODES, PHQ9.items, score.items, strict=True)]
    items.append({"linkId": TOTAL, "text": "Patient Health Questionnaire 9 item (PHQ-9) total score",
                  "answer": [{"valueInteger": score.total}]})
    res = {"resourceType": "QuestionnaireResponse", "id": f"phq9-{score.id}", "status": "completed",
           "questionnaire": QUESTIONNAIRE,
           "subject": {"reference": f"Patient/{patient.id}",
                       "identifier": {"value": patient.external_id}},
           "authored": score.taken_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"), "item": items}
    return QuestionnaireResponse.model_validate(res).model_dump(mode="json", exclude_none=True)


def bundle(patient: Patient, scores: list[Score]) -> dict[str, Any]:
    entries = [{"fullUrl": f"QuestionnaireResponse/phq9-{s.id}", "resource": to_resource(patient, s)}
               for s in scores]
    b = {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}
    Bundle.model_validate(b)
    return b
