"""One world (issue 11, item 5): the virtual population, the virtual trials (before any inclusion criterion) and the
population explanations draw from the one population object of a structure. 20,000 patients from each; a marginal
that differs by more than the stated tolerance fails the test: KS statistic above 0.03, a class share off by more
than 2 points, an event rate off by more than 3%."""

from __future__ import annotations

import numpy as np
from scipy.stats import ks_2samp

from ketasim.dosing.plan import Patient
from ketasim.population.structures import V2
from ketasim.trials.cohort import _draw
from ketasim.trials.studies import PopulationSpec

N = 20_000
HORIZON = 365.0


def _marginals(vp) -> dict[str, np.ndarray]:
    events = vp.life_events(HORIZON)
    return {"baseline_madrs": vp.baseline_madrs, "chronic_load": vp.chronic_load,
            "k_form": vp.param("k_form"), "k_hom": vp.param("k_hom"), "klass": vp.klass,
            "events": np.diff(events.off)}


def test_population_trials_and_explanations_draw_from_one_world():
    from ketasim.population.patients import sample_patients

    load = V2.chronic_load.value  # type: ignore[union-attr]
    typical = Patient(baseline_madrs=33.0, chronic_load=load)
    worlds = {
        "population": _marginals(sample_patients(N, seed=1, patient=typical, model=V2)),
        "trials": _marginals(_draw(PopulationSpec(baseline_madrs_mean=33.0, baseline_madrs_sd=4.5), 2, N, None,
                                   None, None, V2)),
        # ketasim.explain.population draws with the plan's patient as the typical one
        "explain": _marginals(sample_patients(N, seed=3, patient=typical, model="v2")),
    }
    ref = worlds["population"]
    for name, w in worlds.items():
        for key in ("baseline_madrs", "chronic_load", "k_form", "k_hom"):
            assert ks_2samp(ref[key], w[key]).statistic < 0.03, (name, key)
        shares_ref = np.bincount(ref["klass"], minlength=3) / N
        shares = np.bincount(w["klass"], minlength=3) / N
        assert np.max(np.abs(shares - shares_ref)) < 0.02, name
        assert abs(w["events"].mean() / ref["events"].mean() - 1.0) < 0.03, name
    # the trials' typical chronic load is the structure's, not the trials' own calibrated one
    assert abs(np.median(worlds["trials"]["chronic_load"]) - load) < 0.05
