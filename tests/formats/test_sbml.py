"""SBML export: a valid L3V2 document holding the whole model, which libRoadRunner simulates like ketasim.

The libRoadRunner comparison is an independent check of the engine: the SBML document is
written from the model's equations (not from the compiled arrays), solved by CVODE with the PK
as reactions and the plan as events, and compared with ``simulate(plan, method="reference")``
(exact PK, DOP853 at rtol 1e-10).

Tolerance: both solvers are converged to rtol <= 1e-9 on the same equations; over 60 to 365 days
their MADRS differ by at most ~1e-6 points and N, M by ~1e-8 (measured on every bundled
example). We assert 1e-4 MADRS points and 1e-6 in N and M (1e-6 x kappa = 6e-5 points): ~100x
the observed agreement, so platform differences pass, yet far below any modelling difference:
a 1% change in one rate constant moves MADRS by more than 100x this tolerance
(``test_the_comparison_detects_a_one_percent_change``).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import libsbml
import numpy as np
import pytest
from typer.testing import CliRunner

from ketasim import DISCLAIMER
from ketasim.dosing.plan import Dose, LifeEvent, LifestylePeriod, OtherTreatment, Patient, Plan
from ketasim.formats.sbml import ROADRUNNER_COLUMNS, consistency_errors, roadrunner_simulate, to_sbml
from ketasim.parameters import IDX, default_vector, response_parameters, vector_with
from ketasim.simulate import simulate

MADRS_TOL = 1e-4
STATE_TOL = 1e-6
EXAMPLES = Path(str(resources.files("ketasim").joinpath("examples")))
COL = {name: i for i, name in enumerate(ROADRUNNER_COLUMNS)}


def series_plan() -> Plan:
    """6 induction infusions (Mon-Wed-Fri, 09:00), 4 weekly maintenance infusions, 3 therapy sessions, 60 days.

    An 80 kg patient dosed at 0.5 mg/kg, a life event in the follow-up and a lifestyle period
    exercise the load and reinforcement terms as well.
    """
    induction = [Dose(d + 0.375, mg_per_kg=0.5) for d in (0, 2, 4, 7, 9, 11)]
    maintenance = [Dose(d + 0.375, mg_per_kg=0.5, phase="maintenance") for d in (18, 25, 32, 39)]
    return Plan(name="series", patient=Patient(weight_kg=80.0, life_events=(LifeEvent(30.5, 0.5, 45.0),)),
                doses=tuple(induction + maintenance), therapy_days=(3.6, 10.6, 20.6),
                lifestyle=(LifestylePeriod(14.0, 50.0, 0.7),), horizon_days=60)


def mixed_plan() -> Plan:
    """Intranasal esketamine (2 and 3 devices), an antidepressant, ECT and TMS, a pre-treatment bereavement."""
    doses = tuple(Dose(d + 0.4, 56.0 if d < 7 else 84.0, route="intranasal", drug="esketamine",
                       devices=2 if d < 7 else 3) for d in (0, 3, 7, 10, 14, 21, 28))
    return Plan(name="mixed", patient=Patient(life_events=(LifeEvent(-20.0, 0.6, 90.0),)), doses=doses,
                therapy_days=(5.5,),
                treatments=(OtherTreatment("antidepressant", start_day=0.0, end_day=30.0),
                            OtherTreatment("ect", session_days=(15.4, 17.4)),
                            OtherTreatment("tms", session_days=(22.4, 23.4))),
                lifestyle=(LifestylePeriod(-5.0, 12.0, 0.5), LifestylePeriod(8.0, 40.0, 0.8)), horizon_days=40)


def _compare(plan: Plan, params: np.ndarray | None = None) -> dict[str, float]:
    days = int(plan.horizon_days)
    rr = roadrunner_simulate(to_sbml(plan, params), days)
    ref = simulate(plan, params, method="reference", times_h=np.arange(days + 1) * 24.0).table
    assert np.allclose(rr[:, COL["time"]], ref["hours"])
    return {name: float(np.max(np.abs(rr[:, COL[col]] - ref[name].to_numpy())))
            for name, col in (("madrs", "MADRS"), ("N", "N"), ("M", "M"), ("G", "G"), ("A", "A"), ("E", "E"),
                              ("C", "C"), ("occupancy", "occupancy"))}


def test_roadrunner_reproduces_the_engine_on_a_series_with_maintenance_and_therapy():
    diff = _compare(series_plan())
    assert diff["madrs"] < MADRS_TOL
    assert diff["N"] < STATE_TOL and diff["M"] < STATE_TOL
    assert diff["C"] < STATE_TOL


def test_roadrunner_reproduces_the_engine_with_nasal_devices_and_other_treatments():
    diff = _compare(mixed_plan())
    assert diff["madrs"] < MADRS_TOL
    for state in ("N", "M", "A", "E", "C"):
        assert diff[state] < STATE_TOL, state


def test_roadrunner_reproduces_the_engine_with_changed_parameters():
    params = vector_with({"k_prune": 1.0 / (4 * 24.0), "beta": 0.2, "w_therapy": 1.5})
    diff = _compare(series_plan(), params)
    assert diff["madrs"] < MADRS_TOL


def test_the_comparison_detects_a_one_percent_change():
    """A 1% change of k_form only in the SBML moves MADRS far outside the tolerance."""
    plan = series_plan()
    doc = libsbml.readSBMLFromString(to_sbml(plan))
    p = doc.getModel().getParameter("k_form")
    p.setValue(p.getValue() * 1.01)
    days = int(plan.horizon_days)
    rr = roadrunner_simulate(libsbml.writeSBMLToString(doc), days)
    ref = simulate(plan, method="reference", times_h=np.arange(days + 1) * 24.0).table
    assert np.max(np.abs(rr[:, COL["MADRS"]] - ref["madrs"].to_numpy())) > 100 * MADRS_TOL


def test_plasma_concentration_during_an_infusion_matches_the_exact_pk():
    """CVODE on the PK reactions vs the exact modal solution, every 5 minutes around one infusion."""
    import roadrunner

    plan = series_plan()
    rr = roadrunner.RoadRunner(to_sbml(plan))
    rr.integrator.relative_tolerance = 1e-10
    rr.integrator.absolute_tolerance = [1e-14] * len(rr.integrator.getAbsoluteToleranceVector())
    rr.timeCourseSelections = ["time", "concentration_ng_ml", "norketamine_ng_ml", "occupancy"]
    t = np.arange(0.0, 12 * 12 + 1) * (5.0 / 60.0) + 8.0  # 08:00 to 20:00 on day 0
    out = rr.simulate(times=np.concatenate([[0.0], t]))[1:]
    ref = simulate(plan, method="reference", times_h=t).table
    peak = ref["concentration_ng_ml"].max()
    assert 150.0 < peak < 250.0
    assert np.max(np.abs(out[:, 1] - ref["concentration_ng_ml"])) < 1e-6 * peak
    assert np.max(np.abs(out[:, 2] - ref["norketamine_ng_ml"])) < 1e-6 * ref["norketamine_ng_ml"].max()
    assert np.max(np.abs(out[:, 3] - ref["occupancy"])) < 1e-7


def _errors(xml: str) -> list[str]:
    doc = libsbml.readSBMLFromString(xml)
    doc.checkConsistency()
    return [doc.getError(i).getMessage() for i in range(doc.getNumErrors())
            if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR]


@pytest.mark.parametrize("plan", [series_plan(), mixed_plan(),
                                  Plan(name="bolus at time 0", doses=(Dose(0.0, 35.0, route="im"),
                                                                      Dose(2.0, 35.0, duration_min=40.0)),
                                       therapy_days=(0.0,), horizon_days=10),
                                  Plan(name="oral", doses=(Dose(1.0, 150.0, route="oral"),), horizon_days=5,
                                       allow_off_label=True),
                                  Plan(name="no doses", therapy_days=(2.0, 9.0), horizon_days=20)],
                         ids=lambda p: p.name)
def test_document_is_valid_sbml_level3_version2(plan):
    xml = to_sbml(plan)
    doc = libsbml.readSBMLFromString(xml)
    assert (doc.getLevel(), doc.getVersion()) == (3, 2)
    assert _errors(xml) == []
    assert consistency_errors(xml) == []
    notes = doc.getModel().getNotesString()
    assert "not a medical device" in notes
    assert ("outside published ranges were allowed" in notes) == plan.allow_off_label


def test_consistency_check_reports_a_broken_document():
    """The validity check can fail: a rule referring to an undefined symbol is an error."""
    doc = libsbml.readSBMLFromString(to_sbml(series_plan()))
    doc.getModel().getRule("MADRS").setMath(libsbml.parseL3Formula("undefined_thing + 1"))
    assert _errors(libsbml.writeSBMLToString(doc))


def test_every_parameter_has_units_and_notes_with_source_and_status():
    params = vector_with({"k_hom": 1.0 / (30 * 24.0)})
    model = libsbml.readSBMLFromString(to_sbml(series_plan(), params)).getModel()
    for p in model.getListOfParameters():
        assert p.isSetUnits(), p.getId()
        assert p.isSetNotes(), p.getId()
    for rp in response_parameters():
        sp = model.getParameter(rp.name)
        assert sp is not None, rp.name
        assert sp.getValue() == pytest.approx(params[IDX[rp.name]], rel=1e-14)
        notes = sp.getNotesString()
        assert "source: " in notes and f"status: {rp.status}" in notes, rp.name
    # PK parameters cite their model.
    assert "Kamp" in model.getParameter("CL_ref_parent").getNotesString()
    assert model.getParameter("CL_ref_parent").getUnits() == "litre_per_hour"
    assert model.getTimeUnits() == "hour" and model.getSubstanceUnits() == "mg"


def test_structure_of_the_model():
    plan = series_plan()
    model = libsbml.readSBMLFromString(to_sbml(plan)).getModel()
    species = {s.getId() for s in model.getListOfSpecies()}
    assert {"parent_central", "parent_peripheral1", "metabolite_central"} <= species
    reactions = {r.getId() for r in model.getListOfReactions()}
    assert {"parent_elimination", "parent_metabolism", "metabolite_elimination", "parent_peripheral1_distribution",
            "infusion_to_parent_central"} <= reactions
    rate_rules = {r.getVariable() for r in model.getListOfRules() if r.isRate()}
    states = set("GTDNMCSEA") | {"Ce_parent", "Ce_metabolite"}
    assert {f"{x}_state" for x in states} == rate_rules  # stored with an offset (see STATE_OFFSETS)
    assignments = {r.getVariable() for r in model.getListOfRules() if r.isAssignment()}
    assert {"MADRS", "occupancy", "reinforcement", "free_capacity", "load", "set_point"} | states <= assignments
    events = {e.getId(): e for e in model.getListOfEvents()}
    # Two events per infusion (10), one per therapy session (3), lifestyle on/off (2).
    assert sum(e.startswith("dose") for e in events) == 2 * len(plan.doses)
    assert sum(e.startswith("psychotherapy") for e in events) == 3
    session = events["psychotherapy_session2"]
    assert libsbml.formulaToL3String(session.getEventAssignment(0).getMath()) == "S_state + 1"
    assert {"lifestyle1_start", "lifestyle1_end"} <= set(events)


def test_intranasal_devices_are_separate_events():
    plan = mixed_plan()
    model = libsbml.readSBMLFromString(to_sbml(plan)).getModel()
    ids = [e.getId() for e in model.getListOfEvents()]
    assert "dose1_device2" in ids and "dose4_device3" in ids and "dose4_device4" not in ids
    assert sum(i.startswith("dose") for i in ids) == sum(d.devices for d in plan.doses)
    first = model.getEvent("dose1_device1")
    second = model.getEvent("dose1_device2")
    nasal = [libsbml.formulaToL3String(e.getEventAssignment(0).getMath()) for e in (first, second)]
    amounts = [float(s.split("+")[1]) for s in nasal]
    assert amounts[1] == pytest.approx(0.62 * amounts[0])  # Perez-Ruixo: later devices absorb less nasally
    ect = model.getEvent("ect_session1")
    assert libsbml.formulaToL3String(ect.getEventAssignment(0).getMath()) == "E_state + g_ect"


def test_roadrunner_simulate_returns_daily_rows():
    out = roadrunner_simulate(to_sbml(Plan(doses=(Dose(0.375, 35.0),), horizon_days=5)), 5)
    assert out.shape == (6, len(ROADRUNNER_COLUMNS))
    assert np.allclose(out[:, 0], np.arange(6) * 24.0)
    assert out[0, COL["MADRS"]] == pytest.approx(33.0)


@pytest.mark.slow
@pytest.mark.parametrize("example", sorted(p.stem for p in EXAMPLES.glob("*.yaml")))
def test_every_bundled_example_exports_and_agrees(example):
    from ketasim.dosing.planfile import load_plan

    plan = load_plan(EXAMPLES / f"{example}.yaml")
    xml = to_sbml(plan)
    assert consistency_errors(xml) == []
    days = int(plan.horizon_days)
    rr = roadrunner_simulate(xml, days)
    ref = simulate(plan, method="reference", times_h=np.arange(days + 1) * 24.0).table
    assert np.max(np.abs(rr[:, COL["MADRS"]] - ref["madrs"].to_numpy())) < MADRS_TOL


def test_cli_writes_a_valid_document(tmp_path):
    from ketasim.interfaces.cli import app

    out = tmp_path / "model.xml"
    result = CliRunner().invoke(app, ["export-sbml", str(EXAMPLES / "induction-six.yaml"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert DISCLAIMER in result.output
    assert "events" in result.output
    assert consistency_errors(out.read_text()) == []


def test_cli_bad_plan_is_one_line_error(tmp_path, monkeypatch, capsys):
    import sys

    from ketasim.interfaces.cli import main

    monkeypatch.setattr(sys, "argv", ["ketasim", "export-sbml", str(tmp_path / "missing.yaml")])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "missing.yaml" in err and "\n" not in err


def test_default_parameters_are_used_without_params():
    model = libsbml.readSBMLFromString(to_sbml(series_plan())).getModel()
    for name in ("k_form", "k_hom", "kappa_G", "ke0"):
        # libSBML writes 15 significant digits.
        assert model.getParameter(name).getValue() == pytest.approx(default_vector()[IDX[name]], rel=1e-14)


@pytest.mark.parametrize("name", ["single-infusion", "induction-taper", "induction-psychotherapy", "esketamine-nasal"])
def test_the_export_runs_at_roadrunners_default_settings(name: str):
    """As a user runs it: no tolerance set. Before the states were stored with offsets, these plans (a drug-free
    month between doses) failed in CVODE at the next dose; now MADRS agrees with the reference within 0.01."""
    from ketasim.dosing.planfile import load_plan
    from ketasim.formats.sbml import check_against_reference

    c = check_against_reference(load_plan(EXAMPLES / f"{name}.yaml"))
    assert (c["rtol"], c["atol"]) == (1e-6, 1e-12)  # libRoadRunner's defaults, untouched
    assert c["madrs"] < 0.01 and c["N"] < 1e-3 and c["M"] < 1e-3


def test_export_check_command_reports_the_agreement(tmp_path: Path):
    from ketasim.interfaces.cli import app

    res = CliRunner().invoke(app, ["export-sbml", str(EXAMPLES / "single-infusion.yaml"), "-o",
                                   str(tmp_path / "m.xml"), "--check"])
    assert res.exit_code == 0, res.output
    assert "default settings" in res.output and "agrees (within 0.01 points)" in res.output
    notes = libsbml.readSBMLFromString((tmp_path / "m.xml").read_text()).getModel().getNotesString()
    assert "default settings" in notes and "pk_offset" in notes
