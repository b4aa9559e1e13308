"""The virtual study behind each study of the evidence base.

A study whose file says ``simulated_by: builtin`` is the built-in study of the same id
(``ketasim.trials.studies``); ``generated`` builds a :class:`~ketasim.trials.studies.Study` from the file's
design: its arms (drug, route, dose and days; a placebo arm's sessions; the background antidepressant), its
visits, its inclusion range and published baseline, and one outcome per observation, computed the way the
paper computed it (the outcome's id is the observation's id). ``none``: not simulated.

Plan days: day 0 is the day of the first dose, which starts at 09:00; a visit ``[d, h]`` is ``h`` hours after
09:00 on day ``d``. The baseline is rated one hour before the first dose.
"""

from __future__ import annotations

import functools
import math

from ketasim.dosing.plan import Dose, OtherTreatment, Patient, Plan
from ketasim.evidence.loader import load_evidence
from ketasim.evidence.schema import MODEL_SCALES, Observation, StudyEvidence
from ketasim.evidence.schema import Arm as EvidenceArm
from ketasim.symptoms.scales import to_madrs
from ketasim.trials.studies import (
    BASELINE_DAY,
    BUILTIN_STUDIES,
    CLOCK_0900,
    Arm,
    OutcomeSpec,
    PopulationSpec,
    Study,
    Visit,
    after_dose,
    esketamine_nasal,
)

#: Severity spread of the referral population (untreated MADRS SD) where a study does not say otherwise:
#: the population model's assumed SD (``ketasim.population.variability``: sd_baseline_madrs).
DEFAULT_SEVERITY_SD = 4.5
DEFAULT_BASELINE = 33.0  # clinical-targets.md: baseline MADRS about 32-35 unless stated

_KINDS = {"mean_change": "mean_change", "response": "response_rate", "remission": "remission_rate",
          "response_any": "response_any", "mean_change_contrast": "mean_change_difference"}


def _doses(arm: EvidenceArm) -> tuple[Dose, ...]:
    tr = arm.treatment
    if tr is None or tr.drug == "none":
        return ()
    if tr.drug == "esketamine":
        return tuple(esketamine_nasal(d, tr.first_mg if (k == 0 and tr.first_mg) else tr.mg)  # type: ignore[arg-type]
                     for k, d in enumerate(tr.days))
    return tuple(Dose(day=d + CLOCK_0900, amount_mg=tr.mg_per_kg * 70.0, route="iv", drug="racemic",  # type: ignore[operator]
                      duration_min=tr.duration_min, phase="induction", mg_per_kg=tr.mg_per_kg) for d in tr.days)


def _treatments(background: str) -> tuple[OtherTreatment, ...]:
    if background in ("new_antidepressant", "standard_of_care"):
        return (OtherTreatment("antidepressant", start_day=0.0, label="new oral antidepressant"),)
    if background == "current_antidepressant":
        return (OtherTreatment("antidepressant", start_day=-60.0, label="current oral antidepressant"),)
    return ()


def _baseline_madrs(ev: StudyEvidence) -> tuple[float, str]:
    """Published mean observed baseline (MADRS-equivalent): the n-weighted arm baselines, else the study's."""
    rows = [(a.n, to_madrs(a.baseline.scale or ev.scale, a.baseline.mean)) for a in ev.arms
            if a.baseline is not None and (a.baseline.scale or ev.scale) in MODEL_SCALES]
    if rows:
        total = sum(n for n, _ in rows)
        return float(sum(n * float(m) for n, m in rows) / total), "n-weighted published arm baselines"
    if ev.baseline_mean is not None:
        return float(to_madrs(ev.scale, ev.baseline_mean.value)), f"published baseline [{ev.baseline_mean.tag}]"
    return DEFAULT_BASELINE, "assumed (clinical-targets.md: about 32-35 unless stated)"


def _outcome(o: Observation, arm: str | None) -> OutcomeSpec:
    return OutcomeSpec(o.id, _KINDS[o.kind], arm=arm, visit=o.visit, visits=o.visits,  # type: ignore[arg-type]
                       threshold=o.threshold, reference_arm=o.reference, label=o.definition)


def generate_study(ev: StudyEvidence) -> Study:
    """The :class:`Study` of a ``simulated_by: generated`` evidence file."""
    assert ev.inclusion is not None
    visits = sorted(((name, after_dose(d, h)) for name, (d, h) in ev.visits.items()), key=lambda x: x[1])
    horizon = float(math.floor(max(day for _, day in visits)) + 1)  # whole days, past the last visit
    treatments = _treatments(ev.background)
    arms = []
    for a in ev.arms:
        # doses after the last visit cannot change what the study observed: the simulation ends there
        doses = tuple(d for d in _doses(a) if d.day < horizon)
        plan = Plan(name=f"{ev.study} {a.id}", patient=Patient(), doses=doses, treatments=treatments,
                    horizon_days=horizon, description=a.description)
        sessions = tuple(d + CLOCK_0900 for d in a.treatment.session_days) if a.treatment else None
        arms.append(Arm(a.id, plan, a.description, setting=a.setting, sessions=sessions,
                        hospital=ev.background == "standard_of_care"))
    outcomes = [_outcome(o, a.id) for a in ev.arms for o in a.observations
                if o.kind in _KINDS and (o.scale or ev.scale) in MODEL_SCALES]
    outcomes += [_outcome(c, c.arm) for c in ev.contrasts if c.kind in _KINDS]
    mean, how = _baseline_madrs(ev)
    inc = ev.inclusion
    lo, hi = (float(to_madrs(inc.scale, inc.min)), float(to_madrs(inc.scale, inc.max)))
    population = PopulationSpec(
        description=ev.population, baseline_madrs_mean=round(mean, 2), baseline_madrs_sd=DEFAULT_SEVERITY_SD,
        baseline_madrs_range=(lo, hi),
        source=f"evidence {ev.study}.yaml: baseline {how}; inclusion {inc.scale} {inc.min:g}-{inc.max:g} "
               f"({inc.status}: {inc.source})")
    n = sum(a.n for a in ev.arms)
    return Study(id=ev.study, title=ev.design.split(":")[0][:80], citation=ev.citation, scale=ev.scale,
                 arms=tuple(arms), visits=(Visit("baseline", BASELINE_DAY),) + tuple(Visit(k, d) for k, d in visits),
                 outcomes=tuple(outcomes), population=population, n_published=n, notes=ev.design)


@functools.cache
def evidence_studies() -> dict[str, Study]:
    """The virtual study of every simulated study of the evidence base, by id."""
    out: dict[str, Study] = {}
    for sid, ev in load_evidence().items():
        if ev.simulated_by == "builtin":
            out[sid] = BUILTIN_STUDIES[sid]
        elif ev.simulated_by == "generated":
            out[sid] = generate_study(ev)
    return out
