"""Regression tests of issue 9 (study files and calibration start files): NaN, huge numbers and wrong shapes
give a clean error with file, line, field, value and what is allowed, quickly."""

from __future__ import annotations

import time

import pytest

from ketasim.errors import PlanError
from ketasim.trials.calibrate import load_start
from ketasim.trials.studyfile import load_study

ARM = ("arms:\n  - name: k\n    plan: {start_date: 2025-01-06, horizon_days: 30,\n"
       "           doses: [{date: 2025-01-06, dose: 0.5 mg/kg}]}\n")
STUDY = ("id: x\n" + ARM + "visits:\n  - {name: baseline, day: 0.3}\n  - {name: end, day: 7.3}\n"
         "outcomes:\n  - {id: r, kind: response_rate, visit: end}\n")


def refusal(tmp_path, text: str) -> str:
    p = tmp_path / "study.yaml"
    p.write_text(text)
    with pytest.raises(PlanError) as info:
        load_study(p)
    return str(info.value)


def test_a_valid_study_file_loads(tmp_path):
    p = tmp_path / "study.yaml"
    p.write_text(STUDY)
    study, _ = load_study(p)
    assert [v.name for v in study.visits] == ["baseline", "end"]


@pytest.mark.parametrize("old, new, words", [
    ("day: 7.3", "day: .nan", ["line 8", "visits[1].day = nan", "finite"]),
    ("day: 7.3", "day: .inf", ["line 8", "visits[1].day = inf", "finite"]),
    ("visit: end}", "visit: end, threshold: .nan}", ["line 10", "outcomes[0].threshold"]),
])
def test_nan_and_infinity_are_refused(tmp_path, old, new, words):
    msg = refusal(tmp_path, STUDY.replace(old, new))
    assert all(w in msg for w in words), msg


@pytest.mark.parametrize("population, words", [
    ("{baseline_madrs_mean: 1e9}", ["baseline_madrs_mean = 1000000000.0", "0-60"]),
    ("{baseline_madrs_sd: 1e9}", ["baseline_madrs_sd", "at most 30"]),
    ("{baseline_madrs_mean: 20, baseline_madrs_sd: 2, baseline_madrs_range: [50, 60]}", ["at least 5%"]),
    ("{covariates: {weight_max: 1e9}}", ["covariates.weight_max", "60 to 250"]),
])
def test_baselines_are_bounded(tmp_path, population, words):
    msg = refusal(tmp_path, STUDY + f"population: {population}\n")
    assert "line 11" in msg and all(w in msg for w in words), msg


def test_200000_visits_are_refused_quickly(tmp_path):
    text = STUDY.replace("  - {name: end, day: 7.3}\n",
                         "  - {name: end, day: 7.3}\n  - {series: f, start: 1, every: 0.0001, count: 200000}\n")
    t0 = time.perf_counter()
    msg = refusal(tmp_path, text)
    assert "line 9: visits[2].count = 200000: allowed at most 1,000 visits" in msg
    assert time.perf_counter() - t0 < 5.0


def test_inline_plan_errors_name_the_study_file_line(tmp_path):
    msg = refusal(tmp_path, STUDY.replace("dose: 0.5 mg/kg", "dose: 5 mg/kg"))
    assert "arms[0].plan" in msg and "study.yaml, line 5: doses[0].dose = '5 mg/kg'" in msg


@pytest.mark.parametrize("text, words", [
    ('{"parameters": []}', ["parameters = 'list'", "an object"]),
    ('{"parameters": {"k_G": 5}}', ["parameters.k_G = 5", "0.05 to 2"]),
    ('{"parameters": {"k_G": {"value": NaN}}}', ["parameters.k_G.value = 'NaN'", "finite"]),
    ('{"measurement": {"fluctuation_tau": {"value": 0}}}', ["fluctuation_tau.value = 0", "1 to 90"]),
    ('{"variability": {"k_form": {"omega": 1e300}}}', ["variability.k_form.omega", "0 to 2"]),
    ('{"parameters": {"k_G": {"value": 1}, "k_G": {"value": 2}}}', ["each key once"]),
    ('[1, 2]', ["a JSON object"]),
])
def test_start_file_sections_and_values_are_checked(tmp_path, text, words):
    p = tmp_path / "start.json"
    p.write_text(text)
    with pytest.raises(PlanError) as info:
        load_start(p)
    msg = str(info.value)
    assert "start.json" in msg and all(w in msg for w in words), msg
