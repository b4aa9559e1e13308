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
import statistics
import subprocess
import sys
import time
from pathlib import Path

HELP = "import sys; sys.argv = ['ketasim', '--help']; from ketasim.interfaces.cli import main; main()"


def timed(code: str, src: Path, runs: int) -> list[float]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=False)
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    here = Path(__file__).resolve().parent.parent / "src"
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", type=Path, default=here, help="source folder holding the ketasim package")
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    args = ap.parse_args()
    timed(HELP, args.src, 2)  # warm the file cache and numba's index
    bare = timed("pass", args.src, args.runs)
    helps = timed(HELP, args.src, args.runs)
    record = {"src": str(args.src), "runs": args.runs, "python_s": statistics.median(bare),
              "help_median_s": statistics.median(helps), "help_min_s": min(helps), "help_max_s": max(helps)}
    print(f"python -c pass: {record['python_s']:.3f} s (median of {args.runs})")
    print(f"ketasim --help: {record['help_median_s']:.3f} s median, {record['help_min_s']:.3f}-"
          f"{record['help_max_s']:.3f} s ({args.src})")
    if args.json is not None:
        args.json.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
