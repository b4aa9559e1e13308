"""Latent patient classes: who responds to ketamine, and for how long (issue 11, item 1).

Three named classes replace the very wide log-normal spreads (and their clipping) of the first population model:

* ``non_responder``: the drug triggers little (synapse formation and the rapid relief scaled down by
  ``sensitivity_nonresponder``); placebo, life events and other treatments act as in everyone;
* ``transient``: a full response that fades within weeks of the last dose (the homeostatic return of mature
  synapses to the set point takes ``tau_hom_transient`` days);
* ``durable``: a full response that lasts for months (``tau_hom_transient x durable_ratio`` days).

The class of a patient is drawn from probabilities that may depend on the patient's age:

    P(non_responder | age) = expit(logit(share_nonresponder) + age_effect (age - 45) / 10)
    P(durable | age)       = (1 - P(non_responder | age)) durable_share
    P(transient | age)     = (1 - P(non_responder | age)) (1 - durable_share)

and applied to the typical response parameters (non-responders: ``k_form`` and ``kappa_G`` times
``sensitivity_nonresponder``; responders: ``k_form`` times ``formation_responder``; every class:
``k_hom = 1 / (24 tau_hom_class)``) before the moderate within-class variability (log-normal, SD(log)
``omega_within``; ``ketasim.population.model``). Published growth-mixture analyses of antidepressant trials (a
non-responding and one or more responding trajectories) motivate the structure; the shares, sensitivities and
times are declared values (status ``assumed``) until they are fitted to the evidence base alone
(``ketasim calibrate``; not yet done for v2). The class is part of every virtual patient's
output (``VirtualPatients.klass``; the ``class`` column of population outcomes and trial results).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy.special import expit, logit

from ketasim.parameters import HOURS_PER_DAY, IDX, DeclaredValues, Parameter

CLASS_NAMES: tuple[str, ...] = ("non_responder", "transient", "durable")
NONRESPONDER, TRANSIENT, DURABLE = range(3)
CLASS_LABELS: dict[str, str] = {
    "non_responder": "non-responder: ketamine changes little",
    "transient": "transient responder: the benefit fades within weeks of the last dose",
    "durable": "durable responder: the benefit lasts for months",
}
REFERENCE_AGE = 45.0  # years: the class shares are those of a 45-year-old (median age of the covariate model)

_SRC = ("assumed: growth-mixture analyses of antidepressant trials find a non-responding and one or more "
        "responding trajectories (motivation of the structure only); a declared value, to be fitted to the evidence "
        "base alone (ketasim calibrate)")

#: The class model's numbers (declared values; the shipped calibration replaces them).
CLASS_PARAMETERS: tuple[Parameter, ...] = (
    Parameter("share_nonresponder", 0.35, "1", _SRC, "assumed",
              "share of non-responders among 45-year-old patients", "classes", (0.02, 0.8)),
    Parameter("durable_share", 0.4, "1", _SRC, "assumed",
              "share of durable responders among the responders", "classes", (0.02, 0.98)),
    Parameter("age_effect", 0.0, "log-odds per 10 years", f"{_SRC}; older patients respond less (TRANSFORM-3, "
              "patients of 65 and over: Ochs-Ross 2020)", "assumed",
              "change of the log-odds of being a non-responder per 10 years of age above 45", "classes",
              (-1.5, 1.5)),
    Parameter("sensitivity_nonresponder", 0.1, "1", _SRC, "assumed",
              "factor on synapse formation and rapid relief in non-responders", "classes", (0.01, 0.6)),
    Parameter("formation_responder", 4.0, "1", "assumed: responders form synapses as readily as the upper fifth of "
              "the first population model's log-normal (its SD(log) 1.72 on k_form puts the 80th percentile at 4.2 "
              "times the median); to be fitted to the evidence base", "assumed",
              "factor on synapse formation in responders (transient and durable)", "classes", (0.5, 20.0)),
    Parameter("tau_hom_transient", 14.0, "days", f"{_SRC}; Murrough 2013b: median 18 days from the last of six "
              "infusions to relapse", "assumed",
              "homeostatic return time of mature synapses in transient responders", "classes", (2.0, 120.0)),
    Parameter("durable_ratio", 8.0, "1", _SRC, "assumed",
              "homeostatic return time of durable responders over that of transient responders", "classes",
              (1.5, 100.0)),
)
_CLASS_DEFAULT = {p.name: p.value for p in CLASS_PARAMETERS}


@dataclass(frozen=True)
class ClassModel(DeclaredValues):
    """The three classes' probabilities and how they change the typical response parameters (module docstring)."""

    PARAMETERS: ClassVar[tuple[Parameter, ...]] = CLASS_PARAMETERS
    PREFIX: ClassVar[str] = "classes"

    share_nonresponder: float = _CLASS_DEFAULT["share_nonresponder"]
    durable_share: float = _CLASS_DEFAULT["durable_share"]
    age_effect: float = _CLASS_DEFAULT["age_effect"]
    sensitivity_nonresponder: float = _CLASS_DEFAULT["sensitivity_nonresponder"]
    formation_responder: float = _CLASS_DEFAULT["formation_responder"]
    tau_hom_transient: float = _CLASS_DEFAULT["tau_hom_transient"]
    durable_ratio: float = _CLASS_DEFAULT["durable_ratio"]

    @property
    def tau_hom_durable(self) -> float:
        """Homeostatic return time of durable responders (days)."""
        return self.tau_hom_transient * self.durable_ratio

    def probabilities(self, age: np.ndarray | float) -> np.ndarray:
        """Class probabilities (n x 3, order of :data:`CLASS_NAMES`) at ``age`` (years; NaN: the reference age)."""
        a = np.atleast_1d(np.asarray(age, dtype=float))
        a = np.where(np.isfinite(a), a, REFERENCE_AGE)
        p_nr = expit(logit(self.share_nonresponder) + self.age_effect * (a - REFERENCE_AGE) / 10.0)
        return np.column_stack([p_nr, (1 - p_nr) * (1 - self.durable_share), (1 - p_nr) * self.durable_share])

    def shares(self) -> dict[str, float]:
        """Class shares at the reference age."""
        return dict(zip(CLASS_NAMES, self.probabilities(REFERENCE_AGE)[0].tolist(), strict=True))

    def assign(self, uniform: np.ndarray, age: np.ndarray | float) -> np.ndarray:
        """Class index of each patient from a uniform draw in (0, 1) (inverse CDF over :data:`CLASS_NAMES`)."""
        u = np.asarray(uniform, dtype=float)
        cum = np.cumsum(self.probabilities(np.broadcast_to(age, u.shape)), axis=1)
        return np.minimum(np.sum(u[:, None] >= cum[:, :-1], axis=1), len(CLASS_NAMES) - 1).astype(np.int64)

    def factors(self, typical: np.ndarray) -> dict[str, np.ndarray]:
        """Per class (order of :data:`CLASS_NAMES`), the factors on ``k_form``, ``kappa_G`` and ``k_hom`` relative
        to the typical vector ``typical``."""
        k_hom_typ = typical[IDX["k_hom"]]
        k_hom = np.array([self.tau_hom_transient, self.tau_hom_transient, self.tau_hom_durable])
        k_hom = 1.0 / (HOURS_PER_DAY * k_hom)
        form = np.array([self.sensitivity_nonresponder, self.formation_responder, self.formation_responder])
        relief = np.array([self.sensitivity_nonresponder, 1.0, 1.0])
        return {"k_form": form, "kappa_G": relief, "k_hom": k_hom / k_hom_typ}

    def apply(self, params: np.ndarray, klass: np.ndarray, typical: np.ndarray) -> np.ndarray:
        """``params`` (n x p, drawn around ``typical``) moved to each patient's class (a copy)."""
        out = np.array(params, dtype=float, copy=True)
        for name, f in self.factors(typical).items():
            out[:, IDX[name]] *= f[klass]
        return out


def class_names(klass: np.ndarray) -> np.ndarray:
    """Class names for class indices (``""`` for -1: a population without classes)."""
    k = np.asarray(klass, dtype=np.int64)
    names = np.array([*CLASS_NAMES, ""], dtype=object)
    return names[np.where(k < 0, len(CLASS_NAMES), k)]
