"""Response and remission at each visit (MODEL.md section 7), vectorised over patients x visits.

    response:  score <= (1 - f) baseline, f = 0.5   (a drop of at least 50% from baseline)
    remission: score <= threshold (MADRS 10, HDRS 7, QIDS-SR16 5) or score < threshold (PHQ-9 5)

``scores`` may be one patient's visits (1-D) or a patients x visits array; the result has
the same shape. ``baseline`` is a number or one value per patient.
"""

from __future__ import annotations

import numpy as np

from ketasim.outcomes._arrays import baselines
from ketasim.symptoms.scales import RESPONSE_FRACTION, get_scale


def response(scores: np.ndarray, baseline: float | np.ndarray, *,
             fraction: float = RESPONSE_FRACTION) -> np.ndarray:
    """True where the score is at least ``fraction`` (50%) below baseline."""
    s = np.asarray(scores, dtype=float)
    b = baselines(baseline, s.shape[0]) if s.ndim == 2 else baselines(baseline, 1)[0, 0]
    return s <= (1.0 - fraction) * b + 1e-9


def remission(scores: np.ndarray, scale: str = "madrs", threshold: float | None = None) -> np.ndarray:
    """True where the score meets the remission definition of ``scale``.

    ``threshold`` overrides the scale's default (e.g. 12 for MADRS in the esketamine programme);
    whether the bound is inclusive follows the scale (``<`` for PHQ-9, ``<=`` otherwise).
    """
    spec = get_scale(scale)
    thr = spec.remission_threshold if threshold is None else float(threshold)
    s = np.asarray(scores, dtype=float)
    return s <= thr if spec.remission_inclusive else s < thr
