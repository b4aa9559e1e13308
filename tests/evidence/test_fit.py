"""The posterior fit: a reduced run end to end, its checkpoint and --resume, and the log posterior."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ketasim.errors import PlanError
from ketasim.evidence import fit as F
from ketasim.evidence import space
from ketasim.evidence.posterior import load_posterior

TINY = F.FitConfig(waves=(24, 12), validation=4, walkers=60, steps_between_waves=40, steps=60, burn=30, draws=50,
                   n_patients=20)


@pytest.mark.slow
def test_reduced_fit_writes_the_posterior_and_resumes_without_simulating_again(tmp_path, monkeypatch):
    rec = F.run_fit(tmp_path, TINY, command="test")
    post = load_posterior(tmp_path / "posterior.parquet")
    assert post.n_draws == 50 and set(space.names()) <= set(post.draws.columns)
    assert post.provenance["simulations"] == 24 + 12 + 4
    point = json.loads((tmp_path / "calibrated.json").read_text())
    for f in space.FIT_PARAMETERS:
        section = {"typical": "parameters", "omega": "variability", "measurement": "measurement",
                   "placebo": "placebo", "population": "population"}[f.kind]
        entry = point[section][f.name]
        value = entry["omega"] if f.kind == "omega" else entry["value"]
        assert value == pytest.approx(post.draws[f.key].median())
        assert f.lower <= value <= f.upper
    # resuming a finished run re-simulates nothing and gives the same draws
    monkeypatch.setattr(F, "simulate_evidence", lambda *a, **k: (_ for _ in ()).throw(AssertionError("simulated")))
    F.run_fit(tmp_path, TINY, resume=True, command="test")
    again = load_posterior(tmp_path / "posterior.parquet")
    assert np.allclose(again.draws[space.names()].to_numpy(), post.draws[space.names()].to_numpy())
    assert rec["validation"]["draws_simulated"] == 4


def test_resume_refuses_a_checkpoint_of_other_settings(tmp_path):
    ck = F._Checkpoint.open(tmp_path, False, TINY)
    ck.save()
    with pytest.raises(PlanError, match="--resume"):
        F._Checkpoint.open(tmp_path, True, F.FitConfig())


def test_log_posterior_is_minus_infinity_outside_the_prior():
    class FlatEmulator:
        def predict(self, U):
            return np.zeros((len(U), 1)), np.ones((len(U), 1))

    from ketasim.evidence.likelihood import Likelihood, likelihood_items

    lp = F.LogPosterior(FlatEmulator(), Likelihood(likelihood_items()[:1]))
    d = len(space.FIT_PARAMETERS)
    inside = np.r_[np.full(d, 0.5), np.log([1.0, 0.3, 0.2])]
    outside = inside.copy()
    outside[0] = 1.2
    vals = lp(np.vstack([inside, outside]))
    assert np.isfinite(vals[0]) and vals[1] == -np.inf


def test_every_fitted_parameter_maps_into_a_parameter_set():
    u = np.full(len(space.FIT_PARAMETERS), 0.25)
    values = space.to_values(u)
    ps = space.parameter_set(values)
    assert ps.placebo.placebo_late == pytest.approx(values["placebo:placebo_late"])
    assert ps.measurement.fluctuation_sd == pytest.approx(values["measurement:fluctuation_sd"])
    assert ps.spreads["k_form"] == pytest.approx(values["omega:k_form"])
    assert np.allclose(space.to_unit(values), u)
