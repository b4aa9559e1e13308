"""Start-up of the command line on a warm machine: ``ketasim --help`` (goal < 1 s) and a whole
``ketasim forecast`` (goal < 3 s), each in a fresh process.

    python benchmarks/startup.py [--repeat 5]

Runs ``ketasim warmup`` first (so numba's cache is filled and nothing compiles), then times each command
``--repeat`` times as a subprocess (wall seconds, and the child's CPU seconds from ``getrusage``); prints
medians and the load average, keeps the run in ``benchmarks/startup.json`` and prints the change against
the previous run. The interpreter is this one, with this checkout's ``src`` first on the path.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as B  # noqa: E402

SRC = B.HERE.parent / "src"
HISTORY = SRC / "ketasim" / "examples" / "histories" / "fast-relapser.csv"
GOALS = {"help": 1.0, "forecast": 3.0}


def _ketasim(args: list[str]) -> tuple[float, float]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    code = "import sys; from ketasim.interfaces.cli import main; sys.argv = ['ketasim', *sys.argv[1:]]; main()"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, *args], env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", type=Path, default=B.HERE / "startup.json")
    args = ap.parse_args()
    m = B.header("ketasim command-line start-up")
    _ketasim(["warmup"])
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        commands = {"help": lambda k: ["--help"],
                    "forecast": lambda k: ["forecast", str(HISTORY), "--out", str(Path(tmp) / f"forecast{k}")]}
        for name, argv_of in commands.items():
            runs = [_ketasim(argv_of(k)) for k in range(args.repeat)]
            argv = argv_of(0)
            wall, cpu = B.median(r[0] for r in runs), B.median(r[1] for r in runs)
            rows[name] = {"argv": argv, "wall_s": [r[0] for r in runs], "cpu_s": [r[1] for r in runs]}
            print(f"  ketasim {' '.join(argv[:1])}: median {wall:.2f} s wall, {cpu:.2f} s CPU "
                  f"(goal {GOALS[name]:g} s: {'met' if wall < GOALS[name] else 'not met'} here)")
    print(f"load average now {B.load_average()}")
    headline = {f"{k}_{q}": B.median(r[f"{q}_s"]) for k, r in rows.items() for q in ("wall", "cpu")}
    B.compare(args.json, headline, higher_is_better={k: False for k in headline})
    B.save(args.json, {"command": "python benchmarks/startup.py", "machine": m, "commands": rows,
                       "headline": headline})


if __name__ == "__main__":
    main()
