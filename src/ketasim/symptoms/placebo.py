"""Placebo and expectancy: the part of a trial patient's improvement that no drug explains (issue 10).

An analytic function of the time since treatment started and of the setting, applied to the model's MADRS
as a relief of a fraction ``P`` of the symptoms above the floor (the same form as the rapid relief of the
trigger, ``symptoms.madrs``):

    MADRS_seen(t) = floor + (MADRS(t) - floor) (1 - P(t))
    P(t) = min(P_MAX, f_setting m_i [p_early exp(-(t - t_last) / tau_early) + p_late (1 - exp(-(t - t_0) / tau_late))])

for ``t >= t_0``, the first treatment session (``P = 0`` before it); ``t_last`` is the last session (a dose,
an infusion, a placebo spray or saline infusion) at or before ``t``. ``p_early`` is the relief within hours of
a session (the visit, the procedure, the expectation; Daly 2018's placebo arm: -9.7 MADRS at 2 h, -5.7 at
24 h), ``p_late`` the sustained expectancy of being in a trial. ``m_i = exp(omega z_i)`` is the patient's
placebo responsiveness (log-normal, ``z_i`` standard normal, seeded with the patient). The setting factor
``f_setting`` is 1 for an inert placebo (saline, placebo spray), ``midazolam_factor`` for an active placebo,
``unblinding_factor`` for patients who know or can tell that they received ketamine (an open-label arm, or a
blinded drug arm unblinded by visible dissociation: the candidate covariate of functional unblinding, at the
arm level), times ``hospital_factor`` when the background is comprehensive standard of care with
hospitalisation (the esketamine trials in suicidal ideation).

Between-study variability of the placebo response is the likelihood's between-study heterogeneity term
(``ketasim.evidence.likelihood``): the simulator gives the population-average study.

Why an analytic function rather than a state: the published placebo arms inform a time course, not a
mechanism, and a closed form is the same for every engine (it is applied to the model MADRS at the visits,
after the engine has integrated the mechanistic states, which it does not change).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import numpy as np

from ketasim.parameters import Parameter, shipped_calibration

P_MAX = 0.9
SETTINGS = ("open", "blinded_drug", "saline", "midazolam", "placebo_spray")

_SRC = ("assumed: placebo arms of the evidence base (Daly 2018, TRANSFORM, Murrough 2013a midazolam); "
        "calibrated when a posterior is shipped")
PLACEBO_PARAMETERS: tuple[Parameter, ...] = (
    Parameter("placebo_early", 0.15, "1 (fraction of symptoms above the floor)", _SRC, "assumed",
              "relief within hours of a treatment session (visit, procedure, expectation)", "placebo", (0.0, 0.6)),
    Parameter("placebo_early_tau", 12.0, "h", "assumed: the early relief fades within a day (Daly 2018: 2 h vs 24 h)",
              "assumed", "decay time of the early relief after a session", "placebo", (2.0, 72.0)),
    Parameter("placebo_late", 0.15, "1 (fraction of symptoms above the floor)", _SRC, "assumed",
              "sustained relief of being treated in a trial (expectancy)", "placebo", (0.0, 0.6)),
    Parameter("placebo_late_tau", 5.0, "days", "assumed: expectancy builds over days (TRANSFORM day 2 vs 28)",
              "assumed", "build-up time of the sustained relief", "placebo", (0.5, 30.0)),
    Parameter("omega_placebo", 0.5, "1 (SD of log)", "assumed: placebo response differs widely between patients",
              "assumed", "between-patient spread of the placebo response", "placebo", (0.05, 1.5)),
    Parameter("midazolam_factor", 1.0, "1", "assumed: an active placebo may raise expectancy (Murrough 2013a)",
              "assumed", "placebo response under midazolam relative to saline or a placebo spray", "placebo",
              (0.3, 3.0)),
    Parameter("unblinding_factor", 1.0, "1",
              "assumed: patients who know or guess (visible dissociation) they received ketamine expect more; "
              "not identifiable from arm-level data (confounded with the drug effect), so fixed at 1 in the fit "
              "(ketasim.evidence.space.FIXED_PLACEBO)", "assumed",
              "placebo response of open-label and (functionally unblinded) drug arms relative to an inert placebo",
              "placebo", (0.5, 3.0)),
    Parameter("hospital_factor", 1.0, "1",
              "assumed: hospitalisation and comprehensive care add to expectancy (Canuso 2018, ASPIRE I/II)",
              "assumed", "placebo response under comprehensive standard of care with hospitalisation", "placebo",
              (0.5, 3.0)),
)


@dataclass(frozen=True)
class PlaceboModel:
    """The placebo time course's values (names as :data:`PLACEBO_PARAMETERS`)."""

    placebo_early: float = PLACEBO_PARAMETERS[0].value
    placebo_early_tau: float = PLACEBO_PARAMETERS[1].value
    placebo_late: float = PLACEBO_PARAMETERS[2].value
    placebo_late_tau: float = PLACEBO_PARAMETERS[3].value
    omega_placebo: float = PLACEBO_PARAMETERS[4].value
    midazolam_factor: float = PLACEBO_PARAMETERS[5].value
    unblinding_factor: float = PLACEBO_PARAMETERS[6].value
    hospital_factor: float = PLACEBO_PARAMETERS[7].value

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not (math.isfinite(v) and v >= 0):
                raise ValueError(f"placebo model: {f.name} must be a finite number >= 0, got {v}")
        if self.placebo_early_tau <= 0 or self.placebo_late_tau <= 0:
            raise ValueError("placebo model: time constants must be > 0")

    @classmethod
    def shipped(cls) -> PlaceboModel:
        """The placebo model in force: declared values with the shipped calibration's ``placebo`` section."""
        values = shipped_calibration().get("placebo", {})
        names = {f.name for f in fields(cls)}
        return replace(cls(), **{k: float(v["value"]) for k, v in values.items() if k in names})

    @classmethod
    def none(cls) -> PlaceboModel:
        """No placebo response at all (the model before issue 10)."""
        return cls(placebo_early=0.0, placebo_late=0.0)

    def with_values(self, values: dict[str, float]) -> PlaceboModel:
        return replace(self, **{k: float(v) for k, v in values.items()})

    def setting_factor(self, setting: str, hospital: bool = False) -> float:
        """``f_setting`` of the module docstring."""
        if setting not in SETTINGS:
            raise ValueError(f"placebo setting {setting!r}: allowed {', '.join(SETTINGS)}")
        f = {"open": self.unblinding_factor, "blinded_drug": self.unblinding_factor,
             "midazolam": self.midazolam_factor}.get(setting, 1.0)
        return f * (self.hospital_factor if hospital else 1.0)


def placebo_fraction(visit_days: np.ndarray, session_days: np.ndarray, model: PlaceboModel,
                     setting: str | list[str], multiplier: np.ndarray, *, hospital: bool = False) -> np.ndarray:
    """``P`` (patients x visits) at ``visit_days`` (plan days) for sessions on ``session_days`` (plan days of
    the session starts) and each patient's ``multiplier`` ``m_i``; ``setting`` is one setting or one per
    visit."""
    t = np.asarray(visit_days, dtype=float)
    s = np.sort(np.asarray(session_days, dtype=float))
    m = np.asarray(multiplier, dtype=float)
    out = np.zeros((m.size, t.size))
    if s.size == 0:
        return out
    k = np.searchsorted(s, t, side="right") - 1  # last session at or before each visit
    started = k >= 0
    since_last_h = np.where(started, (t - s[np.maximum(k, 0)]) * 24.0, 0.0)
    since_first_d = np.maximum(t - s[0], 0.0)
    course = np.where(started, model.placebo_early * np.exp(-since_last_h / model.placebo_early_tau)
                      + model.placebo_late * (1.0 - np.exp(-since_first_d / model.placebo_late_tau)), 0.0)
    settings = [setting] * t.size if isinstance(setting, str) else list(setting)
    f = np.array([model.setting_factor(s, hospital) for s in settings])
    return np.minimum(P_MAX, m[:, None] * (f * course)[None, :])


def apply_placebo(madrs: np.ndarray, fraction: np.ndarray, floor: np.ndarray | float) -> np.ndarray:
    """``floor + (MADRS - floor) (1 - P)``, never below the floor (patients x visits)."""
    fl = np.asarray(floor, dtype=float)
    if fl.ndim == 1:
        fl = fl[:, None]
    above = np.maximum(np.asarray(madrs, dtype=float) - fl, 0.0)
    return np.minimum(madrs, fl + above * (1.0 - fraction))


def placebo_multiplier(z: np.ndarray, model: PlaceboModel) -> np.ndarray:
    """``m_i = exp(omega z_i)`` (median 1)."""
    return np.exp(model.omega_placebo * np.asarray(z, dtype=float))
