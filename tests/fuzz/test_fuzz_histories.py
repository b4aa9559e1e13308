"""Fuzzing patient histories: generated and mutated event logs, as CSV (text and file bytes) and as YAML.

Each input is refused with a KetasimError, or its forecast (a small posterior) is finite and in range within
30 s, with no dose above the published limits unless ``allow_off_label``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from fuzz_support import (
    CI_EXAMPLES,
    LONG_EXAMPLES,
    check_plan_doses,
    fuzz_files,
    mutated_file,
)
from hypothesis import strategies as st

from ketasim.errors import KetasimError
from ketasim.planning.forecast import forecast
from ketasim.planning.history import COLUMNS, OPTIONAL_COLUMNS, read_history
from ketasim.symptoms.scales import get_scale

START = dt.datetime(2025, 1, 6)
SCALES = {"MADRS": 60, "PHQ-9": 27, "QIDS-SR16": 27, "HDRS-17": 52}


@st.composite
def history_records(draw: Any) -> list[dict[str, Any]]:
    """Rows of an event log: scores, an induction and maybe maintenance, therapy, life events, medication."""
    weight = draw(st.sampled_from([45, 64, 70, 88, 140]))
    scale = draw(st.sampled_from(list(SCALES)))
    span = draw(st.integers(1, 120)) if draw(st.integers(0, 9)) else draw(st.sampled_from([1000, 2920, 3000]))

    def when(day: float, hour: int) -> str:
        t = START + dt.timedelta(days=day, hours=hour)
        return t.strftime("%Y-%m-%d %H:%M") if draw(st.integers(0, 3)) else t.strftime("%Y-%m-%d")

    rows: list[dict[str, Any]] = []
    for k, day in enumerate(sorted(draw(st.lists(st.integers(0, span), min_size=1, max_size=10, unique=True)))):
        rows.append({"date": when(day, 9), "kind": "score", "scale": scale,
                     "value": draw(st.integers(0, SCALES[scale])), "weight_kg": weight if k == 0 else ""})
    route = draw(st.sampled_from(["iv", "iv", "im", "intranasal"]))
    for day in sorted(draw(st.lists(st.integers(0, span), max_size=8, unique=True))):
        if route == "intranasal":
            rows.append({"date": when(day, 10), "kind": "dose", "route": route,
                         "dose_mg": draw(st.sampled_from([28, 56, 84])), "drug": "esketamine"})
        else:
            rows.append({"date": when(day, 10), "kind": "dose", "route": route,
                         "dose_mg": round(weight * draw(st.sampled_from([0.2, 0.5, 0.5, 1.0, 1.5])), 1),
                         "duration_min": 40 if route == "iv" else ""})
    if route == "intranasal" or draw(st.booleans()):
        rows.append({"date": when(-20, 9), "kind": "treatment", "treatment": "antidepressant"})
    for day in draw(st.lists(st.integers(0, span), max_size=3, unique=True)):
        rows.append({"date": when(day, 14), "kind": "therapy", "note": "CBT"})
    if draw(st.booleans()):
        rows.append({"date": when(-draw(st.integers(1, 300)), 0), "kind": "life_event", "note": "bereavement",
                     "value": draw(st.sampled_from(["", 0.5, 1.2])), "fade_days": draw(st.sampled_from(["", 90]))})
    if draw(st.integers(0, 3)) == 0:
        rows.append({"date": when(draw(st.integers(0, span)), 11), "kind": "treatment",
                     "treatment": draw(st.sampled_from(["ect", "tms", "antidepressant_stop"]))})
    return draw(st.permutations(rows))


def to_csv(records: list[dict[str, Any]], columns: list[str]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in records:
        w.writerow(["" if not isinstance(r, dict) else r.get(c, "") for c in columns])
    return buf.getvalue()


@st.composite
def history_csv(draw: Any) -> tuple[bytes, dict[str, bool]]:
    records = draw(history_records())
    columns = [*COLUMNS, *[c for c in OPTIONAL_COLUMNS if c not in ("age", "fade_days") or draw(st.booleans())]]
    shape = draw(st.sampled_from(["as is"] * 6 + ["column", "long field", "semicolons"]))
    if shape == "column":
        columns.append(draw(st.sampled_from(["kind", "Date", "colour"])))  # a column twice, or unknown
    data = draw(mutated_file(records, lambda rows: to_csv(rows, columns), edits=("value", "value", "repeat")))
    if shape == "long field":
        data += ("2025-01-07,therapy,,,,,," + "x" * draw(st.sampled_from([20_000, 140_000])) + "\n").encode()
    elif shape == "semicolons":
        data = data.replace(b",", b";")
    return data, {"allow_off_label": draw(st.integers(0, 4)) == 0}


@st.composite
def history_yaml(draw: Any) -> bytes:
    events = [{k: v for k, v in r.items() if v != "" and k != "weight_kg"} for r in draw(history_records())]
    doc: dict[str, Any] = {"name": "fuzz", "patient": {"weight_kg": draw(st.sampled_from([45, 70, 140]))},
                           "events": events}
    if draw(st.booleans()):
        doc["today"] = (START + dt.timedelta(days=draw(st.integers(0, 150)))).date().isoformat()
    if draw(st.integers(0, 4)) == 0:
        doc["allow_off_label"] = True
    return draw(mutated_file(doc, lambda d: yaml.safe_dump(d, sort_keys=False, allow_unicode=True)))


def check_history(h: Any) -> None:
    """The history's plan respects the limits (unless off-label) and a small forecast is finite and in range."""
    try:
        plan = h.to_plan()
    except KetasimError as exc:  # reading the history checked everything its plan needs
        raise AssertionError(f"a history that was read cleanly has no plan: {exc}") from None
    check_plan_doses(plan)
    fc = forecast(h, n_particles=100, n_forecast=40, horizon_days=30, seed=0)
    top = float(get_scale(fc.scale).range[1])
    for name, band in fc.bands.items():
        b = np.asarray(band, dtype=float)
        assert np.all(np.isfinite(b)) and b.min() >= -1e-9 and b.max() <= top + 1e-9, name
    for p in (fc.p_relapse_planned, fc.p_relapse_no_dose):
        p = np.asarray(p, dtype=float)
        assert np.all(np.isfinite(p)) and p.min() >= -1e-12 and p.max() <= 1 + 1e-12


def fuzz_histories(tmp_path: Path, examples: int, strategy: Any, suffix: str) -> None:
    fuzz_files(f"histories ({suffix})", tmp_path / f"fuzz-history.{suffix}", strategy, read_history, check_history,
               examples)


def test_fuzz_history_csv(tmp_path):
    fuzz_histories(tmp_path, CI_EXAMPLES, history_csv(), "csv")


def test_fuzz_history_yaml(tmp_path):
    fuzz_histories(tmp_path, CI_EXAMPLES, history_yaml(), "yaml")


@pytest.mark.fuzz_long
def test_fuzz_history_csv_long(tmp_path):
    fuzz_histories(tmp_path, LONG_EXAMPLES, history_csv(), "csv")


@pytest.mark.fuzz_long
def test_fuzz_history_yaml_long(tmp_path):
    fuzz_histories(tmp_path, LONG_EXAMPLES, history_yaml(), "yaml")
