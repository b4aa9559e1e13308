"""A 10,000-patient SUSTAIN-1 virtual trial, timed in process (goal: under 5 s on two cores).

    python benchmarks/trial_speed.py [--patients 10000] [--repeat 3]

``ketasim.trials.runner.run_study`` on the SUSTAIN-1 study (enrolment, both arms simulated by the batch
engine on every core, relapse outcomes, hazard ratio). Prints the load average, wall and CPU seconds of
each repeat and their medians, keeps the run in ``benchmarks/trial_speed.json`` and prints the change
against the previous run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as B  # noqa: E402

GOAL_S = 5.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--patients", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", type=Path, default=B.HERE / "trial_speed.json")
    args = ap.parse_args()
    m = B.header(f"SUSTAIN-1 virtual trial, {args.patients:,} patients")
    from ketasim.trials.runner import run_study
    from ketasim.trials.studies import get_study

    study = get_study("sustain1")
    run_study(study, 200, seed=0)  # compiled code loaded before timing
    walls, cpus, res = B.timed(lambda: run_study(study, args.patients, seed=0), args.repeat)
    for k, (w, c) in enumerate(zip(walls, cpus, strict=True)):
        print(f"  run {k + 1}: {w:.2f} s wall, {c:.2f} s CPU")
    wall, cpu = B.median(walls), B.median(cpus)
    print(f"median {wall:.2f} s wall, {cpu:.2f} s CPU (CPU / wall = {cpu / wall:.2f} cores busy); goal {GOAL_S:g} s "
          f"wall: {'met' if wall < GOAL_S else 'not met'} here; load average now {B.load_average()}")
    headline = {"seconds": wall, "cpu_seconds": cpu}
    B.compare(args.json, headline, higher_is_better={"seconds": False, "cpu_seconds": False})
    B.save(args.json, {"command": "python benchmarks/trial_speed.py", "machine": m, "patients": args.patients,
                       "wall_s": walls, "cpu_s": cpus, "headline": headline})


if __name__ == "__main__":
    main()
