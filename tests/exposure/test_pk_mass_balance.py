"""Mass balance: drug in the body plus drug eliminated equals the bioavailable dose given so far.

Amounts are in parent-drug mg (the metabolite formed from 1 mg of parent counts as 1 mg). The
eliminated amount integrates the clearances of the published model, not the matrix ``A``.
"""

from __future__ import annotations

import numpy as np
import pytest
from pk_reference import delivered_amount, eliminated_amount, exact_states, mass_states

from ketasim.exposure.models import get_model
from ketasim.exposure.system import DoseInput, build_system

# (model, route, doses, expected fraction reaching the circulation per mg, as parent + metabolite)
CASES = {
    "iv racemic": ("kamp2020", "iv", [DoseInput(1.0, 40 / 60, 35.0, "iv")], 1.0),
    "iv racemic 3-cmt": ("domino1984", "iv", [DoseInput(0.5, 40 / 60, 35.0, "iv"), DoseInput(3.0, 0.0, 10.0, "iv")],
                         1.0),
    "iv esketamine": ("otto2021", "iv", [DoseInput(0.0, 0.5, 20.0, "iv")], 1.0),
    "im racemic": ("kamp2020", "im", [DoseInput(0.0, 0.0, 50.0, "im")], 0.93),
    "oral racemic": ("kamp2020", "oral", [DoseInput(0.0, 0.0, 100.0, "oral"), DoseInput(12.0, 0.0, 100.0, "oral")],
                     0.17 + 0.60),
    "oral esketamine": ("otto2021", "oral", [DoseInput(0.0, 0.0, 50.0, "oral")], 0.08 + 0.70),
    "intranasal esketamine 2 devices": (
        "perezruixo2021", "intranasal",
        [DoseInput(0.0, 0.0, 28.0, "intranasal", 0), DoseInput(5 / 60, 0.0, 28.0, "intranasal", 1)], None),
}


def _intranasal_fraction(device: int) -> float:
    """Perez-Ruixo 2021: nasal FRn 0.54 x 0.62^device; the rest swallowed, Fgut 0.64 (parent + metabolite)."""
    frn = 0.54 * 0.62**device
    return frn + (1.0 - frn) * 0.64


@pytest.mark.parametrize("case", list(CASES))
def test_body_plus_eliminated_equals_bioavailable_dose(case):
    model_name, route, doses, f_expected = CASES[case]
    system = build_system(get_model(model_name), 70.0, [route])
    t = np.unique(np.concatenate([np.linspace(0.0, 2.0, 41), np.linspace(2.0, 96.0, 48), [0.2, 0.55, 1.3]]))
    x = exact_states(system, doses, t)
    body = x[:, mass_states(system)].sum(axis=1)
    eliminated = eliminated_amount(system, doses, t)
    given = delivered_amount(system, doses, t)
    total_dose = sum(d.amount_mg for d in doses)
    assert np.max(np.abs(body + eliminated - given)) < 1e-9 * total_dose

    # The fraction reaching the circulation is the published one.
    if f_expected is None:
        f_expected = sum(_intranasal_fraction(d.device) * d.amount_mg for d in doses) / total_dose
    assert given[-1] == pytest.approx(f_expected * total_dose, rel=1e-12)
    # Nothing left in the body at the end of the horizon is a sign the check covered all of it.
    assert eliminated[-1] > 0.5 * given[-1]


def test_mass_balance_detects_a_leak():
    """The check can fail: a model whose matrix loses 1% more drug than its clearances say is caught."""
    system = build_system(get_model("kamp2020"), 70.0, ["iv"])
    leaky_A = system.A.copy()
    leaky_A[0, 0] *= 1.01
    leaky = type(system)(**{**system.__dict__, "A": leaky_A})
    lam, V = np.linalg.eig(leaky_A)
    leaky = type(system)(**{**leaky.__dict__, "lam": lam.real, "V": V.real, "Vinv": np.linalg.inv(V.real)})
    doses = [DoseInput(0.0, 40 / 60, 35.0, "iv")]
    t = np.array([0.5, 2.0, 12.0, 48.0])
    body = exact_states(leaky, doses, t)[:, mass_states(leaky)].sum(axis=1)
    err = body + eliminated_amount(leaky, doses, t) - delivered_amount(leaky, doses, t)
    assert np.max(np.abs(err)) > 1e-3
