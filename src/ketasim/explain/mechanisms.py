"""Why the benefit fades: the loss between two dates attributed to the four reasons of the seed text.

Each reason is a switch of the model (MODEL.md section 8): pruning (k_prune -> 0), homeostasis
(k_hom -> 0), tolerance (T no longer blunts the trigger), load (beta -> 0). All 16 subsets of
switches are simulated *from date1 on*, so the state at date1 is the same in every run; the
value of a coalition S of mechanisms left on is

    v(S) = MADRS(date2) - MADRS(date1)      with the mechanisms in S on and the others off.

v(all) is the loss of benefit that happens; v(none) the residual with all four off (e.g. the
fading of the rapid trigger effect); the Shapley values split v(all) - v(none) exactly among
the four mechanisms. The plan is compiled once and integrated 16 times.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ketasim.dosing.plan import Plan
from ketasim.dynamics import MECHANISMS
from ketasim.engine.compile import PKVariability, compile_plan
from ketasim.errors import PlanError
from ketasim.explain._runs import madrs_series
from ketasim.explain.dates import as_day
from ketasim.explain.shapley import coalitions, shapley_values
from ketasim.outcomes.summary import DISCLAIMER, OFF_LABEL_NOTE
from ketasim.parameters import HOURS_PER_DAY, default_vector

MECHANISM_LABELS: dict[str, str] = {
    "pruning": "the pruning of new synapses",
    "homeostasis": "synaptic homeostasis (the return toward the set point)",
    "tolerance": "tolerance to ketamine",
    "load": "stress and life events (load) lowering the set point",
}
MECHANISM_SHORT: dict[str, str] = {"pruning": "pruning", "homeostasis": "homeostasis", "tolerance": "tolerance",
                                   "load": "load"}
RESIDUAL_LABEL = "the fading of the rapid trigger effect and of the drug's other inputs"


def coalition_key(s: frozenset[str]) -> str:
    """``"pruning+load"`` (in the order of MECHANISMS), ``"none"`` for the empty set."""
    names = [m for m in MECHANISMS if m in s]
    return "+".join(names) if names else "none"


@dataclass(frozen=True)
class LossExplanation:
    """The loss of benefit between ``day1`` and ``day2`` (MADRS points) and its attribution.

    ``total_loss`` = v(all) = MADRS(day2) - MADRS(day1); ``shapley`` maps each mechanism to its
    share in points; ``residual`` = v(none); ``total_loss == sum(shapley) + residual``.
    ``values`` holds v(S) for all 16 coalitions; ``curves`` MADRS on ``curve_days`` for all on,
    all off and each single knock-out.
    """

    plan_name: str
    start_date: dt.date
    day1: float
    day2: float
    date1: dt.date
    date2: dt.date
    madrs1: float
    madrs2: float
    total_loss: float
    shapley: dict[str, float]
    residual: float
    values: dict[str, float]
    curve_days: np.ndarray
    curves: dict[str, np.ndarray]
    off_label: bool = False
    date1_rule: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def gross_rise(self) -> float:
        """Sum of the positive parts (mechanisms and residual); equals ``total_loss`` when no part is negative."""
        return sum(max(v, 0.0) for v in self.shapley.values()) + max(self.residual, 0.0)

    def percent(self) -> dict[str, float | None]:
        """Each part (mechanisms, ``residual``) in percent of :attr:`gross_rise` (None if nothing rises)."""
        g = self.gross_rise
        if g < 1e-9:
            return {**{m: None for m in self.shapley}, "residual": None}
        out: dict[str, float | None] = {m: 100.0 * v / g for m, v in self.shapley.items()}
        out["residual"] = 100.0 * self.residual / g
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (``ketasim explain --json``), with the plain-language sentences."""
        from ketasim.explain.sentences import sentences

        pct = self.percent()
        return {
            "kind": "loss_of_benefit",
            "plan": self.plan_name,
            "date1": self.date1.isoformat(), "date2": self.date2.isoformat(),
            "day1": round(self.day1, 3), "day2": round(self.day2, 3), "date1_rule": self.date1_rule,
            "madrs_date1": round(self.madrs1, 2), "madrs_date2": round(self.madrs2, 2),
            "total_loss_points": round(self.total_loss, 2),
            "gross_rise_points": round(self.gross_rise, 2),
            "percent_of": "gross_rise_points (the sum of the positive parts; the total loss when none is negative)",
            "mechanisms": {m: {"label": MECHANISM_LABELS[m], "points": round(v, 2),
                               "percent": None if pct[m] is None else round(pct[m], 1)}
                           for m, v in self.shapley.items()},
            "residual": {"label": RESIDUAL_LABEL, "points": round(self.residual, 2),
                         "percent": None if pct["residual"] is None else round(pct["residual"], 1)},
            "coalition_values": {k: round(v, 3) for k, v in self.values.items()},
            "curves": {"day": [round(float(d), 3) for d in self.curve_days],
                       **{k: [round(float(x), 2) for x in v] for k, v in self.curves.items()}},
            "sentences": sentences(self),
            "off_label": self.off_label,
            "off_label_note": OFF_LABEL_NOTE if self.off_label else None,
            "disclaimer": DISCLAIMER,
        }


def default_date1(plan: Plan, params: np.ndarray, pk_variability: PKVariability) -> tuple[float, str]:
    """The day after the last induction dose; without induction doses, the day of the lowest MADRS."""
    induction = [d.day for d in plan.doses if d.phase == "induction"]
    if induction:
        return max(induction) + 1.0, "24 h after the last induction dose"
    cp = compile_plan(plan, params, pk_variability=pk_variability)
    days = np.arange(0.0, plan.horizon_days + 1e-9, 1.0)
    m = madrs_series(cp, days, np.ones(len(MECHANISMS)))
    return float(days[int(np.argmin(m))]), "the day of the lowest MADRS"


def explain_loss(plan: Plan, date1: float | dt.date | str | None = None, date2: float | dt.date | str | None = None,
                 params: np.ndarray | None = None, *,
                 pk_variability: PKVariability = PKVariability()) -> LossExplanation:
    """Attribute the rise of MADRS between ``date1`` and ``date2`` to pruning, homeostasis, tolerance and load.

    Dates are plan days or calendar dates; by default ``date1`` is 24 h after the last induction
    dose (or the day of the lowest MADRS) and ``date2`` the end of the plan.
    """
    params = default_vector() if params is None else np.asarray(params, dtype=np.float64)
    if date1 is None:
        day1, rule = default_date1(plan, params, pk_variability)
        if day1 >= plan.horizon_days:
            raise PlanError("date1", plan.date_of(day1).isoformat(),
                            f"a day before the end of the plan (day {plan.horizon_days:g}); give date1 explicitly")
    else:
        day1, rule = as_day(plan, date1, "date1"), "given"
    day2 = float(plan.horizon_days) if date2 is None else as_day(plan, date2, "date2")
    if not day2 > day1:
        raise PlanError("date2", plan.date_of(day2).isoformat(),
                        f"a date after date1 ({plan.date_of(day1).isoformat()})")

    cp = compile_plan(plan, params, pk_variability=pk_variability, t_switch_h=day1 * HOURS_PER_DAY)
    days = np.unique(np.concatenate([np.arange(0.0, day2, 1.0), [day1, day2]]))
    i1, i2 = int(np.searchsorted(days, day1)), int(np.searchsorted(days, day2))
    runs: dict[frozenset[str], np.ndarray] = {}
    for s in coalitions(MECHANISMS):
        sw = np.array([1.0 if m in s else 0.0 for m in MECHANISMS])
        runs[s] = madrs_series(cp, days, sw)
    values = {s: float(m[i2] - m[i1]) for s, m in runs.items()}
    phi = shapley_values(MECHANISMS, values)
    everything = frozenset(MECHANISMS)
    curves = {"all on": runs[everything], "all off": runs[frozenset()]}
    for m in MECHANISMS:
        curves[f"without {m}"] = runs[everything - {m}]
    m_all = runs[everything]
    return LossExplanation(
        plan_name=plan.name, start_date=plan.start_date, day1=day1, day2=day2,
        date1=plan.date_of(day1), date2=plan.date_of(day2),
        madrs1=float(m_all[i1]), madrs2=float(m_all[i2]), total_loss=values[everything], shapley=phi,
        residual=values[frozenset()], values={coalition_key(s): v for s, v in values.items()},
        curve_days=days, curves=curves, off_label=bool(plan.allow_off_label), date1_rule=rule)
