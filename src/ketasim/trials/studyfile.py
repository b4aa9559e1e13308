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

The file is read by :func:`ketasim.formats.yamlio.read_yaml`. Every number is finite and bounded
(:data:`CAPACITY`, :data:`MAX_DAY`, the scales' ranges, the covariates' bounds): at most 1,000 visits (a
series is counted before it is expanded), a baseline within 0-60 whose inclusion range holds at least 5%
of the baseline distribution (so that enrolling a cohort takes a few draws, not an unbounded search).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from ketasim.errors import KetasimError, PlanError
from ketasim.formats.yamlio import LineMap, read_text_file, read_yaml
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
SCALE_MAX = {"madrs": 60.0, "hdrs17": 52.0, "hdrs21": 64.0, "phq9": 27.0, "qids_sr16": 27.0}
MAX_DAY = 3650.0  # visit days, follow-up and relapse times: the longest plan horizon
CAPACITY = {"visits": 1_000, "arms": 10, "outcomes": 100, "targets": 100, "n_published": 1_000_000}
MIN_INCLUSION_SHARE = 0.05  # of the baseline distribution within baseline_madrs_range


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


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


def _visits(spec: StudyModel, where: LineMap) -> tuple[Visit, ...]:
    out: list[Visit] = []
    top = CAPACITY["visits"]
    for i, v in enumerate(spec.visits):
        if v.series is not None:
            if v.start is None or v.every is None or v.count is None or v.every <= 0 or v.count < 1:
                raise where.error(("visits", i), v.series, "a series with start (day), every (days > 0) and count >= 1")
            if len(out) + v.count > top:
                raise where.error(("visits", i, "count"), v.count, f"at most {top:,} visits in a study "
                                  f"({top - len(out):,} left for this series)")
            last = v.start + (v.count - 1) * v.every
            if not 0 <= v.start <= last <= MAX_DAY:
                raise where.error(("visits", i), f"days {v.start:g} to {last:g}", f"visit days from 0 to {MAX_DAY:g}")
            out += [Visit(f"{v.series}{k + 1}", v.start + k * v.every) for k in range(v.count)]
        elif v.name is not None and v.day is not None:
            if not 0 <= v.day <= MAX_DAY:
                raise where.error(("visits", i, "day"), v.day, f"a day from 0 to {MAX_DAY:g}")
            out.append(Visit(v.name, v.day))
        else:
            raise where.error(("visits", i), "incomplete", "{name, day} or {series, start, every, count}")
        if len(out) > top:
            raise where.error(("visits", i), f"{len(out):,} visits", f"at most {top:,} visits in a study")
    names = [v.name for v in out]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise where.error(("visits",), sorted(dup)[0], "each visit name once")
    if "baseline" not in names:
        raise where.error(("visits",), "(no baseline)", "a visit named 'baseline' (the reference for response)")
    return tuple(sorted(out, key=lambda v: v.day))


def _plan(arm: ArmModel, i: int, base_dir: Path, where: LineMap):
    from ketasim.dosing.planfile import load_plan, plan_from_data

    if isinstance(arm.plan, str):
        path = Path(arm.plan)
        if not path.is_absolute():
            path = base_dir / path
        return load_plan(path)
    prefix = ("arms", i, "plan")
    lines = LineMap(where.file, {p[3:]: n for p, n in where.lines.items() if p[:3] == prefix}, root="<plan>")
    return plan_from_data(arm.plan, lines, source=f"{where.file} (arms[{i}].plan)")


def _bounds(spec: StudyModel, where: LineMap) -> None:
    """Counts, days, thresholds and the baseline distribution within the documented capacity."""
    for key in ("arms", "outcomes", "targets"):
        n = len(getattr(spec, key))
        if n > CAPACITY[key]:
            raise where.error((key,), f"{n:,} {key}", f"at most {CAPACITY[key]:,} {key}")
    if not 0 <= spec.n_published <= CAPACITY["n_published"]:
        raise where.error(("n_published",), spec.n_published, f"0 to {CAPACITY['n_published']:,} patients")
    top = SCALE_MAX[spec.scale]
    for i, o in enumerate(spec.outcomes):
        if o.threshold is not None and not 0 <= o.threshold <= top:
            raise where.error(("outcomes", i, "threshold"), o.threshold, f"a {spec.scale} score from 0 to {top:g}")
        if o.by_day is not None and not 0 < o.by_day <= MAX_DAY:
            raise where.error(("outcomes", i, "by_day"), o.by_day, f"days from above 0 to {MAX_DAY:g}")
        r = o.relapse
        if r is not None:
            if not 1 <= r.consecutive <= CAPACITY["visits"]:
                raise where.error(("outcomes", i, "relapse", "consecutive"), r.consecutive,
                                  f"1 to {CAPACITY['visits']:,} visits")
            if not 0 <= r.threshold <= top:
                raise where.error(("outcomes", i, "relapse", "threshold"), r.threshold,
                                  f"a {spec.scale} score from 0 to {top:g}")
            if not 0 <= r.gap_days[0] <= r.gap_days[1] <= MAX_DAY:
                raise where.error(("outcomes", i, "relapse", "gap_days"), list(r.gap_days),
                                  f"[low, high] days with 0 <= low <= high <= {MAX_DAY:g}")
    fu = spec.follow_up
    if fu is not None:
        for key in ("start_day", "min_days", "max_days"):
            if not 0 <= getattr(fu, key) <= MAX_DAY:
                raise where.error(("follow_up", key), getattr(fu, key), f"days from 0 to {MAX_DAY:g}")
    r = spec.randomisation
    if r is not None:
        if not 0 <= r.eligibility.threshold <= top:
            raise where.error(("randomisation", "eligibility", "threshold"), r.eligibility.threshold,
                              f"a {spec.scale} score from 0 to {top:g}")
        if not 0 <= r.eligibility.min_count <= CAPACITY["visits"]:
            raise where.error(("randomisation", "eligibility", "min_count"), r.eligibility.min_count,
                              f"0 to {CAPACITY['visits']:,} visits")
    _check_population(spec.population, where)


def _check_population(p: PopulationModel, where: LineMap) -> None:
    from scipy.stats import norm

    from ketasim.dosing.limits import PATIENT_RANGES
    from ketasim.population.variability import COVARIATES

    if not 0 <= p.baseline_madrs_mean <= 60:
        raise where.error(("population", "baseline_madrs_mean"), p.baseline_madrs_mean, "a MADRS mean of 0-60")
    if not 0 < p.baseline_madrs_sd <= 30:
        raise where.error(("population", "baseline_madrs_sd"), p.baseline_madrs_sd, "an SD above 0 and at most 30")
    lo, hi = p.baseline_madrs_range
    if not 0 <= lo < hi <= 60:
        raise where.error(("population", "baseline_madrs_range"), [lo, hi], "[low, high] with 0 <= low < high <= 60")
    m, sd = p.baseline_madrs_mean, p.baseline_madrs_sd
    share = float(norm.cdf((hi - m) / sd) - norm.cdf((lo - m) / sd))
    if not share >= MIN_INCLUSION_SHARE:
        raise where.error(("population", "baseline_madrs_range"), [lo, hi],
                          f"a range that holds at least {MIN_INCLUSION_SHARE:.0%} of the baseline distribution "
                          f"(mean {m:g}, SD {sd:g}: it holds {share:.2%}); move the mean or widen the range")
    bounds = {c.name: c.bounds or (-math.inf, math.inf) for c in COVARIATES}
    # the virtual patients' weights and ages stay within the model's domain (a plan's patient)
    for name, domain in (("weight", PATIENT_RANGES["weight_kg"]), ("age", PATIENT_RANGES["age"])):
        for end in ("min", "max"):
            lo, hi = bounds[f"{name}_{end}"]
            bounds[f"{name}_{end}"] = (max(lo, domain.low), min(hi, domain.high))
    for name, value in p.covariates.items():
        if name not in bounds:
            raise where.error(("population", "covariates", name), name, ", ".join(bounds))
        b = bounds[name]
        if not b[0] <= value <= b[1]:
            raise where.error(("population", "covariates", name), value, f"{b[0]:g} to {b[1]:g}")


def study_from_dict(data: Any, *, file: str = "<string>", lines: dict | LineMap | None = None,
                    base_dir: Path | None = None) -> tuple[Study, tuple[Target, ...]]:
    """The study and its optional user targets from parsed YAML ``data`` (``lines``: the line of each field
    path, as :func:`~ketasim.formats.yamlio.read_yaml` gives them)."""
    where = lines if isinstance(lines, LineMap) else LineMap(file, dict(lines or {}))
    where.root = "<study>"
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
        if e["type"] == "finite_number":
            raise where.error(loc, e.get("input"), "a finite number (not NaN or infinity)") from None
        raise where.error(loc, e.get("input"), e["msg"]) from None
    if spec.scale not in SCALE_NAMES:
        raise where.error(("scale",), spec.scale, ", ".join(SCALE_NAMES))
    _bounds(spec, where)
    visits = _visits(spec, where)
    visit_names = {v.name for v in visits}
    base_dir = base_dir or Path.cwd()
    arms = []
    for i, a in enumerate(spec.arms):
        try:
            plan = _plan(a, i, base_dir, where)
        except KetasimError as exc:
            raise PlanError(f"arms[{i}].plan", a.plan if isinstance(a.plan, str) else "(inline)",
                            f"a valid plan: {exc}", file=file, line=where.line(("arms", i, "plan"))) from None
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
    population = PopulationSpec(**spec.population.model_dump())
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
    data, lines = read_yaml(read_text_file(p, what="study file"), file=str(p))
    return study_from_dict(data, file=str(p), lines=lines, base_dir=p.parent)
