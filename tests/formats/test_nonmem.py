"""NONMEM-format datasets: hand-computed event semantics, rxode2's documented rules, refusals, round trips.

rxode2's event-table documentation (the ``rxode2-event-types`` vignette) states the rules checked here:
``addl`` is the number of additional doses like the current one, ``ii`` apart; an infusion given by
``rate`` lasts ``amt / rate`` and one given by ``dur`` has the rate ``amt / dur``; ``rate = -1 / -2``
mean a modelled rate / duration; EVID 0 observation, 1 dose, 2 other, 3 reset (all compartments back to
their initial values), 4 reset and dose; ``ss = 1`` is a dose at steady state of the regimen (states
reset first), ``ss = 2`` steady state added to the prior states. R is not available here, so the
expected values are computed by hand from those rules.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from ketasim.dosing.plan import Dose, Patient, Plan
from ketasim.dosing.planfile import load_plan
from ketasim.errors import PlanError
from ketasim.formats.nonmem import (
    SS_LEAD_IN_DAYS,
    parse_nonmem,
    population_records,
    read_nonmem,
    simulation_records,
    subject_records,
    write_imported,
    write_nonmem,
)
from ketasim.interfaces.cli import app
from ketasim.simulate import simulate

HEADER = "ID,TIME,EVID,AMT,RATE,CMT,II,ADDL,SS,MDV,DV,SCALE,WT"

# The dataset of the "done when": two patients, an infusion series written with ADDL, PHQ-9 scores.
HAND_WRITTEN = """\
# two patients: IV ketamine 0.5 mg/kg over 40 min (RATE = AMT / 40 min), PHQ-9 before and after
ID,TIME,EVID,AMT,RATE,CMT,II,ADDL,MDV,DV,SCALE,WT,AGE,SEX
1,0,0,0,.,.,.,.,0,20,PHQ-9,70,45,1
1,9,1,35,52.5,2,48,2,1,.,.,70,45,1
1,33,0,0,.,.,.,.,0,12,PHQ-9,70,45,1
1,177,1,35,52.5,2,48,2,1,.,.,70,45,1
1,345,0,0,.,.,.,.,0,7,PHQ-9,70,45,1
1,681,0,0,.,.,.,.,0,9,PHQ-9,70,45,1
2,0,0,0,.,.,.,.,0,18,PHQ-9,82,38,0
2,10,1,41,61.5,2,168,3,1,.,.,82,38,0
2,34,0,0,.,.,.,.,0,13,PHQ-9,82,38,0
2,682,0,0,.,.,.,.,0,15,PHQ-9,82,38,0
"""


def data(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def one(text: str, **kw) -> Plan:
    ds = parse_nonmem(text, file="data.csv", **kw)
    assert len(ds.patients) == 1
    return ds.patients[0].plan


# --- the hand-written dataset imports and forecasts ---------------------------------------------------------

def test_hand_written_dataset_imports_and_forecasts(tmp_path: Path) -> None:
    from ketasim.interfaces.commands.forecast import run_forecast

    path = tmp_path / "hand.csv"
    path.write_text(HAND_WRITTEN)
    ds = read_nonmem(path)
    assert [p.id for p in ds.patients] == ["1", "2"]
    one_, two = ds.patients
    # ADDL 2 at II 48 h from hour 9, twice: six infusions Mon-Wed-Fri at 09:00 (days 0, 2, 4, 7, 9, 11)
    assert [d.day for d in one_.plan.doses] == pytest.approx([0.375, 2.375, 4.375, 7.375, 9.375, 11.375])
    assert all(d.duration_min == pytest.approx(40.0) and d.amount_mg == 35.0 for d in one_.plan.doses)
    # ADDL 3 at II 168 h from hour 10: four weekly infusions at 10:00
    assert [d.day for d in two.plan.doses] == pytest.approx([10 / 24 + 7 * k for k in range(4)])
    assert one_.plan.patient.weight_kg == 70 and one_.plan.patient.sex == "female" and two.plan.patient.sex == "male"
    assert [e.value for e in one_.history.scores] == [20, 12, 7, 9]
    assert {e.scale for e in two.history.scores} == {"phq9"}
    files = write_imported(ds, tmp_path / "out")
    assert sorted(files) == ["histories/id-1.csv", "histories/id-2.csv", "plans/id-1.yaml", "plans/id-2.yaml"]
    reread = load_plan(tmp_path / "out" / "plans" / "id-1.yaml")
    assert [d.day for d in reread.doses] == pytest.approx([d.day for d in one_.plan.doses])
    rec = run_forecast(tmp_path / "out" / "histories" / "id-1.csv", tmp_path / "fc", particles=200, figure=False)
    assert rec["scale"] == "PHQ-9" and rec["today"] == "2025-02-03"
    assert (tmp_path / "fc" / "forecast.csv").stat().st_size > 0


def test_import_command_writes_plans_that_simulate_runs(tmp_path: Path) -> None:
    path = tmp_path / "hand.csv"
    path.write_text(HAND_WRITTEN)
    runner = CliRunner()
    res = runner.invoke(app, ["import-nonmem", str(path), "--out", str(tmp_path / "imp")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "imp" / "import.json").exists()
    res = runner.invoke(app, ["simulate", str(tmp_path / "imp" / "plans" / "id-2.yaml"), "--out", str(tmp_path / "s")])
    assert res.exit_code == 0, res.output


# --- round trips ---------------------------------------------------------------------------------------------

def _without_mg_per_kg(plan: Plan) -> tuple[Dose, ...]:
    return tuple(Dose(**{**d.__dict__, "mg_per_kg": None}) for d in plan.doses)


@pytest.mark.parametrize("dates", [False, True])
def test_simulated_dataset_round_trips_through_import(tmp_path: Path, dates: bool) -> None:
    plan = load_plan(Path(__file__).parents[2] / "src" / "ketasim" / "examples" / "induction-six.yaml")
    traj = simulate(plan)
    rows = simulation_records(traj, scale="phq9")
    if dates:
        rows = subject_records(plan, subject_id=1, obs_days=traj.daily()["day"].to_numpy(),
                               dv=[float(r["DV"]) for r in rows if r["EVID"] == "0"], scale="phq9", dates=True)
    path = tmp_path / "sim.csv"
    write_nonmem(rows, path)
    res = CliRunner().invoke(app, ["import-nonmem", str(path), "--out", str(tmp_path / "imp"),
                                   "--start", plan.start_date.isoformat()])
    assert res.exit_code == 0, res.output
    back = load_plan(tmp_path / "imp" / "plans" / "id-1.yaml")
    assert back.start_date == plan.start_date and back.horizon_days == plan.horizon_days
    for a, b in zip(back.doses, _without_mg_per_kg(plan), strict=True):
        assert (a.route, a.drug, a.phase, a.amount_mg) == (b.route, b.drug, b.phase, b.amount_mg)
        assert a.day == pytest.approx(b.day, abs=1e-6) and a.duration_min == pytest.approx(b.duration_min)
    p, q = back.patient, plan.patient
    assert (p.weight_kg, p.baseline_madrs, p.chronic_load) == (q.weight_kg, q.baseline_madrs, q.chronic_load)
    again = simulate(back)
    assert np.max(np.abs(again.daily()["madrs"].to_numpy() - traj.daily()["madrs"].to_numpy())) < 1e-4
    from ketasim.planning.history import read_history

    hist = read_history(tmp_path / "imp" / "histories" / "id-1.csv")
    dv = [float(r["DV"]) for r in rows if r["EVID"] == "0"]
    assert [e.value for e in hist.of_kind("score")] == pytest.approx(dv)


def test_population_dataset_round_trips(tmp_path: Path, single_infusion: Plan) -> None:
    from ketasim.population import simulate_population

    res = simulate_population(single_infusion, 5, seed=3, keep_trajectories=True)
    rows = population_records(single_infusion, res.patients, res.days, res.trajectory("madrs"), scale="madrs",
                              noise=True, seed=3)
    ds = parse_nonmem(write_nonmem(rows), start=single_infusion.start_date)
    assert len(ds.patients) == 5
    for i, p in enumerate(ds.patients):
        assert p.plan.patient.weight_kg == pytest.approx(res.patients.weight_kg[i])
        assert p.plan.doses[0].amount_mg == pytest.approx(0.5 * res.patients.weight_kg[i])
        scores = np.array([e.value for e in p.history.of_kind("score")])
        assert np.all(scores == np.round(scores))  # residual noise: whole points, as a rater writes them
    exact = population_records(single_infusion, res.patients, res.days, res.trajectory("madrs"), scale="madrs",
                               noise=False)
    dv = np.array([float(r["DV"]) for r in exact if r["EVID"] == "0"]).reshape(5, -1)
    assert np.allclose(dv, res.trajectory("madrs"), atol=1e-4)


# --- event semantics against hand-computed cases -------------------------------------------------------------

def test_addl_gives_addl_plus_one_doses_ii_apart() -> None:
    plan = one(data("1,8,1,35,52.5,2,72,4,0,1,.,.,70"), allow_off_label=True)
    assert [d.day * 24 for d in plan.doses] == pytest.approx([8, 80, 152, 224, 296])


def test_rate_and_dur_give_the_infusion_duration() -> None:
    assert one(data("1,9,1,35,70,2,0,0,0,1,.,.,70")).doses[0].duration_min == pytest.approx(30.0)  # 35 / 70 h
    header = HEADER + ",DUR"
    plan = one(data("1,9,1,35,.,2,0,0,0,1,.,.,70,0.75", header=header))
    assert plan.doses[0].duration_min == pytest.approx(45.0)
    both = one(data("1,9,1,35,52.5,2,0,0,0,1,.,.,70,0.6667", header=header))  # 35 / 52.5 h = 0.6667 h
    assert both.doses[0].duration_min == pytest.approx(40.0)
    with pytest.raises(PlanError, match=r"line 2: DUR = '0.5': allowed AMT / RATE = 0.666667 h"):
        one(data("1,9,1,35,52.5,2,0,0,0,1,.,.,70,0.5", header=header))


@pytest.mark.parametrize("rate", ["-1", "-2"])
def test_modelled_rate_or_duration_is_refused(rate: str) -> None:
    with pytest.raises(PlanError, match=rf"RATE = '{rate}': allowed .*estimated by a model"):
        one(data(f"1,9,1,35,{rate},2,0,0,0,1,.,.,70"))


def test_evid_inferred_from_amt_and_evid_2_rows_only_extend_the_horizon() -> None:
    header = "ID,TIME,AMT,RATE,CMT,DV,SCALE,WT"
    plan = one(data("1,0,.,.,3,30,MADRS,70", "1,9,35,52.5,2,.,.,70", "1,240,.,.,.,.,.,70", header=header))
    assert len(plan.doses) == 1 and plan.horizon_days == 10  # the last row (no DV: nothing observed) at day 10
    with_other = one(data("1,9,1,35,52.5,2,0,0,0,1,.,.,70", "1,480,2,0,.,.,.,.,.,1,.,.,70"))
    assert with_other.horizon_days == 20 and len(with_other.doses) == 1


def test_reset_starts_a_new_occasion() -> None:
    ds = parse_nonmem(data("1,9,1,35,52.5,2,0,0,0,1,.,.,70", "1,33,0,0,.,3,0,0,0,0,20,MADRS,70",
                           "1,40,3,0,.,.,0,0,0,1,.,.,70",  # EVID 3: reset (NONMEM lets the clock start again)
                           "1,0,4,35,52.5,2,0,0,0,1,.,.,70",  # EVID 4: reset and dose, time 0 again
                           "1,24,0,0,.,3,0,0,0,0,15,MADRS,70"))
    # the EVID 3 row opens an occasion with nothing in it (EVID 4 resets again): two occasions are left
    assert [(p.id, p.occasion) for p in ds.patients] == [("1", 1), ("1", 2)]
    assert [len(p.plan.doses) for p in ds.patients] == [1, 1]
    assert [e.value for e in ds.patients[1].history.scores] == [15]
    assert ds.patients[1].stem == "id-1-occasion2" and ds.patients[1].plan.start_date == dt.date(2025, 1, 6)
    with pytest.raises(PlanError, match=r"line 3: TIME = .*allowed a time on or after the previous row of ID 1"):
        parse_nonmem(data("1,9,1,35,52.5,2,0,0,0,1,.,.,70", "1,5,0,0,.,3,0,0,0,0,20,MADRS,70"))


def test_ss1_dose_stands_for_the_lead_in_of_its_regimen() -> None:
    """SS=1 at hour 9 of day 0 with II 1 week: 26 weekly doses before it (182 days), then it and ADDL."""
    plan = one(data("1,9,1,35,52.5,2,168,1,1,1,.,.,70"))
    k = int(SS_LEAD_IN_DAYS * 24 // 168)
    assert k == 26 and len(plan.doses) == k + 2
    assert plan.start_date == dt.date(2025, 1, 6) - dt.timedelta(days=182)
    hours = np.array([d.day * 24 for d in plan.doses])
    assert np.allclose(np.diff(hours), 168.0) and hours[k] == pytest.approx(182 * 24 + 9)


def test_ss1_exposure_is_the_superposition_of_the_regimen() -> None:
    """Linear PK: the concentration at the SS dose equals the sum of one dose's curve at k II, k = 1..K."""
    ii_h = 24.0
    plan = one(data("1,9,1,35,52.5,2,24,0,1,1,.,.,70"), allow_off_label=True)  # daily: off-label frequency
    k = int(SS_LEAD_IN_DAYS * 24 // ii_h)
    t_ss = plan.doses[-1].day * 24
    c_ss = simulate(plan, times_h=np.array([t_ss])).table["concentration_ng_ml"].iloc[0]
    single = Plan(patient=plan.patient, doses=(Dose(day=0.0, amount_mg=35.0, duration_min=40.0),), horizon_days=200)
    curve = simulate(single, times_h=ii_h * np.arange(1, k + 1)).table["concentration_ng_ml"].to_numpy()
    assert c_ss > 0 and c_ss == pytest.approx(curve.sum(), rel=1e-6)


def test_ss1_after_doses_resets_and_ss2_adds_to_them() -> None:
    rows = ("1,9,1,35,52.5,2,0,0,0,1,.,.,70", "1,200,0,0,.,3,0,0,0,0,20,MADRS,70")
    reset = parse_nonmem(data(*rows, "1,201,1,35,52.5,2,168,0,1,1,.,.,70"))
    assert [p.occasion for p in reset.patients] == [1, 2]
    assert len(reset.patients[1].plan.doses) == 27
    kept = parse_nonmem(data("1,0,1,35,52.5,2,168,0,1,1,.,.,70", "1,84,1,35,52.5,2,168,0,2,1,.,.,70"),
                        allow_off_label=True)
    assert len(kept.patients) == 1 and len(kept.patients[0].plan.doses) == 2 * 27  # AM and PM regimens, interleaved


def test_observations_by_scale_column_or_cmt() -> None:
    header = "ID,TIME,EVID,AMT,RATE,CMT,DV,WT"
    ds = parse_nonmem(data("1,0,0,0,.,3,30,70", "1,1,0,0,.,4,15,70", "1,2,0,0,.,5,12,70", "1,3,0,0,.,6,20,70",
                           "1,9,1,35,52.5,2,.,70", header=header))
    assert [e.scale for e in ds.patients[0].history.scores] == ["madrs", "phq9", "qids_sr16", "hdrs17"]
    with pytest.raises(PlanError, match=r"line 2: CMT = '2': allowed the scale of DV"):
        parse_nonmem(data("1,0,0,0,.,2,300,70", header=header))
    with pytest.raises(PlanError, match=r"line 2: CMT = 4: allowed 3 for SCALE MADRS"):
        parse_nonmem(data("1,0,0,0,.,4,0,0,0,0,20,MADRS,70"))


# --- refusals: row, column, value and what is allowed --------------------------------------------------------

BAD_ROWS = [
    ("1,x,1,35,52.5,2,0,0,0,1,.,.,70", "TIME", "x", "hours since time zero"),
    ("1,-3,1,35,52.5,2,0,0,0,1,.,.,70", "TIME", "-3", "0 to 87600"),
    ("1,9,7,35,52.5,2,0,0,0,1,.,.,70", "EVID", "7", "0 observation; 1 dose"),
    ("1,9,1,-5,52.5,2,0,0,0,1,.,.,70", "AMT", "-5", "a dose in mg above 0"),
    ("1,9,1,0,52.5,2,0,0,0,1,.,.,70", "AMT", "0", "a dose above 0 mg on a dose row"),
    ("1,9,0,35,.,3,0,0,0,0,20,MADRS,70", "AMT", "35", "a dose needs EVID 1 or 4"),
    ("1,9,1,35,52.5,9,0,0,0,1,.,.,70", "CMT", "9", "1 (depot"),
    ("1,9,1,35,52.5,2,0,3,0,1,.,.,70", "II", "(empty)|0", "an interdose interval in hours above 0 with ADDL 3"),
    ("1,9,1,35,52.5,2,24,0,0,1,.,.,70", "II", "24", "0 or '.' without ADDL or SS"),
    ("1,9,1,35,52.5,2,24,0,3,1,.,.,70", "SS", "3", "0 (none), 1 (steady state)"),
    ("1,9,1,35,52.5,2,24,1.5,0,1,.,.,70", "ADDL", "1.5", "a whole number of additional doses"),
    ("1,9,1,35,52.5,1,0,0,0,1,.,.,70", "RATE", "52.5", "infusions are IV only"),
    ("1,9,0,0,.,3,0,0,0,0,61,MADRS,70", "DV", "61", "a MADRS total score of 0-60"),
    ("1,9,0,0,.,.,0,0,0,0,20,BDI,70", "SCALE", "BDI", "MADRS, PHQ-9, QIDS-SR16 or HDRS-17"),
    ("1,9,1,35,52.5,2,0,0,0,0,.,.,70", "MDV", "0", "1 or '.' on a row with EVID 1"),
    (",1,9,1,35,52.5,2,0,0,0,1,.,.,20", "WT", "20.0", "30-250 kg"),
    ("1,9,1,105,52.5,2,0,0,0,1,.,.,70", "AMT", "105 mg", "0.1-1.0 mg/kg per IV racemic ketamine dose"),
    ("1,9,1,35,52.5,2,87600,5000,0,1,.,.,70", "ADDL", "5000", "ADDL x II within 87600 h"),
    ("1,300,1,35,52.5,2,168,520,0,1,.,.,70", "ADDL", "520", "times within 3650 days (10 years) of the plan start"),
    ("1,9,1,35,1e-186,2,48,2,0,1,.,.,70", "RATE", "1e-186", "an infusion of at most 168 h"),
    ("1,9,1,35,3500,2,0,0,0,1,.,.,70", "RATE", "0.6 min", "2-100 min per IV racemic ketamine infusion"),
    (",,9,1,35,52.5,2,0,0,0,1,.,.,70", "ID", "", "a patient identifier on every row"),
    (",1,9,1,35,52.5,2,0,0,0,1,.,.,.", "WT", "(missing)", "the weight in kg of ID 1"),
    ("1,9,1,35,52.5,2,0,0,0,1,.,70", "row", "", "13 fields, one per column of the header"),
]


@pytest.mark.parametrize(("row", "column", "value", "allowed"), BAD_ROWS)
def test_malformed_row_is_refused_with_line_column_value_and_rule(row: str, column: str, value: str,
                                                                  allowed: str) -> None:
    alone = row.startswith(",")  # a row on its own (a leading comma marks it here)
    text = data(row[1:]) if alone else data("1,0,0,0,.,3,0,0,0,0,30,MADRS,70", row)
    line = 2 if alone else 3
    with pytest.raises(PlanError) as info:
        parse_nonmem(text, file="data.csv")
    err = info.value
    assert (err.file, err.line, err.field) == ("data.csv", line, column), str(err)
    assert any(v in str(err.value) for v in value.split("|")), str(err)
    assert allowed in err.allowed, str(err)


def test_off_label_dose_passes_only_when_allowed_and_hard_limits_never() -> None:
    row = "1,9,1,105,157.5,2,0,0,0,1,.,.,70"  # 1.5 mg/kg IV over 40 min
    with pytest.raises(PlanError, match=r"--allow-off-label"):
        one(data(row))
    assert one(data(row), allow_off_label=True).allow_off_label
    # Every dose is checked on its own (dosing.limits.check_dose): the error names the row of the bad dose.
    second = ("1,9,1,35,52.5,2,0,0,0,1,.,.,70", "1,57,1,105,157.5,2,0,0,0,1,.,.,70")
    with pytest.raises(PlanError, match=r"line 3: AMT = .*--allow-off-label"):
        parse_nonmem(data(*second))
    with pytest.raises(PlanError, match=r"line 3: AMT"):  # a hard limit: refused even when allowed
        parse_nonmem(data("1,9,1,35,52.5,2,0,0,0,1,.,.,70", "1,57,1,800,1200,2,0,0,0,1,.,.,70"),
                     allow_off_label=True)
    overlap = ("1,9,1,35,52.5,2,0,0,0,1,.,.,70", "1,9.2,1,35,52.5,2,0,0,0,1,.,.,70")
    with pytest.raises(PlanError, match=r"line 3: TIME = .*a start after the previous administration ends"):
        parse_nonmem(data(*overlap), allow_off_label=True)


def test_rows_of_an_id_must_be_together_and_covariates_constant() -> None:
    rows = ("1,9,1,35,52.5,2,0,0,0,1,.,.,70", "2,9,1,35,52.5,2,0,0,0,1,.,.,70", "1,200,0,0,.,3,0,0,0,0,20,MADRS,70")
    with pytest.raises(PlanError, match=r"line 4: ID = '1': allowed the rows of each ID together"):
        parse_nonmem(data(*rows))
    with pytest.raises(PlanError, match=r"line 3: WT = 71.0: allowed the same WT on every row of ID 1"):
        parse_nonmem(data("1,9,1,35,52.5,2,0,0,0,1,.,.,70", "1,200,0,0,.,3,0,0,0,0,20,MADRS,71"))


def test_encodings_and_separators(tmp_path: Path) -> None:
    text = data("1,0,0,0,.,3,0,0,0,0,30,MADRS,70", "1,9,1,35,52.5,2,0,0,0,1,.,.,70")
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert len(read_nonmem(bom).patients) == 1
    spaced = tmp_path / "spaced.csv"
    spaced.write_text(text.replace(",", "  "))
    assert len(read_nonmem(spaced).patients[0].plan.doses) == 1
    latin = tmp_path / "latin.csv"
    latin.write_bytes(text.replace("MADRS", "MADRS\xe9").encode("latin-1"))
    with pytest.raises(PlanError, match="UTF-8"):
        read_nonmem(latin)
    with pytest.raises(PlanError, match="an existing file"):
        read_nonmem(tmp_path / "missing.csv")
    # The project's encoding rules (formats.yamlio.read_text_file): UTF-16 is refused with the fix named.
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes(text.encode("utf-16"))
    with pytest.raises(PlanError, match=r"UTF-16.*UTF-8 text"):
        read_nonmem(utf16)


def test_unknown_columns_are_reported_not_used() -> None:
    ds = parse_nonmem(data("1,9,1,35,52.5,2,0,0,0,1,.,.,70,A", header=HEADER + ",STUDY"))
    assert ds.unused_columns == ("STUDY",)


def test_cli_prints_one_error_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(data("1,9,1,35,-2,2,0,0,0,1,.,.,70"))
    res = CliRunner().invoke(app, ["import-nonmem", str(path), "--out", str(tmp_path / "o")])
    assert res.exit_code != 0 and isinstance(res.exception, PlanError)
    assert "bad.csv, line 2: RATE" in str(res.exception)


def test_nonmem_out_on_simulate_and_population(tmp_path: Path) -> None:
    example = Path(__file__).parents[2] / "src" / "ketasim" / "examples" / "induction-six.yaml"
    runner = CliRunner()
    res = runner.invoke(app, ["simulate", str(example), "--out", str(tmp_path / "s"), "--nonmem-out",
                              str(tmp_path / "s.csv"), "--nonmem-scale", "QIDS-SR16", "--nonmem-noise"])
    assert res.exit_code == 0, res.output
    ds = read_nonmem(tmp_path / "s.csv")
    assert {e.scale for e in ds.patients[0].history.scores} == {"qids_sr16"}
    res = runner.invoke(app, ["population", str(example), "-n", "3", "--out", str(tmp_path / "p"), "--no-figures",
                              "--nonmem-out", str(tmp_path / "p.csv")])
    assert res.exit_code == 0, res.output
    assert [p.id for p in read_nonmem(tmp_path / "p.csv").patients] == ["1", "2", "3"]
    res = runner.invoke(app, ["simulate", str(example), "--out", str(tmp_path / "s2"), "--nonmem-out",
                              str(tmp_path / "x.csv"), "--nonmem-scale", "BDI"])
    assert isinstance(res.exception, PlanError) and "--nonmem-scale" in str(res.exception)


def test_trials_dataset_has_every_arm_patient() -> None:
    from ketasim.formats.nonmem import trials_records
    from ketasim.trials.runner import run_study
    from ketasim.trials.studies import BUILTIN_STUDIES

    res = run_study(BUILTIN_STUDIES["murrough13b"], 8, 1)
    rows = trials_records([res], noise=True)
    ids = {r["ID"] for r in rows}
    assert len(ids) == sum(len(a.rows) for a in res.arms.values())
    obs = [float(r["DV"]) for r in rows if r["EVID"] == "0"]
    assert sorted(obs) == sorted(np.concatenate([a.scores.ravel() for a in res.arms.values()]).tolist())
    assert all(r["STUDY"] == "murrough13b" for r in rows)
    ds = parse_nonmem(write_nonmem(rows))
    assert len(ds.patients) == len(ids)


def test_patient_default_baseline_is_said() -> None:
    ds = parse_nonmem(data("1,9,1,35,52.5,2,0,0,0,1,.,.,70"))
    assert ds.patients[0].plan.patient.baseline_madrs == Patient().baseline_madrs
    assert any("assumed" in n for n in ds.patients[0].notes) and ds.patients[0].history is None


def test_an_open_quote_does_not_swallow_the_next_lines() -> None:
    """Found by the fuzz suite: a quote left open at the end of a row is that row's error."""
    text = data("1,0,0,0,.,3,0,0,0,0,30,MADRS,70", '1,9,"1,35,52.5,2,0,0,0,1,.,.,70',
                "1,30,0,0,.,3,0,0,0,0,20,MADRS,70")
    with pytest.raises(PlanError, match=r"line 3: row = .*balanced quotes"):
        parse_nonmem(text)
