"""Virtual patients: seeded, chunk-independent, correlated as declared, with the declared spreads."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ketasim.dosing.plan import Patient
from ketasim.errors import KetasimError, PlanError
from ketasim.exposure.models import get_model
from ketasim.parameters import IDX, default_vector
from ketasim.population import (
    CORRELATIONS,
    VirtualPatients,
    all_population_parameters,
    default_variability,
    pk_effects,
    sample_patients,
)
from ketasim.population.patients import BLOCK, MAX_LOAD_SHARE


def test_same_seed_same_patients_and_different_seed_different():
    a = sample_patients(300, seed=5)
    b = sample_patients(300, seed=5)
    c = sample_patients(300, seed=6)
    assert np.array_equal(a.params, b.params) and np.array_equal(a.weight_kg, b.weight_kg)
    assert not np.allclose(a.params[:, IDX["k_form"]], c.params[:, IDX["k_form"]])


def test_patient_i_does_not_depend_on_n_or_on_where_the_chunk_starts():
    whole = sample_patients(2 * BLOCK + 17, seed=3)
    part = sample_patients(40, seed=3, start=BLOCK - 20)
    sl = slice(BLOCK - 20, BLOCK + 20)
    assert np.array_equal(part.params, whole.params[sl])
    assert np.array_equal(part.baseline_madrs, whole.baseline_madrs[sl])
    assert np.array_equal(part.ids, np.arange(BLOCK - 20, BLOCK + 20))
    assert np.array_equal(sample_patients(10, seed=3).params, whole.params[:10])


def test_log_normal_spreads_and_correlations_are_those_declared():
    vp = sample_patients(20_000, seed=1)
    base = default_vector()
    for e in default_variability():  # the spreads in force (calibrated ones when shipped)
        if e.target in IDX and e.distribution == "lognormal":
            logs = np.log(vp.param(e.target) / base[IDX[e.target]])
            assert abs(np.std(logs) - e.spread.value) < 0.02, e.target
            assert abs(np.median(logs)) < 0.03, e.target
    z = vp.latent
    for (a, b), rho in CORRELATIONS.items():
        if a in vp.effects and b in vp.effects:
            r = np.corrcoef(z[:, vp.effects.index(a)], z[:, vp.effects.index(b)])[0, 1]
            assert abs(r - rho.value) < 0.03, (a, b)


def test_pk_omegas_come_from_the_plan_model():
    kamp = {e.target: e.spread.value for e in pk_effects("kamp2020")}
    assert kamp == pytest.approx({"pk_cl": 0.25, "pk_v": 0.25})
    pr = {e.target: e.spread.value for e in pk_effects("perezruixo2021")}
    assert pr["pk_ka"] == pytest.approx(np.sqrt(get_model("perezruixo2021").iiv_omega2["ka"]))
    vp = sample_patients(5000, seed=2, pk_model="perezruixo2021")
    assert abs(np.std(np.log(vp.pk_ka)) - pr["pk_ka"]) < 0.03
    assert np.all(sample_patients(50, seed=2).pk_ka == 1.0)  # Kamp 2020 has no ka omega


def test_covariates_follow_the_declared_distribution_and_a_given_table_is_used():
    vp = sample_patients(20_000, seed=4)
    female = vp.sex == "female"
    assert abs(female.mean() - 0.584) < 0.015
    assert 39.0 <= vp.weight_kg.min() and vp.weight_kg.max() <= 170.0
    assert np.median(vp.weight_kg[female]) < np.median(vp.weight_kg[~female])
    assert 18.0 <= vp.age.min() and vp.age.max() <= 86.0
    table = pd.DataFrame({"weight_kg": [50.0, 120.0], "age": [30.0, 70.0], "sex": ["male", "female"]})
    vp2 = sample_patients(2, seed=4, covariates=table)
    assert np.array_equal(vp2.weight_kg, [50.0, 120.0]) and list(vp2.sex) == ["male", "female"]


def test_chronic_load_never_exceeds_what_the_baseline_allows():
    vp = sample_patients(5000, seed=9, patient=Patient(chronic_load=3.0), variability={"chronic_load": 1.0})
    p = vp.params
    allowed = MAX_LOAD_SHARE * (vp.baseline_madrs - p[:, IDX["madrs_floor"]]) / (p[:, IDX["kappa"]] * p[:, IDX["beta"]])
    assert np.all(vp.chronic_load <= allowed + 1e-12)


def test_switching_a_source_off_and_typical_patients():
    vp = sample_patients(100, seed=1, variability={"k_form": 0.0, "pk_cl": 0.0})
    assert np.all(vp.param("k_form") == default_vector()[IDX["k_form"]])
    assert np.all(vp.pk_cl == 1.0)
    t = VirtualPatients.typical(3, patient=Patient(weight_kg=80.0))
    assert np.all(t.weight_kg == 80.0) and np.all(t.params == default_vector())


def test_frame_round_trip_take_and_concat():
    vp = sample_patients(20, seed=8)
    back = VirtualPatients.from_frame(vp.to_frame())
    for name in ("params", "pk_cl", "pk_v", "pk_ka", "weight_kg", "age", "baseline_madrs", "chronic_load",
                 "acute_load_scale", "ids"):
        assert np.array_equal(getattr(back, name), getattr(vp, name)), name
    assert list(back.sex) == list(vp.sex)
    sub = vp.take([3, 1])
    assert list(sub.ids) == [3, 1] and np.array_equal(sub.params[0], vp.params[3])
    both = VirtualPatients.concat([vp.take(slice(0, 5)), vp.take(slice(5, 20))])
    assert np.array_equal(both.params, vp.params)


def test_bad_inputs_are_user_errors_naming_the_field():
    with pytest.raises(PlanError, match="n_patients"):
        sample_patients(-1, seed=0)
    with pytest.raises(PlanError, match="covariates"):
        sample_patients(3, seed=0, covariates={"height": 1.0})
    with pytest.raises(PlanError, match="variability.target"):
        sample_patients(3, seed=0, variability={"no_such_parameter": 0.3})
    with pytest.raises(KetasimError, match="patients table columns"):
        VirtualPatients.from_frame(pd.DataFrame({"colour": [1]}))


def test_every_number_of_the_variability_model_has_unit_source_and_status():
    for p in all_population_parameters():
        assert p.unit and p.source and p.status in ("literature", "calibrated", "assumed")
