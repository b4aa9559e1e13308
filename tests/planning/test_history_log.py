"""Patient histories: CSV, YAML and Python objects; every error names the row, the field and the value."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ketasim.errors import PlanError
from ketasim.planning.history import HistoryEvent, PatientHistory, read_history

HEADER = "date,kind,scale,value,route,dose_mg,duration_min,note,weight_kg,age\n"
GOOD = [
    "2025-01-06,score,PHQ-9,21,,,,baseline,70,44",
    "2025-01-06,dose,,,iv,35,40,,,",
    "2025-01-08 10:30,dose,,,iv,35,40,,,",
    "2025-01-09,score,MADRS,14,,,,,,",
    "2025-01-10,therapy,,,,,,CBT,,",
    "2024-12-01,life_event,,,,,,bereavement,,",
]


def write(tmp_path: Path, rows: list[str], name: str = "h.csv") -> Path:
    p = tmp_path / name
    p.write_text(HEADER + "\n".join(rows) + "\n")
    return p


def test_reads_and_orders_a_valid_csv(tmp_path: Path) -> None:
    h = read_history(write(tmp_path, GOOD))
    assert h.weight_kg == 70 and h.age == 44
    assert h.start_date == dt.date(2025, 1, 6)  # the life event before treatment does not move day 0
    assert [e.kind for e in h.events][0] == "life_event"
    assert h.today == dt.date(2025, 1, 9)
    assert [e.scale for e in h.scores] == ["phq9", "madrs"]
    plan = h.to_plan()
    assert len(plan.doses) == 2 and plan.doses[1].day == pytest.approx(2 + 10.5 / 24)
    assert plan.patient.life_events[0].day == -36
    assert plan.therapy_days == (4 + 14 / 24,)


@pytest.mark.parametrize(("row", "field", "value", "allowed"), [
    ("2025-01-09,score,PHQ-9,31,,,,,,", "value", "31.0", "0-27"),
    ("2025-01-09,score,BDI,14,,,,,,", "scale", "BDI", "PHQ-9, MADRS"),
    ("2025-13-09,score,PHQ-9,14,,,,,,", "date", "2025-13-09", "ISO date"),
    ("2025-01-09,dose,,,iv,350,40,,,", "dose_mg", "350.0", "mg/kg"),
    ("2025-01-09,dose,,,nasal,35,40,,,", "route", "nasal", "iv | im"),
    ("2025-01-09,visit,,,,,,,,", "kind", "visit", "dose | score"),
    ("2025-01-09,score,MADRS,abc,,,,,,", "value", "abc", "a number"),
])
def test_errors_name_line_field_value(tmp_path: Path, row: str, field: str, value: str, allowed: str) -> None:
    p = write(tmp_path, [*GOOD[:3], row])
    with pytest.raises(PlanError) as err:
        read_history(p)
    msg = str(err.value)
    assert msg.startswith("h.csv, line 5:"), msg
    assert f"{field} = " in msg and value in msg and allowed in msg, msg


def test_missing_and_conflicting_weight(tmp_path: Path) -> None:
    rows = [r.replace(",70,44", ",,") for r in GOOD]
    with pytest.raises(PlanError, match="weight_kg"):
        read_history(write(tmp_path, rows))
    rows = [*GOOD, "2025-01-11,score,PHQ-9,9,,,,,80,"]
    with pytest.raises(PlanError, match=r"line 8: weight_kg = 80.0"):
        read_history(write(tmp_path, rows))


def test_yaml_errors_name_the_event_line(tmp_path: Path) -> None:
    p = tmp_path / "h.yaml"
    p.write_text("patient: {weight_kg: 70}\nevents:\n  - {date: 2025-01-06, kind: score, scale: PHQ-9, value: 20}\n"
                 "  - {date: 2025-01-07, kind: score, scale: QIDS-SR16, value: 40}\n")
    with pytest.raises(PlanError, match=r"h.yaml, line 4: value = 40.0: allowed a QIDS-SR16 total score of 0-27"):
        read_history(p)


def test_python_objects_errors_name_the_row_index() -> None:
    t = dt.datetime(2025, 1, 6, 9)
    with pytest.raises(PlanError, match=r"events\[1\].value = 70"):
        PatientHistory(weight_kg=70, events=(HistoryEvent(t, "score", scale="madrs", value=30),
                                             HistoryEvent(t, "score", scale="hdrs17", value=70)))


def test_round_trip_csv_yaml(tmp_path: Path) -> None:
    h = read_history(write(tmp_path, GOOD))
    (tmp_path / "a.yaml").write_text(h.to_yaml())
    (tmp_path / "b.csv").write_text(h.to_csv())
    for f in ("a.yaml", "b.csv"):
        h2 = read_history(tmp_path / f)
        assert [(e.when, e.kind, e.scale, e.value, e.dose_mg) for e in h2.events] == \
            [(e.when, e.kind, e.scale, e.value, e.dose_mg) for e in h.events]
        assert h2.weight_kg == h.weight_kg
