"""Time the individual posterior and the full forecast (target: under 1 s for a history of 10 scores, the
intervals table included).

    python benchmarks/forecast_speed.py [--repeats 5]

Uses the bundled fast-relapser history (10 scores). Prints wall-clock and CPU seconds and the ratio to
the 1 s target, and writes ``benchmarks/forecast_speed.json`` (read by ``python -m
ketasim.planning.validation`` for docs/forecasting.md). The machine's load is printed too: timings on a
shared machine vary with it.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from importlib import resources
from pathlib import Path

import numpy as np

from ketasim.planning.forecast import forecast
from ketasim.planning.history import read_history
from ketasim.planning.posterior import fit_posterior


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--history", default=str(resources.files("ketasim").joinpath("examples", "histories",
                                                                                 "fast-relapser.csv")))
    args = ap.parse_args()
    h = read_history(args.history)
    fit_posterior(h, n_particles=200)  # compile and warm the caches
    wall, cpu, ess, stages = [], [], [], []
    for r in range(args.repeats):
        t, c = time.perf_counter(), time.process_time()
        post = fit_posterior(h, seed=r)
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        ess.append(post.ess)
        stages.append(post.stages)
    t = time.perf_counter()
    forecast(h, seed=0)  # posterior, draws, particles, paths and the intervals table: what the target covers
    fc_wall = time.perf_counter() - t
    t = time.perf_counter()
    forecast(h, seed=0, intervals=None)
    fc_no_intervals = time.perf_counter() - t
    med = float(np.median(wall))
    out = {"history": Path(args.history).name, "scores": len(h.scores), "repeats": args.repeats,
           "posterior_s": med, "posterior_cpu_s": float(np.median(cpu)), "posterior_ess": float(np.median(ess)),
           "stages": int(np.median(stages)), "forecast_s": fc_wall,
           "forecast_without_intervals_s": fc_no_intervals, "target_s": 1.0, "ratio_to_target": med / 1.0,
           "load_average": os.getloadavg()[0], "cpus": os.cpu_count()}
    print(f"history {out['history']} ({out['scores']} scores): posterior {med:.2f} s wall (median of "
          f"{args.repeats}; CPU {out['posterior_cpu_s']:.2f} s; ESS {out['posterior_ess']:.0f}, {out['stages']} "
          f"stages), full forecast {fc_wall:.2f} s ({fc_no_intervals:.2f} s without the intervals table)")
    print(f"ratio to the 1 s target: {med:.2f} (load average {out['load_average']:.1f} on {out['cpus']} cores)")
    Path(__file__).with_suffix(".json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
