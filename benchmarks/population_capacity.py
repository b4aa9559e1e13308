"""Time and peak memory of ``ketasim population`` at large sizes, against the estimate that guards it.

    python benchmarks/population_capacity.py                      # 100,000 and 1,000,000 patients
    python benchmarks/population_capacity.py --patients 10000000  # the documented capacity (about 20 min here)

Each size runs ``ketasim population PLAN --patients N --no-figures --out TMP`` in a fresh process
and reports its wall time, its peak resident memory (``getrusage`` of the child), the estimate of
``ketasim.population.run.estimate_memory_bytes`` for the same run (tables streamed, patients not
kept) and the size of the files written. The plan is ``examples/induction-six.yaml`` (150 days).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLAN = ROOT / "src" / "ketasim" / "examples" / "induction-six.yaml"


def run(n: int, src: Path) -> dict:
    sys.path.insert(0, str(src))
    from ketasim.dosing.planfile import load_plan
    from ketasim.population.run import estimate_memory_bytes

    days = int(load_plan(PLAN).horizon_days) + 1
    with tempfile.TemporaryDirectory(prefix="ketasim-capacity-") as tmp:
        out = Path(tmp) / "out"
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "ketasim.interfaces.cli", "population", str(PLAN), "--patients",
                               str(n), "--no-figures", "--out", str(out)], env={**os.environ, "PYTHONPATH": str(src)},
                              capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - t0
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        files = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) if out.exists() else 0
    if done.returncode != 0:
        raise SystemExit(f"population --patients {n} failed: {done.stderr.strip()[-500:]}")
    return {"patients": n, "seconds": round(seconds, 1), "peak_rss_gb": round(max(peak_kb, before) / 1e6, 2),
            "estimate_gb": round(estimate_memory_bytes(n, days, keep_patients=False) / 1e9, 2),
            "files_gb": round(files / 1e9, 2), "patients_per_second": round(n / seconds)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--src", type=Path, default=ROOT / "src")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    rows = []
    for n in sorted(args.patients):  # peak RSS of children only grows: smallest first
        row = run(n, args.src)
        rows.append(row)
        print(f"{n:>12,} patients: {row['seconds']:>8.1f} s, peak {row['peak_rss_gb']:.2f} GB (estimate "
              f"{row['estimate_gb']:.2f} GB), files {row['files_gb']:.2f} GB, {row['patients_per_second']:,}/s")
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
