"""Exact Shapley values for a handful of players (the 4 mechanisms, up to 4 strategies).

    phi_i = sum over S subset of N \\ {i} of |S|! (n - |S| - 1)! / n! * (v(S + {i}) - v(S))

Efficiency: sum_i phi_i = v(N) - v(empty set). With n players the value function is
evaluated on all 2^n coalitions (16 for four players).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import combinations
from math import factorial


def coalitions(players: Sequence[str]) -> list[frozenset[str]]:
    """Every subset of ``players``, smallest first."""
    return [frozenset(c) for k in range(len(players) + 1) for c in combinations(players, k)]


def shapley_values(players: Sequence[str], value: Callable[[frozenset[str]], float]
                   | dict[frozenset[str], float]) -> dict[str, float]:
    """Shapley value of each player for the coalition value ``value`` (a function or a dict over coalitions)."""
    v = value if callable(value) else value.__getitem__
    cache = {s: float(v(s)) for s in coalitions(players)}
    n = len(players)
    phi: dict[str, float] = {}
    for p in players:
        others = [q for q in players if q != p]
        total = 0.0
        for s in coalitions(others):
            w = factorial(len(s)) * factorial(n - len(s) - 1) / factorial(n)
            total += w * (cache[s | {p}] - cache[s])
        phi[p] = total
    return phi
