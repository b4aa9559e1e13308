"""``ketasim explain PLAN.yaml``: why the benefit fades, and what each strategy of the plan adds.

The loss of benefit between two dates is attributed to pruning, homeostasis, tolerance and
load (:func:`ketasim.explain.explain_loss`, Shapley values over 16 knock-out runs), the gain
over the plan to its strategies (:func:`ketasim.explain.explain_gain`). Plain sentences by
default, ``--json`` for both explanations with every number.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from ketasim.errors import OptionError, PlanError
from ketasim.interfaces.app import app
from ketasim.interfaces.options import text_option

#: The command-line options of the two dates of the loss window.
OPTION_OF = {"date1": "--from", "date2": "--to"}


def _when(text: str | None) -> float | str | None:
    """A plan day (number) or a date ``YYYY-MM-DD`` as given on the command line."""
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return text


def explain_plan(plan_file: Path, date1: str | None = None, date2: str | None = None,
                 overrides: dict[str, float] | None = None) -> dict[str, Any]:
    """Both explanations of ``plan_file`` as ``{"plan", "loss", "gain"}`` (their ``to_dict()`` forms)."""
    from ketasim.dosing.planfile import load_plan
    from ketasim.explain import explain_gain, explain_loss
    from ketasim.parameters import vector_with

    plan = load_plan(plan_file)
    params = vector_with(overrides or {})
    try:
        loss = explain_loss(plan, _when(date1), _when(date2), params)
    except PlanError as exc:
        if exc.field not in OPTION_OF:
            raise
        allowed = exc.allowed
        for field, option in OPTION_OF.items():
            allowed = allowed.replace(field, option)
        given = date1 if exc.field == "date1" else date2
        raise OptionError(OPTION_OF[exc.field], given if given is not None else exc.value, allowed) from None
    gain = explain_gain(plan, params)
    return {"plan": plan.name, "plan_file": str(plan_file), "parameter_overrides": dict(overrides or {}),
            "loss": loss.to_dict(), "gain": gain.to_dict()}


def _body(lines: list[str]) -> list[str]:
    """The sentences without the trailing disclaimer / off-label note (printed once at the end)."""
    from ketasim.outcomes.summary import DISCLAIMER

    return [s for s in lines if not s.lower().startswith(DISCLAIMER[:20].lower()) and not s.startswith("Note: ")]


@app.command("explain")
def explain_command(
    plan_file: Path = typer.Argument(..., help="YAML plan file."),
    date_from: str = typer.Option(None, "--from", callback=text_option(max_length=40),
                                  help="Start of the loss window: YYYY-MM-DD or plan day "
                                  "(default: 24 h after the last induction dose)."),
    date_to: str = typer.Option(None, "--to", callback=text_option(max_length=40),
                                help="End of the loss window: YYYY-MM-DD or plan day "
                                "(default: end of the plan)."),
    as_json: bool = typer.Option(False, "--json", help="Print both explanations as JSON."),
    param: list[str] = typer.Option([], "--param", help="Override a response parameter, name=value (repeatable)."),
) -> None:
    """Explain why the benefit fades (four mechanisms) and what the plan's strategies add."""
    from ketasim.parameters import parse_overrides

    overrides = parse_overrides(param)
    if as_json:
        typer.echo(json.dumps(explain_plan(plan_file, date_from, date_to, overrides), indent=2))
        return
    console = Console()
    with console.status("explaining: 16 knock-out runs, plus one run per subset of strategies"):
        result = explain_plan(plan_file, date_from, date_to, overrides)
    loss, gain = result["loss"], result["gain"]
    console.print(f"[bold]{result['plan']}[/]")
    console.print(f"\n[bold red]Why the benefit fades[/] ({loss['date1']} to {loss['date2']})")
    for s in _body(loss["sentences"]):
        console.print(f"  \u2022 {s}")
    console.print("\n[bold green]What the plan's strategies add[/]")
    for s in _body(gain["sentences"]):
        console.print(f"  \u2022 {s}")
    if loss.get("off_label"):
        from ketasim.interfaces.report import OFF_LABEL_WARNING

        console.print(f"\n[bold red]{OFF_LABEL_WARNING}[/]")
    from ketasim.interfaces.report import DISCLAIMER

    console.print(f"\n[dim]{DISCLAIMER}[/]")
