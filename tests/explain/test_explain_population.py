"""The loss of benefit as a distribution over virtual patients (``ketasim explain --patients``)."""

from __future__ import annotations

import numpy as np
import pytest

from ketasim.dosing.plan import Dose, Patient, Plan
from ketasim.dynamics import MECHANISMS
from ketasim.errors import PlanError
from ketasim.explain.population import explain_loss_population, plot_loss_distribution


def _plan() -> Plan:
    doses = tuple(Dose(day=d + 0.375, amount_mg=35.0, mg_per_kg=0.5, duration_min=40.0, phase="induction")
                  for d in (0, 2, 4, 7, 9, 11))
    return Plan(name="series", patient=Patient(), doses=doses, horizon_days=90)


def test_each_patients_parts_add_up_and_the_summary_is_a_distribution(tmp_path):
    e = explain_loss_population(_plan(), 120, seed=3, model="v2")
    parts = e.points[[*MECHANISMS, "residual"]].sum(axis=1).to_numpy()
    assert np.allclose(parts, e.points["total"].to_numpy(), atol=1e-6)  # Shapley efficiency, per patient
    s = e.summary()
    hom = s["all"]["homeostasis"]["points"]
    assert hom["p10"] < hom["median"] < hom["p90"]  # patients differ: an interval, not one number
    by = s["by_class"]
    assert by["non_responder"]["total"]["median"] < by["transient"]["total"]["median"]
    assert sum(by[c]["n"] for c in by) == 120
    assert any("80% of patients" in line for line in e.sentences())
    plot_loss_distribution(e, tmp_path / "loss.png")
    assert (tmp_path / "loss.png").stat().st_size > 10_000


def test_v1_has_no_classes_and_bad_windows_are_refused():
    e = explain_loss_population(_plan(), 20, seed=1)
    assert "by_class" not in e.summary()
    with pytest.raises(PlanError, match="date2"):
        explain_loss_population(_plan(), 5, date1=30, date2=20)
    with pytest.raises(PlanError, match="patients"):
        explain_loss_population(_plan(), 0)
