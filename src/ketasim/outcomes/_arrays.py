"""Shared input checks for the outcome definitions (patients x visits arrays)."""

from __future__ import annotations

import numpy as np

from ketasim.errors import PlanError


def visit_days(days: np.ndarray | list[float]) -> np.ndarray:
    """Visit days as a 1-D float array, checked to be finite and strictly increasing."""
    d = np.asarray(days, dtype=float)
    if d.ndim != 1 or d.size == 0:
        raise PlanError("days", f"array of shape {d.shape}", "a non-empty 1-D sequence of visit days")
    if not np.all(np.isfinite(d)) or np.any(np.diff(d) <= 0):
        raise PlanError("days", d.tolist()[:8], "finite, strictly increasing visit days")
    return d


def score_matrix(scores: np.ndarray | list[float], n_visits: int | None = None) -> tuple[np.ndarray, bool]:
    """Scores as (n_patients, n_visits) and whether the input was 1-D (one patient)."""
    s = np.asarray(scores, dtype=float)
    one = s.ndim == 1
    if s.ndim not in (1, 2):
        raise PlanError("scores", f"array of shape {s.shape}", "one patient (n_visits) or n_patients x n_visits")
    s2 = s[None, :] if one else s
    if n_visits is not None and s2.shape[1] != n_visits:
        raise PlanError("scores", f"{s2.shape[1]} visits", f"one score per visit day ({n_visits})")
    if not np.all(np.isfinite(s2)):
        raise PlanError("scores", "non-finite values", "finite scores at every visit")
    return s2, one


def baselines(baseline: float | np.ndarray, n_patients: int) -> np.ndarray:
    """Baseline scores as a column (n_patients, 1), checked positive."""
    try:
        b = np.array(np.broadcast_to(np.asarray(baseline, dtype=float), (n_patients,)))
    except ValueError:
        raise PlanError("baseline", f"array of shape {np.shape(baseline)}",
                        f"a number or one value per patient ({n_patients})") from None
    if not np.all(np.isfinite(b)) or np.any(b <= 0):
        raise PlanError("baseline", b.tolist()[:8], "positive baseline scores")
    return b[:, None]
