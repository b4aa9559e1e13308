"""Run a virtual study: enrol, treat, rate on the visit days, compute the published figures.

``run_study(study, n_patients, seed)`` returns a :class:`StudyResult`: every outcome as an
:class:`~ketasim.trials.endpoints.Estimate` (value, 95% Monte-Carlo interval, number of virtual patients)
and the observed visit scores behind them (for figures). ``run_trials`` runs several studies and lines
each outcome up with its published target (:class:`TargetResult`).

Seeding (common random numbers): the study's seed fixes the patients, their rating noise, the
randomisation and the censoring; the model parameters change nothing but the model course.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ketasim.outcomes.definitions import remission, response
from ketasim.outcomes.relapse import relapse_loss_of_response, relapse_sustain1
from ketasim.parameters import IDX
from ketasim.symptoms.placebo import PlaceboModel, apply_placebo, placebo_fraction, placebo_multiplier
from ketasim.trials import endpoints as E
from ketasim.trials.cohort import Cohort, enrol_study, model_madrs
from ketasim.trials.measurement import MeasurementModel, MeasurementNoise, observe_visits
from ketasim.trials.studies import BUILTIN_STUDIES, OutcomeSpec, Study
from ketasim.trials.targets import TARGETS_BY_ID, Target

if TYPE_CHECKING:
    from ketasim.evidence.draws import PredictiveInterval

DEFAULT_PATIENTS = 400
REPORT_PATIENTS = 1000  # virtual patients enrolled per study by ``ketasim trials``


@dataclass
class ArmScores:
    """Observed scores of the patients simulated in one arm (rows = patients of ``rows`` in the cohort)."""

    rows: np.ndarray
    scores: np.ndarray  # (len(rows), visits), whole points on the study's scale
    model_madrs: np.ndarray  # (len(rows), visits), the model course behind them


@dataclass
class StudyResult:
    """A simulated study: outcomes, the scores per arm, and who was randomised where."""

    study: Study
    n_patients: int
    seed: int
    arms: dict[str, ArmScores]
    outcomes: dict[str, E.Estimate]
    randomised: dict[str, np.ndarray] = field(default_factory=dict)  # arm -> cohort rows randomised to it
    censor_day: np.ndarray | None = None  # per cohort row

    def visit_days(self) -> np.ndarray:
        return np.array([v.day for v in self.study.visits])


def _rounded(x: float) -> float | None:
    return None if not np.isfinite(x) else round(float(x), 4)


@dataclass(frozen=True)
class TargetResult:
    """One target next to its simulated value (at the typical values) and, when the trials ran over posterior
    draws, its posterior predictive interval ``predictive`` (``ketasim.trials.predictive``)."""

    target: Target
    estimate: E.Estimate
    study_id: str
    n_enrolled: int
    arm: str = ""
    predictive: PredictiveInterval | None = None

    @property
    def within_band(self) -> bool:
        return self.target.within_band(self.estimate.value)

    @property
    def log_likelihood(self) -> float | None:
        """The figure's log-likelihood in the evidence base (``ketasim.evidence.likelihood``, shipped
        heterogeneity); None for a figure that is not a likelihood item."""
        from ketasim.evidence.likelihood import item_log_likelihood

        return item_log_likelihood(self.target.id, float(self.estimate.value))

    def as_dict(self) -> dict:
        """The JSON row of ``ketasim trials --json``."""
        t, e = self.target, self.estimate
        ll = self.log_likelihood
        return {"id": t.id, "study": t.study, "figure": t.figure, "citation": t.citation, "unit": t.unit,
                "published": t.published, "band": list(t.band), "simulated": _rounded(e.value),
                "interval": [_rounded(e.low), _rounded(e.high)], "n_patients": int(e.n), "n_enrolled": self.n_enrolled,
                "within_band": self.within_band, "definition": t.definition, "arm": self.arm,
                "n_published": t.n_published, "log_likelihood": None if ll is None else round(ll, 4),
                **self.predictive_dict()}

    def predictive_dict(self) -> dict:
        """``ppi_median``, ``ppi50``, ``ppi90`` (``[low, high]``), ``ppi_low``/``ppi_high`` (the 90% interval),
        ``ppi_draws``, ``within_ppi50``, ``within_ppi90``: None without posterior draws."""
        p = self.predictive
        if p is None:
            return {"ppi_median": None, "ppi50": None, "ppi90": None, "ppi_low": None, "ppi_high": None,
                    "ppi_draws": 0, "within_ppi50": None, "within_ppi90": None}
        return {**p.as_dict(), "within_ppi50": p.contains(self.target.published, 50),
                "within_ppi90": p.contains(self.target.published, 90)}


def _allocation(study: Study, n: int, seed: int) -> np.ndarray:
    """Arm index of each enrolled patient: all 0 without randomisation; else a seeded balanced allocation."""
    if study.randomisation is None:
        return np.zeros(n, dtype=int)
    k = len(study.randomisation.arms)
    rng = np.random.default_rng([seed, 3])
    return rng.permutation(np.arange(n) % k)


def _censor_days(study: Study, n: int, seed: int) -> np.ndarray | None:
    fu = study.follow_up
    if fu is None:
        return None
    rng = np.random.default_rng([seed, 4])
    return fu.start_day + rng.uniform(fu.min_days, fu.max_days, size=n)


def simulate_study_scores(study: Study, cohort: Cohort, *, params: np.ndarray | None = None,
                          spreads: dict[str, float] | None = None, measurement: MeasurementModel | None = None,
                          simulate: Callable[..., np.ndarray] | None = None, chronic_load: float | None = None,
                          placebo: PlaceboModel | None = None) -> tuple[dict[str, ArmScores], np.ndarray]:
    """Observed scores per arm and the arm allocation of every enrolled patient.

    A study with a randomised phase allocates its patients between the randomised arms; a parallel-group
    study without one gives *every* arm the same enrolled patients (each arm is the same population under
    another treatment: contrasts between arms carry no sampling noise of their own). ``simulate`` (default
    :func:`ketasim.trials.cohort.model_madrs`) gives the model MADRS at the visits; the placebo time course
    (``ketasim.symptoms.placebo``, default the model in force) is applied to it per arm before rating.
    """
    simulate = simulate or model_madrs
    placebo = placebo or PlaceboModel.shipped()
    days = np.array([v.day for v in study.visits])
    noise = cohort.noise
    if noise is None or noise.fluctuation.shape[1] != days.size:
        noise = MeasurementNoise.draw(cohort.n, days.size, np.random.default_rng([cohort.seed, 2]))
    z = cohort.placebo_z if cohort.placebo_z is not None else np.random.default_rng([cohort.seed, 7]).standard_normal(
        cohort.n)
    alloc = _allocation(study, cohort.n, cohort.seed)
    patients = cohort.patients(params, spreads, chronic_load)
    arms: dict[str, ArmScores] = {}
    if study.randomisation:
        groups = [(name, np.flatnonzero(alloc == k)) for k, name in enumerate(study.randomisation.arms)]
    else:
        groups = [(a.name, np.arange(cohort.n)) for a in study.arms]
    for name, rows in groups:
        arm = study.arm(name)
        pts = patients.take(rows)
        m = simulate(arm.plan, pts, days)
        frac = placebo_fraction(days, np.asarray(arm.session_days), placebo, arm.settings_at(days),
                                placebo_multiplier(z[rows], placebo), hospital=arm.hospital)
        m = apply_placebo(m, frac, pts.params[:, IDX["madrs_floor"]])
        scores = observe_visits(m, days, study.scale, noise.subset(rows), measurement)
        arms[name] = ArmScores(rows, scores, m)
    return arms, alloc


def _eligible(study: Study, arm: ArmScores) -> np.ndarray:
    """Boolean per arm row: meets the randomisation's eligibility."""
    el = study.randomisation.eligibility  # type: ignore[union-attr]
    idx = [_visit_index(study, v) for v in el.visits]
    s = arm.scores[:, idx]
    rated = _evaluable(study, arm)
    if el.kind == "stable_remission":
        ok = remission(s, study.scale, el.threshold)
        req = [el.visits.index(v) for v in el.required]
        return rated & (ok.sum(axis=1) >= el.min_count) & ok[:, req].all(axis=1)
    base = np.where(rated, arm.scores[:, _visit_index(study, "baseline")], 1.0)
    return rated & _responding(s, base).all(axis=1)


def _responding(scores: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """``ketasim.outcomes`` response for patients x visits (or one visit per patient, 1-D)."""
    s = np.asarray(scores, dtype=float)
    if s.ndim == 1:
        return response(s[:, None], baseline)[:, 0]
    return response(s, baseline)


def _visit_index(study: Study, name: str) -> int:
    for i, v in enumerate(study.visits):
        if v.name == name:
            return i
    raise KeyError(f"study {study.id}: unknown visit {name!r}")


def _evaluable(study: Study, arm: ArmScores) -> np.ndarray:
    """Patients with a baseline rating above 0: a response (a share of the baseline) needs one."""
    return arm.scores[:, _visit_index(study, "baseline")] > 0


def _selected(study: Study, spec: OutcomeSpec, arm: ArmScores, eligible: np.ndarray | None) -> np.ndarray:
    """Boolean per arm row: the denominator of ``spec`` (evaluable patients only)."""
    ok = _evaluable(study, arm)
    if spec.among is None:
        return ok
    if spec.among == "randomised":
        return ok & eligible if eligible is not None else ok
    if spec.among.startswith("responders:"):
        visit = spec.among.split(":", 1)[1]
        base = np.where(ok, arm.scores[:, _visit_index(study, "baseline")], 1.0)
        return ok & _responding(arm.scores[:, _visit_index(study, visit)], base)
    raise ValueError(f"outcome {spec.id}: among {spec.among!r}: allowed none, 'randomised', 'responders:<visit>'")


def _relapse_times(study: Study, spec: OutcomeSpec, arm: ArmScores, sel: np.ndarray,
                   censor: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    days = np.array([v.day for v in study.visits])
    fu = study.follow_up
    if fu is None:
        raise ValueError(f"study {study.id}: outcome {spec.id} needs follow_up")
    rule = spec.relapse
    assert rule is not None
    s = arm.scores[sel]
    if rule.definition == "sustain1":
        day = relapse_sustain1(days, s, after_day=fu.start_day, threshold=rule.threshold, gap_days=rule.gap_days)
    else:
        base = s[:, _visit_index(study, "baseline")]
        day = relapse_loss_of_response(days, s, base, after_day=fu.start_day, consecutive=rule.consecutive)
        # loss_of_response counts only after response was reached; responders at the selection visit were.
    c = censor[arm.rows[sel]] if censor is not None else np.full(int(sel.sum()), np.inf)
    return E.relapse_durations(np.atleast_1d(day), fu.start_day, c)


def compute_outcome(study: Study, spec: OutcomeSpec, arms: dict[str, ArmScores], eligible: dict[str, np.ndarray],
                    censor: np.ndarray | None, intervals: bool = True) -> E.Estimate:
    """The estimate of one outcome from the observed scores (``intervals=False``: no lifelines intervals)."""
    arm = arms[spec.arm or next(iter(arms))]
    el = eligible.get(spec.arm or next(iter(arms)))
    sel = _selected(study, spec, arm, el)
    base = arm.scores[:, _visit_index(study, spec.baseline_visit)]
    kind = spec.kind
    if kind == "response_rate":
        return E.proportion_estimate(_responding(arm.scores[sel, _visit_index(study, spec.visit)], base[sel]))
    if kind == "remission_rate":
        return E.proportion_estimate(remission(arm.scores[sel, _visit_index(study, spec.visit)], study.scale,
                                               spec.threshold))
    if kind == "mean_change":
        return E.mean_estimate(arm.scores[sel, _visit_index(study, spec.visit)] - base[sel])
    if kind == "response_any":
        idx = [_visit_index(study, v) for v in spec.visits]
        return E.proportion_estimate(_responding(arm.scores[sel][:, idx], base[sel]).any(axis=1))
    if kind == "mean_change_difference":
        ref = arms[spec.reference_arm]  # type: ignore[index]
        sel_ref = _selected(study, spec, ref, eligible.get(spec.reference_arm))  # type: ignore[arg-type]
        k = _visit_index(study, spec.visit)
        change = arm.scores[sel, k] - base[sel]
        change_ref = ref.scores[sel_ref, k] - ref.scores[sel_ref, _visit_index(study, spec.baseline_visit)]
        if np.array_equal(arm.rows[sel], ref.rows[sel_ref]):
            # parallel arms of the same virtual patients: the paired difference's interval
            return E.mean_estimate(change - change_ref)
        a, b = E.mean_estimate(change), E.mean_estimate(change_ref)
        half = np.hypot(a.high - a.value, b.high - b.value)
        return E.Estimate(a.value - b.value, a.value - b.value - half, a.value - b.value + half, min(a.n, b.n))
    if kind == "sustained_response":
        idx = [_visit_index(study, v) for v in spec.visits]
        b0 = arm.scores[sel, _visit_index(study, "baseline")]
        return E.proportion_estimate(_responding(arm.scores[sel][:, idx], b0).all(axis=1))
    if kind == "infusions_to_response":
        idx = [_visit_index(study, v) for v in spec.visits]
        b0 = arm.scores[sel, _visit_index(study, "baseline")]
        r = _responding(arm.scores[sel][:, idx], b0)
        first = np.where(r.any(axis=1), np.argmax(r, axis=1) + 1, np.nan)
        return E.median_estimate(first, np.random.default_rng(0))
    if kind in ("relapse_median", "relapse_mean_days", "relapse_probability", "relapse_proportion"):
        t, ev = _relapse_times(study, spec, arm, sel, censor)
        if kind == "relapse_median":
            return E.km_median_estimate(t, ev, 7.0 if spec.unit == "weeks" else 1.0, interval=intervals)
        if kind == "relapse_mean_days":
            return E.mean_estimate(t[ev])
        if kind == "relapse_probability":
            return E.km_probability_estimate(t, ev, float(spec.by_day), interval=intervals)
        return E.proportion_estimate(ev)
    if kind == "hazard_ratio":
        ref = arms[spec.reference_arm]  # type: ignore[index]
        sel_ref = _selected(study, spec, ref, eligible.get(spec.reference_arm))  # type: ignore[arg-type]
        t1, e1 = _relapse_times(study, spec, arm, sel, censor)
        t0, e0 = _relapse_times(study, spec, ref, sel_ref, censor)
        treated = np.r_[np.ones(t1.size), np.zeros(t0.size)]
        return E.hazard_ratio_estimate(np.r_[t1, t0], np.r_[e1, e0], treated)
    raise ValueError(f"outcome {spec.id}: unknown kind {kind!r}")


def enrol_for(study: Study, n_patients: int, seed: int, *, measurement: MeasurementModel | None = None,
              params: np.ndarray | None = None, spreads: dict[str, float] | None = None,
              chronic_load: float | None = None) -> Cohort:
    """The study's cohort enrolled on the observed baseline rating (:func:`~ketasim.trials.cohort.enrol_study`)."""
    if study.visits[0].name != "baseline":
        raise ValueError(f"study {study.id}: the first visit must be the baseline, got {study.visits[0].name!r}")
    return enrol_study(study.population, n_patients, seed, scale=study.scale, visit_days=study_visit_days(study),
                       measurement=measurement, params=params, spreads=spreads, chronic_load=chronic_load)


def study_visit_days(study: Study) -> np.ndarray:
    return np.array([v.day for v in study.visits])


def run_study(study: Study, n_patients: int = DEFAULT_PATIENTS, seed: int = 0, *, params: np.ndarray | None = None,
              spreads: dict[str, float] | None = None, measurement: MeasurementModel | None = None,
              cohort: Cohort | None = None, intervals: bool = True, chronic_load: float | None = None,
              placebo: PlaceboModel | None = None) -> StudyResult:
    """Simulate ``study`` with ``n_patients`` enrolled virtual patients (``chronic_load``: their typical chronic
    load, default the one in force; ``placebo``: the placebo model, default the one in force). Without a
    ``cohort``, patients are enrolled on their observed baseline rating with this measurement model."""
    measurement = measurement or MeasurementModel.shipped()
    cohort = cohort or enrol_for(study, n_patients, seed, measurement=measurement, params=params, spreads=spreads,
                                 chronic_load=chronic_load)
    arms, _ = simulate_study_scores(study, cohort, params=params, spreads=spreads, measurement=measurement,
                                    chronic_load=chronic_load, placebo=placebo)
    eligible: dict[str, np.ndarray] = {}
    randomised: dict[str, np.ndarray] = {}
    if study.randomisation is not None:
        for name, a in arms.items():
            eligible[name] = _eligible(study, a)
            randomised[name] = a.rows[eligible[name]]
    censor = _censor_days(study, cohort.n, cohort.seed)
    outcomes = {spec.id: compute_outcome(study, spec, arms, eligible, censor, intervals) for spec in study.outcomes}
    return StudyResult(study, cohort.n, cohort.seed, arms, outcomes, randomised, censor)


def evaluate_study(study: Study, cohort: Cohort, *, params: np.ndarray | None = None,
                   spreads: dict[str, float] | None = None, measurement: MeasurementModel | None = None,
                   intervals: bool = True, chronic_load: float | None = None,
                   placebo: PlaceboModel | None = None) -> StudyResult:
    """:func:`run_study` on an already enrolled cohort (calibration: the same patients every time)."""
    return run_study(study, cohort.n, cohort.seed, params=params, spreads=spreads, measurement=measurement,
                     cohort=cohort, intervals=intervals, chronic_load=chronic_load, placebo=placebo)


def study_seed(study_id: str, seed: int) -> int:
    """A per-study seed derived from the run's seed and the study id (stable across Python runs)."""
    return int(np.random.SeedSequence([seed, *study_id.encode()]).generate_state(1)[0])


def target_results(result: StudyResult, targets: dict[str, Target] | None = None) -> list[TargetResult]:
    """The study's outcomes that are published targets (built-in, or ``targets`` of a user study)."""
    known = {**TARGETS_BY_ID, **(targets or {})}
    arms = {o.id: o.arm or result.study.arms[0].name for o in result.study.outcomes}
    return [TargetResult(known[k], e, result.study.id, result.n_patients, arms.get(k, ""))
            for k, e in result.outcomes.items() if k in known]


def run_trials(studies: Sequence[Study] | None = None, n_patients: int | dict[str, int] = DEFAULT_PATIENTS,
               seed: int = 0, *, params: np.ndarray | None = None, spreads: dict[str, float] | None = None,
               measurement: MeasurementModel | None = None, targets: dict[str, Target] | None = None,
               progress: Callable[[str], None] | None = None, chronic_load: float | None = None,
               placebo: PlaceboModel | None = None) -> tuple[list[StudyResult], list[TargetResult]]:
    """Run every study (default: the built-in ones) and line their outcomes up with the targets."""
    studies = list(BUILTIN_STUDIES.values()) if studies is None else list(studies)
    results: list[StudyResult] = []
    rows: list[TargetResult] = []
    for st in studies:
        n = n_patients.get(st.id, DEFAULT_PATIENTS) if isinstance(n_patients, dict) else n_patients
        res = run_study(st, n, study_seed(st.id, seed), params=params, spreads=spreads, measurement=measurement,
                        chronic_load=chronic_load, placebo=placebo)
        results.append(res)
        rows.extend(target_results(res, targets))
        if progress:
            progress(st.id)
    return results, rows
