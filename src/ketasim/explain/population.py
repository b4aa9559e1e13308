"""Why the benefit fades, as a distribution over virtual patients (issue 11, item 4).

:func:`explain_loss_population` draws ``n`` virtual patients of a response structure
(``ketasim.population.structures``; with v2 each has a class and a course of life), runs the plan with the
batch engine once per coalition of the four mechanisms (16 runs, mechanisms switched off from ``day1``) and
attributes each patient's rise of MADRS between ``day1`` and ``day2`` by exact Shapley values
(``ketasim.explain.shapley``), as :func:`~ketasim.explain.mechanisms.explain_loss` does for one patient. Each
mechanism is reported as the median and the 80% interval (10th to 90th percentile) of its points over the
patients, overall and per class, with the share of the gross rise (the sum of the positive parts).
The typical patient's explanation is one point of this distribution. It is not the distribution's centre.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ketasim.dosing.plan import Plan
from ketasim.dynamics import MECHANISMS
from ketasim.errors import PlanError
from ketasim.explain.dates import as_day
from ketasim.explain.mechanisms import MECHANISM_LABELS, MECHANISM_SHORT, RESIDUAL_LABEL
from ketasim.explain.shapley import coalitions, shapley_values
from ketasim.outcomes.summary import DISCLAIMER
from ketasim.population.classes import CLASS_LABELS, CLASS_NAMES, class_names
from ketasim.population.structures import PopulationModel, population_model

QUANTILES = (0.1, 0.5, 0.9)


@dataclass(frozen=True)
class PopulationLossExplanation:
    """Per patient (rows of ``points``): the Shapley points of each mechanism and the residual, the total rise
    and the class; ``day1``/``day2`` the window; ``model`` the structure's name."""

    plan_name: str
    model: str
    day1: float
    day2: float
    points: pd.DataFrame  # columns: class, total, one per mechanism, residual

    def summary(self, by_class: bool = True) -> dict[str, Any]:
        """Median and 80% interval of each part (points and % of the gross rise), overall and per class."""
        def describe(df: pd.DataFrame) -> dict[str, Any]:
            parts = [*MECHANISMS, "residual"]
            gross = df[parts].clip(lower=0).sum(axis=1).to_numpy()
            out: dict[str, Any] = {"n": int(len(df))}
            for p in parts:
                v = df[p].to_numpy(dtype=float)
                share = np.where(gross > 1e-9, 100 * v / np.maximum(gross, 1e-9), np.nan)
                q = np.nanquantile(v, QUANTILES) if v.size else [np.nan] * 3
                qs = np.nanquantile(share, QUANTILES) if np.isfinite(share).any() else [np.nan] * 3
                out[p] = {"label": MECHANISM_LABELS.get(p, RESIDUAL_LABEL),
                          "points": {"median": float(q[1]), "p10": float(q[0]), "p90": float(q[2])},
                          "percent": {"median": float(qs[1]), "p10": float(qs[0]), "p90": float(qs[2])}}
            t = np.nanquantile(df["total"].to_numpy(dtype=float), QUANTILES) if len(df) else [np.nan] * 3
            out["total"] = {"median": float(t[1]), "p10": float(t[0]), "p90": float(t[2])}
            return out

        res: dict[str, Any] = {"plan": self.plan_name, "model": self.model, "day1": self.day1, "day2": self.day2,
                               "all": describe(self.points), "disclaimer": DISCLAIMER}
        if by_class and (self.points["class"] != "").any():
            res["by_class"] = {c: describe(self.points.loc[self.points["class"] == c]) for c in CLASS_NAMES}
        return res

    def sentences(self) -> list[str]:
        """Plain-language lines: each reason's median share and its 80% interval."""
        s = self.summary()
        out = [f"Over {s['all']['n']} virtual patients, MADRS rises by {s['all']['total']['median']:.1f} points "
               f"(median; 80% of patients between {s['all']['total']['p10']:.1f} and {s['all']['total']['p90']:.1f})."]
        for p in (*MECHANISMS, "residual"):
            pts = s["all"][p]["points"]
            out.append(f"{s['all'][p]['label'].capitalize()}: {pts['median']:.1f} points (80% of patients "
                       f"{pts['p10']:.1f} to {pts['p90']:.1f}).")
        out.append("Tolerance rests on hypotheses: no study of the evidence base informs its parameters. The fast "
                   "and the slow parts of the fading are told apart by the ratings. Whether the fast part is the "
                   "pruning of new synapses and the slow part homeostasis is the model's assumption.")
        for c, d in s.get("by_class", {}).items():
            if d["n"]:
                out.append(f"{CLASS_LABELS[c].split(':')[0].capitalize()}s ({d['n']}): rise "
                           f"{d['total']['median']:.1f} points (median).")
        return out


def explain_loss_population(plan: Plan, n_patients: int = 500, seed: int = 0, *,
                            model: str | PopulationModel | None = None, date1: float | str | None = None,
                            date2: float | str | None = None, params: np.ndarray | None = None
                            ) -> PopulationLossExplanation:
    """The loss of benefit of ``plan`` between ``date1`` (default: 24 h after the last induction dose) and
    ``date2`` (default: the end of the plan), attributed per virtual patient (module docstring)."""
    from ketasim.population import simulate_population
    from ketasim.population.patients import sample_patients

    structure = population_model(model)
    if not isinstance(n_patients, int) or n_patients < 1:
        raise PlanError("patients", n_patients, "a whole number >= 1")
    induction = [d.day for d in plan.doses if d.phase == "induction"]
    if date1 is None:
        if not induction:
            raise PlanError("date1", None, "a start date for a plan without induction doses")
        day1 = max(induction) + 1.0
    else:
        day1 = as_day(plan, date1, "date1")
    day2 = float(plan.horizon_days) if date2 is None else as_day(plan, date2, "date2")
    if not day1 < day2 <= plan.horizon_days:
        raise PlanError("date2", plan.date_of(day2).isoformat(), f"a date after {plan.date_of(day1).isoformat()} "
                        "and within the plan")
    vp = sample_patients(n_patients, seed, params=params, patient=plan.patient, model=structure)
    days = np.array([day1, day2])
    values: dict[frozenset[str], np.ndarray] = {}
    for s in coalitions(MECHANISMS):
        res = simulate_population(plan, patients=vp, seed=seed, days=days, keep_trajectories=True,
                                  switches={m: m in s for m in MECHANISMS}, switch_from_day=day1, model=structure)
        m = res.trajectory("madrs").astype(float)
        values[s] = m[:, 1] - m[:, 0]
    rows = []
    for i in range(n_patients):
        phi = shapley_values(MECHANISMS, {s: float(v[i]) for s, v in values.items()})
        rows.append({**phi, "residual": float(values[frozenset()][i]),
                     "total": float(values[frozenset(MECHANISMS)][i])})
    points = pd.DataFrame(rows)
    points.insert(0, "class", class_names(vp.klass))
    points.insert(0, "patient", vp.ids)
    return PopulationLossExplanation(plan.name, structure.name, day1, day2, points)


def plot_loss_distribution(e: PopulationLossExplanation, path: str | Path | None = None) -> Any:
    """Box plots of each reason's points over the patients (per class when there are classes)."""
    from matplotlib.figure import Figure

    parts = [*MECHANISMS, "residual"]
    groups = [("all patients", e.points)]
    if (e.points["class"] != "").any():
        groups += [(CLASS_LABELS[c].split(":")[0] + "s", e.points.loc[e.points["class"] == c]) for c in CLASS_NAMES]
    fig = Figure(figsize=(2.2 + 1.9 * len(parts), 4.2))
    ax = fig.add_subplot(1, 1, 1)
    width = 0.8 / len(groups)
    for g, (label, df) in enumerate(groups):
        if not len(df):
            continue
        pos = np.arange(len(parts)) + (g - (len(groups) - 1) / 2) * width
        bp = ax.boxplot([df[p].to_numpy(dtype=float) for p in parts], positions=pos, widths=width * 0.9,
                        whis=(10, 90), showfliers=False, patch_artist=True)
        for box in bp["boxes"]:
            box.set_facecolor(f"C{g}")
            box.set_alpha(0.6)
        ax.plot([], [], color=f"C{g}", lw=6, alpha=0.6, label=f"{label} ({len(df)})")
    ax.axhline(0.0, color="0.5", lw=0.8)
    ax.set_xticks(np.arange(len(parts)))
    ax.set_xticklabels([MECHANISM_SHORT.get(p, "other inputs") for p in parts], fontsize=9)
    ax.set_ylabel("MADRS points of the rise")
    ax.set_title(f"{e.plan_name}: why the benefit fades, day {e.day1:.0f} to {e.day2:.0f} "
                 f"(structure {e.model}; boxes 25-75%, whiskers 10-90%)", fontsize=9)
    ax.legend(fontsize=8, loc="upper right")
    fig.text(0.01, 0.005, DISCLAIMER, fontsize=7, color="0.4")
    if path is not None:
        fig.savefig(path, dpi=120, bbox_inches="tight", format="png")
    return fig
