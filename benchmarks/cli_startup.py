"""Start-up time of the command line: ``ketasim --help`` in fresh interpreters (median and spread of N runs).

    python benchmarks/cli_startup.py                     # this checkout's src/
    python benchmarks/cli_startup.py --src /tmp/old/src  # another source tree, e.g. an earlier commit
    python benchmarks/cli_startup.py --runs 30 --json benchmarks/cli_startup.json

Each run starts ``python -c`` with ``--src`` first on ``PYTHONPATH`` and calls the entry point
``ketasim.interfaces.cli:main`` with ``--help``, as the ``ketasim`` script does; the time includes
the interpreter's own start-up (printed separately as ``python -c pass``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import load_average  # noqa: E402

HELP = "import sys; sys.argv = ['ketasim', '--help']; from ketasim.interfaces.cli import main; main()"


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(code: str, src: Path, runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of ``runs`` fresh interpreters running ``code``."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    wall, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), children_cpu_s()
        subprocess.run([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=False)
        wall.append(time.perf_counter() - t0)
        cpu.append(children_cpu_s() - c0)
    return wall, cpu


def main() -> None:
    here = Path(__file__).resolve().parent.parent / "src"
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", type=Path, default=here, help="source folder holding the ketasim package")
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    args = ap.parse_args()
    load_start = load_average()
    print(f"load average at the start {load_start}")
    timed(HELP, args.src, 2)  # warm the file cache and numba's index
    bare, _ = timed("pass", args.src, args.runs)
    helps, help_cpu = timed(HELP, args.src, args.runs)
    record = {"src": str(args.src), "runs": args.runs, "python_s": statistics.median(bare),
              "help_median_s": statistics.median(helps), "help_min_s": min(helps), "help_max_s": max(helps),
              "help_cpu_median_s": statistics.median(help_cpu), "load_average_start": load_start,
              "load_average_end": load_average()}
    print(f"python -c pass: {record['python_s']:.3f} s (median of {args.runs})")
    print(f"ketasim --help: {record['help_median_s']:.3f} s median wall, {record['help_min_s']:.3f}-"
          f"{record['help_max_s']:.3f} s, {record['help_cpu_median_s']:.3f} s CPU median ({args.src})")
    print(f"load average at the end {record['load_average_end']}")
    if args.json is not None:
        args.json.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
