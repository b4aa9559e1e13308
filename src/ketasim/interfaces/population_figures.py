"""Figures of a virtual population: MADRS bands over time, and Kaplan-Meier curves of time to relapse.

* :func:`plot_madrs_bands`: the median MADRS per day with the 50% (quartiles) and 90% (5th-95th
  percentile) bands across patients, a few sampled patients' trajectories as thin lines, the dose
  days as ticks, and the response and remission thresholds of the typical patient.
* :func:`plot_relapse_km`: the share of responders (at the end of induction) still free of relapse,
  by days since the last induction dose, with 95% confidence bands (lifelines), for the SUSTAIN-1
  rule and for loss of response.

Every figure carries the disclaimer and, for plans with ``allow_off_label``, the off-label note.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ketasim.dosing.plan import Plan
from ketasim.interfaces.report import OFF_LABEL_WARNING
from ketasim.population.run import PopulationResult
from ketasim.population.summary import relapse_table

DISCLAIMER = "ketasim \u2014 research and decision-support software, not a medical device. Virtual patients."
BAND_90 = "#BBDEFB"
BAND_50 = "#64B5F6"
MEDIAN = "#0D47A1"


def _footer(fig, plan: Plan | None) -> None:
    fig.text(0.01, 0.01, DISCLAIMER, fontsize=7, color="#555555", ha="left", va="bottom")
    if plan is not None and plan.allow_off_label:
        fig.text(0.99, 0.01, OFF_LABEL_WARNING, fontsize=7, color="#B71C1C", ha="right", va="bottom",
                 fontweight="bold")


def plot_madrs_bands(result: PopulationResult, path: str | Path, *, plan: Plan | None = None,
                     n_sampled: int = 8) -> Path:
    """Median MADRS with 50% and 90% bands and ``n_sampled`` individual trajectories; saved to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bands = result.madrs_bands((0.05, 0.25, 0.5, 0.75, 0.95))
    d = bands["day"].to_numpy()
    fig, ax = plt.subplots(figsize=(10, 5.2))
    ax.fill_between(d, bands["q0.05"], bands["q0.95"], color=BAND_90, label="90% of patients", lw=0)
    ax.fill_between(d, bands["q0.25"], bands["q0.75"], color=BAND_50, label="50% of patients", lw=0)
    sample = result.sample_madrs
    if sample is not None and n_sampled > 0:
        for k, row in enumerate(sample[:n_sampled]):
            ax.plot(d, row, color="#37474F", lw=0.6, alpha=0.55,
                    label="sampled patients" if k == 0 else None)
    ax.plot(d, bands["q0.5"], color=MEDIAN, lw=2.2, label="median")
    base = float(np.median(result.outcomes["baseline_madrs"])) if len(result.outcomes) else np.nan
    if np.isfinite(base):
        ax.axhline(base / 2, color="#2E7D32", ls="--", lw=1, label=f"response (median baseline {base:.0f} / 2)")
    ax.axhline(10, color="#6A1B9A", ls=":", lw=1, label="remission (MADRS 10)")
    if plan is not None and plan.doses:
        ymin = 0.0
        ax.plot([x.day for x in plan.doses], [ymin + 0.6] * len(plan.doses), "|", color="#D84315", ms=10,
                label="doses")
    ax.set_xlim(d[0], d[-1])
    ax.set_ylim(0, 60 if np.nanmax(bands["q0.95"]) > 45 else 50)
    ax.set_xlabel("days from the start of treatment" if plan is None
                  else f"days from {plan.start_date.isoformat()}")
    ax.set_ylabel("MADRS")
    name = plan.name if plan is not None else result.info.get("plan", "")
    ax.set_title(f"{name}: MADRS of {result.n_patients:,} virtual patients (seed {result.info.get('seed', '?')})",
                 loc="left")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    ax.grid(alpha=0.25)
    fig.subplots_adjust(left=0.07, right=0.75, bottom=0.14, top=0.92)
    _footer(fig, plan)
    out = Path(path)
    fig.savefig(out, dpi=130)
    plt.close(fig)
    return out


def plot_relapse_km(result: PopulationResult, path: str | Path, *, plan: Plan | None = None) -> Path:
    """Kaplan-Meier curves of days from the last induction dose to relapse, among responders."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from lifelines import KaplanMeierFitter

    fig, ax = plt.subplots(figsize=(8.5, 5))
    drawn = 0
    for definition, label, colour in (("sustain", "SUSTAIN-1 rule (MADRS \u2265 22 twice, 5-15 days apart)",
                                       "#C62828"),
                                      ("loss_of_response", "loss of response (< 50% below baseline)", "#1565C0")):
        tab = relapse_table(result.outcomes, definition)
        if len(tab) == 0:
            continue
        kmf = KaplanMeierFitter(label=f"{label}; n = {len(tab):,}, relapses = {int(tab['relapsed'].sum()):,}")
        kmf.fit(np.maximum(tab["duration_days"].to_numpy(), 1e-9), event_observed=tab["relapsed"].to_numpy())
        kmf.plot_survival_function(ax=ax, ci_show=True, color=colour, lw=2)
        drawn += 1
    if not drawn:
        ax.text(0.5, 0.5, "no patient in response at the end of induction", ha="center", va="center",
                transform=ax.transAxes)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("days since the last induction dose")
    ax.set_ylabel("share of responders free of relapse")
    name = plan.name if plan is not None else result.info.get("plan", "")
    ax.set_title(f"{name}: time to relapse (Kaplan-Meier, 95% bands)", loc="left")
    ax.grid(alpha=0.25)
    ax.legend(loc="lower left", fontsize=8, frameon=False)
    fig.subplots_adjust(left=0.09, right=0.97, bottom=0.15, top=0.92)
    _footer(fig, plan)
    out = Path(path)
    fig.savefig(out, dpi=130)
    plt.close(fig)
    return out
