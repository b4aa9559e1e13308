"""Model parameters: every number with its value, unit, source and status.

A :class:`Parameter` is declared once, here or beside the pharmacokinetic model it
belongs to (``ketasim.exposure.models``); :func:`all_parameters` gathers them for
``ketasim params`` and the docs. The response model reads its parameters from a
flat ``float64`` vector whose order is the order of :data:`RESPONSE_PARAMETERS`;
the index of each name is in :data:`IDX` and is never written by hand elsewhere.

Internal time unit: hours. Status is one of ``literature`` (value from a paper),
``calibrated`` (fitted to the clinical targets by ``ketasim calibrate``),
``assumed`` (a modelling choice, to be calibrated or replaced) or ``hypothesis`` (a value no data of the
evidence base inform, checked: fixed, and every output that depends on it depends on a hypothesis).
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, replace
from importlib import resources
from typing import ClassVar, Literal, Self

import numpy as np

from ketasim.errors import PlanError

STATUSES = ("literature", "calibrated", "assumed", "hypothesis")
Status = Literal["literature", "calibrated", "assumed", "hypothesis"]

HOURS_PER_DAY = 24.0


@dataclass(frozen=True)
class Parameter:
    """One named model constant.

    ``bounds`` are the plausible range used by calibration, sensitivity analysis
    and validation of user overrides; ``layer`` names the model layer it belongs to.
    """

    name: str
    value: float
    unit: str
    source: str
    status: Status
    description: str
    layer: str
    bounds: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"parameter {self.name!r}: status {self.status!r} is not one of {', '.join(STATUSES)}")
        if self.bounds is not None and not (self.bounds[0] <= self.value <= self.bounds[1]):
            raise ValueError(f"parameter {self.name!r}: value {self.value} outside bounds {self.bounds}")


def _days(d: float) -> float:
    """Rate constant (1/h) of a process with time constant ``d`` days."""
    return 1.0 / (d * HOURS_PER_DAY)


# The response model (MODEL.md sections 2-7). Order matters: it is the layout of the
# parameter vector that the compiled right-hand side reads.
#: Source note of the tolerance, lifestyle and ECT/TMS parameters (status ``hypothesis``).
_NOT_FITTED = ("a hypothesis: not among the fitted parameters (ketasim.evidence.space), no study of the evidence "
               "base informs it; fixed at this value")

RESPONSE_PARAMETERS: tuple[Parameter, ...] = (
    # --- receptor -----------------------------------------------------------------------
    Parameter("fu", 0.60, "1", "Zanos 2018 Pharmacol Rev 70:621 (up to 47% protein bound)", "literature",
              "unbound fraction of ketamine and norketamine in plasma", "receptor", (0.45, 0.8)),
    Parameter("ki_s_ketamine", 0.30, "uM", "Ebert 1997 Eur J Pharmacol 333:99", "literature",
              "NMDA channel-site Ki of S-ketamine", "receptor", (0.1, 1.0)),
    Parameter("ki_r_ketamine", 1.40, "uM", "Ebert 1997 Eur J Pharmacol 333:99", "literature",
              "NMDA channel-site Ki of R-ketamine", "receptor", (0.5, 4.0)),
    Parameter("ki_s_norketamine", 1.70, "uM", "Ebert 1997 Eur J Pharmacol 333:99", "literature",
              "NMDA channel-site Ki of S-norketamine", "receptor", (0.5, 5.0)),
    Parameter("ki_r_norketamine", 13.0, "uM", "Ebert 1997 Eur J Pharmacol 333:99", "literature",
              "NMDA channel-site Ki of R-norketamine", "receptor", (4.0, 40.0)),
    Parameter("ke0", float(np.log(2.0) / (6.1 / 60.0)), "1/h",
              "Simons 2022 (effect-site equilibration half-life 6.1 min)", "literature",
              "plasma to effect-site equilibration rate", "receptor", (2.0, 20.0)),
    # --- trigger and tolerance (section 3) ---------------------------------------------
    Parameter("k_G", 0.40, "1/h", "Autry 2011 Nature 475:91; Li 2010 Science 329:959 (signal over hours)",
              "assumed", "rise and decay rate of the BDNF/mTORC1 trigger signal G", "trigger", (0.05, 2.0)),
    Parameter("k_T_on", 0.020, "1/h per unit occupancy",
              "assumed: weekly dosing gives little, daily dosing a lot (Phillips 2019; Cavalcanti 2024); "
              + _NOT_FITTED,
              "hypothesis", "build-up rate of antidepressant tolerance T", "trigger", (0.0, 0.2)),
    Parameter("k_T_off", _days(14.0), "1/h", "assumed: tolerance recovers over weeks; " + _NOT_FITTED, "hypothesis",
              "recovery rate of tolerance T", "trigger", (_days(90.0), _days(2.0))),
    Parameter("k_D_on", 0.25, "1/h per unit occupancy", "assumed: tolerance to dissociation (Singh 2016)",
              "assumed", "build-up rate of tolerance to the dissociative effect", "trigger", (0.0, 2.0)),
    Parameter("k_D_off", _days(10.0), "1/h", "assumed", "assumed",
              "recovery rate of tolerance to the dissociative effect", "trigger", (_days(60.0), _days(1.0))),
    # --- synapses (section 4) ------------------------------------------------------------
    Parameter("k_form", 0.45, "1/h per unit G",
              "assumed: spines up at 12-24 h (Moda-Sava 2019 Science 364:eaat8078)", "assumed",
              "formation rate of labile synapses per unit trigger and free capacity", "synapses", (0.02, 2.0)),
    Parameter("k_prune", _days(6.0), "1/h",
              "assumed: most new spines transient, some persist ~2 weeks (Phoumthipphavong 2016)",
              "assumed", "pruning rate of labile synapses (reason 1)", "synapses", (_days(60.0), _days(1.0))),
    Parameter("k_mat", _days(60.0), "1/h", "assumed", "assumed",
              "maturation rate of labile into mature synapses", "synapses", (_days(120.0), _days(1.0))),
    Parameter("rho_p", 0.6, "1", "assumed", "assumed",
              "fraction of pruning prevented by full reinforcement", "synapses", (0.0, 0.95)),
    Parameter("rho_m", 2.0, "1", "assumed", "assumed",
              "relative increase of maturation under full reinforcement", "synapses", (0.0, 10.0)),
    Parameter("mu_G", 600.0, "1 per unit G", "assumed: re-activation consolidates new synapses", "assumed",
              "increase of maturation per unit trigger signal (consolidation by later doses)", "synapses",
              (0.0, 1000.0)),
    Parameter("k_hom", _days(45.0), "1/h", "assumed: homeostatic return over weeks (Wierenga 2005 for days)",
              "assumed", "return rate of mature synapses to the set point (reason 4)", "synapses",
              (_days(180.0), _days(2.0))),
    # --- load and set point (section 5) --------------------------------------------------
    Parameter("beta", 0.40, "1 per unit load", "assumed", "assumed",
              "lowering of the synaptic set point per unit of effective load (reason 2)", "load", (0.0, 1.0)),
    Parameter("gamma_lifestyle", 0.08, "1 per unit lifestyle", "assumed (Duncan 2013 sleep SWA); " + _NOT_FITTED,
              "hypothesis",
              "raise of the set point by a full healthy-lifestyle level", "load", (0.0, 0.3)),
    Parameter("eta", 0.0008, "1/h per unit session trace", "assumed (Wilkinson 2021 CBT d=0.71)", "assumed",
              "acquisition rate of coping skills from psychotherapy", "load", (0.0, 0.01)),
    Parameter("xi", 3.0, "1 per unit labile synapses", "assumed", "assumed",
              "boost of skill acquisition inside the ketamine window", "load", (0.0, 10.0)),
    Parameter("k_C", _days(180.0), "1/h", "assumed", "assumed",
              "fading rate of coping skills", "load", (_days(1000.0), _days(14.0))),
    # --- reinforcement and other treatments (section 6) ---------------------------------
    Parameter("tau_session", 72.0, "h", "assumed", "assumed",
              "decay time of the trace of one psychotherapy session", "reinforcement", (12.0, 336.0)),
    Parameter("w_therapy", 0.8, "1 per unit session trace", "assumed", "assumed",
              "reinforcement of new synapses by psychotherapy", "reinforcement", (0.0, 5.0)),
    Parameter("w_lifestyle", 0.5, "1 per unit lifestyle", "assumed; " + _NOT_FITTED, "hypothesis",
              "reinforcement of new synapses by a healthy lifestyle", "reinforcement", (0.0, 5.0)),
    Parameter("a_antidepressant", 0.06, "1", "assumed (modest effect in TRD)", "assumed",
              "raise of the set point by a full oral antidepressant effect", "other", (0.0, 0.3)),
    Parameter("k_antidepressant", _days(14.0), "1/h", "assumed: onset over weeks", "assumed",
              "onset and offset rate of the oral antidepressant effect", "other", (_days(60.0), _days(3.0))),
    Parameter("tau_neurostim", 48.0, "h", "assumed; " + _NOT_FITTED, "hypothesis",
              "decay time of the plasticity drive of one ECT/TMS session", "other", (6.0, 336.0)),
    Parameter("g_ect", 0.25, "unit G per session", "assumed; " + _NOT_FITTED, "hypothesis",
              "plasticity drive of one ECT session, in units of the trigger signal", "other", (0.0, 2.0)),
    Parameter("g_tms", 0.05, "unit G per session", "assumed; " + _NOT_FITTED, "hypothesis",
              "plasticity drive of one TMS session, in units of the trigger signal", "other", (0.0, 1.0)),
    # --- symptoms (section 7) ------------------------------------------------------------
    Parameter("madrs_floor", 4.0, "MADRS points", "assumed: residual symptoms at full connectivity", "assumed",
              "MADRS at full synaptic connectivity", "symptoms", (0.0, 10.0)),
    Parameter("kappa", 60.0, "MADRS points per unit deficit", "assumed", "assumed",
              "MADRS points per unit of synaptic deficit 1 - N - M", "symptoms", (20.0, 120.0)),
    Parameter("kappa_G", 4.0, "1 per unit G", "assumed: rapid effect before spines (Moda-Sava 2019)",
              "assumed", "rapid relief: symptoms are scaled by exp(-kappa_G G)", "symptoms", (0.0, 20.0)),
    Parameter("cadss_gain", 45.0, "CADSS points per unit occupancy", "assumed (dissociation band 100-250 ng/mL)",
              "assumed", "dissociative symptoms per unit effect-site occupancy", "symptoms", (0.0, 92.0)),
)

IDX: dict[str, int] = {p.name: i for i, p in enumerate(RESPONSE_PARAMETERS)}
N_RESPONSE_PARAMETERS = len(RESPONSE_PARAMETERS)

CALIBRATED_FILE = "calibrated.json"


@functools.cache
def _shipped_text() -> str:
    try:
        return resources.files("ketasim").joinpath("data", CALIBRATED_FILE).read_text()
    except (FileNotFoundError, ModuleNotFoundError):
        return "{}"


def shipped_calibration() -> dict:
    """The shipped calibration record ``ketasim/data/calibrated.json`` (``{}`` if none is shipped).

    The one reader of that file: the response parameters, spreads, measurement model and trial population in
    force all come from here. The file is read once per process; each call returns a fresh copy.
    """
    return json.loads(_shipped_text())


def _load_calibrated() -> dict[str, dict]:
    """Calibrated response parameters of the shipped record (empty if none shipped yet)."""
    return shipped_calibration().get("parameters", {})


def response_parameters() -> tuple[Parameter, ...]:
    """The response parameters in force: defaults with the shipped calibration applied."""
    calibrated = _load_calibrated()
    out = []
    for p in RESPONSE_PARAMETERS:
        c = calibrated.get(p.name)
        if c is not None:
            p = replace(p, value=float(c["value"]), status="calibrated",
                        source=f"calibrated {c.get('date', '')} ({p.source})".strip())
        out.append(p)
    return tuple(out)


def default_vector() -> np.ndarray:
    """The response parameter vector (float64) in the order of :data:`RESPONSE_PARAMETERS`."""
    return np.array([p.value for p in response_parameters()], dtype=np.float64)


def vector_with(overrides: dict[str, float] | None = None, base: np.ndarray | None = None) -> np.ndarray:
    """Copy of ``base`` (default: :func:`default_vector`) with named values replaced.

    Raises :class:`KeyError` naming the unknown parameter and the known ones.
    """
    vec = default_vector() if base is None else np.array(base, dtype=np.float64)
    for name, value in (overrides or {}).items():
        if name not in IDX:
            raise KeyError(f"unknown response parameter {name!r}; known: {', '.join(IDX)}")
        vec[IDX[name]] = float(value)
    return vec


def parse_overrides(items: list[str] | None, *, option: str = "--param") -> dict[str, float]:
    """``["k_prune=0.002", ...]`` -> ``{"k_prune": 0.002}``, checked against the names and bounds.

    Every mistake is a :class:`~ketasim.errors.PlanError` naming ``option``, the parameter and what is allowed.
    """
    known = {p.name: p for p in response_parameters()}
    out: dict[str, float] = {}
    for item in items or []:
        name, sep, text = item.partition("=")
        name, text = name.strip(), text.strip()
        if not sep or not name:
            raise PlanError(option, item, f"name=value, e.g. {option} k_prune=0.002")
        if name not in IDX:
            raise PlanError(f"{option} name", name, f"one of the response parameters: {', '.join(IDX)}")
        try:
            value = float(text)
        except ValueError:
            raise PlanError(f"{option} {name}", text, f"a number ({known[name].unit})") from None
        bounds = known[name].bounds
        if not math.isfinite(value) or (bounds is not None and not bounds[0] <= value <= bounds[1]):
            allowed = (f"{bounds[0]:.4g} to {bounds[1]:.4g} {known[name].unit} (the parameter's bounds)"
                       if bounds is not None else f"a finite number ({known[name].unit})")
            raise PlanError(f"{option} {name}", value, allowed)
        out[name] = value
    return out


class DeclaredValues:
    """Base of a frozen dataclass whose fields are the values of the parameters ``PARAMETERS`` (same names): each
    is checked against its parameter's bounds (``PlanError`` naming ``PREFIX.name``)."""

    PARAMETERS: ClassVar[tuple[Parameter, ...]] = ()
    PREFIX: ClassVar[str] = ""

    def __post_init__(self) -> None:
        for p in self.PARAMETERS:
            v = float(getattr(self, p.name))
            lo, hi = p.bounds if p.bounds is not None else (-math.inf, math.inf)
            if not math.isfinite(v) or not lo <= v <= hi:
                raise PlanError(f"{self.PREFIX}.{p.name}", v, f"{lo:g} to {hi:g} {p.unit} ({p.description})")

    def with_values(self, values: dict[str, float]) -> Self:
        """A copy with the named values replaced (checked)."""
        return replace(self, **{k: float(v) for k, v in values.items()})  # type: ignore[type-var]

    def parameters(self) -> tuple[Parameter, ...]:
        """The parameters with the values in force."""
        return tuple(replace(p, value=float(getattr(self, p.name))) for p in self.PARAMETERS)


def all_parameters() -> list[Parameter]:
    """Every parameter: dose limits, pharmacokinetic models, the response model, rating-scale noise."""
    from ketasim.dosing.limits import limit_parameters
    from ketasim.exposure.models import all_pk_parameters
    from ketasim.symptoms.scales import SCALE_PARAMETERS

    return [*limit_parameters(), *all_pk_parameters(), *response_parameters(), *SCALE_PARAMETERS]
