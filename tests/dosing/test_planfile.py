"""Plan files: structure, dates, units, series, and errors that name file, line, field, value and range."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from ketasim.dosing.planfile import load_plan, parse_plan, plan_to_yaml
from ketasim.errors import PlanError

HEADER = """\
name: test
start_date: 2025-01-06
horizon_days: 60
patient:
  weight_kg: 70
doses:
  - date: 2025-01-06
    dose: 0.5 mg/kg
"""  # lines 1-8; the second dose entry starts on line 9


def write(tmp_path: Path, text: str, name: str = "plan.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> PlanError:
    with pytest.raises(PlanError) as info:
        load_plan(write(tmp_path, text))
    return info.value


def assert_message(err: PlanError, *, line: int, field: str, value: str, allowed: str) -> None:
    msg = str(err)
    assert "plan.yaml" in msg, msg
    assert f"line {line}:" in msg, msg
    assert f"{field} =" in msg, msg
    assert value in msg, msg
    assert allowed in msg, msg
    assert err.line == line and err.field == field


# --- errors ---------------------------------------------------------------------------------

def test_unknown_key_names_the_key_and_the_known_keys(tmp_path):
    err = error_of(tmp_path, HEADER + "  - date: 2025-01-08\n    dose: 0.5 mg/kg\n    rout: iv\n")
    assert_message(err, line=11, field="doses[1].rout", value="'rout'", allowed="route")


def test_unknown_top_level_key(tmp_path):
    err = error_of(tmp_path, HEADER + "horizon: 30\n")
    assert_message(err, line=9, field="horizon", value="'horizon'", allowed="horizon_days")


def test_iv_dose_above_one_mg_per_kg(tmp_path):
    err = error_of(tmp_path, HEADER + "  - date: 2025-01-08\n    dose: 1.5 mg/kg\n")
    assert_message(err, line=10, field="doses[1].dose", value="'1.5 mg/kg'", allowed="0.1-1.0 mg/kg")
    assert "allow_off_label" in str(err)


def test_fixed_mg_dose_is_checked_per_kg(tmp_path):
    err = error_of(tmp_path, HEADER + "  - date: 2025-01-08\n    dose: 105 mg\n")
    assert_message(err, line=10, field="doses[1].dose", value="105 mg (= 1.5 mg/kg at 70 kg)",
                   allowed="0.1-1.0 mg/kg")


def test_two_infusions_on_one_day(tmp_path):
    err = error_of(tmp_path, HEADER + '  - date: 2025-01-06\n    time: "15:00"\n    dose: 0.5 mg/kg\n')
    assert_message(err, line=9, field="doses[1].date", value="'2025-01-06'", allowed="at most 1")


def test_overlapping_infusions(tmp_path):
    err = error_of(tmp_path, HEADER + '  - date: 2025-01-06\n    time: "09:20"\n    dose: 0.5 mg/kg\n')
    assert_message(err, line=10, field="doses[1].time", value="2025-01-06 09:20",
                   allowed="previous administration ends")
    assert "09:40" in str(err)


def test_overlap_is_refused_even_off_label(tmp_path):
    text = HEADER.replace("horizon_days: 60", "horizon_days: 60\nallow_off_label: true")
    err = error_of(tmp_path, text + '  - date: 2025-01-06\n    time: "09:20"\n    dose: 0.5 mg/kg\n')
    assert err.line == 11 and "previous administration ends" in str(err)
    assert "allow_off_label" not in str(err)


def test_impossible_date(tmp_path):
    err = error_of(tmp_path, HEADER + "  - date: 2025-02-30\n    dose: 0.5 mg/kg\n")
    assert_message(err, line=9, field="doses[1].date", value="'2025-02-30'", allowed="February 2025 has days 1-28")


def test_date_before_start(tmp_path):
    err = error_of(tmp_path, HEADER + "  - date: 2025-01-02\n    dose: 0.5 mg/kg\n")
    assert_message(err, line=9, field="doses[1].date", value="'2025-01-02'",
                   allowed="on or after start_date 2025-01-06")


def test_unknown_route(tmp_path):
    err = error_of(tmp_path, HEADER + "  - date: 2025-01-08\n    route: rectal\n    dose: 0.5 mg/kg\n")
    assert_message(err, line=10, field="doses[1].route", value="'rectal'", allowed="'iv'")
    assert "'intranasal'" in str(err)


def test_unknown_unit(tmp_path):
    err = error_of(tmp_path, HEADER + "  - date: 2025-01-08\n    dose: 500 mcg/kg\n")
    assert_message(err, line=10, field="doses[1].dose", value="'500 mcg/kg'", allowed="mg/kg or mg")


@pytest.mark.parametrize("written", ["0.5", "'35'"])
def test_dose_without_unit(tmp_path, written):
    err = error_of(tmp_path, HEADER + f"  - date: 2025-01-08\n    dose: {written}\n")
    assert_message(err, line=10, field="doses[1].dose", value=written.strip("'"), allowed="unit")
    assert "mg/kg" in str(err)


def test_wrong_duration_unit(tmp_path):
    err = error_of(tmp_path, HEADER + "  - date: 2025-01-08\n    dose: 0.5 mg/kg\n    infusion_minutes: 40 s\n")
    assert_message(err, line=11, field="doses[1].infusion_minutes", value="'40 s'", allowed="min")


def test_infusion_length_outside_published_range(tmp_path):
    err = error_of(tmp_path, HEADER + "  - date: 2025-01-08\n    dose: 0.5 mg/kg\n    infusion_minutes: 3 h\n")
    assert_message(err, line=11, field="doses[1].infusion_minutes", value="180 min", allowed="2-100 min")


def test_esketamine_spray_in_mg_per_kg_is_the_wrong_unit(tmp_path):
    text = ("start_date: 2025-01-06\ndrug: esketamine\nother_treatments:\n  - kind: antidepressant\n"
            "doses:\n  - date: 2025-01-06\n    dose: 0.8 mg/kg\n")
    err = error_of(tmp_path, text)
    assert_message(err, line=7, field="doses[0].dose", value="'0.8 mg/kg'", allowed="28, 56 or 84 mg")


def test_esketamine_without_antidepressant_is_off_label(tmp_path):
    text = "start_date: 2025-01-06\ndrug: esketamine\ndoses:\n  - date: 2025-01-06\n    dose: 56 mg\n"
    err = error_of(tmp_path, text)
    assert err.line == 2 and "oral antidepressant" in str(err)
    plan = parse_plan(text.replace("drug: esketamine", "drug: esketamine\nallow_off_label: true"))
    assert plan.allow_off_label and plan.doses[0].devices == 2


def test_series_error_points_at_the_series_and_names_the_dose(tmp_path):
    text = HEADER + ("  - series: maintenance\n    start: 2025-01-08\n    every_days: 1\n    count: 5\n"
                     "    dose: 0.5 mg/kg\n")
    err = error_of(tmp_path, text)
    # Jan 6, 8, 9, 10: the fourth administration within 7 days is the third of the series.
    assert_message(err, line=10, field="doses[1].start", value="2025-01-10 (dose 3 of the series)",
                   allowed="at most 3")


def test_duplicate_key(tmp_path):
    err = error_of(tmp_path, HEADER + "  - date: 2025-01-08\n    dose: 0.5 mg/kg\n    dose: 1 mg/kg\n")
    assert_message(err, line=11, field="doses[1].dose", value="'dose'", allowed="each key once")
    assert "line 10" in err.allowed


def test_wrong_type(tmp_path):
    err = error_of(tmp_path, HEADER.replace("weight_kg: 70", "weight_kg: heavy"))
    assert_message(err, line=5, field="patient.weight_kg", value="'heavy'", allowed="a number")


def test_weight_range_is_not_lifted_off_label(tmp_path):
    text = HEADER.replace("weight_kg: 70", "weight_kg: 300").replace("horizon_days: 60",
                                                                   "horizon_days: 60\nallow_off_label: true")
    err = error_of(tmp_path, text)
    assert_message(err, line=6, field="patient.weight_kg", value="300", allowed="30-250 kg")


def test_baseline_madrs_range(tmp_path):
    err = error_of(tmp_path, HEADER.replace("  weight_kg: 70", "  weight_kg: 70\n  baseline_madrs: 75"))
    assert_message(err, line=6, field="patient.baseline_madrs", value="75", allowed="0-60")


def test_bad_weekday_and_bad_time(tmp_path):
    text = HEADER + "  - series: induction\n    start: 2025-01-08\n    weekdays: [Wed, Fry]\n    count: 2\n" \
                    "    dose: 0.5 mg/kg\n"
    err = error_of(tmp_path, text)
    assert_message(err, line=11, field="doses[1].weekdays[1]", value="'Fry'", allowed="Mon, Tue")
    err = error_of(tmp_path, HEADER + '  - date: 2025-01-08\n    time: "25:00"\n    dose: 0.5 mg/kg\n')
    assert_message(err, line=10, field="doses[1].time", value="'25:00'", allowed="00:00 to 23:59")


def test_invalid_yaml_gives_a_line(tmp_path):
    err = error_of(tmp_path, HEADER + "  - {date: 2025-01-08, dose: 0.5 mg/kg\n")
    assert "plan.yaml" in str(err) and err.line is not None and "valid YAML" in str(err)


def test_missing_file():
    with pytest.raises(PlanError, match="no-such-plan.yaml"):
        load_plan("no-such-plan.yaml")


# --- allow_off_label ------------------------------------------------------------------------

def test_allow_off_label_lifts_the_dose_limit_and_is_recorded():
    text = HEADER.replace("dose: 0.5 mg/kg", "dose: 1.5 mg/kg")
    with pytest.raises(PlanError):
        parse_plan(text)
    plan = parse_plan(text.replace("horizon_days: 60", "horizon_days: 60\nallow_off_label: true"))
    assert plan.allow_off_label is True
    assert plan.doses[0].mg_per_kg == 1.5 and plan.doses[0].amount_mg == pytest.approx(105.0)


def test_allow_off_label_lifts_frequency_but_not_the_model_domain():
    daily = HEADER + "  - {series: induction, start: 2025-01-07, every_days: 1, count: 9, dose: 0.5 mg/kg}\n"
    with pytest.raises(PlanError, match="in any 7 days"):
        parse_plan(daily)
    plan = parse_plan(daily.replace("horizon_days: 60", "horizon_days: 60\nallow_off_label: true"))
    assert len(plan.doses) == 10
    huge = HEADER.replace("dose: 0.5 mg/kg", "dose: 20 mg/kg").replace("horizon_days: 60",
                                                                       "horizon_days: 60\nallow_off_label: true")
    with pytest.raises(PlanError, match="at most 10 mg/kg"):
        parse_plan(huge)


# --- values -----------------------------------------------------------------------------------

def test_dose_conversion_and_default_time():
    plan = parse_plan(HEADER.replace("weight_kg: 70", "weight_kg: 80")
                      + '  - {date: 2025-01-08, time: "14:30", dose: 35 mg, infusion_minutes: 1 h}\n')
    first, second = plan.doses
    assert first.day == pytest.approx(9 / 24) and first.mg_per_kg == 0.5 and first.amount_mg == pytest.approx(40.0)
    assert first.duration_min == 40.0 and first.route == "iv" and first.drug == "racemic"
    assert second.day == pytest.approx(2 + 14.5 / 24) and second.mg_per_kg is None and second.amount_mg == 35.0
    assert second.duration_min == 60.0


def test_unquoted_clock_time_is_not_sexagesimal():
    plan = parse_plan(HEADER.replace("    dose: 0.5 mg/kg", "    time: 10:30\n    dose: 0.5 mg/kg"))
    assert plan.doses[0].day == pytest.approx(10.5 / 24)


def test_mon_wed_fri_from_a_monday():
    plan = parse_plan("start_date: 2025-01-06\nhorizon_days: 60\ndoses:\n"
                      "  - {series: induction, start: 2025-01-06, weekdays: [Mon, Wed, Fri], count: 6, "
                      "dose: 0.5 mg/kg}\n")
    dates = [plan.date_of(d.day) for d in plan.doses]
    assert [d.strftime("%a") for d in dates] == ["Mon", "Wed", "Fri", "Mon", "Wed", "Fri"]
    assert [d.day for d in dates] == [6, 8, 10, 13, 15, 17]
    assert all(d.phase == "induction" for d in plan.doses)


def test_weekday_series_starting_midweek():
    plan = parse_plan("start_date: 2025-01-06\nhorizon_days: 60\ndoses:\n"
                      "  - {series: induction, start: 2025-01-08, weekdays: [monday, Wednesday, FRI], count: 4, "
                      "dose: 0.5 mg/kg}\n")
    assert [plan.date_of(d.day).day for d in plan.doses] == [8, 10, 13, 15]


def test_taper_intervals_then_stop_or_hold():
    text = ("start_date: 2025-01-06\nhorizon_days: 120\ndoses:\n"
            "  - {series: taper, start: 2025-01-06, intervals_days: [7, 14, 21, 28], then: THEN, dose: 0.5 mg/kg}\n")
    stop = parse_plan(text.replace("THEN", "stop"))
    assert [d.day - 0.375 for d in stop.doses] == pytest.approx([0, 7, 21, 42, 70])
    assert all(d.phase == "maintenance" for d in stop.doses)
    hold = parse_plan(text.replace("THEN", "hold"))
    assert [d.day - 0.375 for d in hold.doses] == pytest.approx([0, 7, 21, 42, 70, 98])  # horizon day 120


def test_maintenance_every_n_days_until_a_date_or_count():
    base = "start_date: 2025-01-06\nhorizon_days: 120\ndoses:\n"
    until = parse_plan(base + "  - {series: maintenance, start: 2025-01-24, every_days: 7, until: 2025-02-14, "
                              "dose: 0.5 mg/kg}\n")
    assert [until.date_of(d.day).isoformat() for d in until.doses] == [
        "2025-01-24", "2025-01-31", "2025-02-07", "2025-02-14"]
    count = parse_plan(base + "  - {series: maintenance, start: 2025-01-24, every_weeks: 2, count: 3, "
                              "dose: 0.5 mg/kg}\n")
    assert [d.day - 0.375 for d in count.doses] == pytest.approx([18, 32, 46])
    open_ended = parse_plan(base + "  - {series: maintenance, start: 2025-01-24, every_days: 30, dose: 35 mg}\n")
    assert [d.day - 0.375 for d in open_ended.doses] == pytest.approx([18, 48, 78, 108])


def test_series_phases_and_sorting():
    plan = parse_plan("start_date: 2025-01-06\nhorizon_days: 90\ndoses:\n"
                      "  - {series: maintenance, start: 2025-01-24, every_days: 7, count: 2, dose: 0.5 mg/kg}\n"
                      "  - {series: induction, start: 2025-01-06, weekdays: [Mon, Wed, Fri], count: 6, "
                      "dose: 0.5 mg/kg}\n")
    assert [d.phase for d in plan.doses] == ["induction"] * 6 + ["maintenance"] * 2
    assert list(plan.doses) == sorted(plan.doses, key=lambda d: d.day)


def test_esketamine_devices_from_the_dose():
    plan = parse_plan("start_date: 2025-01-06\ndrug: esketamine\nother_treatments: [{kind: antidepressant}]\n"
                      "doses:\n  - {date: 2025-01-06, dose: 56 mg}\n  - {date: 2025-01-09, dose: 84 mg}\n")
    assert [(d.route, d.devices, d.device_interval_min, d.duration_min) for d in plan.doses] == [
        ("intranasal", 2, 5.0, 0.0), ("intranasal", 3, 5.0, 0.0)]


def test_psychotherapy_lifestyle_treatments_and_life_events():
    plan = parse_plan("""\
start_date: 2025-01-06
horizon_weeks: 20
patient:
  chronic_load: 0.1
  life_events:
    - {kind: bereavement, date: 2024-12-07, amplitude: 1.2, fade_days: 120}
    - {kind: job loss, day: 30, amplitude: 0.5, fade_days: 8 weeks}
psychotherapy:
  label: CBT
  sessions: [2025-01-07, "2025-01-08 14:00"]
  series: {start: 2025-01-09, weekdays: [Thu], count: 3, time: "16:00"}
lifestyle:
  - {start: 2025-01-06, end: 2025-03-01, level: 0.5, label: walking}
  - {start: 14, level: 1.0}
other_treatments:
  - {kind: antidepressant, start: 2024-11-01, label: sertraline}
  - kind: tms
    series: {start: 2025-01-06, weekdays: [Mon, Tue, Wed, Thu, Fri], count: 10}
  - {kind: ect, sessions: [2025-02-03, 2025-02-05]}
""")
    assert plan.horizon_days == 140
    ev = plan.patient.life_events
    assert (ev[0].day, ev[0].amplitude, ev[0].fade_days, ev[0].label) == (-30, 1.2, 120, "bereavement")
    assert ev[1].day == 30 and ev[1].fade_days == 56
    assert plan.therapy_days == pytest.approx([1.375, 2 + 14 / 24, 3 + 16 / 24, 10 + 16 / 24, 17 + 16 / 24])
    assert [(lp.start_day, lp.end_day, lp.level) for lp in plan.lifestyle] == [(0, 54, 0.5), (14, 140, 1.0)]
    ad, tms, ect = plan.treatments
    assert (ad.kind, ad.start_day, ad.end_day, ad.label) == ("antidepressant", -66, None, "sertraline")
    assert tms.kind == "tms" and len(tms.session_days) == 10 and tms.session_days[-1] == pytest.approx(11.375)
    assert ect.session_days == pytest.approx([28.375, 30.375])


def test_default_name_horizon_and_source(tmp_path):
    path = write(tmp_path, "start_date: 2025-01-06\ndoses:\n  - {date: 2025-01-20, dose: 0.5 mg/kg}\n",
                 name="my-plan.yaml")
    plan = load_plan(path)
    assert plan.name == "my-plan" and plan.source_file == str(path)
    assert plan.horizon_days == 14 + 90 and plan.start_date == dt.date(2025, 1, 6)


def test_pk_model_is_checked():
    ok = parse_plan(HEADER + "pk_model: domino1984\n")
    assert ok.pk_models == {"racemic": "domino1984"}
    with pytest.raises(PlanError, match="kamp2020") as info:
        parse_plan(HEADER + "pk_model: otto2021\n")
    assert info.value.line == 9


def test_round_trip_through_yaml():
    text = HEADER + ("  - {series: taper, start: 2025-01-10, intervals_days: [7, 14], dose: 35 mg}\n"
                     "psychotherapy: {sessions: ['2025-01-09 13:15']}\n"
                     "patient_extra: 1\n").replace("patient_extra: 1\n", "")
    plan = parse_plan(text)
    again = parse_plan(plan_to_yaml(plan))
    assert dataclasses.replace(again, source_file=plan.source_file) == plan
