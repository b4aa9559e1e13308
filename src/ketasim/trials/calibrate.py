"""Calibration of the population-level response parameters against every clinical target at once.

What is fitted (:data:`FREE_PARAMETERS`): typical values of the *assumed* response parameters that the
targets inform, the inter-individual variabilities (log-normal SDs, omegas) of the parameters that make
patients differ in how much and how long they respond, the two parameters of the symptom
fluctuation of the measurement model, and the typical chronic load of the trials' patients (which only
psychotherapy, through coping skills, can reveal). Pharmacokinetics (clearances, volumes, Ki, fu, ke0 and their
variabilities) stay at their literature values.

How (simulation-based, common random numbers): every study's virtual patients, their rating noise,
randomisation and censoring are drawn once from fixed seeds; an evaluation only re-integrates the model
with new parameters and recomputes the figures. The weighted discrepancy

    z_t = (sim_t(theta) - published_t) / half_band_t
    D(theta) = sum_t w_t (z_t^2 + 30 max(0, |z_t| - 0.7)^2)

(a target inside its band has |z_t| < 1; the steeper term keeps figures away from the band's ends, where
Monte-Carlo noise of another cohort would push them out; a figure that cannot be computed, e.g. a median
not reached, contributes ``MISSING_PENALTY``), plus a penalty for every qualitative claim of the seed text
that the typical patient would no longer show (``ketasim.trials.constraints``, weight ``CLAIMS_WEIGHT``: large
enough that the optimum keeps every claim), is minimised by CMA-ES (package ``cma``) in the unit cube of the
bounds (log scale for rates and omegas). The best point is written, with the date, the targets, the
discrepancy and the command, to ``ketasim/data/calibrated.json``.

Where the search starts: the discrepancy is multi-modal, and global searches from the declared values end
in different local optima for different optimiser seeds. ``ketasim calibrate`` therefore refines from a
recorded start point (``ketasim/data/calibration_start.json``, with the provenance of how the earlier
searches from the declared values reached it); ``--from-declared --coarse-evaluations N`` runs the global
two-phase search (:func:`calibrate_two_phase`) instead.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ketasim.errors import KetasimError, PlanError
from ketasim.parameters import IDX, RESPONSE_PARAMETERS, shipped_calibration
from ketasim.trials.cohort import TRIAL_CHRONIC_LOAD, Cohort, enrol, uncalibrated_spreads
from ketasim.trials.constraints import claims_penalty
from ketasim.trials.measurement import MEASUREMENT_FIELDS, MeasurementModel
from ketasim.trials.runner import StudyResult, TargetResult, evaluate_study, study_seed, target_results
from ketasim.trials.studies import BUILTIN_STUDIES, Study

MISSING_PENALTY = 16.0
EDGE, EDGE_WEIGHT = 0.7, 30.0  # z beyond 0.7 of the half-band costs extra: keep figures away from the band's ends
CLAIMS_WEIGHT = 1000.0  # discrepancy per squared unit of violation of a qualitative claim (a claim is all but hard)
OMEGA_MAX = 2.0  # upper bound of a calibrated log-normal SD (the population model's bound on omegas)
DEFAULT_CALIBRATION_PATIENTS: dict[str, int] = {
    "zarate06": 500, "murrough13a": 500, "murrough13b": 500, "aanhetrot10": 500, "shiroma14": 500,
    "phillips19": 500, "wilkinson17": 500, "sustain1": 800,
}
DAY = 24.0


@dataclass(frozen=True)
class FreeParameter:
    """One calibrated quantity: a typical response parameter, an omega, a measurement parameter or a property of
    the trials' population (the typical chronic load)."""

    name: str
    kind: str  # "typical" | "omega" | "measurement" | "population"
    lower: float
    upper: float
    log: bool = True

    @property
    def key(self) -> str:
        return self.name if self.kind == "typical" else f"{self.kind}:{self.name}"

    def to_unit(self, value: float) -> float:
        v = min(max(value, self.lower), self.upper)
        if self.log:
            return (math.log(v) - math.log(self.lower)) / (math.log(self.upper) - math.log(self.lower))
        return (v - self.lower) / (self.upper - self.lower)

    def from_unit(self, u: float) -> float:
        u = min(max(u, 0.0), 1.0)
        if u in (0.0, 1.0):
            return self.lower if u == 0.0 else self.upper
        if self.log:
            return math.exp(math.log(self.lower) + u * (math.log(self.upper) - math.log(self.lower)))
        return self.lower + u * (self.upper - self.lower)


def _typical(name: str, lower: float | None = None, upper: float | None = None, log: bool = True) -> FreeParameter:
    p = RESPONSE_PARAMETERS[IDX[name]]
    lo, hi = p.bounds if p.bounds else (p.value / 10, p.value * 10)
    lo = lower if lower is not None else lo
    hi = upper if upper is not None else hi
    if log and lo <= 0:
        lo = hi * 1e-3
    return FreeParameter(name, "typical", lo, hi, log)


FREE_PARAMETERS: tuple[FreeParameter, ...] = (
    # trigger and rapid effect (bounds: the parameter's own plausible range)
    _typical("k_G"),
    _typical("kappa_G"),
    # synapse formation, pruning, maturation, consolidation, homeostasis, symptom scale
    _typical("k_form"),
    _typical("k_prune"),
    _typical("k_mat"),
    _typical("mu_G", 1.0),
    _typical("k_hom"),
    # kappa above ~64 would make the bereavement bridge (load 1.13 at day 0, beta 0.4) exceed a baseline MADRS
    # of 33 (a negative trait deficit): the claims need that patient, so the calibration stops at 62.
    _typical("kappa", upper=62.0),
    # psychotherapy (Wilkinson 2017) and the oral antidepressant (SUSTAIN-1)
    _typical("w_therapy", 0.05),
    _typical("eta", 1e-5),
    _typical("a_antidepressant", 0.005),
    # inter-individual variability (log-normal SD)
    FreeParameter("kappa_G", "omega", 0.05, OMEGA_MAX),
    FreeParameter("k_form", "omega", 0.05, OMEGA_MAX),
    FreeParameter("k_prune", "omega", 0.05, OMEGA_MAX),
    FreeParameter("k_hom", "omega", 0.05, OMEGA_MAX),
    FreeParameter("a_antidepressant", "omega", 0.05, OMEGA_MAX),
    # symptom fluctuation of the measurement model
    FreeParameter("fluctuation_sd", "measurement", 0.5, 8.0),
    FreeParameter("fluctuation_tau", "measurement", 2.0, 90.0),
    # the trials' patients: typical chronic load (the share of the deficit that coping skills can relieve)
    FreeParameter("chronic_load", "population", *TRIAL_CHRONIC_LOAD.bounds),
)


@dataclass
class Evaluation:
    """The figures and discrepancy of one parameter point (``discrepancy`` includes the claims penalty)."""

    x: np.ndarray
    discrepancy: float
    rows: list[TargetResult]
    seconds: float
    targets_discrepancy: float = float("nan")
    claims_penalty: float = 0.0
    claims: dict[str, float] = field(default_factory=dict)


@dataclass
class CalibrationResult:
    """Best point, its figures, and the optimiser's history."""

    free: tuple[FreeParameter, ...]
    best: Evaluation
    start: Evaluation
    history: list[tuple[int, float, float]] = field(default_factory=list)  # (evaluations, best D, seconds)
    evaluations: int = 0
    seconds: float = 0.0
    stop_reason: str = ""
    covariance: np.ndarray | None = None  # CMA-ES search covariance at the end (unit cube)
    phases: dict = field(default_factory=dict)

    def values(self) -> dict[str, float]:
        return {f.key: f.from_unit(float(u)) for f, u in zip(self.free, self.best.x, strict=True)}


def uncalibrated_vector() -> np.ndarray:
    """The response parameters as declared in ``ketasim.parameters`` (no shipped calibration applied)."""
    return np.array([p.value for p in RESPONSE_PARAMETERS], dtype=np.float64)


class Calibration:
    """The calibration problem: studies with fixed cohorts (common random numbers) and the free parameters.

    The starting point is a record with the sections of a calibration record: the shipped calibration
    (``from_shipped=True``), ``start`` (see :func:`load_start`; the command's default is the bundled
    :func:`start_path`), or none (the model as declared); values it does not name are the declared ones, and
    ``base``, ``base_omegas`` and ``base_measurement`` override it. The shipped calibration is read only when
    asked, so a clean checkout reproduces the shipped set.
    """

    def __init__(self, free: Sequence[FreeParameter] = FREE_PARAMETERS, studies: Sequence[Study] | None = None,
                 n_patients: dict[str, int] | int | None = None, seed: int = 0,
                 weights: dict[str, float] | None = None, base: np.ndarray | None = None,
                 base_omegas: dict[str, float] | None = None, base_measurement: MeasurementModel | None = None,
                 from_shipped: bool = False, claims_weight: float = CLAIMS_WEIGHT, start: dict | None = None):
        self.free = tuple(free)
        self.studies = list(BUILTIN_STUDIES.values()) if studies is None else list(studies)
        if n_patients is None:
            n_patients = DEFAULT_CALIBRATION_PATIENTS
        self.n_patients = {s.id: (n_patients.get(s.id, 300) if isinstance(n_patients, dict) else int(n_patients))
                           for s in self.studies}
        self.seed = seed
        self.weights = weights or {}
        self.claims_weight = claims_weight
        record = shipped_calibration() if from_shipped else (start or {})
        vector = uncalibrated_vector()
        for name, entry in record.get("parameters", {}).items():
            vector[IDX[name]] = float(entry["value"])
        self.base = np.asarray(vector if base is None else base, dtype=float)
        omegas = uncalibrated_spreads()
        omegas.update({k: float(v["omega"]) for k, v in record.get("variability", {}).items()})
        self.base_omegas = dict(omegas if base_omegas is None else base_omegas)
        meas = MeasurementModel().with_values({k: float(v["value"]) for k, v in record.get("measurement", {}).items()
                                               if k in MEASUREMENT_FIELDS})
        self.base_measurement = meas if base_measurement is None else base_measurement
        self.base_load = float(record.get("population", {}).get("chronic_load", {}).get("value",
                                                                                       TRIAL_CHRONIC_LOAD.value))
        self.cohorts: dict[str, Cohort] = {s.id: enrol(s.population, self.n_patients[s.id], study_seed(s.id, seed))
                                           for s in self.studies}

    # --- parameter points ------------------------------------------------------------------------
    def x0(self) -> np.ndarray:
        """The starting point (unit cube) from the parameters in force."""
        out = []
        for f in self.free:
            if f.kind == "typical":
                v = self.base[IDX[f.name]]
            elif f.kind == "omega":
                v = self.base_omegas.get(f.name, 0.3)
            elif f.kind == "population":
                v = self.base_load
            else:
                v = getattr(self.base_measurement, f.name)
            out.append(f.to_unit(float(v)))
        return np.array(out)

    def unpack(self, x: np.ndarray) -> tuple[np.ndarray, dict[str, float], MeasurementModel, float]:
        """(response parameter vector, omegas, measurement model, typical chronic load) of the unit-cube point
        ``x``."""
        params = self.base.copy()
        omegas = dict(self.base_omegas)
        meas: dict[str, float] = {}
        load = self.base_load
        for f, u in zip(self.free, x, strict=True):
            v = f.from_unit(float(u))
            if f.kind == "typical":
                params[IDX[f.name]] = v
            elif f.kind == "omega":
                omegas[f.name] = v
            elif f.kind == "population":
                load = v
            else:
                meas[f.name] = v
        return params, omegas, self.base_measurement.with_values(meas), load

    # --- evaluation ------------------------------------------------------------------------------
    def run_studies(self, x: np.ndarray) -> list[StudyResult]:
        params, omegas, meas, load = self.unpack(x)
        return [evaluate_study(s, self.cohorts[s.id], params=params, spreads=omegas, measurement=meas,
                               intervals=False, chronic_load=load) for s in self.studies]

    def discrepancy(self, rows: Sequence[TargetResult]) -> float:
        """Weighted sum of squared band-scaled errors, steeper near the band's ends (see the module docstring)."""
        total = 0.0
        for r in rows:
            w = self.weights.get(r.target.id, 1.0)
            v = r.estimate.value
            if not np.isfinite(v):
                total += w * MISSING_PENALTY
            else:
                z = (v - r.target.published) / r.target.half_width
                total += w * (z * z + EDGE_WEIGHT * max(0.0, abs(z) - EDGE) ** 2)
        return total

    def evaluate(self, x: np.ndarray) -> Evaluation:
        """Targets discrepancy plus the penalty of any qualitative claim the point breaks."""
        t0 = time.perf_counter()
        try:
            results = self.run_studies(x)
        except KetasimError:
            return Evaluation(np.array(x), float("inf"), [], time.perf_counter() - t0)
        rows = [r for res in results for r in target_results(res)]
        d = self.discrepancy(rows)
        pen, margins = (0.0, {})
        if self.claims_weight > 0:
            pen, margins = claims_penalty(self.unpack(x)[0], self.claims_weight)
        return Evaluation(np.array(x), d + pen, rows, time.perf_counter() - t0, d, pen, margins)

    # --- optimisation ----------------------------------------------------------------------------
    def run(self, *, max_evaluations: int = 600, max_seconds: float = 25 * 60.0, sigma0: float = 0.15,
            popsize: int | None = None, x0: np.ndarray | None = None, optimiser_seed: int = 1,
            progress: Callable[[int, float, float], None] | None = None) -> CalibrationResult:
        """Minimise the discrepancy with CMA-ES within ``max_evaluations`` and ``max_seconds``."""
        import cma

        t_start = time.perf_counter()
        start = self.evaluate(self.x0() if x0 is None else np.asarray(x0, dtype=float))
        best = start
        history = [(1, best.discrepancy, time.perf_counter() - t_start)]
        opts = {"bounds": [0.0, 1.0], "seed": optimiser_seed, "verbose": -9, "maxfevals": max_evaluations}
        if popsize:
            opts["popsize"] = popsize
        es = cma.CMAEvolutionStrategy(list(start.x), sigma0, opts)
        n_eval = 1
        reason = "evaluation budget"
        while not es.stop():
            if n_eval >= max_evaluations:
                break
            if time.perf_counter() - t_start > max_seconds:
                reason = "time budget"
                break
            xs = es.ask()
            evals = [self.evaluate(np.asarray(x)) for x in xs]
            n_eval += len(evals)
            fit = [e.discrepancy if np.isfinite(e.discrepancy) else 1e9 for e in evals]
            es.tell(xs, fit)
            for e in evals:
                if e.discrepancy < best.discrepancy:
                    best = e
            history.append((n_eval, best.discrepancy, time.perf_counter() - t_start))
            if progress:
                progress(n_eval, best.discrepancy, time.perf_counter() - t_start)
        else:
            reason = "converged: " + ", ".join(f"{k}" for k in es.stop())
        cov = np.asarray(es.sigma**2 * es.C, dtype=float) if hasattr(es, "C") else None
        return CalibrationResult(self.free, best, start, history, n_eval, time.perf_counter() - t_start, reason,
                                 cov)


def scaled_patients(n_patients: dict[str, int], fraction: float, minimum: int = 40) -> dict[str, int]:
    """Smaller cohorts for the coarse phase (at least ``minimum`` patients per study)."""
    return {k: max(minimum, int(round(v * fraction))) for k, v in n_patients.items()}


def calibrate_two_phase(studies: Sequence[Study] | None = None, n_patients: dict[str, int] | int | None = None,
                        seed: int = 0, *, coarse_fraction: float = 0.35, coarse_evaluations: int = 900,
                        fine_evaluations: int = 300, sigma0: float = 0.2, fine_sigma: float = 0.06,
                        popsize: int | None = None, optimiser_seed: int = 1, max_seconds: float = 27 * 60.0,
                        from_shipped: bool = False, coarse_claims_weight: float = 1.0, start: dict | None = None,
                        weights: dict[str, float] | None = None,
                        progress: Callable[[str, int, float, float], None] | None = None,
                        ) -> tuple[Calibration, CalibrationResult]:
    """Global search on smaller cohorts, then refinement on the full cohorts (both CMA-ES, same seeds).

    Phase 1 explores with ``coarse_fraction`` of the virtual patients (cheaper, noisier figures) and a milder
    claims penalty (``coarse_claims_weight``, so that the search can cross points that bend a claim); phase 2
    restarts CMA-ES from its best point with a small step on the full cohorts and the full penalty. The result
    (best point, start, history) is that of the full cohorts; its ``start`` is the starting point on them.
    """
    t0 = time.perf_counter()
    fine = Calibration(studies=studies, n_patients=n_patients, seed=seed, from_shipped=from_shipped, start=start,
                       weights=weights)
    coarse = Calibration(studies=studies, n_patients=scaled_patients(fine.n_patients, coarse_fraction), seed=seed,
                         from_shipped=from_shipped, claims_weight=coarse_claims_weight, start=start, weights=weights)

    def relay(phase: str, offset: int):
        return None if progress is None else (lambda n, d, sec: progress(phase, offset + n, d, sec))

    r1 = coarse.run(max_evaluations=coarse_evaluations, max_seconds=max_seconds, sigma0=sigma0, popsize=popsize,
                    optimiser_seed=optimiser_seed, progress=relay("coarse", 0))
    left = max(max_seconds - (time.perf_counter() - t0), 0.0)
    r2 = fine.run(max_evaluations=fine_evaluations, max_seconds=left, sigma0=fine_sigma, popsize=popsize,
                  x0=r1.best.x, optimiser_seed=optimiser_seed, progress=relay("fine", r1.evaluations))
    start = fine.evaluate(fine.x0())
    history = [(n, d, sec) for n, d, sec in r1.history] + [(r1.evaluations + n, d, r1.seconds + sec)
                                                          for n, d, sec in r2.history]
    reason = f"coarse: {r1.stop_reason}; fine: {r2.stop_reason}"
    result = CalibrationResult(fine.free, r2.best, start, history, r1.evaluations + r2.evaluations + 1,
                               time.perf_counter() - t0, reason, r2.covariance)
    result.phases = {"coarse": {"n_patients": coarse.n_patients, "evaluations": r1.evaluations,
                                "best_discrepancy": round(r1.best.discrepancy, 4), "seconds": round(r1.seconds, 1)},
                     "fine": {"n_patients": fine.n_patients, "evaluations": r2.evaluations,
                              "best_discrepancy": round(r2.best.discrepancy, 4), "seconds": round(r2.seconds, 1)}}
    return fine, result


# --- identifiability --------------------------------------------------------------------------------


def profile_slices(cal: Calibration, best: Evaluation, *, n_points: int = 6, half_width: float = 0.15,
                   progress: Callable[[int, int], None] | None = None) -> dict[str, dict]:
    """One-at-a-time slices of the discrepancy through the optimum, for each free parameter.

    ``n_points`` unit-cube offsets in ``[-half_width, +half_width]`` (clipped to the bounds) around the best
    point, the others held at their optimum: a *conditional* profile (no re-optimisation of the others, so
    it shows local identifiability and ignores compensation between parameters). ``range_dD1`` is the span
    of values whose discrepancy is within 1 of the optimum (a band half-width is about two standard
    errors of a published figure, so dD = 1 is roughly a 95% change on one target), linearly interpolated
    on the slice; an end at the slice edge means the parameter is not pinned down within the slice.
    """
    offsets = np.linspace(-half_width, half_width, n_points)
    out: dict[str, dict] = {}
    total = len(cal.free) * n_points
    done = 0
    for i, f in enumerate(cal.free):
        us, ds = [float(best.x[i])], [best.discrepancy]
        for off in offsets:
            u = float(np.clip(best.x[i] + off, 0.0, 1.0))
            done += 1
            if any(abs(u - v) < 1e-9 for v in us):
                continue
            x = best.x.copy()
            x[i] = u
            us.append(u)
            ds.append(cal.evaluate(x).discrepancy)
            if progress:
                progress(done, total)
        order = np.argsort(us)
        u_arr, d_arr = np.asarray(us)[order], np.asarray(ds)[order]
        ok = d_arr <= best.discrepancy + 1.0
        lo_u, hi_u = _crossing(u_arr, d_arr, best.discrepancy + 1.0, float(best.x[i]))
        out[f.key] = {"values": [f.from_unit(u) for u in u_arr], "discrepancy": [round(float(d), 4) for d in d_arr],
                      "best": f.from_unit(float(best.x[i])), "range_dD1": [f.from_unit(lo_u), f.from_unit(hi_u)],
                      "pinned": bool(not ok[0] and not ok[-1])}
    return out


def _crossing(u: np.ndarray, d: np.ndarray, level: float, u0: float) -> tuple[float, float]:
    """Where the slice ``d(u)`` first rises above ``level`` on each side of ``u0`` (linear interpolation)."""
    k0 = int(np.argmin(np.abs(u - u0)))
    lo = u[0]
    for k in range(k0, 0, -1):
        if d[k - 1] > level:
            lo = u[k - 1] + (level - d[k - 1]) * (u[k] - u[k - 1]) / (d[k] - d[k - 1]) if d[k] != d[k - 1] else u[k]
            break
    hi = u[-1]
    for k in range(k0, u.size - 1):
        if d[k + 1] > level:
            hi = u[k] + (level - d[k]) * (u[k + 1] - u[k]) / (d[k + 1] - d[k]) if d[k + 1] != d[k] else u[k]
            break
    return float(lo), float(hi)


def search_correlations(result: CalibrationResult, threshold: float = 0.5) -> list[dict]:
    """Pairs of free parameters whose CMA-ES search covariance is strongly correlated (compensation)."""
    if result.covariance is None:
        return []
    C = result.covariance
    sd = np.sqrt(np.diag(C))
    R = C / np.outer(sd, sd)
    out = []
    for i in range(len(result.free)):
        for j in range(i + 1, len(result.free)):
            if abs(R[i, j]) >= threshold:
                out.append({"a": result.free[i].key, "b": result.free[j].key, "r": round(float(R[i, j]), 3)})
    return sorted(out, key=lambda d: -abs(d["r"]))


# --- the shipped file ------------------------------------------------------------------------------


def calibration_record(cal: Calibration, result: CalibrationResult, command: str,
                       identifiability: dict | None = None) -> dict:
    """The JSON document of a calibration (the shape ``ketasim.parameters`` reads, plus provenance)."""
    today = dt.date.today().isoformat()
    params, omegas, meas, load = cal.unpack(result.best.x)
    record = {
        "date": today,
        "command": command,
        "method": "CMA-ES on the weighted discrepancy, common random numbers (fixed cohorts and rating noise)",
        "discrepancy": round(result.best.discrepancy, 4),
        "discrepancy_targets": round(result.best.targets_discrepancy, 4),
        "claims_penalty": round(result.best.claims_penalty, 4),
        "claims_margins": {k: round(float(v), 4) for k, v in result.best.claims.items()},
        "discrepancy_start": round(result.start.discrepancy, 4),
        "evaluations": result.evaluations,
        "seconds": round(result.seconds, 1),
        "stop_reason": result.stop_reason,
        "phases": result.phases,
        "seed": cal.seed,
        "n_patients": cal.n_patients,
        "weights": dict(cal.weights),
        "parameters": {f.name: {"value": float(params[IDX[f.name]]), "date": today, "bounds": [f.lower, f.upper]}
                       for f in cal.free if f.kind == "typical"},
        "variability": {name: {"omega": float(v), "date": today} for name, v in sorted(omegas.items())},
        "measurement": {f.name: {"value": float(getattr(meas, f.name)), "date": today, "bounds": [f.lower, f.upper]}
                        for f in cal.free if f.kind == "measurement"},
        "population": {"chronic_load": {"value": float(load), "date": today,
                                        "bounds": list(TRIAL_CHRONIC_LOAD.bounds)}},
        "targets": [r.as_dict() for r in result.best.rows],
        "within_band": sum(r.within_band for r in result.best.rows),
        "n_targets": len(result.best.rows),
        "history": [[n, round(d, 4), round(s, 1)] for n, d, s in result.history],
        "identifiability": {
            "method": "one-at-a-time slices of the discrepancy through the optimum (conditional profiles); "
                      "CMA-ES search correlations for compensation between parameters",
            "slices": identifiability or {},
            "search_sd_unit": ({f.key: round(float(np.sqrt(result.covariance[i, i])), 4)
                                for i, f in enumerate(cal.free)} if result.covariance is not None else {}),
            "correlations": search_correlations(result),
        },
    }
    return record


def write_record(record: dict, path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(record, indent=1) + "\n")
    return p


def start_path() -> Path:
    """The bundled starting point of ``ketasim calibrate`` (``ketasim/data/calibration_start.json``)."""
    return Path(__file__).resolve().parent.parent / "data" / "calibration_start.json"


START_SECTIONS = {"parameters": "value", "variability": "omega", "measurement": "value", "population": "value"}
NOISE_SCALE_MAX = 5.0  # rater noise at most five times the published SEM


def _start_bounds() -> dict[str, dict[str, tuple[float, float]]]:
    """The allowed names of each start section and the range of each value: the parameters' own bounds."""
    from ketasim.trials.measurement import MEASUREMENT_PARAMETERS

    params = {p.name: p.bounds or (0.0, math.inf) for p in RESPONSE_PARAMETERS}
    measurement = {p.name: p.bounds or (0.0, math.inf) for p in MEASUREMENT_PARAMETERS}
    measurement = {name: measurement.get(name, (0.0, NOISE_SCALE_MAX)) for name in MEASUREMENT_FIELDS}
    return {"parameters": params, "variability": {name: (0.0, OMEGA_MAX) for name in uncalibrated_spreads()},
            "measurement": measurement, "population": {"chronic_load": TRIAL_CHRONIC_LOAD.bounds or (0.0, 3.0)}}


def load_start(path: str | Path) -> dict:
    """A start record: the sections of a calibration record (``parameters``, ``variability``, ``measurement``,
    ``population``), each ``{name: {"value" or "omega": number}}``; any calibration JSON qualifies.

    Read by :func:`ketasim.formats.yamlio.read_yaml` (JSON is read as YAML: duplicate keys, control
    characters and other encodings than UTF-8 are refused). Every value is a finite number within the
    bounds of its parameter. Raises :class:`~ketasim.errors.PlanError` naming the file, the line, the field,
    the value and what is allowed.
    """
    from ketasim.formats.yamlio import read_text_file, read_yaml

    p = Path(path)
    try:
        record, lines = read_yaml(read_text_file(p, what="--start"), file=str(p))
    except PlanError as exc:
        if not exc.field.startswith("<yaml"):
            raise
        raise PlanError("--start", f"invalid JSON ({exc.value})", f"a calibration JSON file: {exc.allowed}",
                        file=str(p), line=exc.line) from None
    lines.root = "<start record>"
    if not isinstance(record, dict):
        raise lines.error((), type(record).__name__, "a JSON object with the sections " + ", ".join(START_SECTIONS))
    bounds = _start_bounds()
    for section, key in START_SECTIONS.items():
        entries = record.get(section, {})
        if not isinstance(entries, dict):
            raise lines.error((section,), type(entries).__name__, "an object of name: {" + f'"{key}": number' + "}")
        for name, entry in entries.items():
            if name not in bounds[section]:
                raise lines.error((section, name), name, ", ".join(sorted(bounds[section])))
            value = entry.get(key) if isinstance(entry, dict) else None
            lo, hi = bounds[section][name]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                    math.isfinite(value) and lo <= value <= hi):
                where = (section, name, key) if isinstance(entry, dict) else (section, name)
                raise lines.error(where, value if isinstance(entry, dict) else entry,
                                  f"a finite number from {lo:g} to {hi:g} (an object {{\"{key}\": number}})")
    return record


def shipped_path() -> Path:
    """Where the shipped calibration lives in the source tree."""
    return Path(__file__).resolve().parent.parent / "data" / "calibrated.json"
