"""Fuzzing plans: generated and mutated plan files (YAML text and file bytes) and Plan objects built in Python.

Each input is refused with a KetasimError or simulates to a finite, in-range trajectory within 30 s, with no
dose above the published limits unless ``allow_off_label``.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from fuzz_plans import build_plan, plan_mapping, plan_object_tree
from fuzz_support import (
    CI_EXAMPLES,
    LONG_EXAMPLES,
    ODD_VALUES,
    Tally,
    check_trajectory,
    fuzz_files,
    fuzz_settings,
    mutated_file,
    mutated_tree,
)
from hypothesis import given
from hypothesis import strategies as st

from ketasim.dosing.planfile import load_plan

PY_ODD = (None, True, "x", "0.5", [], [1.0], {}, math.nan, math.inf, -math.inf, -1.0, 0.0, 1e308, 10**30,
          np.float32(0.5), np.int64(3), np.nan, 1j, object(), dt.date(1, 1, 1), dt.date(9999, 12, 31),
          dt.datetime(2025, 1, 6, 9), np.array([1.0, 2.0]), 17.5, 3651.0, -3650.5)


def dump_yaml(tree: object) -> str:
    return yaml.safe_dump(tree, sort_keys=False, allow_unicode=True)


def plan_file() -> st.SearchStrategy[bytes]:
    return plan_mapping().flatmap(lambda m: mutated_file(m, dump_yaml))


def fuzz_plan_files(tmp_path: Path, examples: int) -> None:
    fuzz_files("plan files (YAML text)", tmp_path / "fuzz-plan.yaml", plan_file(), load_plan, check_trajectory,
               examples)


def fuzz_plan_objects(examples: int) -> None:
    tally = Tally("plans (Python objects)")

    @fuzz_settings(examples)
    @given(plan_object_tree().flatmap(lambda t: mutated_tree(t, odd=PY_ODD, edits=("value",))))
    def one(tree: dict) -> None:
        tally.run(lambda: build_plan(tree), check_trajectory)

    one()
    tally.finish()


def test_fuzz_plan_files(tmp_path):
    fuzz_plan_files(tmp_path, CI_EXAMPLES)


def test_fuzz_plan_objects():
    fuzz_plan_objects(CI_EXAMPLES)


@pytest.mark.fuzz_long
def test_fuzz_plan_files_long(tmp_path):
    fuzz_plan_files(tmp_path, LONG_EXAMPLES)


@pytest.mark.fuzz_long
def test_fuzz_plan_objects_long():
    fuzz_plan_objects(LONG_EXAMPLES)


def test_odd_values_cover_the_cases_of_the_issue():
    """The mutators reach what issue 9 found: control characters, years 0 and 9999, 1e9, 1e308, NaN."""
    for v in ("a\x00b", "0000-01-01", "9999-12-31", 10**9, 1e308, "2025-01-06 25:99", 17.5):
        assert v in ODD_VALUES
    assert any(isinstance(v, float) and math.isnan(v) for v in ODD_VALUES)
