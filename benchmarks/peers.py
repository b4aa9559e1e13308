"""Population engine against its peers, on this machine, in one run.

Same model, same plan, same output grid for all: ``benchmarks/one-year-weekly.yaml`` (one year:
six 0.5 mg/kg infusions over two weeks, then weekly maintenance infusions), MADRS every day.

(a) ketasim: ``simulate_population`` (batch engine, every core).
(b) SciPy: ``solve_ivp`` per patient, as a Python user would run it: ketasim's own SciPy path
    (``simulate(plan, method="reference", rtol=...)``: exact PK between events, DOP853 on the
    response states, segment by segment), one patient after another.
(c) libRoadRunner on the SBML export (``ketasim.formats.sbml``): the model is loaded once and
    re-run after ``resetAll()`` (its most favourable use; loading costs about a second per model).

Accuracy: each engine's daily MADRS is compared with the reference (SciPy DOP853 at rtol 1e-10),
and speeds are compared at matched accuracy, two ways: (A) the peers at the loosest tolerance of
their ladder that is at least as accurate as ketasim at its default tolerances (the ones its
equivalence test uses); (B) every engine, ketasim included, at the loosest tolerance of its
ladder within ``--target`` MADRS points (default 0.05, the agreement asked of the batch engine).

Patient-years per second: wall clock, and per CPU-second (process time, all threads), which is
the fairer measure on a machine shared with other work. The peers use one core each; "per core"
ratios divide ketasim's wall-clock ratio by the number of cores it used. Finally a run of ``--million`` patient-years
(one-year plan, outcomes only, streamed in chunks) in a fresh process reports its time and peak
resident memory (``ru_maxrss``).

    python benchmarks/peers.py            # the full run (about 10 minutes on 2 cores)
    python benchmarks/peers.py --quick    # a small run (about a minute)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
PLAN_FILE = HERE / "one-year-weekly.yaml"
SCIPY_LADDER = (1e-4, 1e-5, 1e-6, 1e-7, 1e-8)
RR_LADDER = (1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8)


def _plan():
    from ketasim.dosing.planfile import load_plan

    return load_plan(PLAN_FILE)


def _cores() -> int:
    import numba

    return int(numba.get_num_threads())


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover
        return "n/a"


def reference_madrs(plan, days: np.ndarray) -> np.ndarray:
    from ketasim.simulate import simulate

    return simulate(plan, method="reference", times_h=days * 24.0, rtol=1e-10, atol=1e-13).table["madrs"].to_numpy()


KETASIM_LADDER = (1e-3, 5e-4, 2e-4, 1e-4, 5e-5)


def ketasim_error(plan, ref: np.ndarray, rtol: float) -> float:
    """Max daily MADRS error of the batch engine for the plan's patient at ``rtol`` (atol = rtol / 100)."""
    from ketasim.population import VirtualPatients, simulate_population

    typical = VirtualPatients.typical(1, patient=plan.patient)
    one = simulate_population(plan, patients=typical, keep_trajectories=True, rtol=rtol, atol=rtol / 100)
    return float(np.max(np.abs(one.trajectory("madrs")[0] - ref)))


def bench_ketasim(plan, ref: np.ndarray, n: int, rtol: float | None = None) -> dict:
    from ketasim.engine.batch import BATCH_ATOL, BATCH_RTOL
    from ketasim.population import VirtualPatients, simulate_population

    rtol = BATCH_RTOL if rtol is None else rtol
    atol = BATCH_ATOL if rtol == BATCH_RTOL else rtol / 100
    err = ketasim_error(plan, ref, rtol) if rtol != BATCH_RTOL else ketasim_error(plan, ref, BATCH_RTOL)
    simulate_population(plan, 64, seed=0, rtol=rtol, atol=atol)  # warm-up (compiled code loaded)
    many = VirtualPatients.typical(n, patient=plan.patient)
    t0, c0 = time.perf_counter(), time.process_time()
    res = simulate_population(plan, patients=many, rtol=rtol, atol=atol)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    years = plan.horizon_days / 365.0
    out = {"engine": "ketasim batch engine", "tolerance": f"rtol {rtol:g}, atol {atol:g}",
           "max_error_madrs": err, "patients": n, "seconds": wall, "cpu_seconds": cpu, "cores": _cores(),
           "patient_years_per_s": n * years / wall, "patient_years_per_cpu_s": n * years / cpu,
           "steps_per_patient_year": float(res.steps[:, 0].mean() / years)}
    if rtol == BATCH_RTOL:
        t1, c1 = time.perf_counter(), time.process_time()
        simulate_population(plan, n, seed=1)
        out["varied_population_patient_years_per_s"] = n * years / (time.perf_counter() - t1)
        out["varied_population_patient_years_per_cpu_s"] = n * years / (time.process_time() - c1)
    return out


def _pick(ladder, run, target: float) -> tuple[float, float]:
    """Loosest tolerance of ``ladder`` whose error is within ``target`` (and that error)."""
    last = (ladder[-1], float("nan"))
    for tol in ladder:
        err = run(tol)
        last = (tol, err)
        if err <= target:
            return tol, err
    return last


def bench_scipy(plan, ref: np.ndarray, days: np.ndarray, target: float, repeats: int) -> dict:
    from ketasim.simulate import simulate

    def madrs(tol: float) -> np.ndarray:
        return simulate(plan, method="reference", times_h=days * 24.0, rtol=tol, atol=tol * 1e-3).table["madrs"]

    tol, err = _pick(SCIPY_LADDER, lambda t: float(np.max(np.abs(madrs(t).to_numpy() - ref))), target)
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        madrs(tol)
    wall, cpu = (time.perf_counter() - t0) / repeats, (time.process_time() - c0) / repeats
    years = plan.horizon_days / 365.0
    return {"engine": "SciPy solve_ivp (DOP853) per patient", "tolerance": f"rtol {tol:g}, atol {tol * 1e-3:g}",
            "max_error_madrs": err, "patients": repeats, "seconds": wall * repeats, "cores": 1,
            "patient_years_per_s": years / wall, "patient_years_per_cpu_s": years / cpu}


def bench_roadrunner(plan, ref: np.ndarray, target: float, repeats: int) -> dict:
    try:
        import roadrunner

        from ketasim.formats.sbml import to_sbml
    except ImportError as exc:
        return {"engine": "libRoadRunner", "error": f"not available: {exc} (pip install libroadrunner; the SBML "
                                                    "export is ketasim.formats.sbml)"}
    t0 = time.perf_counter()
    xml = to_sbml(plan)
    export_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    rr = roadrunner.RoadRunner(xml)
    load_s = time.perf_counter() - t0
    rr.timeCourseSelections = ["time", "MADRS"]
    n_days = int(plan.horizon_days)

    def run(tol: float) -> np.ndarray:
        rr.resetAll()
        integ = rr.integrator
        integ.relative_tolerance = tol
        integ.absolute_tolerance = [tol * 1e-3] * len(integ.getAbsoluteToleranceVector())
        integ.maximum_num_steps = 1_000_000
        return np.asarray(rr.simulate(0.0, n_days * 24.0, n_days + 1))[:, 1]

    tol, err = _pick(RR_LADDER, lambda t: float(np.max(np.abs(run(t) - ref))), target)
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        run(tol)
    wall, cpu = (time.perf_counter() - t0) / repeats, (time.process_time() - c0) / repeats
    years = plan.horizon_days / 365.0
    return {"engine": "libRoadRunner (CVODE) on the SBML export", "tolerance": f"rtol {tol:g}, atol {tol * 1e-3:g}",
            "max_error_madrs": err, "patients": repeats, "seconds": wall * repeats, "cores": 1,
            "patient_years_per_s": years / wall, "patient_years_per_cpu_s": years / cpu, "sbml_export_s": export_s,
            "model_load_s": load_s}


def _table(title: str, rows: list[dict]) -> None:
    """Patient-years per second (wall) and per CPU-second, and ketasim's ratios (wall, per core, per CPU-second)."""
    k = rows[0]
    print(f"\n{title}")
    print(f"{'engine':42s} {'tolerance':24s} {'|MADRS err|':>11s} {'py/s':>9s} {'py/CPU-s':>9s} {'ketasim x':>9s} "
          f"{'per core':>8s} {'per CPU-s':>9s}")
    for r in rows:
        if "error" in r:
            print(f"{r['engine']:42s} {r['error']}")
            continue
        ratio = k["patient_years_per_s"] / r["patient_years_per_s"]
        per_core = ratio * r["cores"] / k["cores"]
        per_cpu = k["patient_years_per_cpu_s"] / r["patient_years_per_cpu_s"]
        r.update(ketasim_ratio=ratio, ketasim_ratio_per_core=per_core, ketasim_ratio_per_cpu_s=per_cpu)
        print(f"{r['engine']:42s} {r['tolerance']:24s} {r['max_error_madrs']:11.4f} {r['patient_years_per_s']:9.2f} "
              f"{r['patient_years_per_cpu_s']:9.2f} {ratio:9.1f} {per_core:8.1f} {per_cpu:9.1f}")


def million_worker(n_patients: int, chunk: int | None) -> None:
    """Run in a fresh process: ``n_patients`` one-year patients, outcomes only; print JSON."""
    from ketasim.population import simulate_population

    plan = _plan()
    simulate_population(plan, 16, seed=0)  # load the compiled code before timing
    t0 = time.perf_counter()
    res = simulate_population(plan, n_patients, seed=1, chunk_size=chunk, keep_patients=False)
    wall = time.perf_counter() - t0
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"patients": n_patients, "patient_years": n_patients * plan.horizon_days / 365.0,
                      "seconds": wall, "patient_years_per_s": n_patients * plan.horizon_days / 365.0 / wall,
                      "peak_rss_mib": rss_kb / 1024.0, "outcome_rows": len(res.outcomes),
                      "response_end_induction": float(res.outcomes["response_end_induction"].mean())}))


def run_million(n_patients: int, chunk: int | None) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--million-worker", str(n_patients)]
    if chunk:
        cmd += ["--chunk", str(chunk)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small run: fewer patients, 20,000 patient-years")
    ap.add_argument("--patients", type=int, default=None, help="patients timed for ketasim (default 16384)")
    ap.add_argument("--target", type=float, default=0.05, help="accuracy asked of the peers (MADRS points)")
    ap.add_argument("--million", type=int, default=None, help="patient-years of the memory run (default 1e6)")
    ap.add_argument("--chunk", type=int, default=None, help="patients per chunk in the memory run")
    ap.add_argument("--json", type=Path, default=None, help="also write the results to this file")
    ap.add_argument("--million-worker", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.million_worker is not None:
        million_worker(args.million_worker, args.chunk)
        return

    plan = _plan()
    days = np.arange(0.0, plan.horizon_days + 1.0)
    n_k = args.patients or (2048 if args.quick else 16384)
    repeats = 1 if args.quick else 3
    n_million = args.million or (20_000 if args.quick else 1_000_000)
    print(f"ketasim population benchmark: plan {plan.name} ({len(plan.doses)} infusions, {plan.horizon_days:g} days, "
          f"daily output); {os.cpu_count()} cores, numba threads {_cores()}; load average {_load()}")
    ref = reference_madrs(plan, days)
    k = bench_ketasim(plan, ref, n_k)
    # (A) the peers as accurate as ketasim's default on this plan
    target_a = max(k["max_error_madrs"], 1e-4)
    matched = [k, bench_scipy(plan, ref, days, target_a, repeats), bench_roadrunner(plan, ref, target_a, repeats)]
    _table(f"(A) accuracy matched to ketasim's default: every engine within {target_a:.4f} MADRS points", matched)
    # (B) every engine at its loosest tolerance within --target
    k_tol, _ = _pick(KETASIM_LADDER, lambda t: ketasim_error(plan, ref, t), args.target)
    loose = [bench_ketasim(plan, ref, n_k, rtol=k_tol), bench_scipy(plan, ref, days, args.target, repeats),
             bench_roadrunner(plan, ref, args.target, repeats)]
    _table(f"(B) every engine at its loosest tolerance within {args.target:g} MADRS points", loose)
    print(f"\nketasim default: {k['steps_per_patient_year']:.0f} steps per patient-year; varied population "
          f"{k['varied_population_patient_years_per_s']:.0f} patient-years/s "
          f"({k['varied_population_patient_years_per_cpu_s']:.0f} per CPU-second)")
    rr = matched[2]
    if "model_load_s" in rr:
        print(f"libRoadRunner: SBML export {rr['sbml_export_s']:.2f} s and model load {rr['model_load_s']:.2f} s "
              "per distinct patient (not counted above)")
    results = {"matched_to_ketasim": matched, "within_target": loose}
    print(f"\n{n_million:,} patient-years, outcomes only, streamed (fresh process) ...", flush=True)
    m = run_million(n_million, args.chunk)
    print(f"{m['patient_years']:,.0f} patient-years in {m['seconds']:.1f} s ({m['patient_years_per_s']:.0f} "
          f"patient-years/s); peak memory {m['peak_rss_mib']:.0f} MiB")
    print(f"load average at the end {_load()}")
    if args.json:
        args.json.write_text(json.dumps({**results, "million": m, "load_average": _load()}, indent=2,
                                        default=float) + "\n")


if __name__ == "__main__":
    main()
