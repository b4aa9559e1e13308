"""ketasim: ketamine treatment of depression, simulated from the dose to the rating scale.

The public entry points (imported lazily, so ``import ketasim`` stays light)::

    from ketasim import Plan, Dose, Patient, load_plan, simulate_population
    from ketasim.simulate import simulate

Research and decision-support software, not a medical device.
"""

from __future__ import annotations

import importlib
from typing import Any

from ketasim._numba_cache import configure as _configure_numba_cache

_configure_numba_cache()

__version__ = "0.1.0"  # the one source of the version: pyproject.toml reads it (dynamic)
DISCLAIMER = ("ketasim is research and decision-support software, not a medical device; "
              "its outputs are not medical advice.")

_LAZY = {
    "Plan": "ketasim.dosing.plan",
    "Patient": "ketasim.dosing.plan",
    "Dose": "ketasim.dosing.plan",
    "LifeEvent": "ketasim.dosing.plan",
    "LifestylePeriod": "ketasim.dosing.plan",
    "OtherTreatment": "ketasim.dosing.plan",
    "load_plan": "ketasim.dosing.planfile",
    "simulate_population": "ketasim.population",
    "sample_patients": "ketasim.population",
    "explain_loss": "ketasim.explain",
    "explain_gain": "ketasim.explain",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ketasim' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
