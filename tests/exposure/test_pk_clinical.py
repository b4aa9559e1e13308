"""Clinical anchors of the PK models: the 0.5 mg/kg infusion peak and esketamine nasal spray availability."""

from __future__ import annotations

import numpy as np
import pytest
from pk_reference import exact_states

from ketasim.dosing.plan import Dose, Patient, Plan
from ketasim.engine.compile import expand_doses, pk_model_name
from ketasim.errors import KetasimError
from ketasim.exposure.models import PK_MODELS, get_model
from ketasim.exposure.system import DoseInput, build_system

INFUSION = [DoseInput(0.0, 40 / 60, 0.5 * 70.0, "iv")]
IV_MODELS = [name for name, m in PK_MODELS.items() if "iv" in m.routes]


def _peak(model_name: str) -> tuple[float, float]:
    """Peak plasma parent concentration (ng/mL) and its time (h) after 0.5 mg/kg over 40 min at 70 kg."""
    system = build_system(get_model(model_name), 70.0, ["iv"])
    t = np.linspace(0.0, 4.0, 4801)
    c = exact_states(system, INFUSION, t) @ system.plasma[0] * 1000.0
    i = int(np.argmax(c))
    return float(c[i]), float(t[i])


def test_default_racemic_model_peaks_near_clinical_value():
    """Zarate 2006 (via Zanos 2018 Table 1): about 185 ng/mL at the end of a 0.5 mg/kg, 40-min infusion."""
    assert pk_model_name(Plan(doses=(Dose(0.0, 35.0),))) == ("racemic", "kamp2020")
    peak, t_peak = _peak("kamp2020")
    assert 150.0 <= peak <= 250.0
    assert t_peak == pytest.approx(40 / 60, abs=2e-3)


@pytest.mark.parametrize("model_name", IV_MODELS)
def test_every_iv_model_peaks_at_the_end_of_the_infusion(model_name, capsys):
    peak, t_peak = _peak(model_name)
    with capsys.disabled():
        print(f"\n  {model_name}: peak {peak:.0f} ng/mL at {t_peak * 60:.0f} min", end="")
    assert t_peak == pytest.approx(40 / 60, abs=2e-3)
    # All published sets put the peak of this infusion in the same order of magnitude (100-300 ng/mL).
    assert 100.0 <= peak <= 300.0


def _perez_ruixo_inputs(device: int) -> np.ndarray:
    system = build_system(get_model("perezruixo2021"), 70.0, ["intranasal"])
    return system.input_vector("intranasal", device), system


def test_later_devices_absorb_less_nasally():
    """Perez-Ruixo 2021: the nasal fraction of each later device is 0.62 times the previous one."""
    first, system = _perez_ruixo_inputs(0)
    nasal = system.state_names.index("depot_intranasal_0")
    swallowed = [system.state_names.index(n) for n in ("depot_intranasal_1", "depot_intranasal_2")]
    for dev in (1, 2, 3):
        vec = system.input_vector("intranasal", dev)
        assert vec[nasal] == pytest.approx(0.54 * 0.62**dev, rel=1e-12)
        # What is not absorbed nasally is swallowed: the swallowed paths grow accordingly.
        assert vec[swallowed].sum() == pytest.approx((1 - 0.54 * 0.62**dev) * 0.64, rel=1e-12)
    assert first[nasal] == pytest.approx(0.54)


def _absolute_bioavailability(amount_mg: float, devices: int) -> float:
    """F of esketamine = AUC(intranasal) x CL / dose, AUC from the exact solution to 0 (A^-1)."""
    plan = Plan(doses=(Dose(0.0, amount_mg, route="intranasal", drug="esketamine", devices=devices),),
                allow_off_label=True)  # without an oral antidepressant: off-label
    assert pk_model_name(plan) == ("esketamine", "perezruixo2021")
    system = build_system(get_model("perezruixo2021"), 70.0, ["intranasal"])
    b = sum(system.input_vector(d.route, d.device) * d.amount_mg for d in expand_doses(plan.doses, 70.0))
    auc = system.plasma[0] @ np.linalg.solve(-system.A, b)  # mg h / L
    return float(auc * get_model("perezruixo2021").parent.cl / amount_mg)


def test_esketamine_56mg_absolute_bioavailability():
    """Spravato label / Perez-Ruixo 2021: absolute bioavailability of the 56 mg dose about 48%."""
    f56 = _absolute_bioavailability(56.0, 2)
    assert 0.45 <= f56 <= 0.60
    # A third device absorbs less nasally, so 84 mg (3 devices) is less available per mg.
    assert _absolute_bioavailability(84.0, 3) < f56


def test_bioavailability_from_auc_agrees_with_a_long_numeric_auc():
    """The A^-1 shortcut equals the area under the exact curve (trapezoid on a fine grid to 30 days)."""
    system = build_system(get_model("perezruixo2021"), 70.0, ["intranasal"])
    doses = expand_doses((Dose(0.0, 56.0, route="intranasal", drug="esketamine", devices=2),), 70.0)
    t = np.concatenate([np.linspace(0, 24, 200_001), np.linspace(24, 720, 20_001)[1:]])
    c = exact_states(system, doses, t) @ system.plasma[0]
    auc = np.trapezoid(c, t)
    f = auc * get_model("perezruixo2021").parent.cl / 56.0
    assert f == pytest.approx(_absolute_bioavailability(56.0, 2), rel=1e-4)


def test_weight_based_dose_follows_the_patient():
    """0.5 mg/kg at 100 kg is 50 mg; an amount_mg written for 70 kg beside it is refused, naming both."""
    with pytest.raises(KetasimError, match="amount_mg=35 and mg_per_kg=0.5"):
        Plan(patient=Patient(weight_kg=100.0), doses=(Dose(0.0, 35.0, mg_per_kg=0.5),))
    plan = Plan(patient=Patient(weight_kg=100.0), doses=(Dose(0.0, mg_per_kg=0.5),))
    assert plan.doses[0].amount_mg == pytest.approx(50.0)
    (d,) = expand_doses(plan.doses, plan.patient.weight_kg)
    assert d.amount_mg == pytest.approx(50.0)
    assert d.duration_h == pytest.approx(40 / 60)
