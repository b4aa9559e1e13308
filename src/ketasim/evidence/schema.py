"""The schema of an evidence file (``ketasim/data/evidence/*.yaml``): one published study, arm by arm.

Every number carries a tag (``V`` read in the source named, ``S`` second-hand, ``D`` derived from V numbers
by the stated method, ``U`` not verified) and the source it was read in. :attr:`Observation.use` applies the
rules of what enters the likelihood:

* the scale is one the model has (MADRS, HDRS-17/21, QIDS-SR16, PHQ-9);
* there is a value with a denominator (``n`` or ``count``/``n``) or an uncertainty (``sd`` with ``n``, ``se``
  or ``ci``) for the kind;
* the tag is V or D (fitted) or S (fitted with its variance doubled, flagged); U is recorded, never fitted;
* the study is simulated (``simulated_by`` is not ``none``) and the file does not set ``fit: false`` (with
  ``why``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Tag = Literal["V", "S", "D", "U"]
MODEL_SCALES = ("madrs", "hdrs17", "hdrs21", "qids_sr16", "phq9")
ObservationKind = Literal[
    "mean_change", "response", "remission", "response_any", "sustained_response", "infusions_to_response",
    "relapse_events", "relapse_median", "relapse_mean_days", "relapse_km", "hazard_ratio", "mean_change_contrast",
]
Setting = Literal["open", "blinded_drug", "saline", "midazolam", "placebo_spray"]
Background = Literal["none", "current_antidepressant", "new_antidepressant", "standard_of_care"]
#: Kinds read as a proportion (binomial likelihood with the published n).
COUNT_KINDS = ("response", "remission", "response_any", "sustained_response", "relapse_events", "relapse_km")
#: Kinds on a log scale (log-normal with the SE of the published interval).
LOG_KINDS = ("relapse_median", "relapse_mean_days", "hazard_ratio", "infusions_to_response")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Baseline(_Strict):
    """Published baseline of an arm (observed rating, the study's scale unless ``scale`` says)."""

    mean: float
    sd: float | None = Field(default=None, gt=0)
    scale: str | None = None
    tag: Tag
    source: str


class Observation(_Strict):
    """One published summary of an arm (or, in ``contrasts``, a difference between two arms)."""

    id: str
    kind: ObservationKind
    visit: str | None = None
    visits: tuple[str, ...] = ()
    value: float | None = None
    sd: float | None = Field(default=None, gt=0)
    se: float | None = Field(default=None, gt=0)
    ci: tuple[float | None, float | None] | None = None
    ci_tag: Tag | None = None
    n: int | None = Field(default=None, gt=0)
    count: float | None = Field(default=None, ge=0)
    threshold: float | None = None
    by_day: float | None = None
    unit: Literal["days", "weeks"] = "days"
    scale: str | None = None
    arm: str | None = None
    reference: str | None = None
    tag: Tag
    source: str
    derivation: str = ""
    definition: str = ""
    target: str | None = None
    fit: bool = True
    why: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> Observation:
        if self.count is not None and self.n is not None and self.count > self.n:
            raise ValueError(f"count {self.count} is larger than n {self.n}")
        if self.value is None and self.count is None:
            raise ValueError("an observation needs a value or a count")
        if not self.fit and not self.why:
            raise ValueError("fit: false needs 'why'")
        if self.kind == "mean_change_contrast" and (self.arm is None or self.reference is None):
            raise ValueError("a contrast names its 'arm' and its 'reference' arm")
        return self

    @property
    def proportion(self) -> float | None:
        """The published proportion (0-1) of a count kind: ``count / n`` or ``value`` / 100."""
        if self.count is not None and self.n:
            return self.count / self.n
        return None if self.value is None else self.value / 100.0

    @property
    def n_events(self) -> float | None:
        """Published events of a count kind (``count``, else ``value`` % x ``n``, not rounded)."""
        if self.count is not None:
            return float(self.count)
        if self.value is not None and self.n:
            return self.value / 100.0 * self.n
        return None

    def standard_error(self) -> float | None:
        """SE of a mean (``se``, ``sd / sqrt(n)`` or the 95% interval / 3.92) or, for log kinds, of the log."""
        import math

        if self.kind in LOG_KINDS:
            if self.se is not None and self.value:
                return self.se / abs(self.value)
            if self.ci is not None and self.value and self.value > 0:
                lo, hi = self.ci
                if lo is not None and hi is not None and lo > 0:
                    return (math.log(hi) - math.log(lo)) / 3.92
                if lo is not None and lo > 0:  # only the lower limit (upper not estimable)
                    return (math.log(self.value) - math.log(lo)) / 1.96
            return None
        if self.se is not None:
            return self.se
        if self.sd is not None and self.n:
            return self.sd / math.sqrt(self.n)
        if self.ci is not None and None not in self.ci:
            return (self.ci[1] - self.ci[0]) / 3.92  # type: ignore[operator]
        return None


class Treatment(_Strict):
    """What an arm received: the drug (``none`` for a placebo arm) on plan ``days`` (0 = first dose day, 09:00),
    and ``sessions``: the days of placebo administrations (default: the dose days)."""

    drug: Literal["racemic", "esketamine", "none"]
    route: Literal["iv", "intranasal"] | None = None
    mg_per_kg: float | None = Field(default=None, gt=0)
    mg: float | None = Field(default=None, gt=0)
    first_mg: float | None = Field(default=None, gt=0)
    duration_min: float = 40.0
    days: tuple[float, ...] = ()
    sessions: tuple[float, ...] = ()

    @model_validator(mode="after")
    def _dosed(self) -> Treatment:
        if self.drug != "none":
            if not self.days:
                raise ValueError(f"drug {self.drug} needs 'days'")
            if self.drug == "racemic" and self.mg_per_kg is None:
                raise ValueError("racemic ketamine needs mg_per_kg")
            if self.drug == "esketamine" and self.mg is None:
                raise ValueError("esketamine needs mg")
        elif not self.sessions:
            raise ValueError("a placebo arm (drug: none) needs 'sessions' (days of the placebo administrations)")
        return self

    @property
    def session_days(self) -> tuple[float, ...]:
        return self.sessions or self.days


class Arm(_Strict):
    id: str
    description: str
    n: int = Field(gt=0)
    n_tag: Tag
    n_source: str
    setting: Setting
    treatment: Treatment | None = None
    baseline: Baseline | None = None
    observations: tuple[Observation, ...] = ()


class Inclusion(_Strict):
    """Inclusion range on the observed baseline rating (scale ``scale``)."""

    min: float
    max: float
    scale: str
    status: Literal["published", "assumed"]
    source: str


class BaselineMean(_Strict):
    value: float
    tag: Tag
    source: str


class Exclusion(_Strict):
    what: str
    why: str


class StudyEvidence(_Strict):
    """One study of the evidence base (see the module docstring)."""

    study: str
    citation: str
    read_in: tuple[str, ...]
    design: str
    population: str
    scale: str
    simulated_by: Literal["builtin", "generated", "none"]
    inclusion: Inclusion | None = None
    baseline_mean: BaselineMean | None = None
    visits: dict[str, tuple[float, float]] = Field(default_factory=dict)
    background: Background = "none"
    arms: tuple[Arm, ...]
    contrasts: tuple[Observation, ...] = ()
    excluded: tuple[Exclusion, ...] = ()

    @model_validator(mode="after")
    def _references(self) -> StudyEvidence:
        arm_ids = [a.id for a in self.arms]
        if len(set(arm_ids)) != len(arm_ids):
            raise ValueError(f"arm ids repeat: {arm_ids}")
        for c in self.contrasts:
            for a in (c.arm, c.reference):
                if a not in arm_ids:
                    raise ValueError(f"contrast {c.id}: unknown arm {a!r}; arms: {', '.join(arm_ids)}")
        if self.simulated_by == "generated":
            if self.inclusion is None:
                raise ValueError("a generated virtual study needs 'inclusion'")
            for a in self.arms:
                if a.treatment is None:
                    raise ValueError(f"arm {a.id}: a generated virtual study needs 'treatment'")
            for o in self.observations():
                for v in (o.visit, *o.visits):
                    if v is not None and v not in self.visits:
                        raise ValueError(f"observation {o.id}: unknown visit {v!r}; visits: {', '.join(self.visits)}")
        return self

    def observations(self) -> list[Observation]:
        """Every observation of the study: the arms' then the contrasts."""
        return [o for a in self.arms for o in a.observations] + list(self.contrasts)

    def arm_of(self, observation_id: str) -> str | None:
        for a in self.arms:
            if any(o.id == observation_id for o in a.observations):
                return a.id
        for c in self.contrasts:
            if c.id == observation_id:
                return c.arm
        return None
