"""``ketasim demo --out DIR``: every bundled example simulated, explained and gathered in DIR/index.html.

Writes one report figure per example (``DIR/<example>.png``), the model schematic
(``DIR/model.png``), a comparison of the examples (``DIR/comparison.png``), every example's
outcomes (``DIR/outcomes.json``) and the HTML report ``DIR/index.html`` that shows them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from ketasim.errors import KetasimError, OptionError
from ketasim.interfaces.app import app
from ketasim.interfaces.options import FORCE_HELP

# Panels of the comparison figure: (title, example names). Examples missing from a run are skipped.
COMPARISONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("One infusion, a series, maintenance, a taper",
     ("single-infusion", "induction-six", "induction-weekly-maintenance", "induction-taper")),
    ("Psychotherapy during the induction vs started late", ("induction-six", "induction-psychotherapy",
                                                            "late-psychotherapy")),
    ("Lifestyle, and daily dosing (off-label)", ("induction-six", "induction-lifestyle", "daily-dosing-tolerance")),
    ("Grief that eases vs stress that persists", ("bereavement-bridge", "chronic-load")),
)
# What a person reads as each example's title (the example's name, its file name, is shown beside it).
EXAMPLE_TITLES: dict[str, str] = {
    "bereavement-bridge": "A bridge through bereavement",
    "chronic-load": "Stress that persists",
    "daily-dosing-tolerance": "Daily dosing and tolerance",
    "esketamine-nasal": "Esketamine nasal spray as labelled",
    "induction-lifestyle": "Induction with a healthy lifestyle",
    "induction-psychotherapy": "Induction with psychotherapy from the start",
    "induction-six": "Six infusions, then nothing",
    "induction-taper": "Induction, then a taper",
    "induction-weekly-maintenance": "Induction, then weekly maintenance",
    "late-psychotherapy": "Psychotherapy started late",
    "single-infusion": "One infusion",
}


def example_title(name: str) -> str:
    """The title of an example for people (its name in words when it has no title of its own)."""
    return EXAMPLE_TITLES.get(name) or name.replace("-", " ").replace("_", " ").capitalize()
COMPARISON_CAPTION = (
    "Each panel overlays the MADRS of a few examples against the day of the plan (all start with the same patient "
    "unless the example says otherwise); the ticks under each panel mark the ketamine doses of each plan in its "
    "colour. Shaded: response (light) and remission (darker) bands.")


def example_files() -> list[Path]:
    """The bundled example plans, sorted by name."""
    folder = resources.files("ketasim").joinpath("examples")
    return sorted((Path(str(f)) for f in folder.iterdir() if f.name.endswith(".yaml")), key=lambda p: p.stem)


@dataclass
class ExampleResult:
    name: str
    plan: Any
    trajectory: Any
    summary: dict[str, Any]
    loss_sentences: list[str]
    gain_sentences: list[str]
    notes: list[str]


def _strip_disclaimer(lines: list[str]) -> list[str]:
    """Sentences without the closing disclaimer and off-label note (the report states them once)."""
    from ketasim.outcomes.summary import DISCLAIMER

    return [s for s in lines if s.lower() != DISCLAIMER.lower() and not s.startswith("Note: ")]


def run_example(path: Path, out: Path) -> ExampleResult:
    """Load, simulate, summarise, explain and plot one example."""
    from ketasim.dosing.planfile import load_plan
    from ketasim.explain import explain_gain, explain_loss, sentences
    from ketasim.interfaces.report import plot_trajectory
    from ketasim.outcomes import summarize
    from ketasim.simulate import simulate

    plan = load_plan(path)
    traj = simulate(plan)
    summary = summarize(traj)
    notes: list[str] = []
    loss: list[str] = []
    gain: list[str] = []
    try:
        loss = _strip_disclaimer(sentences(explain_loss(plan)))
    except KetasimError as exc:
        notes.append(f"No explanation of the loss of benefit: {exc}")
    try:
        gain = _strip_disclaimer(sentences(explain_gain(plan)))
    except KetasimError as exc:
        notes.append(f"No attribution of the gain to strategies: {exc}")
    plot_trajectory(traj, out / f"{path.stem}.png", title=example_title(path.stem))
    return ExampleResult(path.stem, plan, traj, summary, loss, gain, notes)


def run_demo(out: Path, only: list[str] | None = None, *, embed: bool = False,
             console: Console | None = None, force: bool = False) -> Path:
    """Run the examples (all, or those named in ``only``) and write ``out/index.html``; return its path.

    ``out`` is written through :func:`ketasim.interfaces.outputs.output_folder` (complete or not at all).
    """
    from ketasim.interfaces.outputs import output_folder

    files = example_files()
    if only:
        names = [f.stem for f in files]
        unknown = [n for n in only if n not in names]
        if unknown:
            raise OptionError("--only", unknown[0], f"one of the bundled examples: {', '.join(names)}")
        files = [f for f in files if f.stem in only]
    with output_folder(out, force=force) as folder:
        _demo_into(folder, files, embed=embed, console=console)
    return out / "index.html"


def _demo_into(out: Path, files: list[Path], *, embed: bool, console: Console | None) -> Path:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ketasim.interfaces.diagram import plot_model_diagram
    from ketasim.interfaces.html import PlanSection, write_report
    from ketasim.interfaces.report import outcome_rows, plot_comparison

    console = console or Console()
    results: list[ExampleResult] = []
    columns = (TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("model schematic", total=len(files) + 3)
        plot_model_diagram(out / "model.png")
        progress.advance(task)
        for f in files:
            progress.update(task, description=f"example {f.stem}")
            results.append(run_example(f, out))
            progress.advance(task)
        progress.update(task, description="comparison figure")
        by_name = {r.name: r for r in results}
        groups = [(title, [(example_title(n), by_name[n].trajectory) for n in names if n in by_name])
                  for title, names in COMPARISONS]
        groups = [(t, items) for t, items in groups if len(items) >= 2]
        comparison = None
        if groups:
            plot_comparison(groups, out / "comparison.png", title="How the plan shapes the course (simulated MADRS)")
            comparison = "comparison.png"
        progress.advance(task)
        progress.update(task, description="HTML report")
        sections = [PlanSection(name=r.name, title=example_title(r.name),
                                description=" ".join(r.plan.description.split()),
                                figure=f"{r.name}.png", outcomes=outcome_rows(r.summary),
                                loss_sentences=r.loss_sentences, gain_sentences=r.gain_sentences,
                                off_label=bool(r.plan.allow_off_label), plan_file=f"ketasim/examples/{r.name}.yaml",
                                notes=r.notes) for r in results]
        index = write_report(out / "index.html", sections, model_figure="model.png", comparison_figure=comparison,
                             comparison_caption=COMPARISON_CAPTION, embed=embed)
        (out / "outcomes.json").write_text(json.dumps({r.name: r.summary for r in results}, indent=2) + "\n",
                                           encoding="utf-8")
        progress.advance(task)
    return index


@app.command("demo")
def demo_command(
    out: Path = typer.Option(Path("demo-report"), "--out", "-o", help="Directory for index.html and its figures."),
    embed: bool = typer.Option(False, "--embed", help="Embed the figures in index.html (one self-contained file)."),
    only: list[str] = typer.Option([], "--only", hidden=True, help="Run only this example (repeatable; testing)."),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
) -> None:
    """Simulate and explain every bundled example plan; write an HTML report (DIR/index.html)."""
    from ketasim.interfaces.report import DISCLAIMER

    console = Console()
    index = run_demo(out, only or None, embed=embed, console=console, force=force)
    console.print(f"wrote [bold]{index}[/] (open it in a browser)")
    console.print(f"[dim]{DISCLAIMER}[/]")
