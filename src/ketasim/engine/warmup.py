"""Compile every engine once, ahead of use, into numba's on-disk cache (``ketasim._numba_cache``).

numba compiles a function the first time it is called (9-20 s for the engines on a small machine)
and stores the machine code in the cache folder of this version of the source; later runs load
it in a fraction of a second. :func:`warm_up` calls each engine on a tiny problem so that all of
them are compiled and cached, then leaves a marker in the cache folder; :func:`is_warm` reads it.
``ketasim warmup`` runs it, and the CLI runs it (with a one-line message and a spinner) before a
command that simulates when the marker is missing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from ketasim._numba_cache import cache_dir

MARKER = "ketasim-engines-compiled.json"


def marker_path() -> Path:
    return Path(cache_dir()) / MARKER


def is_warm() -> bool:
    """True when every engine of this version of the source has been compiled into the cache."""
    return marker_path().is_file()


def _one_patient() -> None:
    from ketasim.dosing.plan import Dose, Patient, Plan
    from ketasim.simulate import simulate

    plan = Plan(name="warmup", patient=Patient(), doses=(Dose(day=0.4, amount_mg=35.0, mg_per_kg=0.5),),
                therapy_days=(1.5,), horizon_days=3.0)
    simulate(plan)
    simulate(plan, method="reference", rtol=1e-4, atol=1e-7)


def _batch() -> None:
    from ketasim.dosing.plan import Dose, Patient, Plan
    from ketasim.population import simulate_population

    plan = Plan(name="warmup", patient=Patient(), doses=(Dose(day=0.4, amount_mg=35.0, mg_per_kg=0.5),),
                horizon_days=3.0)
    simulate_population(plan, 4, seed=0, outputs=("madrs", "occupancy", "load"), keep_trajectories=True)


def _closed_loop() -> None:
    import numpy as np

    from ketasim.parameters import default_vector
    from ketasim.planning.stepping import advance, dose_templates

    p = default_vector()[None, :]
    tmpl = dose_templates(p, np.array([70.0]), np.ones((1, 3)))
    none = np.zeros((1, 0))
    advance(np.zeros((1, 9)), p, 0.0, np.array([0.0, 24.0]), np.array([True]), np.array([False]), tmpl,
            np.array([0.3]), none, none, none, np.array([0.2]))


ENGINES: dict[str, Callable[[], None]] = {
    "one-patient engine and SciPy reference (ketasim.simulate)": _one_patient,
    "batch engine (ketasim.population)": _batch,
    "closed-loop stepping (ketasim.planning.stepping)": _closed_loop,
}


def warm_up(report: Callable[[str, float], None] | None = None) -> dict[str, float]:
    """Compile (or load from the cache) every engine; seconds per engine. Writes the marker."""
    seconds: dict[str, float] = {}
    for name, run in ENGINES.items():
        t0 = time.perf_counter()
        run()
        seconds[name] = time.perf_counter() - t0
        if report is not None:
            report(name, seconds[name])
    try:
        path = marker_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"engines": seconds, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}))
    except OSError:  # a read-only cache: numba compiles in memory each run, and we say so each time
        pass
    return seconds
