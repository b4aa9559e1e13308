"""The validation report: table with every target, misses explained, figures and sensitivity written."""

from __future__ import annotations

import json

from ketasim.trials.report import MISS_NOTES, write_report
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
