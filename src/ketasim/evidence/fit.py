"""The posterior over the population parameters: Gaussian-process emulation of the virtual trials, sampled
by MCMC (issue 10, item 4). Method and its justification: ``docs/calibration.md``.

1. **Wave 1**: a Latin-hypercube design of ``waves[0]`` points over the prior's unit cube; each point is one
   simulation of the whole evidence base (:func:`ketasim.evidence.simulate.simulate_evidence`, common
   random numbers), whose summaries on the likelihood scale are the emulator's training outputs.
2. An emulator (:class:`ketasim.evidence.emulator.Emulator`) of those summaries; the likelihood
   (:class:`ketasim.evidence.likelihood.Likelihood`) of the emulated summaries, with the emulator's
   variance added, times the prior is sampled with emcee's differential-evolution ensemble moves.
3. **Later waves**: ``waves[k]`` more simulations where the last posterior puts its mass (its draws,
   jittered, and a Latin hypercube over its central box); the emulator is refitted on every wave so far and
   sampled again (history matching's refocusing, with the posterior in place of the implausibility).
4. **Validation**: ``validation`` posterior draws are simulated; the emulator's error there (standardised
   by its predictive SD) and the simulated against the emulated log-likelihood are recorded.

Progress is checkpointed to ``OUT/checkpoint.npz`` after every few simulations; ``resume=True`` continues
from it (the design is fixed by the seeds, so a resumed run gives the same result). Results:
``OUT/posterior.parquet`` (one column per parameter, provenance in the file's metadata and in
``OUT/posterior.json``) and ``OUT/calibrated.json`` (the posterior median: the point estimate in force when
shipped).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ketasim.evidence import space
from ketasim.evidence.emulator import Emulator
from ketasim.evidence.likelihood import HETEROGENEITY_PRIORS, Likelihood, MonteCarloError
from ketasim.evidence.simulate import FIT_PATIENTS, FIT_PATIENTS_BY_STUDY, simulate_evidence

CHECKPOINT = "checkpoint.npz"
SAVE_EVERY = 10


@dataclass(frozen=True)
class FitConfig:
    """Budgets and seeds of the fit (the defaults are those of the shipped posterior)."""

    seed: int = 0  # virtual cohorts (common random numbers)
    design_seed: int = 1
    waves: tuple[int, ...] = (300, 200, 200)
    validation: int = 40
    walkers: int = 56
    steps_between_waves: int = 1500
    steps: int = 16000
    burn: int = 8000
    draws: int = 400
    n_patients: int = 0  # 0: the fit's defaults (FIT_PATIENTS, FIT_PATIENTS_BY_STUDY)

    def patients(self) -> int | dict[str, int] | None:
        return self.n_patients or None


@dataclass
class Timer:
    wall: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)

    def add(self, name: str, wall: float, cpu: float) -> None:
        self.wall[name] = self.wall.get(name, 0.0) + wall
        self.cpu[name] = self.cpu.get(name, 0.0) + cpu


class _Checkpoint:
    def __init__(self, path: Path, data: dict[str, np.ndarray]):
        self.path = path
        self.data = data

    @classmethod
    def open(cls, out: Path, resume: bool, config: FitConfig) -> _Checkpoint:
        p = out / CHECKPOINT
        if resume and p.exists():
            with np.load(p, allow_pickle=False) as f:
                data = {k: f[k] for k in f.files}
            saved = json.loads(str(data.get("config", "{}")))
            now = json.loads(json.dumps(asdict(config)))
            # the final sampling's settings may change on resume: the simulations do not depend on them
            free = ("steps", "burn", "draws", "validation")
            if {k: v for k, v in saved.items() if k not in free} != {k: v for k, v in now.items() if k not in free}:
                from ketasim.errors import PlanError

                raise PlanError("--resume", str(p), f"a checkpoint of the same design settings ({saved} was saved)")
            data["config"] = np.array(json.dumps(now))
            return cls(p, data)
        return cls(p, {"config": np.array(json.dumps(asdict(config)))})

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, **self.data)
        os.replace(tmp, self.path)


def _simulate_points(name: str, U: np.ndarray, ck: _Checkpoint, lik: Likelihood, config: FitConfig, timer: Timer,
                     progress: Callable[[str, int, int], None] | None, fs: space.FitSpace) -> np.ndarray:
    """Summaries (points x items) of the design ``U``, continuing a checkpointed wave; each point's Monte-Carlo
    components (:meth:`Likelihood.monte_carlo_row`) are kept in the checkpoint too (``M_``, ``S_``, ``N_``)."""
    key = f"Z_{name}"
    Z = ck.data.get(key)
    same_points = f"U_{name}" in ck.data and np.array_equal(ck.data[f"U_{name}"], U)
    shape = (U.shape[0], len(lik.items))
    if Z is None or Z.shape != shape or not same_points or f"S_{name}" not in ck.data:
        Z = np.full(shape, np.nan)
        M, S, N = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
        done = np.zeros(U.shape[0], dtype=bool)
    else:
        done = ck.data[f"done_{name}"].astype(bool)
        M, S, N = ck.data[f"M_{name}"], ck.data[f"S_{name}"], ck.data[f"N_{name}"]
    ck.data[f"U_{name}"] = U

    def store() -> None:
        ck.data[key], ck.data[f"done_{name}"] = Z, done
        ck.data[f"M_{name}"], ck.data[f"S_{name}"], ck.data[f"N_{name}"] = M, S, N
        ck.save()

    for i in range(U.shape[0]):
        if done[i]:
            continue
        t0, c0 = time.perf_counter(), time.process_time()
        run = simulate_evidence(fs.parameter_set(U[i]), n_patients=config.patients(),
                                seed=config.seed)
        Z[i] = lik.transform_values(run.values)
        M[i], S[i], N[i] = lik.monte_carlo_row(run.estimates, run.enrolled)
        done[i] = True
        timer.add(f"simulations_{name}", time.perf_counter() - t0, time.process_time() - c0)
        if i % SAVE_EVERY == 0 or i == U.shape[0] - 1:
            store()
        if progress:
            progress(name, int(done.sum()), U.shape[0])
    store()
    return Z


def _monte_carlo(ck: _Checkpoint, names: list[str], Z: np.ndarray, lik: Likelihood) -> MonteCarloError:
    """The Monte-Carlo error of the fit's cohorts: the median over the simulated points whose likelihood
    (default heterogeneity, no Monte-Carlo term) is in the top quarter, i.e. near the current posterior."""
    from ketasim.evidence.likelihood import Heterogeneity

    M = np.vstack([ck.data[f"M_{n}"] for n in names])
    S = np.vstack([ck.data[f"S_{n}"] for n in names])
    N = np.vstack([ck.data[f"N_{n}"] for n in names])
    ll = lik.with_monte_carlo(None).total(np.where(np.isfinite(Z), Z, 0.0), Heterogeneity())
    top = np.argsort(ll)[::-1][:max(len(ll) // 4, 2)]
    enrolled = np.nanmedian(N, axis=0)
    return MonteCarloError.from_simulations(lik.items, M[top], S[top], np.where(np.isfinite(enrolled), enrolled, 1.0))


class LogPosterior:
    """log prior + log likelihood of emulated summaries at walkers' points ``theta = (u, log tau)``."""

    def __init__(self, emulator: Emulator, lik: Likelihood, d: int | None = None):
        self.emulator = emulator
        self.lik = lik
        self.d = len(space.FIT_PARAMETERS) if d is None else d
        self.tau_scale = np.array([HETEROGENEITY_PRIORS[k] for k in space.HETEROGENEITY])

    def __call__(self, theta: np.ndarray) -> np.ndarray:
        theta = np.atleast_2d(theta)
        u, log_tau = theta[:, :self.d], theta[:, self.d:]
        out = np.full(theta.shape[0], -np.inf)
        ok = np.all((u >= 0) & (u <= 1), axis=1) & np.all(np.isfinite(log_tau), axis=1) & np.all(log_tau < 3, axis=1)
        if not ok.any():
            return out
        tau = np.exp(log_tau[ok])
        # half-normal prior on tau, sampled as log tau (Jacobian tau)
        lp = np.sum(-0.5 * (tau / self.tau_scale) ** 2 + log_tau[ok], axis=1)
        mean, var = self.emulator.predict(u[ok])
        out[ok] = lp + self.lik.total(mean, tau, var)
        return out


def _sample(logp: LogPosterior, start: np.ndarray, config: FitConfig, seed: int, timer: Timer, name: str,
            progress: Callable[[str, int, int], None] | None, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """emcee run from ``start`` (walkers x dims): (chain after burn-in: steps x walkers x dims, its log posterior)."""
    import emcee

    t0, c0 = time.perf_counter(), time.process_time()
    rng = np.random.default_rng(seed)
    sampler = emcee.EnsembleSampler(config.walkers, start.shape[1], logp, vectorize=True,
                                    moves=[(emcee.moves.DEMove(), 0.8), (emcee.moves.DESnookerMove(), 0.2)])
    sampler._random = np.random.mtrand.RandomState(int(rng.integers(2**31)))
    step = 0
    for _ in sampler.sample(start, iterations=steps):
        step += 1
        if progress and step % 100 == 0:
            progress(name, step, steps)
    burn = min(config.burn, steps // 2)
    chain = sampler.get_chain(discard=burn)
    lp = sampler.get_log_prob(discard=burn)
    timer.add(name, time.perf_counter() - t0, time.process_time() - c0)
    return chain, lp


def _start_walkers(U: np.ndarray, Z: np.ndarray, lik: Likelihood, n: int, rng: np.random.Generator) -> np.ndarray:
    """Walkers from the design points with the best simulated likelihood (default heterogeneity), jittered."""
    from ketasim.evidence.likelihood import Heterogeneity

    h = Heterogeneity()
    ll = lik.total(np.where(np.isfinite(Z), Z, 0.0), h)
    top = np.argsort(ll)[::-1][:min(n, max(len(ll) // 4, 2))]
    best = top[np.arange(n) % top.size]
    u = np.clip(U[best] + 0.02 * rng.standard_normal(U[best].shape), 0, 1)
    tau = np.log([h.tau_points, h.tau_logit, h.tau_log]) + 0.05 * rng.standard_normal((n, 3))
    return np.hstack([u, tau])


def _wave_design(chain: np.ndarray, n: int, rng: np.random.Generator, seed: int, d: int) -> np.ndarray:
    """Where the previous wave's posterior puts its mass: 3/4 jittered draws, 1/4 a Latin hypercube of its
    central box."""
    from scipy.stats import qmc

    flat = chain.reshape(-1, chain.shape[-1])[:, :d]
    n_draw = (3 * n) // 4
    pick = flat[rng.choice(flat.shape[0], n_draw, replace=False)]
    sd = flat.std(axis=0)
    jittered = np.clip(pick + 0.5 * sd * rng.standard_normal(pick.shape), 0, 1)
    lo, hi = np.quantile(flat, 0.005, axis=0), np.quantile(flat, 0.995, axis=0)
    pad = 0.2 * (hi - lo) + 0.02
    lo, hi = np.clip(lo - pad, 0, 1), np.clip(hi + pad, 0, 1)
    box = qmc.scale(qmc.LatinHypercube(d, seed=seed + 2).random(n - n_draw), lo, np.maximum(hi, lo + 1e-6))
    return np.vstack([jittered, box])


def _rhat_ess(chain: np.ndarray, columns: list[str]) -> dict[str, dict[str, float]]:
    """Split R-hat and bulk ESS per parameter (ArviZ), each walker taken as a chain."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # ArviZ announces its refactor on import
        import arviz as az

    post = {c: chain[:, :, j].T for j, c in enumerate(columns)}  # walkers x steps
    ds = az.convert_to_dataset(post)
    rhat, ess = az.rhat(ds), az.ess(ds)
    return {c: {"rhat": round(float(rhat[c]), 4), "ess_bulk": round(float(ess[c]), 1)} for c in columns}


def _values_of(theta: np.ndarray, fs: space.FitSpace) -> dict[str, np.ndarray]:
    """Posterior columns: simulator parameters in their units, heterogeneity SDs."""
    d = fs.d
    out = {f.key: np.array([f.from_unit(float(x)) for x in theta[:, j]]) for j, f in enumerate(fs.free)}
    for j, k in enumerate(space.HETEROGENEITY):
        out[k] = np.exp(theta[:, d + j])
    return out


def run_fit(out: Path, config: FitConfig | None = None, *, resume: bool = False, command: str = "",
            progress: Callable[[str, int, int], None] | None = None, fit_space: space.FitSpace | None = None,
            likelihood: Likelihood | None = None) -> dict:
    """Run the whole fit into ``out`` (see the module docstring); returns the provenance record.

    ``fit_space`` (default :data:`ketasim.evidence.space.FULL`) and ``likelihood`` (default the published
    evidence) are for recovery tests: a subset of the parameters over known values, synthetic data."""
    from scipy.stats import qmc

    config = config or FitConfig()
    fs = fit_space or space.FULL
    out.mkdir(parents=True, exist_ok=True)
    ck = _Checkpoint.open(out, resume, config)
    lik = likelihood or Likelihood()
    timer = Timer()
    t_start, c_start = time.perf_counter(), time.process_time()
    d = fs.d
    rng = np.random.default_rng(config.design_seed)

    U = qmc.LatinHypercube(d, seed=config.design_seed).random(config.waves[0])
    Z = _simulate_points("wave1", U, ck, lik, config, timer, progress, fs)

    def emulate(U, Z, name):
        t0, c0 = time.perf_counter(), time.process_time()
        em = Emulator.fit(U, Z, seed=config.design_seed,
                          progress=None if progress is None else (lambda k, n: progress(f"emulator {name}", k, n)))
        timer.add(f"emulator_{name}", time.perf_counter() - t0, time.process_time() - c0)
        return em

    start = _start_walkers(U, Z, lik, config.walkers, rng)
    components = []
    waves_done = ["wave1"]
    for w, size in enumerate(config.waves[1:], start=2):
        em = emulate(U, Z, f"wave{w - 1}")
        components.append(em.n_components)
        lik = lik.with_monte_carlo(_monte_carlo(ck, waves_done, Z, lik))
        chain, _ = _sample(LogPosterior(em, lik, d), start, config, config.design_seed + 10 * w, timer,
                           f"mcmc_wave{w - 1}", progress, config.steps_between_waves)
        start = chain[-1]
        key = f"U_wave{w}"
        Uw = ck.data[key] if key in ck.data and ck.data[key].shape == (size, d) else _wave_design(
            chain, size, rng, config.design_seed + w, d)
        ck.data[key] = Uw
        Zw = _simulate_points(f"wave{w}", Uw, ck, lik, config, timer, progress, fs)
        U, Z = np.vstack([U, Uw]), np.vstack([Z, Zw])
        waves_done.append(f"wave{w}")
    em = emulate(U, Z, "final")
    components.append(em.n_components)
    lik = lik.with_monte_carlo(_monte_carlo(ck, waves_done, Z, lik))
    chain, lp = _sample(LogPosterior(em, lik, d), start, config, config.design_seed + 99, timer, "mcmc_final",
                        progress, config.steps)
    columns = fs.names()
    diagnostics = _rhat_ess(chain, columns)

    flat = chain.reshape(-1, chain.shape[-1])
    flat_lp = lp.reshape(-1)
    pick = np.random.default_rng(config.design_seed + 30).choice(flat.shape[0], config.draws, replace=False)
    draws = flat[pick]
    values = _values_of(draws, fs)

    # validation: simulate posterior draws, compare with the emulator
    Uv = draws[:config.validation, :d]
    Zv = _simulate_points("validation", Uv, ck, lik, config, timer, progress, fs)
    mean_v, var_v = em.predict(Uv)
    ok = np.isfinite(Zv)
    zerr = np.where(ok, (Zv - mean_v) / np.sqrt(var_v), np.nan)
    per_item_err = np.array([np.mean(np.abs(c[np.isfinite(c)])) if np.isfinite(c).any() else -1.0 for c in zerr.T])
    tau_v = np.exp(draws[:config.validation, d:])
    ll_sim = lik.total(Zv, tau_v)
    ll_emu = lik.total(mean_v, tau_v)
    validation = {
        "draws_simulated": int(config.validation),
        "share_within_2sd": round(float(np.nanmean(np.abs(zerr) <= 2.0)), 4),
        "median_abs_standardised_error": round(float(np.nanmedian(np.abs(zerr))), 4),
        "worst_items": [lik.items[j].id for j in np.argsort(-per_item_err)[:5]],
        "loglik_simulated_median": round(float(np.median(ll_sim)), 2),
        "loglik_emulated_median": round(float(np.median(ll_emu)), 2),
        "loglik_abs_difference_median": round(float(np.median(np.abs(ll_sim - ll_emu))), 2),
        "loglik_correlation": round(float(np.corrcoef(ll_sim, ll_emu)[0, 1]), 3) if config.validation > 2 else None,
    }
    wall, cpu = time.perf_counter() - t_start, time.process_time() - c_start
    today = dt.date.today().isoformat()
    medians = {k: float(np.median(v)) for k, v in values.items()}
    record = {
        "date": today,
        "command": command,
        "method": "Gaussian-process emulation (PCA + one GP per component, scikit-learn) of the virtual trials' "
                  f"summaries on {len(config.waves)} waves of simulations, sampled with emcee (differential-evolution "
                  "moves); "
                  "likelihood of ketasim.evidence.likelihood; priors of ketasim.evidence.space",
        "config": asdict(config),
        "fit_patients": {"default": FIT_PATIENTS, **FIT_PATIENTS_BY_STUDY},
        "n_items": len(lik.items),
        "items": [i.id for i in lik.items],
        "emulator_components": components,
        "simulations": int(U.shape[0] + config.validation),
        "seconds": {"wall_total": round(wall, 1), "cpu_total": round(cpu, 1),
                    **{f"wall_{k}": round(v, 1) for k, v in timer.wall.items()},
                    **{f"cpu_{k}": round(v, 1) for k, v in timer.cpu.items()}},
        "diagnostics": diagnostics,
        "acceptance": "see diagnostics (ensemble walkers as chains; R-hat and ESS by ArviZ)",
        "validation": validation,
        "log_posterior_median": round(float(np.median(flat_lp)), 2),
        "monte_carlo": {"method": "ketasim.evidence.likelihood.MonteCarloError: median over the top-quarter "
                                  "design points of each summary's Monte-Carlo variance at the fit's cohort sizes",
                        "items": lik.monte_carlo.as_dict() if lik.monte_carlo is not None else {}},
        "priors": {f.key: {"range": [f.lower, f.upper], "scale": "log-uniform" if f.log else "uniform"}
                   for f in fs.free}
        | {k: {"half_normal_scale": HETEROGENEITY_PRIORS[k]} for k in space.HETEROGENEITY},
        "fixed_at_declared": (list(space.FIXED_AT_DECLARED) + list(space.FIXED_PLACEBO) if fit_space is None
                              else "recovery: all but the free"),
        "posterior_median": medians,
    }
    _write_posterior(out, values, record)
    if fit_space is None:
        (out / "calibrated.json").write_text(json.dumps(point_record(medians, record), indent=1) + "\n")
    return record


def _write_posterior(out: Path, values: dict[str, np.ndarray], record: dict) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"draw": np.arange(len(next(iter(values.values())))), **values})
    table = table.replace_schema_metadata({b"ketasim": json.dumps(record).encode()})
    pq.write_table(table, out / "posterior.parquet")
    (out / "posterior.json").write_text(json.dumps(record, indent=1) + "\n")


def point_record(medians: dict[str, float], record: dict) -> dict:
    """The calibration record of the posterior median (the shape ``ketasim.parameters`` reads)."""
    today = record["date"]
    out: dict = {"date": today, "command": record["command"], "method": "posterior median of " + record["method"],
                 "posterior": "ketasim/data/posterior.parquet", "parameters": {}, "variability": {},
                 "measurement": {}, "population": {}, "placebo": {}, "heterogeneity": {}}
    for f in space.FIT_PARAMETERS:
        v = medians[f.key]
        entry = {"value": v, "date": today, "bounds": [f.lower, f.upper]}
        if f.kind == "typical":
            out["parameters"][f.name] = entry
        elif f.kind == "omega":
            out["variability"][f.name] = {"omega": v, "date": today}
        elif f.kind == "measurement":
            out["measurement"][f.name] = entry
        elif f.kind == "placebo":
            out["placebo"][f.name] = entry
        else:
            out["population"][f.name] = entry
    for k in space.HETEROGENEITY:
        out["heterogeneity"][k] = {"value": medians[k], "date": today}
    return out
