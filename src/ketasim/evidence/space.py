"""The parameters the posterior is over, their priors, and how a point becomes a :class:`ParameterSet`.

Simulator parameters (:data:`FIT_PARAMETERS`) change the virtual trials; heterogeneity parameters
(:data:`HETEROGENEITY`) only enter the likelihood. Priors (stated, from each parameter's plausible range):

* a simulator parameter is uniform on its range, on a log scale for rates, time constants, spreads and
  factors (``log=True``: log-uniform) and on a linear scale for fractions and the fluctuation SD; its range
  is the declared bounds of the parameter (``ketasim.parameters``, ``symptoms.placebo``,
  ``trials.measurement``, ``trials.cohort``) as the discrepancy calibration used them;
* a heterogeneity SD is half-normal with the scale of :data:`ketasim.evidence.likelihood.HETEROGENEITY_PRIORS`.

Everything not listed keeps its declared value (``ketasim.parameters``: status assumed or literature), in
particular ``mu_G`` and ``kappa``, which sat at a bound of their range in the discrepancy calibration and
whose structure issue 11 revisits. The fit reads nothing from the shipped calibration, so a clean checkout
reproduces it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ketasim.evidence.simulate import ParameterSet
from ketasim.parameters import IDX
from ketasim.symptoms.placebo import PLACEBO_PARAMETERS, PlaceboModel
from ketasim.trials.calibrate import FREE_PARAMETERS, FreeParameter, uncalibrated_vector
from ketasim.trials.cohort import TRIAL_CHRONIC_LOAD, uncalibrated_spreads
from ketasim.trials.measurement import MeasurementModel

FIXED_AT_DECLARED = ("mu_G", "kappa")
#: The unblinding factor multiplies the placebo response of every drug arm (and open-label arm) alike, so
#: arm-level data cannot tell it from the drug's own effect (a first fit with it free, 2026-12-03, put it at
#: 1.85 and the drug's effect in the typical patient at 1.6 MADRS points at 24 h, against drug-minus-placebo
#: contrasts of 5-10 points): it stays at its declared 1 (no functional unblinding) and is kept selectable
#: (``PlaceboModel.unblinding_factor``) for sensitivity analyses.
FIXED_PLACEBO = ("unblinding_factor",)
_LINEAR_PLACEBO = ("placebo_early", "placebo_late")

FIT_PARAMETERS: tuple[FreeParameter, ...] = tuple(
    f for f in FREE_PARAMETERS if not (f.kind == "typical" and f.name in FIXED_AT_DECLARED)
) + tuple(FreeParameter(p.name, "placebo", *p.bounds, log=p.name not in _LINEAR_PLACEBO)  # type: ignore[misc]
          for p in PLACEBO_PARAMETERS if p.name not in FIXED_PLACEBO)

HETEROGENEITY: tuple[str, ...] = ("tau_points", "tau_logit", "tau_log")


def names() -> list[str]:
    """Column names of a posterior draw: the simulator parameters' keys, then the heterogeneity SDs."""
    return FULL.names()


def declared_set() -> ParameterSet:
    """The declared values (no calibration): where every parameter not fitted stays."""
    return ParameterSet(uncalibrated_vector(), uncalibrated_spreads(), MeasurementModel(), PlaceboModel(),
                        TRIAL_CHRONIC_LOAD.value, "declared")


def to_values(u: np.ndarray) -> dict[str, float]:
    """Unit-cube point -> {key: value} of the simulator parameters."""
    return FULL.to_values(u)


def to_unit(values: dict[str, float]) -> np.ndarray:
    return FULL.to_unit(values)


@dataclass(frozen=True)
class FitSpace:
    """The parameters a fit is over (``free``) and the values of every other parameter (``base``, default the
    declared ones). The shipped fit is :data:`FULL`; a recovery test fits a subset over known values."""

    free: tuple[FreeParameter, ...] = FIT_PARAMETERS
    base: ParameterSet | None = None

    @property
    def d(self) -> int:
        return len(self.free)

    def names(self) -> list[str]:
        return [f.key for f in self.free] + list(HETEROGENEITY)

    def to_values(self, u: np.ndarray) -> dict[str, float]:
        return {f.key: f.from_unit(float(x)) for f, x in zip(self.free, u, strict=True)}

    def to_unit(self, values: dict[str, float]) -> np.ndarray:
        return np.array([f.to_unit(float(values[f.key])) for f in self.free])

    def parameter_set(self, u: np.ndarray, label: str = "") -> ParameterSet:
        return parameter_set(self.to_values(u), self.base, label)


def parameter_set(values: dict[str, float], base: ParameterSet | None = None, label: str = "") -> ParameterSet:
    """A :class:`ParameterSet` with the named simulator values (keys as :func:`names`) over ``base``."""
    base = base or declared_set()
    params = base.params.copy()
    spreads = dict(base.spreads)
    meas: dict[str, float] = {}
    plac: dict[str, float] = {}
    load = base.chronic_load
    for f in FIT_PARAMETERS:  # every parameter a fit may free (a subset's keys are among them)
        if f.key not in values:
            continue
        v = float(values[f.key])
        if f.kind == "typical":
            params[IDX[f.name]] = v
        elif f.kind == "omega":
            spreads[f.name] = v
        elif f.kind == "measurement":
            meas[f.name] = v
        elif f.kind == "placebo":
            plac[f.name] = v
        else:
            load = v
    return ParameterSet(params, spreads, base.measurement.with_values(meas), base.placebo.with_values(plac), load,
                        label)


FULL = FitSpace()
