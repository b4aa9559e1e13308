"""Fuzzing study files: generated and mutated virtual-trial definitions (inline plans or plan files, visits,
outcomes, follow-up, randomisation, population, targets).

Each input is refused with a KetasimError, or a small virtual trial of it gives finite, in-range scores (MADRS
0-60, scores within the study's scale) and no infinite outcome, within 30 s; every arm's doses respect the
published limits unless its plan says ``allow_off_label``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from fuzz_plans import plan_mapping
from fuzz_support import (
    CI_EXAMPLES,
    LONG_EXAMPLES,
    check_madrs,
    check_plan_doses,
    fuzz_files,
    mutated_file,
)
from hypothesis import strategies as st

from ketasim.dosing.planfile import example_paths
from ketasim.symptoms.scales import get_scale
from ketasim.trials.runner import run_study
from ketasim.trials.studyfile import load_study

SCALES = ("madrs", "hdrs17", "hdrs21", "phq9", "qids_sr16")
# example plans without a patient of their own (a life event or a chronic load would add to the virtual
# patients' load, which the baseline may not explain: a clean refusal, but one that tests nothing new)
ARM_EXAMPLES = [p for p in example_paths() if p.stem in ("induction-six", "single-infusion", "induction-taper",
                                                          "induction-psychotherapy", "esketamine-nasal")]


@st.composite
def study_mapping(draw: Any) -> dict[str, Any]:
    horizon = draw(st.integers(7, 90))
    n_arms = draw(st.sampled_from([1, 1, 2]))
    arms = []
    for i in range(n_arms):
        if draw(st.integers(0, 3)) == 0:
            plan: Any = str(draw(st.sampled_from(ARM_EXAMPLES)))
        else:
            plan = draw(plan_mapping(max_horizon=horizon))
            plan.pop("horizon_weeks", None)
            plan["horizon_days"] = horizon
            plan["patient"].pop("life_events", None)  # virtual patients bring their own load
            plan["patient"]["chronic_load"] = 0.0
        arms.append({"name": f"arm{i}", "plan": plan})
    if any(isinstance(a["plan"], str) for a in arms):
        horizon = min(horizon, 28)  # the examples run at least 28 days
    visits: list[dict[str, Any]] = [{"name": "baseline", "day": 0.3}]
    names = []
    for k, day in enumerate(sorted(draw(st.lists(st.integers(1, horizon), min_size=1, max_size=4, unique=True)))):
        visits.append({"name": f"v{k}", "day": day + 0.3})
        names.append(f"v{k}")
    if draw(st.booleans()):
        count = draw(st.integers(1, 10))
        every = max(0.5, (horizon - 1) / count)
        visits.append({"series": "f", "start": 1.0, "every": round(every, 3), "count": count})
    outcomes: list[dict[str, Any]] = []
    for j in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["response_rate", "remission_rate", "mean_change", "sustained_response",
                                     "relapse_median", "relapse_probability", "relapse_proportion"]))
        o: dict[str, Any] = {"id": f"o{j}", "kind": kind}
        if kind in ("response_rate", "remission_rate", "mean_change"):
            o["visit"] = draw(st.sampled_from(names))
        if kind == "sustained_response":
            o["visits"] = names
        if kind.startswith("relapse"):
            o["relapse"] = {"definition": draw(st.sampled_from(["loss_of_response", "sustain1"]))}
            if kind == "relapse_probability":
                o["by_day"] = draw(st.sampled_from([7, 14, 28]))
        if n_arms > 1 and draw(st.booleans()):
            o["arm"] = "arm1"
        outcomes.append(o)
    study: dict[str, Any] = {"id": "fuzz", "title": "Fuzz", "scale": draw(st.sampled_from(SCALES)),
                             "n_published": draw(st.integers(0, 500)), "arms": arms, "visits": visits,
                             "outcomes": outcomes}
    if any(o["kind"].startswith("relapse") for o in outcomes):
        study["follow_up"] = {"start_day": 1.0, "min_days": float(horizon - 1), "max_days": float(horizon - 1)}
    if n_arms > 1:
        study["randomisation"] = {"eligibility": {"kind": "response", "visits": [names[0]]},
                                  "arms": ["arm0", "arm1"]}
    if draw(st.booleans()):
        mean = draw(st.sampled_from([25.0, 33.0, 40.0]))
        study["population"] = {"baseline_madrs_mean": mean, "baseline_madrs_sd": draw(st.sampled_from([3.0, 6.0])),
                               "baseline_madrs_range": [mean - 10, mean + 10]}
        if draw(st.booleans()):
            study["population"]["covariates"] = {"fraction_female": 0.5, "weight_min": 45.0}
    if draw(st.booleans()):
        study["targets"] = [{"id": outcomes[0]["id"], "published": 50, "band": [30, 70], "unit": "%"}]
    return study


def study_file() -> st.SearchStrategy[bytes]:
    return study_mapping().flatmap(
        lambda m: mutated_file(m, lambda t: yaml.safe_dump(t, sort_keys=False, allow_unicode=True)))


def check_study(loaded: Any) -> None:
    study, _ = loaded
    for arm in study.arms:
        check_plan_doses(arm.plan)
    res = run_study(study, 8, seed=0)
    low, high = get_scale(study.scale).range
    for name, arm in res.arms.items():
        check_madrs(arm.model_madrs, f"arm {name}: model MADRS")
        s = np.asarray(arm.scores, dtype=float)
        assert np.all(np.isfinite(s)) and s.min(initial=low) >= low and s.max(initial=low) <= high, name
    for oid, est in res.outcomes.items():
        assert not math.isinf(est.value), oid  # NaN: undefined (nobody qualifies, a median not reached)


def fuzz_study_files(tmp_path: Path, examples: int) -> None:
    fuzz_files("study files", tmp_path / "fuzz-study.yaml", study_file(), load_study, check_study, examples)


def test_fuzz_study_files(tmp_path):
    fuzz_study_files(tmp_path, CI_EXAMPLES)


@pytest.mark.fuzz_long
def test_fuzz_study_files_long(tmp_path):
    fuzz_study_files(tmp_path, 2 * LONG_EXAMPLES)
