"""A picture of the model for patients and educators: from the dose to the mood.

The chain (dose -> blood level -> NMDA receptor -> glutamate surge and growth signal -> new
synapses -> mature synapses -> mood) runs across the middle; the four reasons why the benefit
fades point into it from above in red, the four strategies that sustain it from below in green.
The labels are plain words; :data:`REASONS` and :data:`STRATEGIES` keep the model state or input
each one stands for (see docs/model.md), for readers of the code, not of the picture.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

from ketasim.interfaces.report import DISCLAIMER

CHAIN = (
    ("Ketamine\ndose", "mg, mg/kg\nIV, nasal, oral"),
    ("Blood level", "ketamine and\nnorketamine"),
    ("NMDA receptor\nblocked", "share of receptors\nblocked"),
    ("Glutamate surge\ngrowth signal", "BDNF / mTORC1\n(lasts hours)"),
    ("New synapses", "fragile at first\n(days)"),
    ("Mature synapses", "pulled toward\nthe set point"),
    ("Mood", "MADRS\n(and PHQ-9 ...)"),
)
# (title, explanation, model handle, target box index)
REASONS = (
    ("Tolerance", "repeated exposure blunts\nthe growth signal", "state T", 3),
    ("Pruning", "new synapses are removed\nunless they are used", "rate k_prune", 4),
    ("Homeostasis", "the brain pulls back to\nits usual level (set point)", "rate k_hom", 5),
    ("Stress, life events", "load lowers the set point\n(grief fades by itself)", "load L, beta", 5),
)
STRATEGIES = (
    ("Maintenance dosing", "repeat the trigger at\nlonger intervals", "maintenance doses", 0),
    ("Other treatments", "ECT/TMS add plasticity;\nantidepressants raise set point", "E, A", 3),
    ("Psychotherapy", "consolidates new synapses;\ncoping skills soften stress", "sessions -> R, C", 4),
    ("Lifestyle", "sleep, exercise: reinforce\nand raise the set point", "lifestyle level", 5),
)

BOX = "#EAF2FB"
BOX_EDGE = "#0072B2"
FADE = "#C0392B"
SUSTAIN = "#1E8449"


def _box(ax: Axes, x: float, y: float, w: float, h: float, face: str, edge: str, title: str, body: str,
         title_size: float = 10.5) -> None:
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.18",
                                facecolor=face, edgecolor=edge, lw=1.6))
    ax.text(x, y + 0.16 * h, title, ha="center", va="center", fontsize=title_size, fontweight="bold",
            color="#1a1a1a", linespacing=1.05)
    ax.text(x, y - 0.27 * h, body, ha="center", va="center", fontsize=7.8, color="#444444", linespacing=1.05)


def _arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float], colour: str, *, lw: float = 1.8,
           style: str = "-|>", rad: float = 0.0, ls: str = "-") -> None:
    from matplotlib.patches import FancyArrowPatch

    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=16, color=colour, lw=lw,
                                 connectionstyle=f"arc3,rad={rad}", linestyle=ls, shrinkA=2, shrinkB=2))


def figure_model_diagram() -> Figure:
    """The model schematic as a matplotlib Figure."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(14.0, 7.6), dpi=110)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(0, 16.8)
    ax.set_ylim(0, 9.1)
    ax.axis("off")

    w, h, y = 2.05, 1.45, 4.55
    xs = [1.25 + i * 2.38 for i in range(len(CHAIN))]
    for i, ((title, body), x) in enumerate(zip(CHAIN, xs, strict=True)):
        face = "#FDF2E9" if i == len(CHAIN) - 1 else BOX  # the outcome stands out
        edge = "#D35400" if i == len(CHAIN) - 1 else BOX_EDGE
        _box(ax, x, y, w, h, face, edge, title, body)
        if i:
            _arrow(ax, (xs[i - 1] + w / 2, y), (x - w / 2, y), "#333333", lw=2.0)
    ax.text(xs[4] + 1.19, y + 0.9, "maturation", ha="center", fontsize=7.5, color="#333333", style="italic")
    ax.text(xs[5] + 1.19, y - 1.05, "more synapses,\nfewer symptoms", ha="center", fontsize=7.2,
            color="#333333", style="italic")

    # Why the benefit fades: from above, in red; bars into the box they act on.
    ax.text(0.3, 8.75, "Why the benefit fades", fontsize=13, fontweight="bold", color=FADE, va="center")
    for k, (title, body, _handle, target) in enumerate(REASONS):
        x = xs[3 + k]
        _box(ax, x, 7.35, 2.25, 1.4, "#FDEDEC", FADE, title, body, 9.5)
        end = (xs[target] + (0.55 if k == 3 else 0.0), y + h / 2)
        _arrow(ax, (x - (0.35 if k == 3 else 0.0), 7.35 - 0.7), end, FADE, lw=2.2, style="-[")

    # What sustains it: from below, in green.
    ax.text(0.3, 0.35, "What sustains the benefit", fontsize=13, fontweight="bold", color=SUSTAIN, va="center")
    for (title, body, _handle, target), x in zip(STRATEGIES, (1.55, 6.0, 10.3, 14.4), strict=True):
        _box(ax, x, 1.7, 2.6, 1.4, "#E9F7EF", SUSTAIN, title, body, 9.5)
        _arrow(ax, (x, 1.7 + 0.7), (xs[target], y - h / 2), SUSTAIN, lw=2.2)

    ax.text(16.5, 8.75, "a bar (\u22a3) blocks; an arrow (\u2192) helps",
            fontsize=8, color="#555555", ha="right", va="center")
    ax.text(16.5, 0.35, DISCLAIMER, fontsize=7.5, color="#555555", ha="right", va="center")
    return fig


def plot_model_diagram(path: str | Path, *, dpi: int = 110) -> Path:
    """Write the model schematic to ``path``; return the path."""
    import matplotlib.pyplot as plt

    fig = figure_model_diagram()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
