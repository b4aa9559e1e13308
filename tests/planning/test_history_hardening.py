"""Regression tests of issue 9 (histories and ``forecast --dose-mg``): every refusal names the file, the row
(line), the column, the value and what is allowed; nothing ends in a traceback or a silent double dose."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ketasim.errors import PlanError
from ketasim.interfaces.cli import app
from ketasim.planning.forecast import with_extra_maintenance
from ketasim.planning.history import read_history

HEADER = "date,kind,scale,value,route,dose_mg,duration_min,note,weight_kg,age\n"
GOOD = ["2025-01-06 09:00,score,MADRS,30,,,,,70,44", "2025-01-06 10:00,dose,,,iv,35,40,,,",
        "2025-01-08 10:00,dose,,,iv,35,40,,,", "2025-01-09 09:00,score,MADRS,20,,,,,,"]
EXAMPLE = Path(str(resources.files("ketasim").joinpath("examples", "histories", "good-responder.csv")))


def csv_file(tmp_path: Path, rows: list[str], header: str = HEADER, encoding: str = "utf-8",
             prefix: bytes = b"") -> Path:
    p = tmp_path / "h.csv"
    p.write_bytes(prefix + (header + "\n".join(rows) + "\n").encode(encoding))
    return p


def refusal(path: Path, **kw) -> str:
    with pytest.raises(PlanError) as info:
        read_history(path, **kw)
    return str(info.value)


def test_non_utf8_history_is_refused_naming_the_fix(tmp_path):
    msg = refusal(csv_file(tmp_path, [*GOOD, "2025-01-10 14:00,therapy,,,,,,séance,,"], encoding="latin-1"))
    assert msg.startswith("h.csv, line 6: encoding = 'byte 0xE9 at column 32 is not UTF-8'") and "CSV UTF-8" in msg


def test_excel_csv_utf8_with_a_byte_order_mark_is_read(tmp_path):
    h = read_history(csv_file(tmp_path, GOOD, prefix=b"\xef\xbb\xbf"))
    assert h.weight_kg == 70 and len(h.events) == 4


def test_unbalanced_quote_names_row_and_column(tmp_path):
    msg = refusal(csv_file(tmp_path, [*GOOD[:2], '2025-01-08 10:00,dose,,,iv,35,40,"oops,,', GOOD[3]]))
    assert msg == ("h.csv, line 4: note = 'a quote \" that is never closed': allowed comma-separated fields with "
                   "quotes in pairs")


def test_field_over_131072_characters_is_refused(tmp_path):
    msg = refusal(csv_file(tmp_path, [*GOOD, "2025-01-10 14:00,therapy,,,,,," + "x" * 140_000 + ",,"]))
    assert msg.startswith("h.csv, line 6: note = ") and "at most 10,000 characters" in msg
    msg = refusal(csv_file(tmp_path, [*GOOD, "2025-01-10 14:00,therapy,,,,,," + "x" * 20_000 + ",,"]))
    assert msg == "h.csv, line 6: note = '20,000 characters': allowed at most 10,000 characters"


def test_dates_spanning_decades_are_refused_naming_the_row(tmp_path):
    msg = refusal(csv_file(tmp_path, [*GOOD, "2055-01-09 09:00,score,MADRS,20,,,,,,"]))
    assert msg.startswith("h.csv, line 6: date = '2055-01-09': allowed a date from 2025-01-06 to 2033-01-04")
    msg = refusal(csv_file(tmp_path, [*GOOD, "9999-01-09 09:00,score,MADRS,20,,,,,,"]))
    assert "line 6: date = '9999-01-09'" in msg and "1900-01-01 to 2199-12-31" in msg


def test_duplicate_dose_rows_are_refused_naming_both_rows(tmp_path):
    msg = refusal(csv_file(tmp_path, [*GOOD, GOOD[2]]))
    assert msg.startswith("h.csv, line 6: date = '2025-01-08 10:00': allowed one dose row per date and time (line 4")
    msg = refusal(csv_file(tmp_path, [*GOOD, "2025-01-08 10:20,dose,,,iv,35,40,,,"]))  # inside the infusion
    assert "line 6: date = '2025-01-08 10:20'" in msg and "line 4 gives the dose before it" in msg


def test_a_key_written_twice_is_refused(tmp_path):
    msg = refusal(csv_file(tmp_path, [r + "," for r in GOOD], header=HEADER.replace("\n", ",kind\n")))
    assert msg.startswith("h.csv, line 1: header = 'kind': allowed each column once (column 2")
    p = tmp_path / "h.yaml"
    p.write_text("patient: {weight_kg: 70}\nevents:\n  - {date: 2025-01-06, kind: score, scale: MADRS,\n"
                 "     value: 30, value: 20}\n")
    assert refusal(p).startswith("h.yaml, line 4: events[0].value = 'value': allowed each key once")


def test_doses_outside_the_published_range_need_the_off_label_flag(tmp_path):
    p = csv_file(tmp_path, [*GOOD, "2025-01-10 10:00,dose,,,iv,105,40,,,"])  # 1.5 mg/kg IV
    msg = refusal(p)
    assert msg.startswith("h.csv, line 6: dose_mg = 105.0: allowed 0.1-1.0 mg/kg per IV racemic ketamine dose")
    assert "1.5 mg/kg for 70 kg" in msg and "allow_off_label" in msg
    assert len(read_history(p, allow_off_label=True).of_kind("dose")) == 3
    four = csv_file(tmp_path, [*GOOD, "2025-01-07 10:00,dose,,,iv,35,40,,,", "2025-01-10 10:00,dose,,,iv,35,40,,,"])
    assert "line 7: date = '2025-01-10 10:00': allowed at most 3 IV racemic" in refusal(four)
    huge = csv_file(tmp_path, [*GOOD, "2025-01-10 10:00,dose,,,iv,1400,40,,,"])
    assert "at most 10 mg/kg" in refusal(huge, allow_off_label=True)


def test_yaml_history_goes_through_the_one_reader(tmp_path):
    p = tmp_path / "h.yaml"
    p.write_text("patient: {weight_kg: 70}\nevents:\n  - {date: 2025-01-06, kind: score, scale: MADRS, valeu: 3}\n")
    assert refusal(p).startswith("h.yaml, line 3: events[0].valeu = 'valeu': allowed one of date, kind")
    p.write_text("patient: {weight_kg: 70}\nevents:\n  - {date: 2025-01-06, kind: score, note: \"a\\0b\"}\n")
    assert "U+0000" in refusal(p)


@pytest.mark.parametrize("dose_mg, words", [(-5.0, "a dose above 0"), (0.0, "a dose above 0"),
                                             (1e6, "at most 10 mg/kg"), (float("nan"), "finite")])
def test_planned_dose_goes_through_the_validator(dose_mg, words):
    h = read_history(EXAMPLE)
    with pytest.raises(PlanError, match=words):
        with_extra_maintenance(h, 7, dose_mg=dose_mg, horizon_days=60)
    default = with_extra_maintenance(h, 7, horizon_days=60)
    assert {d.amount_mg for d in default} == {h.doses(past=True)[-1].amount_mg}  # None: the last dose


@pytest.mark.parametrize("value", ["-5", "0", "1e6"])
def test_forecast_dose_mg_option_is_refused_before_any_work(tmp_path, value):
    res = CliRunner().invoke(app, ["forecast", str(EXAMPLE), "--out", str(tmp_path / "o"), "--every", "21",
                                   "--dose-mg", value])
    assert res.exit_code != 0 and isinstance(res.exception, PlanError) and "dose_mg" in str(res.exception)
    assert not (tmp_path / "o").exists()
    res = CliRunner().invoke(app, ["forecast", str(EXAMPLE), "--out", str(tmp_path / "o"), "--dose-mg", "30"])
    assert "give --every too" in str(res.exception)


LONG_GAPS = """date,kind,scale,value,route,dose_mg,duration_min,note,weight_kg,age,drug,fade_days,treatment
2024-03-25 00:00,life_event,,0.5,,,,bereavement,45,,,90,
2024-12-17 09:00,treatment,,,,,,,,,,,antidepressant
2025-02-03 14:00,therapy,,,,,,CBT,,,,,
2025-04-30 10:00,dose,,,intranasal,84,,,,,esketamine,,
2025-05-06 09:00,score,PHQ-9,8,,,,,,,,,
2025-06-15 10:00,dose,,,intranasal,56,,,,,esketamine,,
2025-06-28 14:00,therapy,,,,,,CBT,,,,,
2025-09-03 09:00,score,PHQ-9,19,,,,,,,,,
2025-09-29 09:00,score,PHQ-9,15,,,,,,,,,
2025-09-29 10:00,dose,,,intranasal,56,,,,,esketamine,,
2025-11-20 10:00,dose,,,intranasal,84,,,,,esketamine,,
2026-02-13 10:00,dose,,,intranasal,84,,,,,esketamine,,
2026-06-02 09:00,score,PHQ-9,21,,,,,,,,,
2026-07-21 10:00,dose,,,intranasal,56,,,,,esketamine,,
2026-07-29 09:00,score,PHQ-9,27,,,,,,,,,
2027-03-07 09:00,score,PHQ-9,18,,,,,,,,,
2027-04-11 09:00,score,PHQ-9,6,,,,,,,,,
2028-06-26 09:00,score,PHQ-9,4,,,,,,,,,
2028-06-26 10:00,dose,,,intranasal,84,,,,,esketamine,,
2030-08-20 09:00,score,PHQ-9,3,,,,,,,,,
2031-01-22 10:00,dose,,,intranasal,84,,,,,esketamine,,
2031-02-01 09:00,score,PHQ-9,22,,,,,,,,,
"""


def test_a_history_of_years_with_long_gaps_forecasts(tmp_path):
    """Found by the fuzz suite: six years with two years between visits ended in "the batch integrator needed
    too many steps" (a segment's step budget did not grow with its length)."""
    from ketasim.planning.forecast import forecast

    p = tmp_path / "gaps.csv"
    p.write_text(LONG_GAPS)
    fc = forecast(read_history(p), n_particles=100, n_forecast=40, horizon_days=30, seed=0)
    assert all((b >= 0).all() and (b <= 27).all() for b in fc.bands.values())
