"""A small virtual study end to end: cohorts, the engines at the visits, outcomes, JSON and the CLI."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
from typer.testing import CliRunner

from ketasim.interfaces.cli import app
from ketasim.trials.cohort import enrol, model_madrs, model_madrs_reference
from ketasim.trials.runner import run_study, run_trials
from ketasim.trials.studies import BUILTIN_STUDIES, MURROUGH13B, SUSTAIN1

REQUIRED = {"id", "published", "band", "simulated", "interval", "n_patients", "within_band", "arm", "n_published",
            "log_likelihood", "ppi50", "ppi90", "ppi_low", "ppi_high", "within_ppi50", "within_ppi90"}


@pytest.mark.parametrize("study", [MURROUGH13B, SUSTAIN1], ids=lambda s: s.id)
def test_batch_engine_matches_one_patient_engine_at_the_visits(study):
    cohort = enrol(study.population, 4, seed=5)
    days = np.array([v.day for v in study.visits])
    for arm in study.arms:
        fast = model_madrs(arm.plan, cohort.patients(), days)
        ref = model_madrs_reference(arm.plan, cohort.patients(), days)
        assert np.max(np.abs(fast - ref)) < 0.1


def test_cohorts_are_common_random_numbers():
    pop = SUSTAIN1.population
    a, b = enrol(pop, 60, seed=3), enrol(pop, 60, seed=3)
    assert np.array_equal(a.baseline_madrs, b.baseline_madrs)
    lo, hi = pop.baseline_madrs_range
    assert np.all((a.baseline_madrs >= lo) & (a.baseline_madrs <= hi))
    # other spreads: the same patients (severity, weight), other individual parameters
    other = a.patients(spreads={"kappa_G": 0.9, "k_form": 0.1, "k_hom": 0.2, "a_antidepressant": 0.3})
    assert np.array_equal(other.baseline_madrs, a.baseline_madrs) and np.array_equal(other.weight_kg, a.weight_kg)
    assert not np.array_equal(other.params, a.patients().params)


def test_small_study_run_returns_every_figure_with_an_interval():
    res = run_study(MURROUGH13B, 60, seed=1)
    assert set(res.outcomes) == {o.id for o in MURROUGH13B.outcomes}
    for e in res.outcomes.values():
        assert np.isfinite(e.value) and e.low <= e.value <= e.high and e.n > 0
    again = run_study(MURROUGH13B, 60, seed=1)
    assert again.outcomes == res.outcomes  # seeded


def test_randomised_study_allocates_stable_remitters_only():
    res = run_study(SUSTAIN1, 80, seed=2)
    for arm, rows in res.randomised.items():
        scores = res.arms[arm]
        idx = [i for i, v in enumerate(SUSTAIN1.visits) if v.name in ("wk15", "wk16")]
        sel = np.isin(scores.rows, rows)
        assert np.all(scores.scores[sel][:, idx] <= 12)
    assert res.outcomes["sustain1-hr"].n == sum(len(r) for r in res.randomised.values())


@pytest.mark.slow
def test_trials_json_prints_every_target_with_the_required_keys():
    out = CliRunner().invoke(app, ["trials", "--json", "--n", "40"])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.stdout)
    rows = payload["targets"]
    from ketasim.trials.targets import TARGETS_BY_ID

    assert {r["id"] for r in rows} == set(TARGETS_BY_ID)
    for r in rows:
        assert REQUIRED <= set(r)
        assert isinstance(r["within_band"], bool)
        assert isinstance(r["within_ppi90"], bool)
        assert r["ppi_draws"] == 0 or r["ppi90"][0] <= r["ppi_median"] <= r["ppi90"][1]
    assert payload["draws"] == 4 and payload["coverage"]["fit_set"]["targets"] == len(rows)


def test_user_study_yaml(tmp_path):
    study = tmp_path / "study.yaml"
    study.write_text(textwrap.dedent("""
        id: my-single
        title: one infusion
        citation: test
        scale: qids_sr16
        population: {baseline_madrs_mean: 32, baseline_madrs_sd: 4, baseline_madrs_range: [24, 45]}
        arms:
          - name: ketamine
            plan:
              start_date: 2025-01-06
              horizon_days: 10
              patient: {weight_kg: 70, baseline_madrs: 33, chronic_load: 0.5}
              doses:
                - {date: 2025-01-06, time: "09:00", route: iv, dose: 0.5 mg/kg, infusion_minutes: 40}
        visits:
          - {name: baseline, day: 0.33}
          - {series: d, start: 1.375, every: 1, count: 3}
        outcomes:
          - {id: r1, kind: response_rate, visit: d1}
          - {id: c3, kind: mean_change, visit: d3}
        targets:
          - {id: r1, published: 50, band: [30, 70], unit: "%"}
    """))
    out = CliRunner().invoke(app, ["trials", "--study", str(study), "--json", "--n", "30"])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.stdout)
    assert [r["id"] for r in payload["targets"]] == ["r1"]
    assert REQUIRED <= set(payload["targets"][0])
    assert [o["id"] for o in payload["outcomes"]] == ["c3"]


def test_bad_user_study_names_file_line_field_and_allowed(tmp_path):
    from ketasim.errors import PlanError
    from ketasim.trials.studyfile import load_study

    arm = ("arms:\n  - name: k\n    plan: {start_date: 2025-01-06, horizon_days: 5, doses: "
           "[{date: 2025-01-06, dose: 0.5 mg/kg}]}\n")
    cases = {
        "id: x\narms: []\nvisits:\n  - {name: baseline, day: 0.3}\noutcomes: []\n": ("line 2", "arms", "one arm"),
        "id: x\n" + arm + "visits:\n  - {name: baseline, day: 0.3}\noutcomes:\n"
        "  - {id: a, kind: response_ratio, visit: baseline}\n": ("line 8", "response_ratio", "response_rate"),
        "id: x\n" + arm + "visits:\n  - {name: start, day: 0.3}\noutcomes: []\n": ("visits", "baseline", ""),
    }
    for text, words in cases.items():
        study = tmp_path / "bad.yaml"
        study.write_text(text)
        with pytest.raises(PlanError) as err:
            load_study(study)
        msg = str(err.value)
        assert "bad.yaml" in msg and all(w in msg for w in words), msg
    out = CliRunner().invoke(app, ["trials", "--study", str(tmp_path / "missing.yaml")])
    assert out.exit_code != 0


def test_run_trials_lines_outcomes_up_with_targets():
    results, rows = run_trials([BUILTIN_STUDIES["zarate06"]], 30, seed=0)
    assert [r.target.id for r in rows] == ["zarate06-r1", "zarate06-q1", "zarate06-r7"]
    d = rows[0].as_dict()
    assert REQUIRED <= set(d) and d["n_patients"] == 30
