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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import load_average  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PLAN = ROOT / "src" / "ketasim" / "examples" / "induction-six.yaml"


def run(n: int, src: Path) -> dict:
    sys.path.insert(0, str(src))
    from ketasim.dosing.planfile import load_plan
    from ketasim.population.run import estimate_memory_bytes

    days = int(load_plan(PLAN).horizon_days) + 1
    with tempfile.TemporaryDirectory(prefix="ketasim-capacity-") as tmp:
        out = Path(tmp) / "out"
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "ketasim.interfaces.cli", "population", str(PLAN), "--patients",
                               str(n), "--no-figures", "--out", str(out)], env={**os.environ, "PYTHONPATH": str(src)},
                              capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        peak_kb = after.ru_maxrss
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        files = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) if out.exists() else 0
    if done.returncode != 0:
        raise SystemExit(f"population --patients {n} failed: {done.stderr.strip()[-500:]}")
    return {"patients": n, "seconds": round(seconds, 1), "cpu_seconds": round(cpu, 1),
            "peak_rss_gb": round(max(peak_kb, before.ru_maxrss) / 1e6, 2),
            "estimate_gb": round(estimate_memory_bytes(n, days, keep_patients=False) / 1e9, 2),
            "files_gb": round(files / 1e9, 2), "patients_per_second": round(n / seconds)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--src", type=Path, default=ROOT / "src")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    print(f"load average at the start {load_average()}")
    rows = []
    for n in sorted(args.patients):  # peak RSS of children only grows: smallest first
        row = run(n, args.src)
        rows.append(row)
        row["load_average"] = load_average()
        print(f"{n:>12,} patients: {row['seconds']:>8.1f} s wall, {row['cpu_seconds']:.1f} s CPU, "
              f"peak {row['peak_rss_gb']:.2f} GB (estimate {row['estimate_gb']:.2f} GB), "
              f"files {row['files_gb']:.2f} GB, {row['patients_per_second']:,}/s; load average {row['load_average']}")
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
