"""What every benchmark script shares: the machine's load, wall and CPU clocks, medians, and the last run's JSON.

Each script keeps its last run in ``benchmarks/<name>.json`` and prints the change of its headline figures
against it, so that a later change cannot quietly undo a gain.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def load_average() -> str:
    """The 1, 5 and 15 minute load averages (a shared machine slows every timing)."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover
        return "n/a"


def machine() -> dict[str, Any]:
    """Cores, numba threads, library versions and the model version (printed and stored with each run)."""
    import numba
    import numpy
    import scipy

    import ketasim
    from ketasim.parameters import default_vector

    digest = __import__("hashlib").sha256(default_vector().tobytes()).hexdigest()[:12]
    import subprocess

    try:
        commit = subprocess.run(["git", "-C", str(HERE), "describe", "--always", "--dirty"], capture_output=True,
                                text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {"commit": commit,
            "cpus": os.cpu_count(), "numba_threads": int(numba.get_num_threads()), "python": platform.python_version(),
            "numpy": numpy.__version__, "scipy": scipy.__version__, "numba": numba.__version__,
            "ketasim": ketasim.__version__, "model_parameters_sha": digest, "load_average_start": load_average()}


def header(title: str) -> dict[str, Any]:
    m = machine()
    print(f"{title}\n  {m['cpus']} cores, numba threads {m['numba_threads']}; Python {m['python']}, NumPy "
          f"{m['numpy']}, SciPy {m['scipy']}, numba {m['numba']}; ketasim {m['ketasim']} (default parameters "
          f"{m['model_parameters_sha']}); load average {m['load_average_start']}")
    return m


class Clock:
    """Wall (``perf_counter``) and CPU (``process_time``: every thread of the process) seconds of a block."""

    def __enter__(self) -> Clock:
        self._w, self._c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._w
        self.cpu = time.process_time() - self._c


def timed(fn: Callable[[], Any], repeat: int) -> tuple[list[float], list[float], Any]:
    """Run ``fn`` ``repeat`` times; wall and CPU seconds of each run, and the last result."""
    walls, cpus, out = [], [], None
    for _ in range(max(1, repeat)):
        with Clock() as c:
            out = fn()
        walls.append(c.wall)
        cpus.append(c.cpu)
    return walls, cpus, out


def median(xs: Iterable[float]) -> float:
    return float(statistics.median(list(xs)))


def peak_rss_mib() -> float:
    """Peak resident memory of this process (MiB; ``ru_maxrss`` is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def cpu_seconds_self() -> float:
    """User + system CPU seconds of this process so far (all threads)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def previous(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def compare(path: Path, now: dict[str, float], *, higher_is_better: dict[str, bool]) -> None:
    """Print each headline figure next to the last run's (``path``) and the change in percent."""
    old = previous(path)
    old_h = (old or {}).get("headline", {})
    print(f"\nchange against the last run ({path.name}"
          f"{', load average then ' + old.get('machine', {}).get('load_average_start', '?') if old else ''}):")
    for key, value in now.items():
        before = old_h.get(key)
        if not isinstance(before, int | float) or not before:
            print(f"  {key:44s} {value:12.4g}   (no earlier figure)")
            continue
        change = 100.0 * (value - before) / abs(before)
        better = (change > 0) == higher_is_better.get(key, True)
        word = "better" if better else "worse"
        print(f"  {key:44s} {value:12.4g}   was {before:12.4g}   {change:+7.1f}% ({word})")


def save(path: Path, record: dict[str, Any]) -> None:
    record = {**record, "load_average_end": load_average(),
              "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    path.write_text(json.dumps(record, indent=2, default=float) + "\n")
    print(f"results written to {path}")
