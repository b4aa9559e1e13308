"""The clinic's trade-off, stated: "the maximum benefit with the fewest interventions possible".

    U = days in remission - lambda x (sessions + w_h x hours per session)

``lambda`` is what one session costs in days of remission given up (days-equivalents), ``w_h`` the
weight of an hour of dissociation and monitoring relative to a session (default 0: harms counted by
session). A policy (or a maintenance interval for one patient) is on the frontier when some
``lambda >= 0`` makes its expected utility the largest; :func:`frontier` traces the best choice over a
grid of ``lambda``, :func:`best_interval` picks it from a patient's intervals table
(``forecast.interval_table``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ketasim.errors import PlanError
from ketasim.parameters import Parameter

HOURS_PER_SESSION = Parameter(
    "hours_per_session", 2.0, "h",
    "Spravato (esketamine) US prescribing information 2019: observation for at least 2 hours after each "
    "nasal dose; taken as the same for a 40-minute IV infusion with its monitoring", "assumed",
    "hours of dissociation and monitoring per session", "planning", (0.5, 6.0))
DEFAULT_LAMBDAS = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0)


@dataclass(frozen=True)
class Tradeoff:
    """``lam`` days-equivalents per session; ``w_h`` per hour of dissociation and monitoring (0: by session)."""

    lam: float
    w_h: float = 0.0
    hours_per_session: float = HOURS_PER_SESSION.value

    def __post_init__(self) -> None:
        if not 0.0 <= self.lam <= 365.0:
            raise PlanError("lambda", self.lam, "0-365 days in remission per session")
        if not 0.0 <= self.w_h <= 10.0:
            raise PlanError("w_h", self.w_h, "0-10 sessions per hour of dissociation and monitoring")

    @property
    def cost_per_session(self) -> float:
        return self.lam * (1.0 + self.w_h * self.hours_per_session)

    def utility(self, days_in_remission: np.ndarray | float, sessions: np.ndarray | float) -> np.ndarray:
        return np.asarray(days_in_remission, dtype=float) - self.cost_per_session * np.asarray(sessions, dtype=float)


def frontier(names: list[str], days_in_remission: np.ndarray, sessions: np.ndarray,
             lambdas: tuple[float, ...] = DEFAULT_LAMBDAS, w_h: float = 0.0) -> list[dict]:
    """For each ``lambda``: the option with the largest expected utility, and that utility."""
    d = np.asarray(days_in_remission, dtype=float)
    s = np.asarray(sessions, dtype=float)
    out = []
    for lam in lambdas:
        u = Tradeoff(float(lam), w_h).utility(d, s)
        k = int(np.argmax(u))
        out.append({"lambda": float(lam), "w_h": w_h, "best": names[k], "utility": round(float(u[k]), 1),
                    "days_in_remission": round(float(d[k]), 1), "sessions": round(float(s[k]), 1)})
    return out


def best_interval(rows: list[dict], lambdas: tuple[float, ...] = DEFAULT_LAMBDAS, w_h: float = 0.0) -> list[dict]:
    """The patient's interval with the most expected utility for each ``lambda`` (``rows``: the intervals table)."""
    if not rows:
        return []
    names = [f"every {r['interval_days']} days" for r in rows]
    out = frontier(names, np.array([r["days_in_remission"]["mean"] for r in rows]),
                   np.array([r["sessions_per_year"] for r in rows]), lambdas, w_h)
    for o, k in zip(out, [names.index(o["best"]) for o in out], strict=True):
        o["interval_days"] = rows[k]["interval_days"]
    return out
