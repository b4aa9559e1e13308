"""Maintenance policies on a small virtual population; Pareto frontier and relapse episodes."""

from __future__ import annotations

import numpy as np
import pytest

from ketasim.planning.policies import (
    Policy,
    PolicySetting,
    pareto_front,
    personalised_choices,
    personalised_frontier,
    plot_policies,
    policy_frontier,
    relapse_episodes,
    simulate_policies,
)


def test_pareto_front() -> None:
    cost = np.array([10, 20, 30, 25, 20])
    benefit = np.array([5, 50, 60, 40, 50])
    assert pareto_front(cost, benefit).tolist() == [True, True, True, False, True]


def test_relapse_episodes_need_two_weeks_apart() -> None:
    m = np.full((1, 80), 5.0)
    m[0, 10:25] = 30.0  # one episode
    m[0, 27:40] = 30.0  # within two weeks of it: the same episode
    m[0, 60:75] = 30.0  # a new one
    assert relapse_episodes(m, 0, 80).tolist() == [2]


@pytest.mark.slow
def test_policies_small_population(tmp_path) -> None:
    pols = [Policy("fixed 7 d", "fixed", interval_days=7), Policy("fixed 28 d", "fixed", interval_days=28),
            Policy("symptom", "symptom"), Policy("forecast relapse 10%", "forecast"),
            Policy("fixed 28 d + therapy", "fixed", interval_days=28, therapy=True)]
    setting = PolicySetting(days=126, n_particles=8, n_fit=150)
    res = simulate_policies(pols, n_patients=6, seed=3, setting=setting)
    s = res.summary.set_index("policy")
    visits = setting.visits
    # at the first weekly visit at least N days after the previous infusion (the last induction one: day 11)
    for interval in (7, 28):
        last, expected = 11.0, 0
        for v in visits[visits >= 14]:
            if v - last >= interval - 0.5:
                last, expected = v, expected + 1
        assert s.loc[f"fixed {interval} d", "maintenance_infusions"] == expected
    assert s.loc["fixed 7 d", "days_in_remission"] >= s.loc["fixed 28 d", "days_in_remission"]
    per = res.patients
    assert (per.groupby("policy").size() == 6).all()
    assert (per.days_in_remission >= 0).all() and (per.days_in_remission <= 126 - 14).all()
    assert (per[per.policy == "fixed 28 d + therapy"].therapy_sessions == 12).all()
    f = per[per.policy == "forecast relapse 10%"]
    assert (f.maintenance_infusions >= 0).all() and (f.maintenance_infusions <= np.sum(visits >= 14)).all()
    # the trade-off: free infusions favour weekly; the oracle is never below the best fixed interval
    fr = policy_frontier(res, lambdas=(0.0, 1.0, 20.0))
    best = fr[fr.best].set_index("lambda").policy
    assert best[0.0] != "fixed 28 d"  # free infusions: never the sparsest fixed interval without therapy
    for _lam, g in fr.groupby("lambda"):
        g = g.set_index("policy")
        assert g.loc["oracle fixed interval", "utility"] >= max(g.loc["fixed 7 d", "utility"],
                                                               g.loc["fixed 28 d", "utility"]) - 1e-9
    assert fr[fr["lambda"] == 20.0].set_index("policy").loc["fixed 28 d", "utility"] > fr[
        fr["lambda"] == 20.0].set_index("policy").loc["fixed 7 d", "utility"]
    # the personalised interval: chosen from each patient's posterior after induction, never above the oracle
    choices = personalised_choices(res, lambdas=(0.0, 20.0), intervals=(7, 28), n_particles=300)
    assert set(choices.interval_days) <= {7, 28} and len(choices) == 2 * 6
    pf = personalised_frontier(res, choices).set_index("lambda")
    for lam in (0.0, 20.0):
        g = fr[fr["lambda"] == lam].set_index("policy")
        assert pf.loc[lam, "utility"] <= g.loc["oracle fixed interval", "utility"] + 1e-9
    plot_policies(res, str(tmp_path / "p.png"))
    assert (tmp_path / "p.png").stat().st_size > 0
