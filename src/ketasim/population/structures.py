"""Response structures: the population around the one right-hand side (``ketasim.dynamics``), selectable by name.

* ``v1``: the first population model: one typical patient and log-normal spreads (the shipped calibration's
  spreads, SD(log) up to 1.7 on synapse formation), no classes, no course of life (relapse in the virtual
  trials comes from the measurement model's symptom fluctuation). The shipped default: it is the structure
  the shipped calibration was fitted with.
* ``v2``: three latent patient classes (``ketasim.population.classes``) with moderate within-class spreads (the
  population model's declared SD(log) 0.30-0.50, none above 1), consolidation by re-activation off
  (``mu_G = 0``: the two synapse stages keep their own time constants) and a modelled course of life
  (``ketasim.population.life_course``: each patient's own dated life events). Not yet calibrated: its class
  shares, sensitivities, homeostatic times and event rates are declared values (status ``assumed``). The symptom
  fluctuation of the virtual trials' measurement model shrinks to a few points (``v2_fluctuation_sd``): the
  course of life does the relapse work.

A :class:`PopulationModel` is the one population object that virtual populations (``simulate_population``),
virtual trials (``run_trials(..., model=...)``: with v2 their typical chronic load is the structure's, not the
trials' own), population explanations (``ketasim.explain.population``) and anything else that draws patients
take (``sample_patients(..., model=...)``). The forecasting prior (``ketasim.planning.prior``) and the policy
simulator do not take it yet: they draw from v1's random effects.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ketasim.errors import PlanError
from ketasim.parameters import IDX, Parameter
from ketasim.population.classes import ClassModel
from ketasim.population.life_course import LifeCourse
from ketasim.population.variability import RESPONSE_EFFECTS, RandomEffect, default_variability, pk_effects

MODEL_NAMES: tuple[str, ...] = ("v1", "v2")
DEFAULT_MODEL = "v1"


@dataclass(frozen=True)
class PopulationModel:
    """A named response structure: typical-value changes, random effects, classes and course of life.

    ``typical_values`` replace entries of the typical parameter vector (``{"mu_G": 0.0}``); ``calibrated_spreads``
    says whether the shipped calibration's spreads apply (they were fitted with ``v1``); ``classes`` and
    ``life_course`` are None for a structure without them.
    """

    name: str
    description: str
    typical_values: dict[str, float] = field(default_factory=dict)
    calibrated_spreads: bool = True
    classes: ClassModel | None = None
    life_course: LifeCourse | None = None
    fluctuation: tuple[Parameter, Parameter] | None = None  # (SD in MADRS points, correlation time in days)
    chronic_load: Parameter | None = None  # typical chronic load of trial patients (None: the trials' own)

    def __post_init__(self) -> None:
        bad = [k for k in self.typical_values if k not in IDX]
        if bad:
            raise PlanError("model.typical_values", bad, "response parameter names")

    def typical(self, params: np.ndarray) -> np.ndarray:
        """``params`` (a typical vector) with this structure's typical values (a copy)."""
        out = np.array(params, dtype=np.float64, copy=True)
        for k, v in self.typical_values.items():
            out[IDX[k]] = v
        return out

    def variability(self, pk_model: str) -> tuple[RandomEffect, ...]:
        """The random effects: the shipped calibration's spreads (``v1``) or the declared ones (within a class)."""
        if self.calibrated_spreads:
            return default_variability(pk_model)
        return (*pk_effects(pk_model), *RESPONSE_EFFECTS)

    def parameters(self) -> list[Parameter]:
        """The structure's own numbers (classes and course of life) with value, unit, source and status."""
        out: list[Parameter] = []
        if self.classes is not None:
            out += list(self.classes.parameters())
        if self.life_course is not None:
            out += list(self.life_course.parameters())
        if self.fluctuation is not None:
            out += list(self.fluctuation)
        if self.chronic_load is not None:
            out.append(self.chronic_load)
        return out


V1 = PopulationModel(
    "v1", "one typical patient with wide log-normal spreads; the symptom fluctuation of the measurement model "
    "does the relapse work (the shipped calibration's structure)")
_V2_FLUCTUATION = (
    Parameter("v2_fluctuation_sd", 2.0, "MADRS points", "assumed: with the course of life modelled, what is left is "
              "short-term variation of a few points (issue 11); the rater's error is separate", "assumed",
              "stationary SD of a patient's symptom fluctuation in the v2 structure", "measurement", (0.0, 4.0)),
    Parameter("v2_fluctuation_tau", 7.0, "days", "assumed: short-term variation over days", "assumed",
              "correlation time of the symptom fluctuation in the v2 structure", "measurement", (1.0, 30.0)),
)
_V2_CHRONIC_LOAD = Parameter(
    "v2_chronic_load", 0.5, "load units", "assumed: the bundled examples' typical patient (chronic load 0.5), the "
    "same for virtual trials and virtual populations (one world); to be fitted to the evidence base", "assumed",
    "typical chronic load of the v2 population (median of the log-normal)", "population", (0.1, 1.5))
V2 = PopulationModel(
    "v2", "three patient classes (non-responder, transient, durable) with moderate within-class spreads, "
    "consolidation by re-activation off, and each patient's own life events as a dated random process",
    typical_values={"mu_G": 0.0}, calibrated_spreads=False, classes=ClassModel(), life_course=LifeCourse(),
    fluctuation=_V2_FLUCTUATION, chronic_load=_V2_CHRONIC_LOAD)


def population_model(model: str | PopulationModel | None = None) -> PopulationModel:
    """The structure named ``model`` (:data:`MODEL_NAMES`; None: :data:`DEFAULT_MODEL`), or ``model`` itself."""
    if isinstance(model, PopulationModel):
        return model
    name = DEFAULT_MODEL if model is None else model
    known = {"v1": V1, "v2": V2}
    if name not in known:
        raise PlanError("model", name, f"one of {', '.join(MODEL_NAMES)}")
    return known[name]
