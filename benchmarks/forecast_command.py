"""A whole ``ketasim forecast`` on a warm machine, in a fresh process (goal: under 3 s).

    python benchmarks/forecast_command.py [--repeat 5]

Runs ``ketasim warmup`` first (numba's cache filled, so nothing compiles), then times ``ketasim forecast`` on
the bundled fast-relapser history ``--repeat`` times as a subprocess: wall seconds, and the child's CPU
seconds from ``getrusage``. Prints medians and the load average, keeps the run in
``benchmarks/forecast_command.json`` and prints the change against the previous run. ``ketasim --help``
alone: ``benchmarks/cli_startup.py``. The interpreter is this one, with this checkout's ``src`` first.
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
GOAL_S = 3.0


def _ketasim(args: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of ``ketasim ARGS`` in a fresh interpreter."""
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
    ap.add_argument("--json", type=Path, default=B.HERE / "forecast_command.json")
    args = ap.parse_args()
    m = B.header("ketasim forecast as a command")
    _ketasim(["warmup"])
    with tempfile.TemporaryDirectory() as tmp:
        runs = [_ketasim(["forecast", str(HISTORY), "--out", str(Path(tmp) / f"forecast{k}")])
                for k in range(args.repeat)]
    walls, cpus = [r[0] for r in runs], [r[1] for r in runs]
    wall, cpu = B.median(walls), B.median(cpus)
    print(f"  ketasim forecast {HISTORY.name}: median {wall:.2f} s wall, {cpu:.2f} s CPU (goal {GOAL_S:g} s: "
          f"{'met' if wall < GOAL_S else 'not met'} here); load average now {B.load_average()}")
    headline = {"forecast_wall": wall, "forecast_cpu": cpu}
    B.compare(args.json, headline, higher_is_better={k: False for k in headline})
    B.save(args.json, {"command": "python benchmarks/forecast_command.py", "machine": m, "wall_s": walls,
                       "cpu_s": cpus, "headline": headline})


if __name__ == "__main__":
    main()
