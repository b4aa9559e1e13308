"""Read the evidence base: the package's ``data/evidence/*.yaml`` files (or any file given), validated by the
schema of :mod:`ketasim.evidence.schema`; a bad file raises :class:`~ketasim.errors.PlanError` naming the
file, the line and the field.

:func:`usage` says whether an observation enters the likelihood, with which variance factor, or why not.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from ketasim.errors import PlanError
from ketasim.evidence.schema import MODEL_SCALES, Observation, StudyEvidence
from ketasim.formats.yamlio import read_text_file, read_yaml

EVIDENCE_PACKAGE_DIR = ("data", "evidence")
S_VARIANCE_FACTOR = 2.0  # [S] values: variance doubled


def parse_evidence(text: str, *, file: str) -> StudyEvidence:
    """One evidence file's text -> :class:`StudyEvidence` (PlanError with file, line and field)."""
    data, lines = read_yaml(text, file=file)
    if not isinstance(data, dict):
        raise PlanError("evidence file", type(data).__name__, "a mapping with study, citation, arms, ...", file=file)
    try:
        return StudyEvidence.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        field = ".".join(str(x) for x in loc) or "study"
        value = err.get("input")
        if isinstance(value, dict):
            value = {k: value[k] for k in list(value)[:3]}
        raise PlanError(field, value, err["msg"], file=file, line=lines.line(loc)) from None


def read_evidence_file(path: str | Path) -> StudyEvidence:
    return parse_evidence(read_text_file(path, what="evidence file"), file=str(path))


@functools.cache
def _packaged() -> tuple[StudyEvidence, ...]:
    folder = resources.files("ketasim").joinpath(*EVIDENCE_PACKAGE_DIR)
    out = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            text = entry.read_text(encoding="utf-8-sig")
            out.append(parse_evidence(text, file=f"ketasim/data/evidence/{entry.name}"))
    ids = [s.study for s in out]
    if len(set(ids)) != len(ids):
        raise PlanError("study", ids, "one file per study (ids repeat)")
    obs = [o.id for s in out for o in s.observations()]
    dup = sorted({i for i in obs if obs.count(i) > 1})
    if dup:
        raise PlanError("observation id", dup, "ids unique across the evidence base")
    return tuple(out)


def load_evidence() -> dict[str, StudyEvidence]:
    """Every study of the shipped evidence base, by study id (read once per process)."""
    return {s.study: s for s in _packaged()}


@dataclass(frozen=True)
class Usage:
    """Whether an observation enters the likelihood: ``fitted``, its ``variance_factor`` (2 for [S]), and why."""

    fitted: bool
    variance_factor: float
    reason: str


def usage(study: StudyEvidence, obs: Observation) -> Usage:
    """The evidence rules (module docstring of :mod:`ketasim.evidence.schema`) applied to one observation."""
    scale = obs.scale or study.scale
    if scale not in MODEL_SCALES:
        return Usage(False, 1.0, f"scale {scale} is not one the model has; recorded, not fitted")
    if obs.tag == "U":
        return Usage(False, 1.0, "[U]: not verified against a source; recorded, never fitted")
    if study.simulated_by == "none":
        return Usage(False, 1.0, "the study is not simulated: " + (obs.why or "design not built"))
    if not obs.fit:
        return Usage(False, 1.0, obs.why)
    from ketasim.evidence.schema import COUNT_KINDS

    if obs.kind in COUNT_KINDS:
        if obs.n is None or obs.n_events is None:
            return Usage(False, 1.0, "a proportion without its denominator")
    elif obs.standard_error() is None:
        return Usage(False, 1.0, "a value without SD, SE or interval")
    if obs.tag == "S":
        return Usage(True, S_VARIANCE_FACTOR, "[S]: second-hand; fitted with its variance doubled")
    return Usage(True, 1.0, f"[{obs.tag}]")


def fitted_observations(evidence: dict[str, StudyEvidence] | None = None) -> list[tuple[StudyEvidence, Observation,
                                                                                      Usage]]:
    """Every (study, observation, usage) that enters the likelihood, in file order."""
    ev = load_evidence() if evidence is None else evidence
    out = []
    for st in ev.values():
        for o in st.observations():
            u = usage(st, o)
            if u.fitted:
                out.append((st, o, u))
    return out
