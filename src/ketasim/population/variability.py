"""Inter-individual variability of the virtual patients: what varies, how much, and why.

Each source of variability is a :class:`RandomEffect`: a target (a response parameter, a PK
factor, the baseline severity or a load), a distribution and its spread as a
:class:`~ketasim.parameters.Parameter` (value, unit, source, status). With a standard-normal
coordinate ``z`` per effect, correlated through :data:`CORRELATIONS` (Cholesky factor of the
correlation matrix),

    log-normal:  theta_i = theta_typ * exp(omega z_i)        (omega = SD of log theta)
    normal:      theta_i = theta_typ + sd z_i                (clipped to the effect's bounds)

PK omegas are those of the plan's PK model (``PKModel.iiv_omega2``: omega = sqrt(omega^2)); a
model without an omega for a factor leaves that factor at 1. The response-model omegas are not
published anywhere (the model's states are latent): they are *assumed* values chosen so that
the population spread of responses is that of the clinical targets, to be refined by
calibration (``ketasim calibrate``).

Covariates (:data:`COVARIATES`): sex, age and body weight, distributed as in the pooled
esketamine population of Perez-Ruixo 2021 (median age 45 years, range 18-86; median weight
74 kg, range 39-170; 58.4% women). Their published effect in ketasim's PK models is weight,
through allometry (volumes ^1, clearances ^0.75; Kamp 2020, Otto 2021, Perez-Ruixo 2021 via
``build_system``); Kamp 2020 found no other covariate, so sex and age are recorded but change
nothing in the model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ketasim.errors import PlanError
from ketasim.exposure.models import get_model
from ketasim.parameters import IDX, Parameter

Distribution = Literal["lognormal", "normal"]
DEFAULT_PK_MODEL = "kamp2020"

#: Targets that are not response parameters.
PK_TARGETS = ("pk_cl", "pk_v", "pk_ka")
PATIENT_TARGETS = ("baseline_madrs", "chronic_load", "acute_load_scale")


@dataclass(frozen=True)
class RandomEffect:
    """One source of inter-individual variability.

    ``target`` is a response parameter name (see ``ketasim.parameters``), one of
    :data:`PK_TARGETS` or one of :data:`PATIENT_TARGETS`; ``label`` says what it means for a
    patient; ``spread`` is omega (log-normal) or the SD (normal) with its unit, source and status;
    ``bounds`` clip the sampled values.
    """

    target: str
    label: str
    distribution: Distribution
    spread: Parameter
    bounds: tuple[float, float] = (0.0, math.inf)

    def __post_init__(self) -> None:
        if self.target not in IDX and self.target not in PK_TARGETS + PATIENT_TARGETS:
            raise PlanError("variability.target", self.target,
                            f"a response parameter ({', '.join(IDX)}) or one of "
                            f"{', '.join(PK_TARGETS + PATIENT_TARGETS)}")
        if self.distribution not in ("lognormal", "normal"):
            raise PlanError(f"variability[{self.target}].distribution", self.distribution, "lognormal or normal")
        if not self.spread.value >= 0:
            raise PlanError(f"variability[{self.target}].spread", self.spread.value, "a spread >= 0")

    def apply(self, typical: np.ndarray | float, z: np.ndarray) -> np.ndarray:
        """Values for standard-normal coordinates ``z`` around ``typical``."""
        if self.distribution == "lognormal":
            v = np.asarray(typical) * np.exp(self.spread.value * z)
        else:
            v = np.asarray(typical) + self.spread.value * z
        return np.clip(v, self.bounds[0], self.bounds[1])


def _omega(name: str, value: float, source: str, status: str, description: str) -> Parameter:
    return Parameter(f"omega_{name}", value, "1 (SD of log)", source, status, description,  # type: ignore[arg-type]
                     "population", (0.0, 2.0))


_RESPONSE_SOURCE = ("assumed: the model's states are latent, no published between-patient spread; chosen so that "
                    "single-infusion response rates spread like the clinical targets (Zarate 2006, Murrough 2013)")

#: Response-model variability (the issue's list: sensitivity, pruning, maturation, homeostasis,
#: baseline severity, chronic vs acute load, therapy responsiveness, tolerance).
RESPONSE_EFFECTS: tuple[RandomEffect, ...] = (
    RandomEffect("k_form", "sensitivity: synapse formation per unit trigger signal", "lognormal",
                 _omega("k_form", 0.35, _RESPONSE_SOURCE, "assumed", "between-patient spread of k_form")),
    RandomEffect("kappa_G", "sensitivity: rapid relief per unit trigger signal", "lognormal",
                 _omega("kappa_G", 0.30, _RESPONSE_SOURCE, "assumed", "between-patient spread of kappa_G")),
    RandomEffect("k_prune", "pruning of new synapses", "lognormal",
                 _omega("k_prune", 0.35, _RESPONSE_SOURCE, "assumed", "between-patient spread of k_prune")),
    RandomEffect("k_mat", "maturation of new synapses", "lognormal",
                 _omega("k_mat", 0.35, _RESPONSE_SOURCE, "assumed", "between-patient spread of k_mat")),
    RandomEffect("k_hom", "homeostatic return to the set point", "lognormal",
                 _omega("k_hom", 0.35, _RESPONSE_SOURCE, "assumed", "between-patient spread of k_hom")),
    RandomEffect("beta", "sensitivity of the set point to load", "lognormal",
                 _omega("beta", 0.35, _RESPONSE_SOURCE, "assumed", "between-patient spread of beta")),
    RandomEffect("k_T_on", "tolerance build-up", "lognormal",
                 _omega("k_T_on", 0.50, _RESPONSE_SOURCE, "assumed", "between-patient spread of k_T_on")),
    RandomEffect("eta", "therapy responsiveness: skill acquisition", "lognormal",
                 _omega("eta", 0.50, _RESPONSE_SOURCE, "assumed", "between-patient spread of eta")),
    RandomEffect("w_therapy", "therapy responsiveness: reinforcement of new synapses", "lognormal",
                 _omega("w_therapy", 0.50, _RESPONSE_SOURCE, "assumed", "between-patient spread of w_therapy")),
    RandomEffect("baseline_madrs", "baseline severity (untreated MADRS)", "normal",
                 Parameter("sd_baseline_madrs", 4.5, "MADRS points",
                           "assumed: SD of baseline MADRS in TRD ketamine trials is about 4-6 points "
                           "(Murrough 2013; Phillips 2019)", "assumed", "between-patient SD of baseline MADRS",
                           "population", (0.0, 15.0)),
                 bounds=(20.0, 50.0)),
    RandomEffect("chronic_load", "chronic load (long-lasting stressors)", "lognormal",
                 _omega("chronic_load", 0.50, "assumed", "assumed", "between-patient spread of the chronic load")),
    RandomEffect("acute_load_scale", "reactivity to acute life events (scales the plan's events)", "lognormal",
                 _omega("acute_load_scale", 0.50, "assumed", "assumed",
                        "between-patient spread of the load added by a life event")),
)

_CORR_SOURCE = "assumed: no data; a plausible shared trait, to be calibrated"
#: Correlations between the standard-normal coordinates (pairs of targets), as Parameters.
CORRELATIONS: dict[tuple[str, str], Parameter] = {
    ("k_form", "kappa_G"): Parameter("rho_k_form_kappa_G", 0.3, "1", _CORR_SOURCE, "assumed",
                                     "patients who form synapses readily also feel the rapid relief",
                                     "population", (-1.0, 1.0)),
    ("eta", "w_therapy"): Parameter("rho_eta_w_therapy", 0.5, "1", _CORR_SOURCE, "assumed",
                                    "one therapy-responsiveness trait drives both effects of therapy",
                                    "population", (-1.0, 1.0)),
    ("pk_cl", "pk_v"): Parameter("rho_cl_v", 0.0, "1", "no correlation reported for Kamp 2020", "assumed",
                                 "correlation of the clearance and volume factors", "population", (-1.0, 1.0)),
}


def pk_effects(model_name: str = DEFAULT_PK_MODEL) -> tuple[RandomEffect, ...]:
    """Log-normal PK factors with the omegas of PK model ``model_name`` (``iiv_omega2``)."""
    model = get_model(model_name)
    out = []
    for target, key, label in (("pk_cl", "CL", "clearances"), ("pk_v", "V", "volumes"),
                               ("pk_ka", "ka", "absorption rates")):
        om2 = model.iiv_omega2.get(key)
        if om2 is None:
            continue
        out.append(RandomEffect(
            target, f"PK factor on all {label}", "lognormal",
            Parameter(f"omega_{target}", float(np.sqrt(om2)), "1 (SD of log)",
                      f"{model.name}: omega^2 {key} = {om2:g} ({model.citation.split('.')[0]})", "literature",
                      f"between-patient spread of {label}", "population", (0.0, 2.0))))
    return tuple(out)


def calibrated_spreads() -> dict[str, tuple[float, str]]:
    """Hook for ``ketasim calibrate``: response spreads fitted to the clinical targets, ``{target: (omega, date)}``.

    Read from the ``variability`` key of the shipped ``ketasim/data/calibrated.json``
    (``{target: {"omega": w, "date": d}}``, written by ``ketasim.trials.calibrate``); only targets of
    :data:`RESPONSE_EFFECTS` are used. Empty when no calibration is shipped.
    """
    from ketasim.parameters import shipped_calibration

    shipped = shipped_calibration().get("variability", {})
    known = {e.target for e in RESPONSE_EFFECTS}
    return {k: (float(v["omega"]), str(v.get("date", ""))) for k, v in shipped.items() if k in known}


def _with_calibrated_spreads(effects: tuple[RandomEffect, ...]) -> tuple[RandomEffect, ...]:
    from dataclasses import replace

    fitted = calibrated_spreads()
    return tuple(replace(e, spread=replace(e.spread, value=fitted[e.target][0], status="calibrated",
                                           source=f"calibrated {fitted[e.target][1]} by ketasim calibrate "
                                                  f"({e.spread.source})"))
                 if e.target in fitted else e for e in effects)


def default_variability(pk_model: str = DEFAULT_PK_MODEL) -> tuple[RandomEffect, ...]:
    """PK effects of ``pk_model`` followed by :data:`RESPONSE_EFFECTS` (with the shipped calibrated spreads)."""
    return (*pk_effects(pk_model), *_with_calibrated_spreads(RESPONSE_EFFECTS))


def with_spreads(effects: tuple[RandomEffect, ...], spreads: dict[str, float]) -> tuple[RandomEffect, ...]:
    """``effects`` with the spreads of the named targets replaced (0 turns an effect off).

    Targets not in ``effects`` are added as log-normal effects (status assumed).
    """
    from dataclasses import replace

    out = list(effects)
    known = {e.target: i for i, e in enumerate(out)}
    for target, value in spreads.items():
        if target in known:
            e = out[known[target]]
            out[known[target]] = replace(e, spread=replace(e.spread, value=float(value), status="assumed",
                                                             source=f"user override ({e.spread.source})"))
        else:
            out.append(RandomEffect(target, f"user-defined variability of {target}", "lognormal",
                                    _omega(target, float(value), "user override", "assumed",
                                           f"between-patient spread of {target}")))
    return tuple(out)


def correlation_matrix(effects: tuple[RandomEffect, ...],
                       correlations: dict[tuple[str, str], Parameter | float] | None = None) -> np.ndarray:
    """Correlation matrix of the effects' coordinates; raises PlanError if not positive definite."""
    corr = CORRELATIONS if correlations is None else correlations
    names = [e.target for e in effects]
    R = np.eye(len(names))
    for (a, b), rho in corr.items():
        if a in names and b in names:
            r = rho.value if isinstance(rho, Parameter) else float(rho)
            i, j = names.index(a), names.index(b)
            R[i, j] = R[j, i] = r
    try:
        np.linalg.cholesky(R)
    except np.linalg.LinAlgError:
        raise PlanError("correlations", {k: (v.value if isinstance(v, Parameter) else v) for k, v in corr.items()},
                        "correlations that form a positive-definite matrix") from None
    return R


# --- covariates ----------------------------------------------------------------------------------

_PR2021 = "Perez-Ruixo 2021 Clin Pharmacokinet 60:501, pooled population (n=820)"
COVARIATES: tuple[Parameter, ...] = (
    Parameter("fraction_female", 0.584, "1", f"{_PR2021}: 58.4% women", "literature",
              "fraction of women among the virtual patients", "population", (0.0, 1.0)),
    Parameter("age_mean", 45.0, "years", f"{_PR2021}: median age 45", "literature",
              "mean age (normal distribution)", "population", (18.0, 90.0)),
    Parameter("age_sd", 12.0, "years", "assumed: range 18-86 in Perez-Ruixo 2021", "assumed",
              "SD of age", "population", (0.0, 30.0)),
    Parameter("age_min", 18.0, "years", _PR2021, "literature", "youngest age", "population", (0.0, 90.0)),
    Parameter("age_max", 86.0, "years", _PR2021, "literature", "oldest age", "population", (18.0, 120.0)),
    Parameter("weight_median_female", 70.0, "kg", f"assumed: women's share of the median 74 kg ({_PR2021})",
              "assumed", "median body weight of women", "population", (40.0, 120.0)),
    Parameter("weight_median_male", 80.0, "kg", f"assumed: men's share of the median 74 kg ({_PR2021})",
              "assumed", "median body weight of men", "population", (40.0, 140.0)),
    Parameter("weight_omega", 0.20, "1 (SD of log)", "assumed: adult body weight CV about 20%", "assumed",
              "spread of body weight", "population", (0.0, 1.0)),
    Parameter("weight_min", 39.0, "kg", _PR2021, "literature", "lightest weight", "population", (20.0, 100.0)),
    Parameter("weight_max", 170.0, "kg", _PR2021, "literature", "heaviest weight", "population", (60.0, 300.0)),
)
COVARIATE: dict[str, float] = {p.name: p.value for p in COVARIATES}


def all_population_parameters(pk_model: str = DEFAULT_PK_MODEL) -> list[Parameter]:
    """Every number of the variability model (spreads, correlations, covariate distributions)."""
    return [e.spread for e in default_variability(pk_model)] + list(CORRELATIONS.values()) + list(COVARIATES)
