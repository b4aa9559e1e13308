"""The population engine against libRoadRunner and SciPy, at matched accuracy, on this machine, in one run.

    python benchmarks/peers.py                 # full run (3 repeats, then 1,000,000 patient-years)
    python benchmarks/peers.py --quick         # about two minutes: 1 repeat, then 20,000 patient-years
    python benchmarks/peers.py --repeat 5      # more repeats (medians are reported)

Same model, plan and output grid for every engine: ``benchmarks/one-year-weekly.yaml`` (one year: six 0.5
mg/kg infusions over two weeks, then one a week), MADRS every day, on the benchmark's patients (sampled
virtual patients: response parameters, baseline severity and chronic load vary; weight and PK are the
plan's, because the SBML export carries a patient's dose amounts and PK constants in the document).

Engines (all in this process):

* ketasim: ``simulate_population`` (the batch engine, every core the process has);
* SciPy: ``simulate(plan, params, method="reference", rtol=...)`` one patient after another (exact PK
  between events, DOP853 on the response states, segment by segment);
* libRoadRunner (CVODE) on the SBML export (``ketasim.formats.sbml.to_sbml``): the model is loaded once;
  per patient ``resetAll()``, the patient's parameter values set, ``simulate``. That this reproduces a
  model loaded from the patient's own export is checked and printed.

Matched accuracy is defined once: every engine runs at the loosest tolerance of its grid (printed) whose
largest daily MADRS error against ``simulate(method="reference")`` (DOP853, rtol 1e-10) over the
benchmark's patients is at most ``--target`` (0.05 points). Speeds are patient-years per wall second and
per CPU-second (``process_time``: all threads), medians of ``--repeat`` runs; ratios are ketasim's over
the peer's. The scale run (fresh process) simulates ``--million`` patient-years of sampled patients with
the default between-patient variability, and streams every patient's daily MADRS to Parquet in chunks;
it prints wall and CPU seconds and the peak resident memory.

The run is written to ``benchmarks/peers.json`` (``peers-quick.json`` with ``--quick``) and compared with
the previous one.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as B  # noqa: E402

PLAN_FILE = B.HERE / "one-year-weekly.yaml"
REFERENCE_RTOL, REFERENCE_ATOL = 1e-10, 1e-13
#: Tolerance grids searched, loosest first (relative tolerance; the absolute one follows as stated).
KETASIM_GRID = (1e-2, 5e-3, 2e-3, 1e-3, 5e-4, 2e-4, 1e-4, 5e-5, 2e-5, 1e-5)
KETASIM_ATOL = 1e-2  # atol = rtol x this (the batch engine's default pair is rtol 5e-5, atol 5e-7)
SCIPY_GRID = (1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8)
ROADRUNNER_GRID = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8)
PEER_ATOL = 1e-3  # atol = rtol x this for SciPy and libRoadRunner


def load_benchmark_plan():
    from ketasim.dosing.planfile import load_plan

    return load_plan(PLAN_FILE)


def benchmark_patients(plan, n: int, seed: int):
    """Sampled patients with the plan's weight and typical PK (see the module docstring)."""
    from ketasim.engine.compile import pk_model_name
    from ketasim.population import sample_patients

    vp = sample_patients(n, seed, patient=plan.patient, pk_model=pk_model_name(plan)[1])
    vp.weight_kg = np.full(n, plan.patient.weight_kg)
    vp.pk_cl, vp.pk_v, vp.pk_ka = np.ones(n), np.ones(n), np.ones(n)
    return vp


def patient_plan(plan, vp, i: int):
    """``plan`` as the population engine reads it for patient ``i`` (baseline and loads substituted)."""
    from dataclasses import replace

    ev = tuple(replace(e, amplitude=e.amplitude * float(vp.acute_load_scale[i])) for e in plan.patient.life_events)
    pt = replace(plan.patient, weight_kg=float(vp.weight_kg[i]), baseline_madrs=float(vp.baseline_madrs[i]),
                 chronic_load=float(vp.chronic_load[i]), life_events=ev)
    return replace(plan, patient=pt)


# --- the three engines, each as "run these patients at this tolerance -> daily MADRS (patients x days)" -----

def run_ketasim(plan, vp, rtol: float) -> np.ndarray:
    from ketasim.population import simulate_population

    res = simulate_population(plan, patients=vp, keep_trajectories=True, keep_patients=False, rtol=rtol,
                              atol=rtol * KETASIM_ATOL)
    return res.trajectory("madrs").astype(float)


def run_scipy(plans, vp, days: np.ndarray, rtol: float) -> np.ndarray:
    from ketasim.simulate import simulate

    return np.array([simulate(p, vp.params[i], method="reference", times_h=days * 24.0, rtol=rtol,
                              atol=rtol * PEER_ATOL).table["madrs"].to_numpy() for i, p in enumerate(plans)])


class RoadRunnerPeer:
    """libRoadRunner on the SBML export: loaded once, then per patient reset, set parameters, simulate."""

    def __init__(self, plans, vp) -> None:
        import libsbml
        import roadrunner

        from ketasim.formats.sbml import to_sbml

        with B.Clock() as c:
            docs = [to_sbml(p, vp.params[i]) for i, p in enumerate(plans)]
        self.export_s = c.wall / len(docs)
        with B.Clock() as c:
            self.rr = roadrunner.RoadRunner(docs[0])
        self.load_s = c.wall
        self.rr.timeCourseSelections = ["time", "MADRS"]
        self.n_days = int(plans[0].horizon_days)

        def values(xml: str) -> dict[str, float]:
            m = libsbml.readSBMLFromString(xml).getModel()
            derived = ({a.getSymbol() for a in m.getListOfInitialAssignments()}
                       | {r.getVariable() for r in m.getListOfRules() if r.isAssignment()})
            out = {p.getId(): p.getValue() for p in m.getListOfParameters() if p.getId() not in derived}
            out.update({s.getId(): s.getInitialAmount() for s in m.getListOfSpecies() if s.getId() not in derived})
            return out

        base = values(docs[0])
        self.settings: list[dict[str, float]] = []
        for xml in docs:
            v = values(xml)
            self.settings.append({k: x for k, x in v.items() if base.get(k) != x})
        # the reset-and-set path reproduces a model loaded from the last patient's own document
        own = roadrunner.RoadRunner(docs[-1])
        own.timeCourseSelections = ["time", "MADRS"]
        self.check = float(np.max(np.abs(np.asarray(own.simulate(0.0, self.n_days * 24.0, self.n_days + 1))[:, 1]
                                         - self.one(len(docs) - 1, None))))

    def one(self, i: int, rtol: float | None) -> np.ndarray:
        rr = self.rr
        rr.resetAll()
        for k, x in self.settings[i].items():
            rr[k] = x
        integ = rr.integrator
        if rtol is not None:
            integ.relative_tolerance = rtol
            integ.absolute_tolerance = rtol * PEER_ATOL
            integ.maximum_num_steps = 1_000_000
        return np.asarray(rr.simulate(0.0, self.n_days * 24.0, self.n_days + 1))[:, 1]

    def run(self, rtol: float) -> np.ndarray:
        return np.array([self.one(i, rtol) for i in range(len(self.settings))])


def loosest_within(name: str, grid, run, ref: np.ndarray, target: float) -> tuple[float, float]:
    """Search ``grid`` loosest first; the first tolerance whose max daily |MADRS - reference| <= ``target``."""
    print(f"  {name:14s} grid {', '.join(f'{t:g}' for t in grid)}")
    for tol in grid:
        err = float(np.max(np.abs(run(tol) - ref)))
        ok = err <= target
        print(f"  {'':14s} rtol {tol:<8g} max |MADRS error| {err:.4f}{'  <- chosen' if ok else ''}")
        if ok:
            return tol, err
    raise SystemExit(f"{name}: no tolerance of the grid reaches {target} MADRS points; extend the grid")


# --- the scale run (fresh process) ----------------------------------------------------------------

def scale_worker(patient_years: int, chunk: int, parquet: Path) -> None:
    """Simulate ``patient_years`` one-year sampled patients in chunks, daily MADRS streamed to ``parquet``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ketasim.population import simulate_population

    plan = load_benchmark_plan()
    years = plan.horizon_days / 365.0
    n = int(round(patient_years / years))
    simulate_population(plan, 16, seed=0)  # the compiled engine loaded before timing
    days = np.arange(0.0, np.floor(plan.horizon_days) + 1.0)
    schema = pa.schema([("patient", pa.int64()), ("madrs", pa.list_(pa.float32(), days.size))])
    cpu0, t0 = B.cpu_seconds_self(), time.perf_counter()
    responders = 0.0
    with pq.ParquetWriter(parquet, schema, compression="none") as writer:
        for c, a in enumerate(range(0, n, chunk)):
            b = min(a + chunk, n)
            res = simulate_population(plan, b - a, seed=1_000 + c, keep_trajectories=True, keep_patients=False,
                                      chunk_size=b - a)
            traj = np.ascontiguousarray(res.trajectory("madrs"), dtype=np.float32)
            flat = pa.array(traj.reshape(-1), type=pa.float32())
            writer.write_table(pa.table({"patient": pa.array(np.arange(a, b)),
                                         "madrs": pa.FixedSizeListArray.from_arrays(flat, days.size)}, schema=schema))
            responders += float(res.outcomes["response_end_induction"].sum())
            del res, traj, flat
    wall, cpu = time.perf_counter() - t0, B.cpu_seconds_self() - cpu0
    print(json.dumps({"patients": n, "patient_years": n * years, "chunk": chunk, "seconds": wall, "cpu_seconds": cpu,
                      "patient_years_per_s": n * years / wall, "patient_years_per_cpu_s": n * years / cpu,
                      "peak_rss_mib": B.peak_rss_mib(), "parquet_mib": parquet.stat().st_size / 2**20,
                      "response_end_induction": responders / n}))


def run_scale(patient_years: int, chunk: int, parquet: Path | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        target = parquet or Path(tmp) / "madrs.parquet"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--scale-worker", str(patient_years), "--chunk",
               str(chunk), "--parquet", str(target)]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"scale run failed:\n{out.stderr[-3000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])


# --- main -------------------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="1 repeat, fewer patients, 20,000 patient-years")
    ap.add_argument("--repeat", type=int, default=None, help="timed repeats of each engine (default 3, quick 1)")
    ap.add_argument("--patients", type=int, default=None, help="benchmark patients (default 6, quick 3)")
    ap.add_argument("--ketasim-patients", type=int, default=None,
                    help="patients in each timed ketasim run (default 8192, quick 2048)")
    ap.add_argument("--target", type=float, default=0.05, help="matched accuracy: max daily MADRS error (points)")
    ap.add_argument("--million", type=int, default=None, help="patient-years of the scale run (default 1,000,000)")
    ap.add_argument("--no-scale", action="store_true", help="skip the scale run")
    ap.add_argument("--chunk", type=int, default=20_000, help="patients per chunk of the scale run")
    ap.add_argument("--parquet", type=Path, default=None, help="keep the scale run's daily MADRS in this file")
    ap.add_argument("--json", type=Path, default=None, help="results file (default benchmarks/peers[-quick].json)")
    ap.add_argument("--scale-worker", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.scale_worker is not None:
        scale_worker(args.scale_worker, args.chunk, args.parquet)
        return

    repeat = args.repeat or (1 if args.quick else 3)
    n_bench = args.patients or (3 if args.quick else 6)
    n_k = args.ketasim_patients or (2048 if args.quick else 8192)
    n_scale = args.million or (20_000 if args.quick else 1_000_000)
    json_path = args.json or B.HERE / ("peers-quick.json" if args.quick else "peers.json")
    m = B.header("ketasim against libRoadRunner and SciPy, at matched accuracy")
    plan = load_benchmark_plan()
    years = plan.horizon_days / 365.0
    days = np.arange(0.0, np.floor(plan.horizon_days) + 1.0)
    print(f"  plan {plan.name}: {len(plan.doses)} infusions over {plan.horizon_days:g} days, daily MADRS; "
          f"{n_bench} benchmark patients; {repeat} repeat(s); medians reported")

    from ketasim.population import simulate_population

    simulate_population(plan, 16, seed=0)  # compiled code loaded (numba cache) before any timing
    vp = benchmark_patients(plan, n_bench, seed=0)
    plans = [patient_plan(plan, vp, i) for i in range(n_bench)]
    with B.Clock() as c:
        ref = run_scipy(plans, vp, days, REFERENCE_RTOL)
    print(f"  reference: simulate(method='reference'), DOP853 rtol {REFERENCE_RTOL:g} ({c.wall:.1f} s)")

    print(f"\nmatched accuracy: loosest tolerance with max daily |MADRS error| <= {args.target:g} points over the "
          "benchmark patients")
    rr_peer = None
    try:
        rr_peer = RoadRunnerPeer(plans, vp)
    except ImportError as exc:
        print(f"  libRoadRunner not available ({exc}); pip install libroadrunner")
    tol_k, err_k = loosest_within("ketasim", KETASIM_GRID, lambda t: run_ketasim(plan, vp, t), ref, args.target)
    tol_s, err_s = loosest_within("SciPy", SCIPY_GRID, lambda t: run_scipy(plans, vp, days, t), ref, args.target)
    rows = {}
    big = benchmark_patients(plan, n_k, seed=1)
    walls, cpus, _ = B.timed(lambda: run_ketasim(plan, big, tol_k), repeat)
    rows["ketasim"] = _row("ketasim batch engine", tol_k, tol_k * KETASIM_ATOL, err_k, n_k * years, walls, cpus)
    walls, cpus, _ = B.timed(lambda: run_scipy(plans, vp, days, tol_s), repeat)
    rows["scipy"] = _row("SciPy solve_ivp (DOP853) per patient", tol_s, tol_s * PEER_ATOL, err_s, n_bench * years,
                         walls, cpus)
    if rr_peer is not None:
        tol_r, err_r = loosest_within("libRoadRunner", ROADRUNNER_GRID, rr_peer.run, ref, args.target)
        walls, cpus, _ = B.timed(lambda: rr_peer.run(tol_r), repeat)
        rows["roadrunner"] = _row("libRoadRunner (CVODE), SBML export", tol_r, tol_r * PEER_ATOL, err_r,
                                  n_bench * years, walls, cpus)
        print(f"  libRoadRunner reset-and-set reproduces a model loaded from the patient's own export: max "
              f"|difference| {rr_peer.check:.2e} MADRS points; export {rr_peer.export_s:.2f} s and load "
              f"{rr_peer.load_s:.2f} s per model (not timed)")
    # a population with the default variability (weight and PK too), for the record
    walls, cpus, res = B.timed(lambda: simulate_population(plan, n_k, seed=2, rtol=tol_k, atol=tol_k * KETASIM_ATOL),
                               repeat)
    varied = {"patient_years_per_s": n_k * years / B.median(walls),
              "patient_years_per_cpu_s": n_k * years / B.median(cpus),
              "steps_per_patient_year": float(res.steps[:, 0].mean() / years)}
    _print_table(rows)
    print(f"\nketasim on a sampled population with the default variability (weight and PK included): "
          f"{varied['patient_years_per_s']:,.0f} patient-years/s, {varied['patient_years_per_cpu_s']:,.0f} per "
          f"CPU-second, {varied['steps_per_patient_year']:.0f} accepted steps per patient-year")

    scale = None
    if not args.no_scale:
        print(f"\n{n_scale:,} patient-years (sampled patients, default variability; daily MADRS streamed to Parquet "
              f"in chunks of {args.chunk:,}; fresh process) ...", flush=True)
        scale = run_scale(n_scale, args.chunk, args.parquet)
        print(f"  {scale['patient_years']:,.0f} patient-years in {scale['seconds']:.1f} s wall, "
              f"{scale['cpu_seconds']:.1f} s CPU ({scale['patient_years_per_s']:,.0f} patient-years/s); peak memory "
              f"{scale['peak_rss_mib']:,.0f} MiB; Parquet {scale['parquet_mib']:,.0f} MiB")
    print(f"\nload average at the end {B.load_average()}")
    headline = {f"{k}_{q}": r[q] for k, r in rows.items() for q in ("patient_years_per_s", "patient_years_per_cpu_s")}
    for k in ("scipy", "roadrunner"):
        if k in rows:
            headline[f"ratio_per_cpu_s_vs_{k}"] = rows[k]["ketasim_ratio_per_cpu_s"]
            headline[f"ratio_wall_vs_{k}"] = rows[k]["ketasim_ratio_wall"]
    if scale:
        headline["scale_seconds"] = scale["seconds"]
        headline["scale_peak_rss_mib"] = scale["peak_rss_mib"]
    B.compare(json_path, headline, higher_is_better={"scale_seconds": False, "scale_peak_rss_mib": False})
    B.save(json_path, {"command": "python benchmarks/peers.py" + (" --quick" if args.quick else ""), "machine": m,
                       "target_madrs": args.target, "benchmark_patients": n_bench, "repeat": repeat,
                       "engines": rows, "varied_population": varied, "scale": scale, "headline": headline,
                       "grids": {"ketasim": KETASIM_GRID, "scipy": SCIPY_GRID, "roadrunner": ROADRUNNER_GRID}})


def _row(engine: str, rtol: float, atol: float, err: float, patient_years: float, walls, cpus) -> dict:
    return {"engine": engine, "rtol": rtol, "atol": atol, "max_error_madrs": err, "patient_years": patient_years,
            "wall_s": walls, "cpu_s": cpus, "patient_years_per_s": patient_years / B.median(walls),
            "patient_years_per_cpu_s": patient_years / B.median(cpus)}


def _print_table(rows: dict) -> None:
    k = rows["ketasim"]
    print(f"\n{'engine':38s} {'rtol':>7s} {'MADRS err':>9s} {'wall s':>8s} {'CPU s':>8s} {'py/s':>9s} "
          f"{'py/CPU-s':>9s} {'x wall':>7s} {'x CPU-s':>7s}")
    for r in rows.values():
        r["ketasim_ratio_wall"] = k["patient_years_per_s"] / r["patient_years_per_s"]
        r["ketasim_ratio_per_cpu_s"] = k["patient_years_per_cpu_s"] / r["patient_years_per_cpu_s"]
        print(f"{r['engine']:38s} {r['rtol']:7.0e} {r['max_error_madrs']:9.4f} {B.median(r['wall_s']):8.2f} "
              f"{B.median(r['cpu_s']):8.2f} {r['patient_years_per_s']:9.2f} {r['patient_years_per_cpu_s']:9.2f} "
              f"{r['ketasim_ratio_wall']:7.1f} {r['ketasim_ratio_per_cpu_s']:7.1f}")
    print("(py = patient-years; x = ketasim's speed over the engine's; wall and CPU seconds are medians per run)")


if __name__ == "__main__":
    main()
