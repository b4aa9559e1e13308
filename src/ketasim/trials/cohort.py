"""A study's virtual patients and their model MADRS at the visit days.

:func:`enrol` draws the cohort of a study from the population model (``ketasim.population``:
:func:`~ketasim.population.patients.sample_patients`, its random effects, covariates and PK factors)
and applies the study's inclusion range to the untreated severity. The patients are fixed by the seed:
:meth:`Cohort.patients` redraws the *same* patients (same standard-normal coordinates) for other typical
parameter values or spreads, which is what calibration needs (common random numbers).

:func:`model_madrs` integrates every patient's plan with the compiled batch engine
(``ketasim.engine.batch``) and returns the model MADRS at the visits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from ketasim.dosing.plan import LifestylePeriod, Patient, Plan
from ketasim.dynamics import ALL_ON, N_STATES, SG, SM, SN
from ketasim.engine.compile import PKVariability, compile_plan
from ketasim.engine.integrate import integrate_one
from ketasim.parameters import HOURS_PER_DAY, IDX, RESPONSE_PARAMETERS, Parameter, shipped_calibration
from ketasim.population.patients import VirtualPatients, load_cap, sample_patients
from ketasim.population.structures import PopulationModel, population_model
from ketasim.symptoms.madrs import madrs
from ketasim.symptoms.scales import get_scale
from ketasim.trials.measurement import MeasurementModel, MeasurementNoise, observe_visits
from ketasim.trials.studies import PopulationSpec

#: Spreads of the response random effects that calibration fits (and ``calibrated.json`` ships). Those the
#: population model has (``ketasim.population.variability.RESPONSE_EFFECTS``) are passed to its sampler;
#: :data:`EXTRA_EFFECTS` are drawn here, from a stream of their own, so that the population model's draws
#: stay as they are: how much a new oral antidepressant lifts the set point differs between patients
#: (log-normal, omega calibrated to SUSTAIN-1).
CALIBRATED_SPREADS: tuple[str, ...] = ("kappa_G", "k_form", "k_prune", "k_hom", "a_antidepressant")
EXTRA_EFFECTS: tuple[str, ...] = ("a_antidepressant",)
FALLBACK_SPREADS: dict[str, float] = {"a_antidepressant": 0.5}

#: Typical (median) chronic load of the trials' patients. The load lowers the set point (beta L) and coping
#: skills relieve it (L (1 - C)); with the baseline severity fixed, the load's share of the deficit matters
#: only where skills are learnt, so the psychotherapy trial (Wilkinson 2017) is what informs it.
TRIAL_CHRONIC_LOAD = Parameter(
    "trial_chronic_load", 0.5, "load units", "assumed: the bundled examples' typical patient (chronic load 0.5); "
    "calibrated with the other population parameters", "assumed",
    "typical chronic load of the virtual trials' patients (median of the log-normal)", "population", (0.1, 1.5))


def current_trial_load() -> float:
    """The typical chronic load of trial patients in force: the shipped calibration's if any."""
    shipped = shipped_calibration().get("population", {}).get("chronic_load")
    return float(shipped["value"]) if shipped else TRIAL_CHRONIC_LOAD.value


def trial_parameters() -> tuple[Parameter, ...]:
    """The parameters of the virtual trials' population, measurement and placebo response, as in force
    (calibrated when shipped)."""
    from ketasim.symptoms.placebo import PLACEBO_PARAMETERS
    from ketasim.trials.measurement import MEASUREMENT_PARAMETERS

    record = shipped_calibration()
    fitted = {**record.get("measurement", {}), **record.get("placebo", {})}
    if "chronic_load" in record.get("population", {}):
        fitted[TRIAL_CHRONIC_LOAD.name] = record["population"]["chronic_load"]
    return tuple(replace(p, value=float(fitted[p.name]["value"]), status="calibrated",
                         source=f"calibrated {fitted[p.name].get('date', '')} by ketasim calibrate ({p.source})")
                 if p.name in fitted else p for p in (TRIAL_CHRONIC_LOAD, *MEASUREMENT_PARAMETERS, *PLACEBO_PARAMETERS))


def uncalibrated_spreads() -> dict[str, float]:
    """Spreads of the calibrated effects as the population model declares them (no shipped calibration)."""
    from ketasim.population.variability import RESPONSE_EFFECTS

    declared = {e.target: e.spread.value for e in RESPONSE_EFFECTS}
    return {name: declared.get(name, FALLBACK_SPREADS.get(name, 0.0)) for name in CALIBRATED_SPREADS}


def share_at_load_cap(patients: VirtualPatients) -> float:
    """Share of ``patients`` whose chronic load is the largest their baseline allows
    (:func:`~ketasim.population.patients.load_cap`, where the sampler caps it)."""
    cap = load_cap(patients.baseline_madrs, patients.params)
    return float(np.mean(patients.chronic_load >= cap * (1.0 - 1e-9))) if len(patients) else float("nan")


def current_spreads() -> dict[str, float]:
    """Spreads in force for the calibrated effects: the shipped calibration's ``variability`` if any, else the
    population model's defaults (and :data:`FALLBACK_SPREADS` for effects it does not have)."""
    from ketasim.population.variability import default_variability

    defaults = {e.target: e.spread.value for e in default_variability()}
    out = {name: defaults.get(name, FALLBACK_SPREADS.get(name, 0.0)) for name in CALIBRATED_SPREADS}
    shipped = shipped_calibration().get("variability", {})
    out.update({k: float(v["omega"]) for k, v in shipped.items() if k in CALIBRATED_SPREADS})
    return out


@dataclass(frozen=True)
class Cohort:
    """The enrolled patients of one study: rows ``rows`` of the population drawn with ``seed``.

    A cohort enrolled on observed ratings (:func:`enrol_study`) also holds the measurement noise of its
    patients at the study's visits (``noise``), their observed baseline (``observed_baseline``, study scale)
    and the standard-normal coordinate of their placebo responsiveness (``placebo_z``).
    """

    population: PopulationSpec
    seed: int
    rows: np.ndarray
    n_drawn: int
    base: VirtualPatients  # drawn with the parameters and spreads in force at enrolment
    noise: MeasurementNoise | None = None
    placebo_z: np.ndarray | None = None
    observed_baseline: np.ndarray | None = None
    model: str | PopulationModel = "v1"

    @property
    def n(self) -> int:
        return int(self.rows.size)

    @property
    def baseline_madrs(self) -> np.ndarray:
        return self.base.baseline_madrs

    @property
    def weight_kg(self) -> np.ndarray:
        return self.base.weight_kg

    def patients(self, params: np.ndarray | None = None, spreads: dict[str, float] | None = None,
                 chronic_load: float | None = None) -> VirtualPatients:
        """The enrolled patients with typical values ``params``, spreads ``spreads`` and typical chronic load
        ``chronic_load`` (same coordinates; ``None``: the values in force)."""
        if params is None and spreads is None and chronic_load is None:
            return self.base
        return _draw(self.population, self.seed, self.n_drawn, params, spreads, chronic_load,
                     self.model).take(self.rows)

    def subset(self, rows: np.ndarray) -> Cohort:
        """The cohort restricted to its rows ``rows`` (positions among the enrolled)."""
        return replace(self, rows=self.rows[rows], base=self.base.take(rows),
                       noise=None if self.noise is None else self.noise.subset(rows),
                       placebo_z=None if self.placebo_z is None else self.placebo_z[rows],
                       observed_baseline=None if self.observed_baseline is None else self.observed_baseline[rows])


def _typical_patient(population: PopulationSpec, chronic_load: float) -> Patient:
    return Patient(baseline_madrs=population.baseline_madrs_mean, chronic_load=chronic_load)


def _draw(population: PopulationSpec, seed: int, n: int, params: np.ndarray | None,
          spreads: dict[str, float] | None, chronic_load: float | None = None,
          model: str | PopulationModel = "v1") -> VirtualPatients:
    structure = population_model(model)
    if chronic_load is not None:
        load = float(chronic_load)
    elif structure.chronic_load is not None:
        load = structure.chronic_load.value
    else:
        load = current_trial_load()
    if spreads is not None:
        sp = dict(spreads)
    elif structure.calibrated_spreads:
        sp = current_spreads()
    else:  # a structure with classes: the declared within-class spreads, not the shipped (v1) ones
        sp = dict(FALLBACK_SPREADS)
    extra = {k: sp.pop(k) for k in EXTRA_EFFECTS if k in sp}
    sp["baseline_madrs"] = population.baseline_madrs_sd
    vp = sample_patients(n, seed, params=params, variability=sp, patient=_typical_patient(population, load),
                         covariates=dict(population.covariates) or None, model=model)
    if extra:
        z = np.random.default_rng([seed, 5]).standard_normal((n, len(EXTRA_EFFECTS)))
        for j, name in enumerate(EXTRA_EFFECTS):
            col = vp.params[:, IDX[name]] * np.exp(extra.get(name, 0.0) * z[:, j])
            lo, hi = RESPONSE_PARAMETERS[IDX[name]].bounds or (0.0, np.inf)
            vp.params[:, IDX[name]] = np.clip(col, lo, hi)
    return vp


def enrol(population: PopulationSpec, n: int, seed: int, *, params: np.ndarray | None = None,
          spreads: dict[str, float] | None = None, chronic_load: float | None = None,
          model: str | PopulationModel = "v1") -> Cohort:
    """``n`` virtual patients of ``population``: drawn with ``seed``, kept if their untreated MADRS lies in the
    inclusion range (the first ``n`` who do; the same patients for any parameters)."""
    from scipy.stats import norm

    lo, hi = population.baseline_madrs_range
    m, s = population.baseline_madrs_mean, population.baseline_madrs_sd
    p_in = max(norm.cdf((hi - m) / s) - norm.cdf((lo - m) / s), 0.05)
    n_draw = max(int(math.ceil(1.2 * n / p_in)) + 16, n)
    while True:
        drawn = _draw(population, seed, n_draw, params, spreads, chronic_load, model)
        ok = np.flatnonzero((drawn.baseline_madrs >= lo) & (drawn.baseline_madrs <= hi))
        if ok.size >= n or n == 0:
            rows = ok[:n]
            return Cohort(population, seed, rows, n_draw, drawn.take(rows), model=model)
        n_draw *= 2


def _scale_noise_in_madrs(scale: str, measurement: MeasurementModel) -> float:
    """Rater noise of ``scale`` in MADRS points (SD x the linking's mean slope MADRS per scale point)."""
    spec = get_scale(scale)
    slope = float(np.mean(np.diff(spec.madrs_anchors) / np.diff(spec.scale_anchors)))
    return measurement.noise_scale * spec.noise_sd.value * slope


def severity_mean(population: PopulationSpec, scale: str, measurement: MeasurementModel) -> float:
    """Mean untreated severity (MADRS) of the referral population such that the enrolled patients' mean
    *observed* baseline is ``population.baseline_madrs_mean``.

    The observed baseline is ``Y = X + f_0 + e`` (severity ``X ~ N(mu, sd)``, fluctuation ``f_0`` and rater
    noise ``e``, in MADRS points); enrolment keeps ``lo <= Y <= hi`` (``baseline_madrs_range``), so the
    enrolled mean is the truncated-normal mean ``mu + s (phi(a) - phi(b)) / (Phi(b) - Phi(a))``,
    ``s^2 = sd^2 + fluctuation_sd^2 + rater^2``: solved for ``mu`` (rounding ignored).
    """
    from scipy.optimize import brentq
    from scipy.stats import truncnorm

    lo, hi = population.baseline_madrs_range
    s = math.sqrt(population.baseline_madrs_sd ** 2 + measurement.fluctuation_sd ** 2
                  + _scale_noise_in_madrs(scale, measurement) ** 2)
    target = population.baseline_madrs_mean

    def enrolled_mean(mu: float) -> float:
        return float(truncnorm.mean((lo - mu) / s, (hi - mu) / s, loc=mu, scale=s)) - target

    a, b = lo - 4 * s, hi + 4 * s
    if not lo < target < hi or enrolled_mean(a) > 0 or enrolled_mean(b) < 0:
        return target
    return float(brentq(enrolled_mean, a, b, xtol=1e-6))


def enrol_study(population: PopulationSpec, n: int, seed: int, *, scale: str, visit_days: np.ndarray,
                measurement: MeasurementModel | None = None, params: np.ndarray | None = None,
                spreads: dict[str, float] | None = None, chronic_load: float | None = None,
                model: str | PopulationModel = "v1") -> Cohort:
    """``n`` virtual patients enrolled on their *observed* baseline rating (regression to the mean).

    Patients are drawn from the referral population (severity mean :func:`severity_mean`, SD
    ``population.baseline_madrs_sd``) with their rating noise at every visit (``visit_days``, the first is the
    baseline); the first ``n`` whose observed baseline (study scale, converted to MADRS) lies in
    ``population.baseline_madrs_range`` are enrolled. Later ratings of the same patients carry no selection,
    so they regress towards the mean by themselves. Same seed, same patients and noise for any parameters;
    who is enrolled depends on the measurement model (its noise sizes). ``model``: the response structure
    (``ketasim.population.structures``).
    """
    from scipy.stats import norm

    from ketasim.symptoms.scales import to_madrs

    m = measurement or MeasurementModel.shipped()
    days = np.asarray(visit_days, dtype=float)
    pop = replace(population, baseline_madrs_mean=severity_mean(population, scale, m))
    lo, hi = population.baseline_madrs_range
    s = math.sqrt(pop.baseline_madrs_sd ** 2 + m.fluctuation_sd ** 2 + _scale_noise_in_madrs(scale, m) ** 2)
    p_in = max(norm.cdf((hi - pop.baseline_madrs_mean) / s) - norm.cdf((lo - pop.baseline_madrs_mean) / s), 0.05)
    n_draw = max(int(math.ceil(1.2 * n / p_in)) + 16, n)
    while True:
        drawn = _draw(pop, seed, n_draw, params, spreads, chronic_load, model)
        noise = MeasurementNoise.draw_streams(n_draw, days.size, seed)
        y0 = observe_visits(drawn.baseline_madrs[:, None], days[:1], scale, noise.columns(slice(0, 1)), m)[:, 0]
        y0_madrs = to_madrs(scale, y0)
        ok = np.flatnonzero((y0_madrs >= lo) & (y0_madrs <= hi))
        if ok.size >= n or n == 0:
            rows = ok[:n]
            z = np.random.default_rng([seed, 7]).standard_normal(n_draw)
            return Cohort(pop, seed, rows, n_draw, drawn.take(rows), noise.subset(rows), z[rows], y0[rows], model)
        n_draw *= 2


# --- the model at the visits -----------------------------------------------------------------------

_TEMPLATES: dict[tuple[int, bytes], tuple[Plan, object]] = {}


def with_visit_breakpoints(plan: Plan, visit_days: np.ndarray) -> Plan:
    """``plan`` with the visits as integration breakpoints (lifestyle periods of level 0 between them).

    A lifestyle period of level 0 changes nothing in the model; its ends only make the engine finish a
    step on each visit, so a rating reads a state the error control has accepted rather than an
    interpolation inside a long drug-free step.
    """
    existing = [d.day for d in plan.doses] + [d.day + d.duration_min / 1440.0 for d in plan.doses]
    existing += list(plan.therapy_days) + [e.day for e in plan.patient.life_events]
    taken = np.asarray(existing, dtype=float)

    def free(day: float) -> bool:  # a visit on an existing breakpoint must not make a zero-length segment
        return 0.0 < day < plan.horizon_days and not np.any(np.abs(taken - day) < 1e-4)

    marks = [float(d) for d in np.unique(visit_days) if free(float(d))]
    periods = tuple(LifestylePeriod(start_day=a, end_day=b, level=0.0, label="visits")
                    for a, b in zip(marks[:-1], marks[1:], strict=True))
    if len(marks) == 1:
        periods = (LifestylePeriod(start_day=marks[0], end_day=plan.horizon_days, level=0.0, label="visits"),)
    return replace(plan, lifestyle=plan.lifestyle + periods)


def _template(plan: Plan, visit_days: np.ndarray):
    """Packed batch-engine template of ``plan`` with the visits as outcome times (cached per plan object)."""
    from ketasim.engine.batch import pack_templates, plan_template

    days = np.ascontiguousarray(visit_days, dtype=float)
    key = (id(plan), days.tobytes())
    hit = _TEMPLATES.get(key)
    if hit is not None and hit[0] is plan:
        return hit[1]
    packed = pack_templates([plan_template(with_visit_breakpoints(plan, days), outcome_t_h=days * HOURS_PER_DAY)])
    if len(_TEMPLATES) > 64:
        _TEMPLATES.clear()
    _TEMPLATES[key] = (plan, packed)
    return packed


def model_madrs(plan: Plan, patients: VirtualPatients, visit_days: np.ndarray) -> np.ndarray:
    """Model MADRS (patients x visits) under ``plan`` (compiled batch engine, all cores; with the patients' own
    life events when they live a course of life, ``VirtualPatients.life_events``)."""
    from ketasim.engine.batch import integrate_batch

    n = len(patients)
    if n == 0:
        return np.zeros((0, np.size(visit_days)))
    res = integrate_batch(_template(plan, visit_days), np.zeros(n, dtype=np.int64), patients.params,
                          weight_kg=patients.weight_kg, pk_cl=patients.pk_cl, pk_v=patients.pk_v,
                          pk_ka=patients.pk_ka, baseline_madrs=patients.baseline_madrs,
                          chronic_load=patients.chronic_load, acute_load_scale=patients.acute_load_scale,
                          grid_h=np.zeros(0), patient_events=patients.life_events(plan.horizon_days))
    return np.asarray(res.outcome_madrs, dtype=float)


def model_madrs_reference(plan: Plan, patients: VirtualPatients, visit_days: np.ndarray) -> np.ndarray:
    """The same as :func:`model_madrs` with the one-patient engine, patient by patient (for tests)."""
    out_t = np.asarray(visit_days, dtype=float) * HOURS_PER_DAY
    result = np.empty((len(patients), out_t.size))
    Y = np.zeros((out_t.size, N_STATES))
    for i in range(len(patients)):
        events = tuple(replace(e, amplitude=e.amplitude * float(patients.acute_load_scale[i]))
                       for e in plan.patient.life_events)
        patient = replace(plan.patient, weight_kg=float(patients.weight_kg[i]), life_events=events,
                          baseline_madrs=float(patients.baseline_madrs[i]),
                          chronic_load=float(patients.chronic_load[i]))
        pk = PKVariability(cl=float(patients.pk_cl[i]), v=float(patients.pk_v[i]), ka=float(patients.pk_ka[i]))
        p = patients.params[i]
        cp = compile_plan(replace(plan, patient=patient), p, pk_variability=pk)
        Y[:] = 0.0
        integrate_one(cp.params, cp.seg_t, cp.lam, cp.c0, cp.c1, cp.seg_life, cp.seg_ad, cp.jump_S, cp.jump_E,
                      cp.load_chronic, cp.ev_t, cp.ev_amp, cp.ev_tau, cp.d_trait, ALL_ON, 0.0, cp.y0, out_t,
                      1e-8, 1e-10, Y)
        result[i] = madrs(Y[:, SN], Y[:, SM], Y[:, SG], p[IDX["madrs_floor"]], p[IDX["kappa"]], p[IDX["kappa_G"]])
    return result

