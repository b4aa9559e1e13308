"""Fuzzing the NONMEM importer: mutated datasets give a clean KetasimError or a valid result, never another
exception.

Each input starts from a valid two-patient dataset and is mutated cell by cell (numbers at and past
their bounds, text, empty cells, NaN, huge values, control characters), row by row (dropped,
duplicated, swapped) and column by column (dropped, renamed, added). A valid result is a dataset
whose every plan passes the project's dose-limit validator (``ketasim.dosing.limits.check_plan``)
with finite numbers and whose every score lies on its scale. Seeded (``derandomize``): the default
suite runs :data:`CI_EXAMPLES` inputs; ``pytest -m fuzz_long`` runs :data:`LONG_EXAMPLES`.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ketasim.dosing.limits import check_plan
from ketasim.errors import KetasimError
from ketasim.formats.nonmem import parse_nonmem
from ketasim.planning.history import SCALE_RANGES

CI_EXAMPLES = 80
LONG_EXAMPLES = 5000

HEADER = ["ID", "TIME", "EVID", "AMT", "RATE", "DUR", "CMT", "II", "ADDL", "SS", "MDV", "DV", "SCALE", "ROUTE",
          "WT", "AGE", "SEX", "BMADRS"]
ROWS = [
    ["1", "0", "0", "0", ".", ".", "3", ".", ".", ".", "0", "30", "MADRS", ".", "70", "45", "1", "."],
    ["1", "9", "1", "35", "52.5", ".", "2", "48", "2", "0", "1", ".", ".", "iv", "70", "45", "1", "."],
    ["1", "33", "0", "0", ".", ".", "4", ".", ".", ".", "0", "12", "PHQ-9", ".", "70", "45", "1", "."],
    ["1", "177", "1", "35", ".", "0.6667", "2", "168", "1", "0", "1", ".", ".", ".", "70", "45", "1", "."],
    ["1", "400", "0", "0", ".", ".", ".", ".", ".", ".", "0", "9", "QIDS-SR16", ".", "70", "45", "1", "."],
    ["2", "0", "0", "0", ".", ".", "6", ".", ".", ".", "0", "20", "HDRS-17", ".", "82", ".", "M", "31"],
    ["2", "10", "4", "41", "61.5", ".", "2", "168", "0", "1", ".", ".", ".", "iv", "82", ".", "M", "31"],
    ["2", "34", "0", "0", ".", ".", "3", ".", ".", ".", "0", "15", ".", ".", "82", ".", "M", "31"],
    ["2", "60", "3", ".", ".", ".", ".", ".", ".", ".", "1", ".", ".", ".", "82", ".", "M", "31"],
    ["2", "0", "1", "56", ".", ".", "1", ".", ".", ".", "1", ".", ".", "intranasal", "82", ".", "M", "31"],
]
NASTY = ["", ".", "0", "-1", "-2", "1", "2", "3", "4", "5", "7", "0.5", "1e308", "-1e308", "1e-300", "nan", "inf",
         "-inf", "abc", "1,5", "\x00", "\x1b[2J", "é", "9" * 400, "24", "168", "0.001", "87601", "3.5", "MADRS",
         "PHQ9", "iv", "oral", "im", "F", "m", "2099-01-01", "12:30", " 7 ", '"', "1e9", "-0", "+3", "0x10"]

cells = st.one_of(st.sampled_from(NASTY), st.integers(-10**6, 10**6).map(str),
                  st.floats(allow_nan=True, allow_infinity=True).map(repr), st.text(max_size=12))


@st.composite
def datasets(draw: st.DrawFn) -> str:
    header = list(HEADER)
    keep = draw(st.lists(st.booleans(), min_size=len(ROWS), max_size=len(ROWS)))
    rows = [list(r) for r, k in zip(ROWS, keep, strict=True) if k] or [list(ROWS[1])]
    if draw(st.integers(0, 9)) == 0:  # now and then, rows in any order and repeated
        rows = [list(r) for r in draw(st.lists(st.sampled_from(ROWS), min_size=1, max_size=12))]
    for _ in range(draw(st.integers(0, 3))):
        r = draw(st.integers(0, len(rows) - 1))
        c = draw(st.integers(0, len(header) - 1))
        rows[r][c] = draw(cells)
    action = draw(st.sampled_from(["none", "none", "none", "drop_column", "rename_column", "add_column", "short_row",
                                   "sort", "spaces"]))
    if action == "drop_column":
        k = draw(st.integers(0, len(header) - 1))
        header.pop(k)
        for r in rows:
            r.pop(k)
    elif action == "rename_column":
        header[draw(st.integers(0, len(header) - 1))] = draw(st.sampled_from(["LOAD", "DRUG", "PHASE", "X", "ID",
                                                                              "DATE", "DAT1", "time"]))
    elif action == "add_column":
        header.append(draw(st.sampled_from(["LOAD", "DRUG", "PHASE", "OCC", "DATE"])))
        for r in rows:
            r.append(draw(cells))
    elif action == "short_row":
        rows[0] = rows[0][:-1]
    elif action == "sort":
        rows.sort(key=lambda r: r[1])
    sep = "  " if action == "spaces" else ","
    if sep == ",":
        rows = [[f'"{v}"' if ("," in v or '"' in v) and draw(st.booleans()) else v for v in r] for r in rows]
    return "\n".join(sep.join(r) for r in [header, *rows]) + "\n"


def check(text: str, allow_off_label: bool) -> None:
    try:
        ds = parse_nonmem(text, file="fuzz.csv", allow_off_label=allow_off_label)
    except KetasimError as exc:
        assert str(exc).startswith("fuzz.csv") or "--" in str(exc), str(exc)
        return
    for p in ds.patients:
        plan = p.plan
        assert check_plan(plan) == [], (text, check_plan(plan))
        assert plan.allow_off_label == allow_off_label
        assert math.isfinite(plan.horizon_days) and 1 <= plan.horizon_days <= 3650
        for d in plan.doses:
            assert math.isfinite(d.day) and d.day >= 0 and math.isfinite(d.amount_mg) and d.amount_mg > 0
        if p.history is not None:
            for e in p.history.scores:
                lo, hi = SCALE_RANGES[e.scale]
                assert lo <= e.value <= hi


@settings(max_examples=CI_EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(datasets(), st.booleans())
def test_fuzz_nonmem(text: str, allow_off_label: bool) -> None:
    check(text, allow_off_label)


@pytest.mark.fuzz_long
@settings(max_examples=LONG_EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(datasets(), st.booleans())
def test_fuzz_nonmem_long(text: str, allow_off_label: bool) -> None:
    check(text, allow_off_label)
