"""The validation report: table with every target, misses explained, figures and sensitivity written."""

from __future__ import annotations

import json

import numpy as np

from ketasim.trials.report import MISS_NOTES, other_cohorts, write_report
from ketasim.trials.runner import run_trials
from ketasim.trials.sensitivity import OUTCOMES, sobol_sensitivity
from ketasim.trials.studies import BUILTIN_STUDIES
from ketasim.trials.targets import TARGETS_BY_ID


def test_report_writes_table_figures_and_explains_misses(tmp_path):
    studies = [BUILTIN_STUDIES["murrough13b"], BUILTIN_STUDIES["wilkinson17"]]
    results, rows = run_trials(studies, 40, seed=1)
    path = write_report(tmp_path, results, rows, seed=1, sensitivity_n=0)
    text = path.read_text()
    for r in rows:
        assert f"| {r.target.id} |" in text
    misses = [r for r in rows if not r.within_band]
    assert text.count("**MISS**") == len(misses)
    for r in misses:
        assert f"- **{r.target.id}**" in text  # every miss has its explanation line
    figs = tmp_path / "validation"
    for name in ("targets_overview.png", "study_murrough13b.png", "relapse_murrough13b.png",
                 "study_wilkinson17.png", "relapse_wilkinson17.png"):
        assert (figs / name).stat().st_size > 10_000
        assert f"validation/{name}" in text
    assert len(json.loads((figs / "targets.json").read_text())) == len(rows)
    assert "not a medical device" in text


def test_report_reruns_other_cohorts_and_counts_passes(tmp_path):
    studies = [BUILTIN_STUDIES["murrough13a"]]
    results, rows = run_trials(studies, 40, seed=1)
    robust = other_cohorts(results, [2, 3])
    assert set(robust) == {r.target.id for r in rows} and all(len(v) == 2 for v in robust.values())
    # the same seed again reproduces the main run's verdicts
    again = other_cohorts(results, [1])
    assert all(again[r.target.id] == [r.within_band] for r in rows)
    text = write_report(tmp_path, results, rows, seed=1, sensitivity_n=0, other_seeds=[2, 3]).read_text()
    for r in rows:
        line = next(ln for ln in text.splitlines() if ln.startswith(f"| {r.target.id} |"))
        assert line.endswith(f" {sum(robust[r.target.id])} of 2 |")
    assert "2 other sets of virtual patients" in text


def test_miss_notes_refer_to_real_targets():
    assert set(MISS_NOTES) <= set(TARGETS_BY_ID)


def test_sobol_indices_on_a_tiny_sample():
    res = sobol_sensitivity(n_base=2, n_patients=20, seed=0, factors=("k_form", "k_prune", "kappa_G"))
    assert res.n_runs == 2 * (3 + 2)
    assert set(res.indices) == set(OUTCOMES)
    for outcome in OUTCOMES:
        assert set(res.indices[outcome]) == {"k_form", "k_prune", "kappa_G"}
    d = res.as_dict()
    assert d["indices"]["response_day1"]["k_form"].keys() == {"S1", "S1_conf", "ST", "ST_conf"}


def test_values_at_a_bound_are_flagged():
    from ketasim.trials.report import _at_bound

    assert _at_bound(0.995, [0.1, 1.0]) == "upper"
    assert _at_bound(0.101, [0.1, 1.0]) == "lower"
    assert _at_bound(0.001, [0.0, 1.0]) == "lower"
    assert _at_bound(0.5, [0.0, 1.0]) == "" and _at_bound(0.5, None) == ""


def test_share_at_the_load_cap_grows_with_the_typical_load():
    from ketasim.population.patients import load_cap
    from ketasim.trials.cohort import enrol, share_at_load_cap

    cohort = enrol(BUILTIN_STUDIES["wilkinson17"].population, 300, 1)
    low, high = (cohort.patients(chronic_load=v) for v in (0.1, 1.5))
    assert 0.0 <= share_at_load_cap(low) < share_at_load_cap(high) <= 1.0
    assert np.all(high.chronic_load <= load_cap(high.baseline_madrs, high.params) * (1 + 1e-12))
