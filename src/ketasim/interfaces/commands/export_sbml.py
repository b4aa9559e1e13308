"""``ketasim export-sbml PLAN.yaml -o model.xml``: the plan's whole model as SBML Level 3 Version 2.

The document (see :mod:`ketasim.formats.sbml`) holds the PK compartments and reactions, the
effect sites, occupancy, the nine response states, MADRS and the plan's doses and sessions as
events, with every parameter's unit, source and status; any SBML tool (COPASI, libRoadRunner,
tellurium) can simulate it. Time in hours from the plan start. It runs as exported: libRoadRunner at
its default settings gives ketasim's answer; ``--check`` runs it so and reports the agreement with
``simulate(method="reference")`` (exit status 1 if MADRS differs by more than :data:`CHECK_MADRS_POINTS`).
"""

from __future__ import annotations

from pathlib import Path

import typer

from ketasim import DISCLAIMER
from ketasim.interfaces.app import app

CHECK_MADRS_POINTS = 0.01  # a hundredth of a rating point: ratings are whole points


@app.command("export-sbml")
def export_sbml_command(
    plan_file: Path = typer.Argument(..., help="Plan file (YAML), e.g. ketasim/examples/induction-six.yaml."),
    output: Path = typer.Option(None, "-o", "--output",
                                help="SBML file to write (default: the plan file's name with .xml, in the working "
                                     "folder)."),
    check: bool = typer.Option(False, "--check", help="Run the file in libRoadRunner at its default settings and "
                               "report the agreement with ketasim's reference integrator."),
) -> None:
    """Write the plan's whole model (exposure, receptor, response, MADRS, dated events) as SBML L3V2."""
    import libsbml

    from ketasim.dosing.planfile import load_plan
    from ketasim.formats.sbml import OFF_LABEL_NOTE, check_against_reference, to_sbml
    from ketasim.interfaces.outputs import output_file

    plan = load_plan(plan_file)
    out = output if output is not None else Path(plan_file.with_suffix(".xml").name)
    with output_file(out, option="--output", inputs=[plan_file]) as tmp:
        xml = to_sbml(plan)
        tmp.write_text(xml, encoding="utf-8")
    model = libsbml.readSBMLFromString(xml).getModel()
    typer.echo(f"wrote {out}: SBML Level 3 Version 2, {model.getNumSpecies()} species, "
               f"{model.getNumReactions()} reactions, {model.getNumRules()} rules, {model.getNumEvents()} events, "
               f"{model.getNumParameters()} parameters; time in hours from {plan.start_date.isoformat()}")
    if plan.allow_off_label:
        typer.echo(OFF_LABEL_NOTE)
    failed = False
    if check:
        c = check_against_reference(plan)
        failed = c["madrs"] > CHECK_MADRS_POINTS
        typer.echo(f"check: libRoadRunner at its default settings (rtol {c['rtol']:g}, atol {c['atol']:g}) against "
                   f"ketasim's reference integrator over {c['days']:g} days, daily: largest difference "
                   f"{c['madrs']:.2g} MADRS points, {c['N']:.2g} in N, {c['M']:.2g} in M, "
                   f"{c['concentration_ng_ml']:.2g} ng/mL; "
                   + ("FAILED (more than " if failed else "agrees (within ") + f"{CHECK_MADRS_POINTS:g} points)")
    typer.echo(DISCLAIMER)
    if failed:
        raise typer.Exit(1)
