"""``ketasim export-sbml PLAN.yaml -o model.xml``: the plan's whole model as SBML Level 3 Version 2.

The document (see :mod:`ketasim.interfaces.sbml`) holds the PK compartments and reactions, the
effect sites, occupancy, the nine response states, MADRS and the plan's doses and sessions as
events, with every parameter's unit, source and status; any SBML tool (COPASI, libRoadRunner,
tellurium) can simulate it. Time in hours from the plan start.
"""

from __future__ import annotations

from pathlib import Path

import typer

from ketasim import DISCLAIMER
from ketasim.interfaces.app import app


@app.command("export-sbml")
def export_sbml_command(
    plan_file: Path = typer.Argument(..., help="Plan file (YAML), e.g. ketasim/examples/induction-six.yaml."),
    output: Path = typer.Option(None, "-o", "--output",
                                help="SBML file to write (default: the plan file's name with .xml, in the working "
                                     "folder)."),
) -> None:
    """Write the plan's whole model (exposure, receptor, response, MADRS, dated events) as SBML L3V2."""
    import libsbml

    from ketasim.dosing.planfile import load_plan
    from ketasim.interfaces.outputs import output_file
    from ketasim.interfaces.sbml import OFF_LABEL_NOTE, to_sbml

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
    typer.echo(DISCLAIMER)
