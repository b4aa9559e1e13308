"""Structures scored on the same evidence, seeds and likelihood (``ketasim.evidence.compare``)."""

from __future__ import annotations

import pytest

from ketasim.errors import PlanError
from ketasim.evidence.compare import comparison_markdown, with_values
from ketasim.evidence.simulate import ParameterSet, simulate_evidence
from ketasim.population.structures import V2


def test_a_structure_runs_through_the_evidence_base_with_its_own_spreads_and_fluctuation():
    v1, v2 = ParameterSet.in_force("v1"), ParameterSet.in_force("v2")
    assert v2.measurement.fluctuation_sd == pytest.approx(V2.fluctuation[0].value)  # type: ignore[index]
    assert v1.measurement.fluctuation_sd != v2.measurement.fluctuation_sd
    assert "k_form" in v1.spreads and "k_form" not in v2.spreads
    a = simulate_evidence(v1, n_patients=60, studies=["zarate06"]).values
    b = simulate_evidence(v2, n_patients=60, studies=["zarate06"]).values
    assert a.keys() == b.keys() and a != b


def test_with_values_replaces_class_and_life_course_numbers_and_checks_them():
    m = with_values(V2, {"classes.durable_share": 0.7, "life_course.life_event_rate": 2.0})
    assert m.classes.durable_share == 0.7 and m.life_course.life_event_rate == 2.0  # type: ignore[union-attr]
    with pytest.raises(PlanError):
        with_values(V2, {"classes.durable_share": 1.5})


def test_the_report_says_the_scores_are_in_sample():
    scores = {"v1": {"a": -1.0, "total": -1.0}, "v2": {"a": -2.0, "total": -2.0}}
    text = comparison_markdown(scores, {"v1": "one", "v2": "two"}, (0,), None, 1.0)
    assert "in-sample" in text and "| `v2` | two | -2.0 |" in text
