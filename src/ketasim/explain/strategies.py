"""What sustains the benefit: the gain attributed to each strategy in the plan.

The players are the strategies of the seed text present in the plan: psychotherapy
(``therapy``), lifestyle (``lifestyle``), maintenance doses (doses with phase
``maintenance``) and other treatments (``treatments``: antidepressants, ECT, TMS). For every
subset S of them the plan is simulated with the others removed (:meth:`Plan.without`); the
value of S is a metric over the plan's horizon,

    days in remission   (more is better; MADRS remission rule of the plan's programme)
    mean MADRS          (taken as -mean MADRS, so a positive gain lowers the mean),

and the Shapley values split v(all) - v(none) exactly among the strategies.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from ketasim.dosing.plan import Plan
from ketasim.dynamics import MECHANISMS
from ketasim.engine.compile import PKVariability, compile_plan
from ketasim.errors import PlanError
from ketasim.explain._runs import madrs_series
from ketasim.explain.shapley import coalitions, shapley_values
from ketasim.outcomes.durations import days_in_remission, mean_score
from ketasim.outcomes.summary import DISCLAIMER, OFF_LABEL_NOTE, default_remission_threshold
from ketasim.parameters import HOURS_PER_DAY, default_vector
from ketasim.simulate import output_times_h

STRATEGIES = ("therapy", "lifestyle", "maintenance", "treatments")
STRATEGY_LABELS: dict[str, str] = {
    "therapy": "psychotherapy",
    "lifestyle": "a healthy lifestyle",
    "maintenance": "maintenance doses",
    "treatments": "other treatments",
}
METRICS: dict[str, dict[str, Any]] = {
    "days_in_remission": {"label": "days in remission", "unit": "days", "sign": 1.0},
    "mean_madrs": {"label": "mean MADRS", "unit": "MADRS points", "sign": -1.0},
}


def strategies_in(plan: Plan) -> tuple[str, ...]:
    """The strategies present in ``plan``, in the order of :data:`STRATEGIES`."""
    present = {
        "therapy": bool(plan.therapy_days),
        "lifestyle": bool(plan.lifestyle),
        "maintenance": any(d.phase == "maintenance" for d in plan.doses),
        "treatments": bool(plan.treatments),
    }
    return tuple(s for s in STRATEGIES if present[s])


def describe_strategy(plan: Plan, strategy: str) -> str:
    """``psychotherapy (12 sessions)``, ``maintenance doses (8)``, ..."""
    if strategy == "therapy":
        return f"psychotherapy ({len(plan.therapy_days)} sessions)"
    if strategy == "maintenance":
        return f"maintenance doses ({sum(d.phase == 'maintenance' for d in plan.doses)})"
    if strategy == "lifestyle":
        days = sum(max(0.0, min(p.end_day, plan.horizon_days) - p.start_day) for p in plan.lifestyle)
        return f"a healthy lifestyle ({days:.0f} days)"
    if strategy == "treatments":
        kinds = sorted({t.kind if t.kind == "antidepressant" else t.kind.upper() for t in plan.treatments})
        return f"other treatments ({', '.join(kinds)})"
    raise PlanError("strategy", strategy, ", ".join(STRATEGIES))


@dataclass(frozen=True)
class MetricGain:
    """One metric: its value without any strategy, with all, and each strategy's Shapley gain.

    Gains are in the metric's unit, oriented so that positive is better (days in remission
    added; MADRS points lowered).
    """

    metric: str
    without_all: float
    with_all: float
    gain: dict[str, float]

    @property
    def total_gain(self) -> float:
        return METRICS[self.metric]["sign"] * (self.with_all - self.without_all)


@dataclass(frozen=True)
class GainExplanation:
    """The gain each strategy of the plan brings over the horizon, for each metric."""

    plan_name: str
    start_date: dt.date
    horizon_days: float
    strategies: tuple[str, ...]
    descriptions: dict[str, str]
    metrics: dict[str, MetricGain]
    values: dict[str, dict[str, float]]
    remission_threshold: float
    off_label: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (``ketasim explain --json``), with the plain-language sentences."""
        from ketasim.explain.sentences import sentences

        out_metrics = {}
        for name, mg in self.metrics.items():
            total = mg.total_gain
            out_metrics[name] = {
                "label": METRICS[name]["label"], "unit": METRICS[name]["unit"],
                "without_strategies": round(mg.without_all, 2), "with_strategies": round(mg.with_all, 2),
                "total_gain": round(total, 2),
                "gain": {s: {"value": round(g, 2),
                             "percent": None if abs(total) < 1e-9 else round(100.0 * g / total, 1)}
                         for s, g in mg.gain.items()},
            }
        return {
            "kind": "gain_from_strategies",
            "plan": self.plan_name,
            "horizon_days": self.horizon_days,
            "remission_rule": f"MADRS <= {self.remission_threshold:g}",
            "strategies": {s: self.descriptions[s] for s in self.strategies},
            "metrics": out_metrics,
            "coalition_values": {k: {m: round(v, 3) for m, v in d.items()} for k, d in self.values.items()},
            "sentences": sentences(self),
            "off_label": self.off_label,
            "off_label_note": OFF_LABEL_NOTE if self.off_label else None,
            "disclaimer": DISCLAIMER,
        }


def _key(s: frozenset[str]) -> str:
    names = [x for x in STRATEGIES if x in s]
    return "+".join(names) if names else "none"


def explain_gain(plan: Plan, params: np.ndarray | None = None, *,
                 metrics: tuple[str, ...] = ("days_in_remission", "mean_madrs"),
                 remission_threshold: float | None = None,
                 pk_variability: PKVariability = PKVariability()) -> GainExplanation:
    """Shapley attribution of days in remission and mean MADRS over the horizon to the plan's strategies."""
    for m in metrics:
        if m not in METRICS:
            raise PlanError("metric", m, ", ".join(METRICS))
    params = default_vector() if params is None else np.asarray(params, dtype=np.float64)
    thr = default_remission_threshold(plan) if remission_threshold is None else float(remission_threshold)
    players = strategies_in(plan)
    days = output_times_h(plan) / HOURS_PER_DAY
    on = np.ones(len(MECHANISMS))
    values: dict[frozenset[str], dict[str, float]] = {}
    for s in coalitions(players):
        removed = {p: True for p in players if p not in s}
        sub = plan.without(**removed)
        madrs = madrs_series(compile_plan(sub, params, pk_variability=pk_variability), days, on)
        values[s] = {
            "days_in_remission": float(days_in_remission(days, madrs, thr, start=0.0, end=plan.horizon_days)),
            "mean_madrs": float(mean_score(days, madrs, start=0.0, end=plan.horizon_days)),
        }
    full, empty = frozenset(players), frozenset()
    out: dict[str, MetricGain] = {}
    for m in metrics:
        sign = METRICS[m]["sign"]
        phi = shapley_values(players, {s: sign * v[m] for s, v in values.items()})
        out[m] = MetricGain(m, values[empty][m], values[full][m], phi)
    return GainExplanation(
        plan_name=plan.name, start_date=plan.start_date, horizon_days=float(plan.horizon_days), strategies=players,
        descriptions={p: describe_strategy(plan, p) for p in players}, metrics=out,
        values={_key(s): v for s, v in values.items()}, remission_threshold=thr,
        off_label=bool(plan.allow_off_label))
