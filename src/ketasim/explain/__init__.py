"""Explanations (MODEL.md section 8): why the benefit fades, and what sustains it.

* :func:`explain_loss`: the loss of benefit between two dates attributed to pruning,
  homeostasis, tolerance and load (exact Shapley values over the 16 knock-out runs).
* :func:`explain_gain`: the gain (days in remission, mean MADRS) attributed to each strategy of
  the plan: psychotherapy, lifestyle, maintenance doses, other treatments.
* :func:`sentences`: plain-language sentences with the numbers; ``to_dict()`` for ``--json``;
  :func:`plot_explanation` for a figure.
"""

from ketasim.explain.mechanisms import MECHANISM_LABELS, LossExplanation, explain_loss
from ketasim.explain.plots import plot_explanation
from ketasim.explain.sentences import sentences
from ketasim.explain.shapley import shapley_values
from ketasim.explain.strategies import STRATEGIES, STRATEGY_LABELS, GainExplanation, MetricGain, explain_gain

__all__ = [
    "MECHANISM_LABELS",
    "STRATEGIES",
    "STRATEGY_LABELS",
    "GainExplanation",
    "LossExplanation",
    "MetricGain",
    "explain_gain",
    "explain_loss",
    "plot_explanation",
    "sentences",
    "shapley_values",
]
