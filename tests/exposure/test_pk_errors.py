"""Unknown PK model names and routes are user errors that list what is allowed."""

from __future__ import annotations

import pytest

from ketasim.dosing.plan import Dose, Plan
from ketasim.errors import KetasimError
from ketasim.exposure.models import PK_MODELS, get_model
from ketasim.exposure.system import build_system


def test_unknown_model_lists_the_models():
    with pytest.raises(KetasimError) as info:
        get_model("kamp2021")
    msg = str(info.value)
    assert "kamp2021" in msg
    assert all(name in msg for name in PK_MODELS)


def test_unknown_route_lists_the_routes():
    model = get_model("otto2021")
    with pytest.raises(KetasimError) as info:
        build_system(model, 70.0, ["rectal"])
    msg = str(info.value)
    assert "rectal" in msg and all(r in msg for r in model.routes)
    system = build_system(model, 70.0, ["iv"])
    with pytest.raises(KetasimError, match="otto2021.: iv"):
        system.input_vector("oral")


def test_route_missing_from_the_model_in_a_plan():
    """Intranasal esketamine with the IV model chosen: the error names the model and the route (when the plan
    is built, before any simulation)."""
    with pytest.raises(KetasimError, match="otto2021.*intranasal"):
        Plan(doses=(Dose(0.0, 56.0, route="intranasal", drug="esketamine", devices=2),),
             pk_models={"esketamine": "otto2021"}, horizon_days=2, allow_off_label=True)


def test_unknown_model_in_a_plan_is_a_user_error():
    with pytest.raises(KetasimError, match="kamp2020"):
        Plan(doses=(Dose(0.0, 35.0),), pk_models={"racemic": "kamp"}, horizon_days=2)


def test_weight_must_be_positive():
    with pytest.raises(ValueError, match="weight_kg"):
        build_system(get_model("kamp2020"), 0.0)
