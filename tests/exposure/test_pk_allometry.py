"""Allometric scaling: clearances x (W/70)^0.75, volumes x W/70, checked on exposure, not on the matrix."""

from __future__ import annotations

import numpy as np
import pytest

from ketasim.exposure.models import PK_MODELS, get_model
from ketasim.exposure.system import MW_RATIO, build_system


def _moments(model_name: str, weight: float, route: str = "iv") -> tuple[float, float, float, float]:
    """AUC (mg h/L) and AUMC (mg h^2/L) of parent and metabolite after a 1 mg dose, exactly (A^-1, A^-2)."""
    system = build_system(get_model(model_name), weight, [route])
    b = system.input_vector(route)
    Ainv_b = np.linalg.solve(-system.A, b)
    Ainv2_b = np.linalg.solve(-system.A, Ainv_b)
    return (float(system.plasma[0] @ Ainv_b), float(system.plasma[0] @ Ainv2_b),
            float(system.plasma[1] @ Ainv_b), float(system.plasma[1] @ Ainv2_b))


@pytest.mark.parametrize("model_name", [n for n, m in PK_MODELS.items() if "iv" in m.routes])
@pytest.mark.parametrize("weight", [45.0, 70.0, 120.0])
def test_clearance_and_volume_scale_allometrically(model_name, weight):
    model = get_model(model_name)
    fc, fv = (weight / 70.0) ** 0.75, weight / 70.0
    auc, aumc, auc_m, _ = _moments(model_name, weight)
    # AUC = F dose / CL (F = 1 for IV): clearance scales with (W/70)^0.75.
    assert auc == pytest.approx(1.0 / (model.parent.cl * fc), rel=1e-9)
    # Vss = CL x MRT = dose AUMC / AUC^2: volumes scale with W/70.
    assert aumc / auc**2 == pytest.approx(model.parent.vss * fv, rel=1e-9)
    # Metabolite: AUC_m = fm dose / CL_m, in norketamine mass (molar-mass ratio 223.70 / 237.73).
    assert auc_m == pytest.approx(MW_RATIO * model.fraction_metabolised / (model.metabolite.cl * fc), rel=1e-9)


def test_initial_concentration_after_a_bolus_scales_with_weight():
    """C(0+) = dose / V1 with V1 x W/70."""
    for w in (50.0, 90.0):
        system = build_system(get_model("kamp2020"), w, ["iv"])
        c0 = system.plasma[0] @ system.input_vector("iv") * 10.0
        assert c0 == pytest.approx(10.0 / (95.0 * w / 70.0), rel=1e-12)


def test_oral_auc_uses_bioavailability():
    """Extravascular: AUC = F dose / CL; the oral metabolite also receives the presystemic part."""
    auc, _, auc_m, _ = _moments("kamp2020", 80.0, "oral")
    cl = 79.0 * (80.0 / 70.0) ** 0.75
    assert auc == pytest.approx(0.17 / cl, rel=1e-9)
    assert auc_m == pytest.approx(MW_RATIO * (0.17 * 0.80 + 0.60) / (60.0 * (80.0 / 70.0) ** 0.75), rel=1e-9)


def test_variability_factors_multiply_clearance_and_volume():
    """``cl_factor`` and ``v_factor`` (inter-individual variability) act like the allometric factors."""
    base = build_system(get_model("otto2021"), 70.0, ["iv"])
    var = build_system(get_model("otto2021"), 70.0, ["iv"], cl_factor=1.3, v_factor=0.8)
    auc = lambda s: s.plasma[0] @ np.linalg.solve(-s.A, s.input_vector("iv"))  # noqa: E731
    assert auc(var) == pytest.approx(auc(base) / 1.3, rel=1e-9)
    assert 1.0 / var.plasma[0, 0] == pytest.approx(0.8 / base.plasma[0, 0], rel=1e-12)
