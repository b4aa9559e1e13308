"""The exact modal PK solution agrees with a tight numerical solve, and doses superpose."""

from __future__ import annotations

import numpy as np
import pytest
from pk_reference import exact_states, numeric_states

from ketasim.exposure.models import PK_MODELS, get_model
from ketasim.exposure.system import DoseInput, build_system

# Overlapping infusions, a bolus during an infusion, and extravascular doses while drug is still on board.
MIXED = {
    "iv": [DoseInput(1.0, 40 / 60, 35.0, "iv"), DoseInput(1.25, 2.0, 20.0, "iv"), DoseInput(1.5, 0.0, 5.0, "iv"),
           DoseInput(26.0, 40 / 60, 35.0, "iv")],
    "im": [DoseInput(4.0, 0.0, 50.0, "im"), DoseInput(4.5, 0.0, 25.0, "im")],
    "oral": [DoseInput(0.0, 0.0, 100.0, "oral"), DoseInput(8.0, 0.0, 100.0, "oral")],
    "sublingual": [DoseInput(2.0, 0.0, 30.0, "sublingual")],
    "intranasal": [DoseInput(9.0, 0.0, 28.0, "intranasal", 0), DoseInput(9.0 + 5 / 60, 0.0, 28.0, "intranasal", 1),
                   DoseInput(9.0 + 10 / 60, 0.0, 28.0, "intranasal", 2)],
}


def _times(doses: list[DoseInput]) -> np.ndarray:
    """Many times, including inside every infusion and just after every dose."""
    ts = [np.linspace(0.0, 60.0, 241)]
    for d in doses:
        ts.append(d.start_h + np.array([1e-3, 0.05, 0.2, 0.4, 0.6]) * max(d.duration_h, 1.0))
        if d.duration_h > 0:
            ts.append(d.start_h + d.duration_h * np.array([0.1, 0.5, 0.9, 1.0, 1.01]))
    return np.unique(np.concatenate(ts))


def _assert_close(exact: np.ndarray, numeric: np.ndarray, rel: float) -> None:
    """Each state within ``rel`` of its value, with a floor of ``rel`` x 1e-3 of its maximum (near-zero tails)."""
    scale = np.maximum(np.abs(numeric), 1e-3 * np.abs(numeric).max(axis=0, keepdims=True))
    worst = np.max(np.abs(exact - numeric) / np.maximum(scale, 1e-300))
    assert worst < rel, f"largest relative difference {worst:.2e}"


@pytest.mark.parametrize("model_name", list(PK_MODELS))
def test_exact_solution_matches_tight_numerical_solve(model_name):
    model = get_model(model_name)
    routes = list(model.routes)
    system = build_system(model, 83.0, routes)
    doses = [d for r in routes for d in MIXED[r]]
    t = _times(doses)
    _assert_close(exact_states(system, doses, t), numeric_states(system, doses, t), 1e-6)


def test_comparison_can_fail():
    """A 0.1% error in one dose's amount is far outside the tolerance."""
    system = build_system(get_model("kamp2020"), 70.0, ["iv"])
    doses = MIXED["iv"]
    t = _times(doses)
    wrong = [DoseInput(d.start_h, d.duration_h, d.amount_mg * (1.001 if i == 1 else 1.0), d.route)
             for i, d in enumerate(doses)]
    with pytest.raises(AssertionError):
        _assert_close(exact_states(system, wrong, t), numeric_states(system, doses, t), 1e-6)


@pytest.mark.parametrize("model_name", ["kamp2020", "otto2021", "perezruixo2021"])
def test_doses_superpose(model_name):
    """Linearity: the response to doses A and B together is the sum of the responses to each."""
    model = get_model(model_name)
    routes = list(model.routes)
    system = build_system(model, 64.0, routes)
    doses = [d for r in routes for d in MIXED[r]]
    a, b = doses[::2], doses[1::2]
    t = _times(doses)
    both = exact_states(system, doses, t)
    apart = exact_states(system, a, t) + exact_states(system, b, t)
    assert np.max(np.abs(both - apart)) < 1e-10 * np.abs(both).max()
    # Scaling: twice the doses, twice the amounts.
    doubled = [DoseInput(d.start_h, d.duration_h, 2 * d.amount_mg, d.route, d.device) for d in doses]
    assert np.allclose(exact_states(system, doubled, t), 2 * both, rtol=1e-12, atol=1e-12 * np.abs(both).max())
