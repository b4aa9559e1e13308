"""Simulate the evidence base: every virtual study with one set of population parameters.

:class:`ParameterSet` bundles what a virtual trial needs (typical response parameters, between-patient
spreads, measurement model, placebo model, the trials' typical chronic load); :func:`simulate_evidence`
runs every simulated study of the evidence base (``ketasim.evidence.virtual``) and returns the simulated
value of every outcome, in the published units. One call is "one virtual study per draw": a prediction
under parameter uncertainty runs it once per posterior draw (``ketasim.evidence.posterior``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from ketasim.parameters import default_vector
from ketasim.symptoms.placebo import PlaceboModel
from ketasim.trials.cohort import current_spreads, current_trial_load
from ketasim.trials.endpoints import Estimate
from ketasim.trials.measurement import MeasurementModel
from ketasim.trials.runner import StudyResult, run_study, study_seed

#: Virtual patients per study in the fit (every arm of a parallel study sees all of them).
FIT_PATIENTS = 300
FIT_PATIENTS_BY_STUDY: dict[str, int] = {"sustain1": 800}


@dataclass(frozen=True)
class ParameterSet:
    """Population parameters of one virtual study (one posterior draw, or the point estimate)."""

    params: np.ndarray
    spreads: dict[str, float]
    measurement: MeasurementModel
    placebo: PlaceboModel
    chronic_load: float
    label: str = ""

    @classmethod
    def in_force(cls) -> ParameterSet:
        """The shipped point estimate (what ``--typical`` uses)."""
        return cls(default_vector(), current_spreads(), MeasurementModel.shipped(), PlaceboModel.shipped(),
                   current_trial_load(), "in force")


@dataclass
class EvidenceRun:
    """Simulated outcomes (``values``: observation id -> value in the published unit; ``estimates``: the same
    with their Monte-Carlo interval and virtual patients; ``enrolled``: patients enrolled per study) and the
    study results (with ``keep_results``)."""

    values: dict[str, float]
    results: dict[str, StudyResult] = field(default_factory=dict)
    seconds: float = 0.0
    estimates: dict[str, Estimate] = field(default_factory=dict)
    enrolled: dict[str, int] = field(default_factory=dict)


def patients_for(study_id: str, n_patients: int | dict[str, int] | None) -> int:
    if isinstance(n_patients, dict):
        return int(n_patients.get(study_id, FIT_PATIENTS_BY_STUDY.get(study_id, FIT_PATIENTS)))
    if n_patients is None:
        return FIT_PATIENTS_BY_STUDY.get(study_id, FIT_PATIENTS)
    return int(n_patients)


def simulate_evidence(ps: ParameterSet | None = None, *, n_patients: int | dict[str, int] | None = None,
                      seed: int = 0, studies: list[str] | None = None, intervals: bool = True,
                      keep_results: bool = False) -> EvidenceRun:
    """Run every simulated study of the evidence base (or ``studies``) with ``ps`` (default: in force).

    Seeds: study ``s`` uses ``study_seed(s, seed)`` (common random numbers: the same patients and noise for
    any parameters, up to who the observed-baseline enrolment admits). ``intervals``: the Monte-Carlo
    intervals of Kaplan-Meier figures (lifelines; the likelihood's Monte-Carlo variance needs them).
    """
    from ketasim.evidence.virtual import evidence_studies

    ps = ps or ParameterSet.in_force()
    t0 = time.perf_counter()
    values: dict[str, float] = {}
    results: dict[str, StudyResult] = {}
    estimates: dict[str, Estimate] = {}
    enrolled: dict[str, int] = {}
    for sid, st in evidence_studies().items():
        if studies is not None and sid not in studies:
            continue
        if not st.outcomes:
            continue
        res = run_study(st, patients_for(sid, n_patients), study_seed(sid, seed), params=ps.params,
                        spreads=ps.spreads, measurement=ps.measurement, placebo=ps.placebo,
                        chronic_load=ps.chronic_load, intervals=intervals)
        values.update({k: float(e.value) for k, e in res.outcomes.items()})
        estimates.update(res.outcomes)
        enrolled[sid] = res.n_patients
        if keep_results:
            results[sid] = res
    return EvidenceRun(values, results, time.perf_counter() - t0, estimates, enrolled)


def with_placebo(ps: ParameterSet, placebo: PlaceboModel) -> ParameterSet:
    return replace(ps, placebo=placebo)
