"""``simulate_population``: virtual patients under one plan (or one plan each), in bounded memory.

The population is cut into chunks of patients. Each chunk draws its patients (or takes the
given ones), integrates them with the batch engine (``ketasim.engine.batch``: all cores, exact
PK, error-controlled response states), turns MADRS at the outcome visits into outcomes
(``ketasim.population.endpoints``) and keeps only what was asked for: the outcome table always,
the trajectories on the day grid only with ``keep_trajectories=True``. A per-day histogram of
MADRS (0.1-point bins) is accumulated on the way, so the median and bands of MADRS over time are
available for any population size (exact quantiles when the trajectories are kept).

With ``scheduler`` (a ``tcp://HOST:PORT`` address or a ``distributed.Client``) the chunks run
on a Dask cluster. Patient ``i`` is drawn from the stream of its block (see
``ketasim.population.patients``) and integrated on its own, so the numbers do not depend on the
chunking, on the number of machines, or on where a chunk ran.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from ketasim.dosing.plan import Plan
from ketasim.engine.batch import (
    BATCH_ATOL,
    BATCH_RTOL,
    OUTPUTS,
    PlanTemplate,
    baseline_state,
    integrate_batch,
    pack_templates,
    plan_template,
)
from ketasim.engine.compile import pk_model_name
from ketasim.errors import PlanError
from ketasim.parameters import HOURS_PER_DAY, IDX
from ketasim.population.endpoints import OutcomeVisits, compute_outcomes, outcome_visits
from ketasim.population.patients import MAX_LOAD_SHARE, VirtualPatients, sample_patients
from ketasim.population.summary import summarize_outcomes
from ketasim.population.variability import DEFAULT_PK_MODEL, RandomEffect
from ketasim.symptoms.scales import from_madrs

#: Outputs that are rating scales derived from MADRS after integration.
DERIVED_SCALES = ("hdrs17", "phq9", "qids_sr16")
AVAILABLE_OUTPUTS: tuple[str, ...] = (*OUTPUTS, *DERIVED_SCALES)
HIST_BIN = 0.1  # MADRS points per histogram bin
HIST_BINS = int(round(60.0 / HIST_BIN)) + 1
DEFAULT_CHUNK = 4096
N_SAMPLE_TRAJECTORIES = 20

# --- templates, cached per process (each Dask worker keeps its own) -----------------------------
_TEMPLATE_CACHE: dict[tuple[str, float], tuple[PlanTemplate, OutcomeVisits]] = {}
_CACHE_MAX = 256


def plan_key(plan: Plan) -> str:
    """What makes two plans share a template: everything but the patient's own numbers and labels (a dose per
    kg is keyed by its mg/kg, not by the amount for this patient)."""
    doses = tuple((d.mg_per_kg, None) if d.mg_per_kg is not None else (None, d.amount_mg) for d in plan.doses)
    doses = tuple((*amount, d.day, d.route, d.drug, d.duration_min, d.phase, d.devices, d.device_interval_min)
                  for amount, d in zip(doses, plan.doses, strict=True))
    return repr((doses, plan.therapy_days, plan.lifestyle, plan.treatments, plan.horizon_days, plan.start_date,
                 sorted(plan.pk_models.items()), plan.allow_off_label, plan.patient.life_events))


def _template(plan: Plan, t_switch_h: float) -> tuple[PlanTemplate, OutcomeVisits]:
    key = (plan_key(plan), t_switch_h)
    hit = _TEMPLATE_CACHE.get(key)
    if hit is None:
        visits = outcome_visits(plan)
        hit = (plan_template(plan, t_switch_h=t_switch_h, outcome_t_h=visits.times * HOURS_PER_DAY), visits)
        if len(_TEMPLATE_CACHE) >= _CACHE_MAX:
            _TEMPLATE_CACHE.pop(next(iter(_TEMPLATE_CACHE)))
        _TEMPLATE_CACHE[key] = hit
    return hit


# --- the work of one chunk ------------------------------------------------------------------------

@dataclass
class _Spec:
    """Everything a chunk needs (picklable, sent once to each Dask worker)."""

    plan: Plan | None
    seed: int
    base_params: np.ndarray | None
    variability: Any
    covariates: Any
    patients: VirtualPatients | None
    grid_days: np.ndarray
    outputs: tuple[str, ...]
    keep_trajectories: bool
    switches: np.ndarray | None
    t_switch_h: float
    rtol: float
    atol: float
    outcome_fn: Callable[[PopulationResult], Any] | None
    keep_patients: bool
    pk_model: str
    n_sample: int


@dataclass
class _ChunkOut:
    start: int
    outcomes: pd.DataFrame
    patients: VirtualPatients | None
    trajectories: np.ndarray | None
    hist: np.ndarray | None
    sample: np.ndarray | None
    steps: np.ndarray


def _engine_outputs(outputs: tuple[str, ...]) -> tuple[str, ...]:
    eng = [o for o in outputs if o in OUTPUTS]
    if any(o in DERIVED_SCALES for o in outputs) and "madrs" not in eng:
        eng.append("madrs")
    if "madrs" not in eng:
        eng.append("madrs")
    return tuple(eng)


def _fit_loads(templates: list[PlanTemplate], tid: np.ndarray, vp: VirtualPatients) -> None:
    """Lower sampled loads that the plan's earlier life events would push past the baseline severity.

    Where ``chronic + events before day 0`` exceeds the load that the baseline MADRS can explain, the
    chronic load is lowered so that the total is :data:`MAX_LOAD_SHARE` of it; if the earlier events
    alone are too large, the patient's ``acute_load_scale`` is lowered as well.
    """
    packed = pack_templates(templates)
    d_trait, load0, _ = baseline_state(packed, tid, vp.params, vp.baseline_madrs, vp.chronic_load,
                                       vp.acute_load_scale)
    bad = d_trait < 0
    if not np.any(bad):
        return
    beta = np.maximum(vp.params[:, IDX["beta"]], 1e-12)
    target = MAX_LOAD_SHARE * (d_trait + beta * load0) / beta  # 90% of the load that makes d_trait zero
    acute0 = load0 - vp.chronic_load
    fits = acute0 <= target
    vp.chronic_load = np.where(bad, np.where(fits, target - acute0, 0.0), vp.chronic_load)
    shrink = np.where(bad & ~fits, target / np.maximum(acute0, 1e-300), 1.0)
    vp.acute_load_scale = vp.acute_load_scale * shrink


def _simulate_chunk(spec: _Spec, start: int, stop: int, plans: Sequence[Plan] | None = None,
                    patients: VirtualPatients | None = None) -> _ChunkOut:
    """Simulate patients ``start .. stop - 1`` (``plans``/``patients``: this chunk's, in list mode)."""
    _match_worker_threads()
    n = stop - start
    sampled = False
    if patients is None:
        if spec.patients is not None:
            patients = spec.patients.take(slice(start, stop))
        else:
            ref = spec.plan.patient if spec.plan is not None else None
            patients = sample_patients(n, spec.seed, params=spec.base_params, variability=spec.variability,
                                       covariates=spec.covariates, patient=ref, pk_model=spec.pk_model, start=start)
            sampled = True
    if plans is None:
        assert spec.plan is not None
        tpl, visits = _template(spec.plan, spec.t_switch_h)
        templates, visit_list = [tpl], [visits]
        tid = np.zeros(n, dtype=np.int64)
    else:
        keys: dict[str, int] = {}
        templates, visit_list = [], []
        tid = np.empty(n, dtype=np.int64)
        for i, pl in enumerate(plans):
            k = plan_key(pl)
            if k not in keys:
                keys[k] = len(templates)
                t, v = _template(pl, spec.t_switch_h)
                templates.append(t)
                visit_list.append(v)
            tid[i] = keys[k]
        patients = replace(patients, weight_kg=np.array([p.patient.weight_kg for p in plans], dtype=float),
                           baseline_madrs=np.array([p.patient.baseline_madrs for p in plans], dtype=float),
                           chronic_load=np.array([p.patient.chronic_load for p in plans], dtype=float),
                           acute_load_scale=np.ones(n))
    if sampled:
        _fit_loads(templates, tid, patients)
    packed = pack_templates(templates)
    eng_out = _engine_outputs(spec.outputs)
    res = integrate_batch(packed, tid, patients.params, weight_kg=patients.weight_kg, pk_cl=patients.pk_cl,
                          pk_v=patients.pk_v, pk_ka=patients.pk_ka, baseline_madrs=patients.baseline_madrs,
                          chronic_load=patients.chronic_load, acute_load_scale=patients.acute_load_scale,
                          grid_h=spec.grid_days * HOURS_PER_DAY, outputs=eng_out, switches=spec.switches,
                          rtol=spec.rtol, atol=spec.atol)
    # outcomes per template group
    parts = []
    for j, v in enumerate(visit_list):
        sel = np.nonzero(tid == j)[0]
        if sel.size:
            df = compute_outcomes(v, res.outcome_madrs[sel], patients.baseline_madrs[sel], patients.ids[sel])
            df.index = sel
            parts.append(df)
    outcomes = pd.concat(parts).sort_index().reset_index(drop=True)
    traj = _assemble(res.grid, eng_out, spec.outputs)
    madrs_grid = res.grid[:, :, eng_out.index("madrs")]
    hist = _histogram(madrs_grid)
    sample = madrs_grid[: max(0, min(n, spec.n_sample - start))].copy() if start < spec.n_sample else None
    if spec.outcome_fn is not None:
        view = PopulationResult(patients=patients, days=spec.grid_days, outputs=spec.outputs, trajectories=traj,
                                outcomes=outcomes)
        extra = spec.outcome_fn(view)
        if extra is not None:
            extra = pd.DataFrame(extra)
            if len(extra) != n:
                raise PlanError("outcome_fn", f"{len(extra)} rows", f"one row per patient of the chunk ({n})")
            outcomes = pd.concat([outcomes, extra.reset_index(drop=True)], axis=1)
    return _ChunkOut(start=start, outcomes=outcomes, patients=patients if spec.keep_patients else None,
                     trajectories=traj if spec.keep_trajectories else None, hist=hist, sample=sample,
                     steps=res.counts)


def _assemble(grid: np.ndarray, eng_out: tuple[str, ...], wanted: tuple[str, ...]) -> np.ndarray:
    """Trajectories in the order of ``wanted`` (derived scales from MADRS)."""
    out = np.empty(grid.shape[:2] + (len(wanted),), dtype=np.float32)
    for k, name in enumerate(wanted):
        if name in eng_out:
            out[:, :, k] = grid[:, :, eng_out.index(name)]
        else:
            m = grid[:, :, eng_out.index("madrs")].astype(float)
            ok = np.isfinite(m)
            vals = np.full(m.shape, np.nan)
            vals[ok] = from_madrs(m[ok])[name]
            out[:, :, k] = vals
    return out


def _histogram(madrs_grid: np.ndarray) -> np.ndarray:
    """Counts per day and MADRS bin (n_days x HIST_BINS) of one chunk."""
    n, d = madrs_grid.shape
    ok = np.isfinite(madrs_grid)
    b = np.clip(np.rint(np.where(ok, madrs_grid, 0.0) / HIST_BIN), 0, HIST_BINS - 1).astype(np.int64)
    day = np.broadcast_to(np.arange(d)[None, :], (n, d))
    flat = (day * HIST_BINS + b)[ok]
    return np.bincount(flat, minlength=d * HIST_BINS).reshape(d, HIST_BINS)


def _match_worker_threads() -> None:
    """On a Dask worker, let numba use the worker's threads (not every core of the machine)."""
    try:
        from distributed import get_worker

        w = get_worker()
    except (ImportError, ValueError):
        return
    import numba

    numba.set_num_threads(max(1, min(int(w.state.nthreads), numba.config.NUMBA_NUM_THREADS)))


# --- the result ---------------------------------------------------------------------------------

@dataclass
class PopulationResult:
    """Outcomes (and, when asked, trajectories) of a virtual population.

    ``trajectories`` is n x len(days) x len(outputs) (float32; NaN past a plan's horizon) or None;
    ``outcomes`` has one row per patient (columns: ``ketasim.population.endpoints.OUTCOME_COLUMNS``
    plus those of ``outcome_fn``); relapse days are ``inf`` for "no relapse within the horizon".
    """

    patients: VirtualPatients | None
    days: np.ndarray
    outputs: tuple[str, ...]
    trajectories: np.ndarray | None
    outcomes: pd.DataFrame
    madrs_histogram: np.ndarray | None = None
    sample_madrs: np.ndarray | None = None
    steps: np.ndarray | None = None
    seconds: float = float("nan")
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def n_patients(self) -> int:
        return int(len(self.outcomes))

    def trajectory(self, output: str = "madrs") -> np.ndarray:
        """Trajectories of one output (n x len(days)); needs ``keep_trajectories=True``."""
        if self.trajectories is None:
            raise PlanError("keep_trajectories", False, "True to keep trajectories (or use madrs_bands())")
        if output not in self.outputs:
            raise PlanError("output", output, ", ".join(self.outputs))
        return self.trajectories[:, :, self.outputs.index(output)]

    def madrs_bands(self, quantiles: Sequence[float] = (0.05, 0.25, 0.5, 0.75, 0.95)) -> pd.DataFrame:
        """MADRS quantiles per day (the smallest score with at least a share ``q`` of patients at or below it).

        Exact with kept trajectories, else from the 0.1-point histogram (within 0.05 points).
        """
        q = np.asarray(quantiles, dtype=float)
        cols = {"day": self.days}
        if self.trajectories is not None and "madrs" in self.outputs:
            m = self.trajectory("madrs").astype(float)
            vals = (np.nanquantile(m, q, axis=0, method="inverted_cdf") if m.size
                    else np.full((q.size, self.days.size), np.nan))
        elif self.madrs_histogram is not None:
            vals = _hist_quantiles(self.madrs_histogram, q)
        else:
            raise PlanError("madrs_bands", "no MADRS", "a run with 'madrs' among the outputs")
        for k, qq in enumerate(q):
            cols[f"q{qq:g}"] = vals[k]
        return pd.DataFrame(cols)

    def summary(self) -> dict[str, Any]:
        """Rates with Monte Carlo (Wilson) intervals and Kaplan-Meier median days to relapse."""
        import ketasim

        out = summarize_outcomes(self.outcomes)
        out.update({k: v for k, v in self.info.items() if k not in out})
        out["disclaimer"] = ketasim.DISCLAIMER
        return out


def _hist_quantiles(hist: np.ndarray, q: np.ndarray) -> np.ndarray:
    cum = np.cumsum(hist, axis=1)
    total = cum[:, -1:]
    out = np.full((q.size, hist.shape[0]), np.nan)
    for k, qq in enumerate(q):
        target = qq * total
        idx = np.argmax(cum >= np.maximum(target, 1e-12), axis=1)
        out[k] = np.where(total[:, 0] > 0, idx * HIST_BIN, np.nan)
    return out


# --- the entry point ----------------------------------------------------------------------------

def simulate_population(plan_or_plans: Plan | Sequence[Plan], n_patients: int | None = None, seed: int = 0, *,
                        patients: VirtualPatients | None = None, params: np.ndarray | None = None,
                        days: np.ndarray | Sequence[float] | None = None, outputs: Sequence[str] = ("madrs",),
                        keep_trajectories: bool = False, chunk_size: int | None = None,
                        scheduler: Any = None, progress: bool | Callable[[int, int], None] = False,
                        outcome_fn: Callable[[PopulationResult], Any] | None = None,
                        variability: Sequence[RandomEffect] | dict[str, float] | None = None,
                        covariates: pd.DataFrame | dict[str, float] | None = None,
                        switches: np.ndarray | dict[str, bool] | None = None, switch_from_day: float = 0.0,
                        rtol: float = BATCH_RTOL, atol: float = BATCH_ATOL, keep_patients: bool = True,
                        n_sample_trajectories: int = N_SAMPLE_TRAJECTORIES,
                        on_chunk: Callable[[int, pd.DataFrame, VirtualPatients], None] | None = None
                        ) -> PopulationResult:
    """Simulate a virtual population.

    ``plan_or_plans``: one :class:`Plan` for every patient (each patient's weight, baseline MADRS
    and chronic load replace the plan's; mg/kg doses follow the weight; the plan's life events are
    scaled by the patient's ``acute_load_scale``), or a list of plans, one per patient, used as
    given (``patients`` then supplies only the response parameters and PK factors).

    ``patients``: given patients (default: ``sample_patients(n_patients, seed, ...)`` with the
    plan's patient as the typical one and the omegas of the plan's PK model). ``days``: output
    grid in days (default every day from 0 to the horizon). ``outputs``: names from
    :data:`AVAILABLE_OUTPUTS`. ``keep_trajectories``: keep n x days x outputs float32 (else only
    outcomes and the MADRS histogram are kept). ``chunk_size``: patients per chunk (default 4096).
    ``scheduler``: Dask scheduler address or ``distributed.Client``. ``progress``: True for a
    progress bar, or a callable ``(done, total)``. ``outcome_fn(chunk_result)`` returns extra
    outcome columns (one row per patient of the chunk). ``switches``/``switch_from_day`` turn
    mechanisms off as in ``ketasim.simulate.simulate``. ``on_chunk(start, outcomes, patients)`` is
    called for each chunk in patient order (to stream them to disk; with ``keep_patients=False``
    the patients are then not kept in memory).

    A run whose estimated memory (:func:`estimate_memory_bytes`) exceeds the machine's available
    memory is refused before it starts (:class:`~ketasim.errors.PlanError` naming the estimate).
    """
    from ketasim.simulate import _switch_vector

    t0 = time.perf_counter()
    single = isinstance(plan_or_plans, Plan)
    plans: list[Plan] | None = None if single else list(plan_or_plans)  # type: ignore[arg-type]
    if plans is not None and not all(isinstance(p, Plan) for p in plans):
        raise PlanError("plan_or_plans", type(plan_or_plans).__name__, "a Plan or a list of Plans")
    if single:
        n = len(patients) if (n_patients is None and patients is not None) else n_patients
        if n is None:
            raise PlanError("n_patients", None, "a number of patients (or patients=...)")
    else:
        assert plans is not None
        n = len(plans)
        if n_patients is not None and n_patients != n:
            raise PlanError("n_patients", n_patients, f"the number of plans ({n}) or None")
    if not isinstance(n, int | np.integer) or n < 1:
        raise PlanError("n_patients", n, "a whole number >= 1")
    n = int(n)
    if patients is not None and len(patients) < n:
        raise PlanError("patients", f"{len(patients)} patients", f"at least {n}")
    if patients is not None and len(patients) > n:
        patients = patients.take(slice(0, n))
    outputs = tuple(outputs)
    bad = [o for o in outputs if o not in AVAILABLE_OUTPUTS]
    if bad or not outputs:
        raise PlanError("outputs", bad or "()", ", ".join(AVAILABLE_OUTPUTS))
    ref_plans = [plan_or_plans] if single else plans
    assert ref_plans is not None
    horizon = max(p.horizon_days for p in ref_plans)
    grid = (np.arange(0.0, np.floor(horizon + 1e-9) + 1.0) if days is None else np.asarray(days, dtype=float))
    if grid.ndim != 1 or grid.size == 0 or not np.all(np.isfinite(grid)) or np.any(np.diff(grid) < 0):
        raise PlanError("days", grid.tolist()[:5] if grid.ndim == 1 else grid.shape,
                        "a non-empty increasing 1-D sequence of days")
    chunk = int(chunk_size or DEFAULT_CHUNK)
    if chunk < 1:
        raise PlanError("chunk_size", chunk_size, "a whole number >= 1")
    check_memory(n, grid.size, len(outputs), keep_trajectories=keep_trajectories,
                 keep_patients=keep_patients or not single, chunk_size=chunk)
    pk_model = DEFAULT_PK_MODEL
    mn = pk_model_name(ref_plans[0])
    if mn is not None:
        pk_model = mn[1]
    sw = None if switches is None else _switch_vector(switches)
    spec = _Spec(plan=plan_or_plans if single else None, seed=int(seed),  # type: ignore[arg-type]
                 base_params=None if params is None else np.asarray(params, dtype=float), variability=variability,
                 covariates=covariates, patients=patients if single else None, grid_days=grid, outputs=outputs,
                 keep_trajectories=keep_trajectories, switches=sw, t_switch_h=float(switch_from_day) * HOURS_PER_DAY,
                 rtol=float(rtol), atol=float(atol), outcome_fn=outcome_fn,
                 keep_patients=keep_patients or on_chunk is not None,
                 pk_model=pk_model, n_sample=int(n_sample_trajectories))
    if not single and patients is None:
        patients = sample_patients(n, seed, params=spec.base_params, variability=variability, covariates=covariates,
                                   pk_model=pk_model)
    bounds = [(a, min(a + chunk, n)) for a in range(0, n, chunk)]

    trajectories = np.empty((n, grid.size, len(outputs)), dtype=np.float32) if keep_trajectories else None
    hist = np.zeros((grid.size, HIST_BINS), dtype=np.int64)
    done: list[_ChunkOut] = []
    waiting: dict[int, _ChunkOut] = {}
    next_start = [0]

    def collect(c: _ChunkOut) -> None:
        if trajectories is not None and c.trajectories is not None:
            trajectories[c.start:c.start + len(c.outcomes)] = c.trajectories
            c.trajectories = None
        if c.hist is not None:
            hist[:] += c.hist
            c.hist = None
        done.append(c)
        if on_chunk is None:
            return
        waiting[c.start] = c  # chunks from a cluster arrive in any order; hand them on in patient order
        while next_start[0] in waiting:
            ready = waiting.pop(next_start[0])
            assert ready.patients is not None
            on_chunk(ready.start, ready.outcomes, ready.patients)
            next_start[0] += len(ready.outcomes)
            if not keep_patients:
                ready.patients = None

    def chunk_args(a: int, b: int) -> tuple:
        if single:
            return (a, b)
        assert plans is not None and patients is not None
        return (a, b, plans[a:b], patients.take(slice(a, b)))

    with _Progress(progress, n) as bar:
        if scheduler is None:
            for a, b in bounds:
                collect(_simulate_chunk(spec, *chunk_args(a, b)))
                bar.advance(b - a)
        else:
            for c in _run_on_dask(scheduler, spec, bounds, chunk_args):
                collect(c)
                bar.advance(len(c.outcomes))
    done.sort(key=lambda c: c.start)
    outcomes = pd.concat([c.outcomes for c in done], ignore_index=True)
    vp = VirtualPatients.concat([c.patients for c in done]) if keep_patients else None  # type: ignore[misc]
    samples = [c.sample for c in done if c.sample is not None]
    sample = np.concatenate(samples)[:n_sample_trajectories] if samples else None
    st = np.concatenate([c.steps for c in done])
    info = {"n_patients": n, "seed": int(seed), "plan": ref_plans[0].name if single else f"{n} plans",
            "pk_model": pk_model, "horizon_days": float(horizon), "chunk_size": chunk, "rtol": rtol, "atol": atol,
            "engine": "ketasim.engine.batch (Lawson-DOPRI5, exact PK)", "off_label": any(p.allow_off_label
                                                                                      for p in ref_plans)}
    return PopulationResult(patients=vp, days=grid, outputs=outputs, trajectories=trajectories, outcomes=outcomes,
                            madrs_histogram=hist, sample_madrs=sample, steps=st, seconds=time.perf_counter() - t0,
                            info=info)


#: Memory of the interpreter with numpy, pandas, numba and the compiled engine loaded (measured, bytes).
BASE_BYTES = 400e6
#: Per patient: the outcome table (116 bytes measured) held in chunks, concatenated and summarised.
OUTCOME_BYTES = 350
#: Per kept patient: the virtual patient's arrays (488 bytes measured), concatenated once.
PATIENT_BYTES = 1000
#: Per patient and output time of one chunk: the engine's float64 grid and its float32 copy.
CHUNK_GRID_BYTES = 24


def estimate_memory_bytes(n_patients: int, n_days: int, n_outputs: int = 1, *, keep_trajectories: bool = False,
                          keep_patients: bool = True, chunk_size: int = DEFAULT_CHUNK) -> float:
    """Peak memory of :func:`simulate_population` in bytes, from the sizes measured per patient above."""
    n = float(n_patients)
    per_patient = OUTCOME_BYTES + (PATIENT_BYTES if keep_patients else 0.0)
    if keep_trajectories:
        per_patient += 4.0 * n_days * n_outputs
    chunk = float(min(chunk_size, n_patients)) * n_days * max(n_outputs, 1) * CHUNK_GRID_BYTES
    return BASE_BYTES + n * per_patient + chunk


def available_memory_bytes() -> float:
    """Memory the machine can give this process now (psutil's ``available``)."""
    import psutil

    return float(psutil.virtual_memory().available)


def check_memory(n_patients: int, n_days: int, n_outputs: int = 1, *, keep_trajectories: bool = False,
                 keep_patients: bool = True, chunk_size: int = DEFAULT_CHUNK, field: str = "n_patients") -> float:
    """The estimate of :func:`estimate_memory_bytes`; :class:`PlanError` if it exceeds the available memory."""
    need = estimate_memory_bytes(n_patients, n_days, n_outputs, keep_trajectories=keep_trajectories,
                                 keep_patients=keep_patients, chunk_size=chunk_size)
    have = available_memory_bytes()
    if need > have:
        raise PlanError(field, n_patients, f"a run that fits in memory: this one needs about {need / 1e9:.1f} GB "
                                           f"({n_days} days x {n_outputs} output(s)"
                                           f"{', trajectories kept' if keep_trajectories else ''}), "
                                           f"{have / 1e9:.1f} GB are available")
    return need


def _run_on_dask(scheduler: Any, spec: _Spec, bounds: list[tuple[int, int]],
                 chunk_args: Callable[[int, int], tuple]):
    """Run the chunks on a Dask cluster, a few at a time per worker, yielding results as they finish."""
    try:
        from distributed import Client, as_completed
    except ImportError as exc:  # pragma: no cover - dask[distributed] is a dependency
        raise PlanError("scheduler", scheduler, "a Dask scheduler (pip install 'dask[distributed]')") from exc
    own = not isinstance(scheduler, Client)
    try:
        client = Client(scheduler, timeout="5s") if own else scheduler
    except OSError as exc:
        raise PlanError("scheduler", str(scheduler), f"a reachable Dask scheduler (tcp://HOST:PORT): {exc}") from None
    try:
        spec_f = client.scatter(spec, broadcast=True)
        n_workers = max(1, len(client.scheduler_info().get("workers", {})))
        window = 2 * n_workers
        pending = list(bounds)
        ac = as_completed()
        for _ in range(min(window, len(pending))):
            a, b = pending.pop(0)
            ac.add(client.submit(_simulate_chunk, spec_f, *chunk_args(a, b), pure=False))
        for fut in ac:
            res = fut.result()
            fut.release()
            if pending:
                a, b = pending.pop(0)
                ac.add(client.submit(_simulate_chunk, spec_f, *chunk_args(a, b), pure=False))
            yield res
    finally:
        if own:
            client.close()


class _Progress:
    """A rich progress bar (``progress=True``), a callback, or nothing."""

    def __init__(self, progress: bool | Callable[[int, int], None], total: int) -> None:
        self.total = total
        self.done = 0
        self.cb = progress if callable(progress) else None
        self.bar = None
        self.task = None
        if progress is True:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("virtual patients"), BarColumn(), MofNCompleteColumn(),
                                TimeRemainingColumn(), transient=False)

    def __enter__(self) -> _Progress:
        if self.bar is not None:
            self.bar.start()
            self.task = self.bar.add_task("patients", total=self.total)
        return self

    def advance(self, k: int) -> None:
        self.done += k
        if self.bar is not None:
            self.bar.advance(self.task, k)
        if self.cb is not None:
            self.cb(self.done, self.total)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
