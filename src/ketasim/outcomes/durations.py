"""Time spent in remission and the time-averaged score, from visit (or simulated) scores.

The score between two points is the straight line joining them; the time in remission is
the exact integral of the remission indicator of that piecewise-linear curve,

    days_in_remission = integral_{start}^{end} 1[score(t) meets the remission rule] dt,

which on a daily grid is the sum over days of the fraction of each day spent below the
threshold. ``mean_score`` is (1 / (end - start)) integral score(t) dt (trapezoid rule).
"""

from __future__ import annotations

import numpy as np

from ketasim.errors import PlanError
from ketasim.outcomes._arrays import score_matrix, visit_days
from ketasim.symptoms.scales import get_scale


def _window(d: np.ndarray, s: np.ndarray, start: float | None, end: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Points of the piecewise-linear curve restricted to [start, end] (end points interpolated)."""
    a = d[0] if start is None else float(start)
    b = d[-1] if end is None else float(end)
    if not (d[0] <= a < b <= d[-1] + 1e-9):
        raise PlanError("start/end", (a, b), f"start < end within the visit days {d[0]:g}-{d[-1]:g}")
    b = min(b, d[-1])
    inner = (d > a) & (d < b)
    g = np.concatenate([[a], d[inner], [b]])
    k = np.clip(np.searchsorted(d, g, side="right") - 1, 0, d.size - 2)
    w = (g - d[k]) / (d[k + 1] - d[k])
    vals = s[:, k] * (1.0 - w) + s[:, k + 1] * w
    return g, vals


def days_in_remission(days: np.ndarray, scores: np.ndarray, threshold: float | None = None, *,
                      scale: str = "madrs", start: float | None = None,
                      end: float | None = None) -> float | np.ndarray:
    """Days in remission between ``start`` and ``end`` (default: first and last visit)."""
    d = visit_days(days)
    s, one = score_matrix(scores, d.size)
    spec = get_scale(scale)
    thr = spec.remission_threshold if threshold is None else float(threshold)
    if d.size < 2:
        return 0.0 if one else np.zeros(s.shape[0])
    g, v = _window(d, s, start, end)
    a, b = v[:, :-1], v[:, 1:]
    dt = np.diff(g)[None, :]
    flat = np.isclose(a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_cross = np.where(flat, 0.0, (thr - a) / np.where(flat, 1.0, b - a))
    rising = b > a
    frac = np.where(rising, np.clip(t_cross, 0.0, 1.0), np.clip(1.0 - t_cross, 0.0, 1.0))
    inside_flat = (a <= thr) if spec.remission_inclusive else (a < thr)
    frac = np.where(flat, inside_flat.astype(float), frac)
    total = np.sum(frac * dt, axis=1)
    return float(total[0]) if one else total


def mean_score(days: np.ndarray, scores: np.ndarray, *, start: float | None = None,
               end: float | None = None) -> float | np.ndarray:
    """Time-averaged score between ``start`` and ``end`` (default: first and last visit)."""
    d = visit_days(days)
    s, one = score_matrix(scores, d.size)
    if d.size < 2:
        return float(s[0, 0]) if one else s[:, 0].copy()
    g, v = _window(d, s, start, end)
    m = np.sum(0.5 * (v[:, 1:] + v[:, :-1]) * np.diff(g)[None, :], axis=1) / (g[-1] - g[0])
    return float(m[0]) if one else m
