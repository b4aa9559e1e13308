"""YAML study files -> :class:`~ketasim.trials.studies.Study`, with the same fields as the built-in studies.

A study file (``ketasim trials --study FILE.yaml``)::

    id: my-series
    title: Six infusions then follow-up
    citation: Doe 2024 (n=30)
    scale: madrs                       # madrs | hdrs17 | hdrs21 | phq9 | qids_sr16
    n_published: 30
    population: {baseline_madrs_mean: 33, baseline_madrs_sd: 4.5, baseline_madrs_range: [22, 50],
                 covariates: {fraction_female: 0.6}, description: TRD outpatients}
    arms:
      - {name: ketamine, plan: induction-six.yaml}    # a plan file (relative to this file) or an inline plan
    visits:
      - {name: baseline, day: 0.33}
      - {name: end, day: 12.375}
      - {series: f, start: 15.875, every: 3.5, count: 20}   # f1, f2, ... twice weekly
    follow_up: {start_day: 11.375, min_days: 83, max_days: 83}
    outcomes:
      - {id: response-end, kind: response_rate, visit: end}
      - {id: relapse, kind: relapse_median, among: "responders:end",
         relapse: {definition: loss_of_response, consecutive: 2}}
    targets:                            # optional: published values to compare with
      - {id: response-end, published: 65, band: [45, 80], unit: "%"}

Days count from the plan's ``start_date`` (day 0; 0.375 is 09:00). Outcome kinds, ``among`` and the
relapse definitions are those of :class:`~ketasim.trials.studies.OutcomeSpec`. Every mistake is a
:class:`~ketasim.errors.PlanError` naming the file, the line, the field, the value and what is allowed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from ketasim.errors import KetasimError, PlanError
from ketasim.trials.studies import (
    OUTCOME_KINDS,
    Arm,
    Eligibility,
    FollowUp,
    OutcomeSpec,
    PopulationSpec,
    Randomisation,
    RelapseRule,
    Study,
    Visit,
)
from ketasim.trials.targets import Target

SCALE_NAMES = ("madrs", "hdrs17", "hdrs21", "phq9", "qids_sr16")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PopulationModel(_Spec):
    description: str = "adults with treatment-resistant depression (TRD)"
    baseline_madrs_mean: float = 33.0
    baseline_madrs_sd: float = 4.5
    baseline_madrs_range: tuple[float, float] = (22.0, 50.0)
    covariates: dict[str, float] = {}
    source: str = ""
    differs: str = ""


class ArmModel(_Spec):
    name: str
    plan: str | dict[str, Any]
    description: str = ""


class VisitModel(_Spec):
    name: str | None = None
    day: float | None = None
    series: str | None = None
    start: float | None = None
    every: float | None = None
    count: int | None = None


class RelapseModel(_Spec):
    definition: Literal["loss_of_response", "sustain1"] = "loss_of_response"
    consecutive: int = 2
    threshold: float = 22.0
    gap_days: tuple[float, float] = (5.0, 15.0)


class OutcomeModel(_Spec):
    id: str
    kind: str
    arm: str | None = None
    visit: str | None = None
    baseline_visit: str = "baseline"
    among: str | None = None
    visits: list[str] = []
    threshold: float | None = None
    relapse: RelapseModel | None = None
    by_day: float | None = None
    reference_arm: str | None = None
    unit: Literal["days", "weeks"] = "days"
    label: str = ""


class FollowUpModel(_Spec):
    start_day: float
    min_days: float
    max_days: float
    source: str = ""


class EligibilityModel(_Spec):
    kind: Literal["stable_remission", "response"]
    visits: list[str]
    threshold: float = 12.0
    min_count: int = 0
    required: list[str] = []


class RandomisationModel(_Spec):
    eligibility: EligibilityModel
    arms: list[str]


class TargetModel(_Spec):
    id: str
    published: float
    band: tuple[float, float]
    unit: str = ""
    figure: str = ""


class StudyModel(_Spec):
    id: str
    title: str = ""
    citation: str = ""
    scale: str = "madrs"
    n_published: int = 0
    population: PopulationModel = PopulationModel()
    arms: list[ArmModel]
    visits: list[VisitModel]
    outcomes: list[OutcomeModel]
    follow_up: FollowUpModel | None = None
    randomisation: RandomisationModel | None = None
    targets: list[TargetModel] = []
    notes: str = ""


def _lines(node: yaml.Node, path: tuple, out: dict) -> None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            p = (*path, k.value)
            out[p] = k.start_mark.line + 1
            _lines(v, p, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            p = (*path, i)
            out[p] = item.start_mark.line + 1
            _lines(item, p, out)


def _field(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<study>"


class _Where:
    def __init__(self, file: str, lines: dict) -> None:
        self.file = file
        self.lines = lines

    def error(self, path: tuple, value: Any, allowed: str) -> PlanError:
        p = tuple(path)
        line = None
        while p:
            if p in self.lines:
                line = self.lines[p]
                break
            p = p[:-1]
        return PlanError(_field(path), value, allowed, file=self.file, line=line)


def _visits(spec: StudyModel, where: _Where) -> tuple[Visit, ...]:
    out: list[Visit] = []
    for i, v in enumerate(spec.visits):
        if v.series is not None:
            if v.start is None or v.every is None or v.count is None or v.every <= 0 or v.count < 1:
                raise where.error(("visits", i), v.series, "a series with start (day), every (days > 0) and count >= 1")
            out += [Visit(f"{v.series}{k + 1}", v.start + k * v.every) for k in range(v.count)]
        elif v.name is not None and v.day is not None:
            out.append(Visit(v.name, v.day))
        else:
            raise where.error(("visits", i), "incomplete", "{name, day} or {series, start, every, count}")
    names = [v.name for v in out]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise where.error(("visits",), sorted(dup)[0], "each visit name once")
    if "baseline" not in names:
        raise where.error(("visits",), "(no baseline)", "a visit named 'baseline' (the reference for response)")
    return tuple(sorted(out, key=lambda v: v.day))


def _plan(arm: ArmModel, i: int, base_dir: Path, where: _Where):
    from ketasim.dosing.planfile import load_plan, parse_plan

    if isinstance(arm.plan, str):
        path = Path(arm.plan)
        if not path.is_absolute():
            path = base_dir / path
        return load_plan(path)
    return parse_plan(yaml.safe_dump(arm.plan, sort_keys=False), source=f"{where.file} (arms[{i}].plan)")


def study_from_dict(data: Any, *, file: str = "<string>", lines: dict | None = None,
                    base_dir: Path | None = None) -> tuple[Study, tuple[Target, ...]]:
    """The study and its optional user targets from parsed YAML ``data``."""
    where = _Where(file, lines or {})
    if not isinstance(data, dict):
        raise PlanError("<study>", type(data).__name__, "a YAML mapping with id, arms, visits and outcomes", file=file)
    try:
        spec = StudyModel.model_validate(data)
    except ValidationError as exc:
        e = exc.errors(include_url=False)[0]
        loc = tuple(e["loc"])
        if e["type"] == "extra_forbidden":
            raise where.error(loc, loc[-1], "a known key (see ketasim.trials.studyfile)") from None
        if e["type"] == "missing":
            raise where.error(loc, "(missing)", "a value: this key is required") from None
        raise where.error(loc, e.get("input"), e["msg"]) from None
    if spec.scale not in SCALE_NAMES:
        raise where.error(("scale",), spec.scale, ", ".join(SCALE_NAMES))
    visits = _visits(spec, where)
    visit_names = {v.name for v in visits}
    base_dir = base_dir or Path.cwd()
    arms = []
    for i, a in enumerate(spec.arms):
        try:
            plan = _plan(a, i, base_dir, where)
        except KetasimError as exc:
            raise PlanError(f"arms[{i}].plan", a.plan if isinstance(a.plan, str) else "(inline)",
                            f"a valid plan: {exc}", file=file, line=where.lines.get(("arms", i, "plan"))) from None
        arms.append(Arm(a.name, plan, a.description))
    if not arms:
        raise where.error(("arms",), "[]", "at least one arm")
    arm_names = {a.name for a in arms}
    if max(v.day for v in visits) > min(a.plan.horizon_days for a in arms):
        raise where.error(("visits",), max(v.day for v in visits), "visit days within every arm's horizon_days")
    outcomes = []
    for i, o in enumerate(spec.outcomes):
        if o.kind not in OUTCOME_KINDS:
            raise where.error(("outcomes", i, "kind"), o.kind, ", ".join(OUTCOME_KINDS))
        for key in ("visit", "baseline_visit"):
            val = getattr(o, key)
            if val is not None and val not in visit_names:
                raise where.error(("outcomes", i, key), val, "a visit name: " + ", ".join(sorted(visit_names)))
        for val in o.visits:
            if val not in visit_names:
                raise where.error(("outcomes", i, "visits"), val, "visit names of this study")
        if o.among is not None and o.among != "randomised" and not (
                o.among.startswith("responders:") and o.among.split(":", 1)[1] in visit_names):
            raise where.error(("outcomes", i, "among"), o.among, "none, 'randomised' or 'responders:<visit>'")
        for key in ("arm", "reference_arm"):
            val = getattr(o, key)
            if val is not None and val not in arm_names:
                raise where.error(("outcomes", i, key), val, "an arm name: " + ", ".join(sorted(arm_names)))
        needs_visit = o.kind in ("response_rate", "remission_rate", "mean_change")
        if needs_visit and o.visit is None:
            raise where.error(("outcomes", i, "visit"), "(missing)", f"a visit for kind {o.kind}")
        is_relapse = o.kind.startswith("relapse") or o.kind == "hazard_ratio"
        if is_relapse and (o.relapse is None or spec.follow_up is None):
            raise where.error(("outcomes", i, "relapse"), "(missing)",
                              f"a relapse definition and a study follow_up for kind {o.kind}")
        if o.kind == "relapse_probability" and o.by_day is None:
            raise where.error(("outcomes", i, "by_day"), "(missing)", "days after the follow-up start")
        if o.kind == "hazard_ratio" and o.reference_arm is None:
            raise where.error(("outcomes", i, "reference_arm"), "(missing)", "the comparator arm")
        relapse = RelapseRule(**o.relapse.model_dump()) if o.relapse else None
        outcomes.append(OutcomeSpec(o.id, o.kind, o.arm, o.visit, o.baseline_visit, o.among,  # type: ignore[arg-type]
                                    tuple(o.visits), o.threshold, relapse, o.by_day, o.reference_arm, o.unit,
                                    o.label))
    rand = None
    if spec.randomisation is not None:
        r = spec.randomisation
        for a in r.arms:
            if a not in arm_names:
                raise where.error(("randomisation", "arms"), a, "arm names of this study")
        for v in (*r.eligibility.visits, *r.eligibility.required):
            if v not in visit_names:
                raise where.error(("randomisation", "eligibility"), v, "visit names of this study")
        rand = Randomisation(Eligibility(r.eligibility.kind, tuple(r.eligibility.visits), r.eligibility.threshold,
                                         r.eligibility.min_count, tuple(r.eligibility.required)), tuple(r.arms))
    elif len(arms) > 1:
        raise where.error(("randomisation",), "(missing)", "a randomisation for a study with several arms")
    fu = FollowUp(**spec.follow_up.model_dump()) if spec.follow_up else None
    if fu is not None and not 0 <= fu.min_days <= fu.max_days:
        raise where.error(("follow_up",), (fu.min_days, fu.max_days), "0 <= min_days <= max_days")
    p = spec.population
    if not (p.baseline_madrs_sd > 0 and p.baseline_madrs_range[0] < p.baseline_madrs_range[1]
            and 0 <= p.baseline_madrs_range[0] and p.baseline_madrs_range[1] <= 60):
        raise where.error(("population",), p.baseline_madrs_range, "baseline_madrs_sd > 0 and a range within 0-60")
    from ketasim.population.variability import COVARIATE

    bad = sorted(set(p.covariates) - set(COVARIATE))
    if bad:
        raise where.error(("population", "covariates"), bad[0], ", ".join(COVARIATE))
    population = PopulationSpec(**p.model_dump())
    study = Study(spec.id, spec.title or spec.id, spec.citation, spec.scale, tuple(arms), visits, tuple(outcomes),
                  population, spec.n_published, rand, fu, spec.notes)
    outcome_ids = {o.id for o in outcomes}
    targets = []
    for i, t in enumerate(spec.targets):
        if t.id not in outcome_ids:
            raise where.error(("targets", i, "id"), t.id, "an outcome id: " + ", ".join(sorted(outcome_ids)))
        if not t.band[0] <= t.published <= t.band[1]:
            raise where.error(("targets", i, "band"), list(t.band), f"a band that contains published {t.published}")
        kind = next(o.kind for o in outcomes if o.id == t.id)
        targets.append(Target(t.id, t.id, spec.id, spec.citation, spec.n_published, t.figure or t.id, t.published,
                              t.band, t.unit, "proportion" if kind.endswith(("rate", "proportion")) else "mean_change",
                              f"user target ({kind})"))
    return study, tuple(targets)


def load_study(path: str | Path) -> tuple[Study, tuple[Target, ...]]:
    """Read and check the study file at ``path``."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise PlanError("study file", str(p), "an existing, readable YAML file") from None
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise PlanError("<yaml>", (exc.problem or str(exc)).strip(), "valid YAML", file=str(p),
                        line=mark.line + 1 if mark else None) from None
    lines: dict = {}
    if node is not None:
        _lines(node, (), lines)
    return study_from_dict(data, file=str(p), lines=lines, base_dir=p.parent)
