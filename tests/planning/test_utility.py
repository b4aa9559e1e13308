"""The stated trade-off: utility = days in remission - lambda x (sessions + w_h x hours per session)."""

from __future__ import annotations

import numpy as np
import pytest

from ketasim.errors import PlanError
from ketasim.planning.utility import Tradeoff, frontier


def test_frontier_moves_to_fewer_sessions_as_they_cost_more() -> None:
    names = ["weekly", "every 2 weeks", "every 6 weeks"]
    rem = np.array([300.0, 280.0, 200.0])
    sessions = np.array([52.0, 26.0, 9.0])
    best = [r["best"] for r in frontier(names, rem, sessions, lambdas=(0.0, 1.0, 3.0, 10.0))]
    assert best == ["weekly", "every 2 weeks", "every 2 weeks", "every 6 weeks"]
    # hours of monitoring make a session dearer: with w_h > 0 the same lambda picks fewer sessions
    assert frontier(names, rem, sessions, lambdas=(2.0,))[0]["best"] == "every 2 weeks"
    assert frontier(names, rem, sessions, lambdas=(2.0,), w_h=1.0)[0]["best"] == "every 6 weeks"
    assert Tradeoff(2.0).utility(300.0, 52.0) == pytest.approx(196.0)


def test_tradeoff_refuses_bad_weights() -> None:
    with pytest.raises(PlanError, match="lambda"):
        Tradeoff(-1.0)
    with pytest.raises(PlanError, match="w_h"):
        Tradeoff(1.0, w_h=-0.5)
