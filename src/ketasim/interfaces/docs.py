"""Keep docs/model.md in sync with the code: ``python -m ketasim.interfaces.docs [--check]``.

Two sections of docs/model.md are generated and sit between marker comments:

* ``parameters``: the table of every parameter (:func:`ketasim.parameters.all_parameters`)
  with value, unit, status, bounds, meaning and source;
* ``equations``: the docstrings of the modules that state the equations, verbatim.

Without ``--check`` the sections are rewritten in place (and docs/model-diagram.png redrawn
with ``--diagram``); with ``--check`` the command exits with status 1 if they are out of date.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Iterable
from pathlib import Path

from ketasim.interfaces.tables import markdown_table
from ketasim.parameters import Parameter, all_parameters

EQUATION_MODULES = (
    "ketasim.exposure.system",
    "ketasim.receptor.occupancy",
    "ketasim.plasticity.trigger",
    "ketasim.plasticity.synapses",
    "ketasim.plasticity.setpoint",
    "ketasim.plasticity.reinforcement",
    "ketasim.symptoms.madrs",
    "ketasim.symptoms.dissociation",
    "ketasim.symptoms.placebo",
    "ketasim.dynamics",
)

BEGIN = "<!-- BEGIN GENERATED {name}: python -m ketasim.interfaces.docs -->"
END = "<!-- END GENERATED {name} -->"


def _value(p: Parameter) -> str:
    """The value; a rate in 1/h also as its time constant (``0.005208 (1/8 d)``)."""
    text = f"{p.value:.4g}"
    if p.unit == "1/h" and p.value > 0:
        hours = 1.0 / p.value
        if hours >= 24:
            text += f" (1/{hours / 24:.3g} d)"
        else:
            text += f" (1/{hours:.3g} h)" if hours >= 1 else f" (1/{60 * hours:.3g} min)"
    return text


def _bounds(p: Parameter) -> str:
    return "" if p.bounds is None else f"{p.bounds[0]:.3g} - {p.bounds[1]:.3g}"


def parameter_table(parameters: Iterable[Parameter] | None = None) -> str:
    """Markdown: one table per layer (PK models first, then the response model, in code order)."""
    if parameters is None:
        from ketasim.trials.cohort import trial_parameters

        parameters = [*all_parameters(), *trial_parameters()]
    params = list(parameters)
    layers: dict[str, list[Parameter]] = {}
    for p in params:
        layers.setdefault(p.layer, []).append(p)
    counts = {s: sum(p.status == s for p in params) for s in ("literature", "calibrated", "assumed")}
    out = [f"{len(params)} parameters: {counts['literature']} literature, {counts['calibrated']} calibrated, "
           f"{counts['assumed']} assumed. Rates are per hour (1/h); a time constant of d days is a rate of "
           "1/(24 d) per hour.", ""]
    for layer, rows in layers.items():
        table = markdown_table([[f"`{p.name}`", _value(p), p.unit, p.status, _bounds(p), p.description, p.source]
                                for p in rows], ["name", "value", "unit", "status", "bounds", "meaning", "source"],
                               raw=["name"])
        out += [f"#### {layer}", "", table, ""]
    return "\n".join(out).rstrip() + "\n"


def equations_section(modules: Iterable[str] = EQUATION_MODULES) -> str:
    """Markdown: each module's docstring in a text block, under its name."""
    out: list[str] = []
    for name in modules:
        doc = (importlib.import_module(name).__doc__ or "").strip()
        out += [f"#### `{name}`", "", "```text", doc, "```", ""]
    return "\n".join(out).rstrip() + "\n"


GENERATORS = {"parameters": parameter_table, "equations": equations_section}


def render(text: str) -> str:
    """``text`` with every generated section replaced by its current content."""
    for name, make in GENERATORS.items():
        begin, end = BEGIN.format(name=name), END.format(name=name)
        pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
        if not pattern.search(text):
            raise ValueError(f"docs: markers for the generated section {name!r} not found ({begin} ... {end})")
        body = make()
        text = pattern.sub(lambda _m, b=begin, e=end, c=body: f"{b}\n{c}{e}", text)
    return text


def default_doc_path() -> Path:
    """docs/model.md of the source tree this package was installed from (editable install), else ./docs."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "docs" / "model.md"
        if candidate.exists():
            return candidate
    return Path("docs") / "model.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ketasim.interfaces.docs", description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=None, help="the model document (default: docs/model.md)")
    parser.add_argument("--check", action="store_true", help="exit 1 if the generated sections are out of date")
    parser.add_argument("--diagram", action="store_true", help="also redraw docs/model-diagram.png")
    args = parser.parse_args(argv)
    path = args.path or default_doc_path()
    text = path.read_text(encoding="utf-8")
    new = render(text)
    if args.check:
        if new != text:
            print(f"{path}: generated sections are out of date; run python -m ketasim.interfaces.docs",
                  file=sys.stderr)
            return 1
        print(f"{path}: up to date")
        return 0
    if new != text:
        path.write_text(new, encoding="utf-8")
        print(f"{path}: generated sections rewritten")
    else:
        print(f"{path}: already up to date")
    if args.diagram:
        from ketasim.interfaces.diagram import plot_model_diagram

        print(plot_model_diagram(path.parent / "model-diagram.png"))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
