"""Cost of one simulation of the whole evidence base (every simulated study, every arm).

    python benchmarks/evidence_cost.py [--repeats 5] [--n 300]

Prints wall and CPU seconds per simulation (the first, with compilation and caches, reported apart) and the
number of virtual patient-arms integrated, and writes ``benchmarks/evidence_cost.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--n", type=int, default=0, help="virtual patients per study (default: the fit's)")
    args = ap.parse_args()
    from ketasim.evidence.simulate import patients_for, simulate_evidence
    from ketasim.evidence.virtual import evidence_studies

    n = args.n or None
    studies = {k: s for k, s in evidence_studies().items() if s.outcomes}
    # a randomised study splits its patients between arms; a parallel one runs all of them in every arm
    patient_arms = sum(patients_for(k, n) * (1 if s.randomisation else len(s.arms)) for k, s in studies.items())
    t0, c0 = time.perf_counter(), time.process_time()
    simulate_evidence(n_patients=n)
    first = (time.perf_counter() - t0, time.process_time() - c0)
    walls, cpus = [], []
    for r in range(args.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        simulate_evidence(n_patients=n, seed=r + 1)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    out = {"studies": len(studies), "patients_per_study": "fit default" if n is None else n,
           "patient_arms_per_simulation": patient_arms, "first_wall_s": round(first[0], 3),
           "wall_s_median": round(sorted(walls)[len(walls) // 2], 3), "wall_s_min": round(min(walls), 3),
           "cpu_s_median": round(sorted(cpus)[len(cpus) // 2], 3), "repeats": args.repeats,
           "load_average": [round(x, 2) for x in os.getloadavg()], "cores": os.cpu_count()}
    print(json.dumps(out, indent=1))
    Path(__file__).with_name("evidence_cost.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
