"""Figures for the explanations (matplotlib is imported only when a figure is drawn)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ketasim.explain.mechanisms import LossExplanation
from ketasim.explain.strategies import METRICS, STRATEGY_LABELS, GainExplanation
from ketasim.outcomes.summary import DISCLAIMER


def plot_explanation(explanation: LossExplanation | GainExplanation, path: str | Path | None = None) -> Any:
    """Draw the explanation on a new figure (no pyplot state); save it to ``path`` if given. Returns the figure."""
    from matplotlib.figure import Figure

    if isinstance(explanation, LossExplanation):
        fig = Figure(figsize=(11, 4.2))
        _plot_loss(fig, explanation)
    elif isinstance(explanation, GainExplanation):
        fig = Figure(figsize=(5 * max(1, len(explanation.metrics)), 3.6))
        _plot_gain(fig, explanation)
    else:
        raise TypeError(f"cannot plot {type(explanation).__name__}")
    fig.text(0.01, 0.005, DISCLAIMER, fontsize=7, color="0.4")
    if path is not None:
        fig.savefig(path, dpi=120, bbox_inches="tight")
    return fig


def _plot_loss(fig: Any, e: LossExplanation) -> None:
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.6, 1]})
    for name, m in e.curves.items():
        style = {"all on": dict(color="k", lw=2), "all off": dict(color="0.5", ls="--")}.get(name, dict(lw=1.2))
        ax1.plot(e.curve_days, m, label=name, **style)
    ax1.axvline(e.day1, color="0.7", lw=0.8)
    ax1.set(xlabel="plan day", ylabel="MADRS", title=f"{e.plan_name}: mechanisms switched off from day {e.day1:g}")
    ax1.legend(fontsize=8)
    names = [*e.shapley, "residual"]
    vals = [*e.shapley.values(), e.residual]
    ax2.barh(names, vals, color=["C0", "C1", "C2", "C3", "0.6"][: len(vals)])
    ax2.axvline(0, color="k", lw=0.8)
    ax2.set(xlabel="MADRS points of the loss", title=f"loss {e.total_loss:.1f} points, {e.date1} to {e.date2}")
    fig.tight_layout()


def _plot_gain(fig: Any, e: GainExplanation) -> None:
    axes = fig.subplots(1, max(1, len(e.metrics)), squeeze=False)
    for ax, (name, mg) in zip(axes[0], e.metrics.items(), strict=False):
        labels = [STRATEGY_LABELS[s] for s in mg.gain]
        ax.barh(labels, list(mg.gain.values()))
        ax.axvline(0, color="k", lw=0.8)
        better = "added" if METRICS[name]["sign"] > 0 else "lowered"
        ax.set(xlabel=f"{METRICS[name]['label']} {better} ({METRICS[name]['unit']})",
               title=f"{e.plan_name}: total {mg.total_gain:.1f}")
    fig.tight_layout()
