"""A self-contained HTML report: the model in plain language, then one section per simulated plan.

:func:`write_report` takes :class:`PlanSection` objects (description, figure, key outcomes,
explanation sentences) and writes one HTML file with inline CSS. Figures are PNG files next to
the HTML (referenced by relative path) or, with ``embed=True``, embedded as base64 so the file
can be mailed on its own. Every piece of text is HTML-escaped.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ketasim.interfaces.report import DISCLAIMER, OFF_LABEL_WARNING


@dataclass(frozen=True)
class PlanSection:
    """One plan in the report.

    ``figure`` is a path relative to the report's directory; ``outcomes`` are (label, value)
    rows (:func:`ketasim.interfaces.report.outcome_rows`); ``loss_sentences`` and
    ``gain_sentences`` come from :func:`ketasim.explain.sentences`.
    """

    name: str
    title: str
    description: str
    figure: str | None
    outcomes: Sequence[tuple[str, str]]
    loss_sentences: Sequence[str] = ()
    gain_sentences: Sequence[str] = ()
    off_label: bool = False
    plan_file: str | None = None
    notes: Sequence[str] = field(default_factory=tuple)


# Plain-language account of the model, for patients and educators. Each paragraph names the
# model state it describes so that a reader can find it in the figures and in docs/model.md.
MODEL_INTRO: tuple[tuple[str, str], ...] = (
    ("What happens after a dose",
     "Ketamine reaches the blood within minutes of an infusion or a nasal spray and is mostly gone after a few "
     "hours (the top panels of each figure show the highest level reached after each dose). While it is there it "
     "blocks NMDA receptors, a type of glutamate receptor on nerve cells. Blocking them sets off a short burst of "
     "glutamate signalling and of growth signals (BDNF, mTOR) that lasts hours: the model's trigger signal. This "
     "burst is what lifts mood within a day."),
    ("New connections, then mature ones",
     "Over the following days the growth signal builds new connections between nerve cells (synapses) in brain "
     "regions that depression has thinned out. New synapses are fragile: they are either removed again or, if they "
     "are used, they mature into lasting ones. In the figures, 1 is the connectivity of a healthy brain; the "
     "depressed brain starts lower, and the MADRS score (0-60, higher is worse) follows the gap."),
    ("Why the benefit fades",
     "The model has four reasons, the four named in the text this project started from. (1) Pruning: new synapses "
     "that are not reinforced are removed within about two weeks. (2) Stress and life events: a heavy load (grief, "
     "conflict, poverty, illness) lowers the level the brain settles at, and ketamine does not change that load. "
     "(3) Tolerance: with very frequent doses the growth signal becomes weaker (rare with weekly dosing). "
     "(4) Homeostasis: the brain keeps pulling its connections back towards its usual level, its set point. "
     "Each 'Why the benefit fades' paragraph below says how many MADRS points each reason costs in that plan."),
    ("What sustains it",
     "Four strategies, again those of the text. Psychotherapy during the weeks after the infusions helps new "
     "synapses mature and builds coping skills that soften stress. A healthy lifestyle (sleep, exercise) does the "
     "same more gently and lifts the set point. Maintenance doses at longer intervals repeat the growth signal "
     "before the gains fade. Other treatments (an oral antidepressant, ECT or TMS) lift the set point or add their "
     "own growth signal. Some people need none of this: when depression came from a hard chapter of life, such as "
     "a bereavement, the load fades by itself over months and ketamine can act as a bridge."),
    ("How to read the numbers",
     "MADRS is a clinician-rated depression scale from 0 to 60; a typical treatment-resistant patient starts around "
     "33. Response means a drop of at least half from the start; remission means MADRS 10 or below (12 in the "
     "esketamine studies); relapse, as in the SUSTAIN-1 trial, means MADRS 22 or more at two visits 5-15 days apart. "
     "Everything here is one simulated, average patient: real people differ, and a model is not a prediction."),
)

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222; margin: 0;
       background: #fafafa; line-height: 1.5; }
main { max-width: 1180px; margin: 0 auto; padding: 1.5em 2em 3em; background: #fff; }
h1 { font-size: 1.8em; margin-bottom: 0.2em; }
h2 { border-bottom: 2px solid #0072B2; padding-bottom: 0.2em; margin-top: 2.2em; }
h3 { margin-bottom: 0.3em; }
.banner { background: #FFF8E1; border-left: 5px solid #E69F00; padding: 0.7em 1em; margin: 1em 0; }
.offlabel { background: #FDEDEC; border-left: 5px solid #B71C1C; color: #B71C1C; font-weight: bold;
            padding: 0.5em 1em; margin: 0.8em 0; }
img { max-width: 100%; height: auto; border: 1px solid #e5e5e5; }
table.outcomes { border-collapse: collapse; margin: 0.8em 0; font-size: 0.95em; }
table.outcomes td { border-bottom: 1px solid #eee; padding: 0.3em 0.8em 0.3em 0; vertical-align: top; }
table.outcomes td:first-child { color: #555; min-width: 22em; }
.loss li::marker { color: #C0392B; } .gain li::marker { color: #1E8449; }
nav ol { columns: 2; } .muted { color: #666; font-size: 0.9em; }
footer { margin-top: 3em; border-top: 1px solid #ddd; padding-top: 1em; color: #555; font-size: 0.9em; }
.intro p { max-width: 60em; }
"""


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _img(src: str, alt: str, base: Path, embed: bool) -> str:
    if embed:
        data = base64.b64encode((base / src).read_bytes()).decode("ascii")
        src = f"data:image/png;base64,{data}"
    return f'<img src="{_e(src)}" alt="{_e(alt)}" loading="lazy">'


def _section(s: PlanSection, base: Path, embed: bool) -> str:
    parts = [f'<section id="{_e(s.name)}">', f"<h2>{_e(s.title)}</h2>"]
    if s.plan_file:
        parts.append(f'<p class="muted">Plan file: <code>{_e(s.plan_file)}</code></p>')
    if s.off_label:
        parts.append(f'<div class="offlabel">{_e(OFF_LABEL_WARNING)}</div>')
    if s.description:
        parts.append(f"<p>{_e(s.description)}</p>")
    if s.figure:
        parts.append(_img(s.figure, f"Simulation of {s.title}", base, embed))
    parts.append("<h3>Key outcomes</h3>")
    parts.append('<table class="outcomes">' + "".join(
        f"<tr><td>{_e(label)}</td><td>{_e(value)}</td></tr>" for label, value in s.outcomes) + "</table>")
    if s.loss_sentences:
        parts.append("<h3>Why the benefit fades</h3>")
        parts.append('<ul class="loss">' + "".join(f"<li>{_e(x)}</li>" for x in s.loss_sentences) + "</ul>")
    if s.gain_sentences:
        parts.append("<h3>What the plan's strategies add</h3>")
        parts.append('<ul class="gain">' + "".join(f"<li>{_e(x)}</li>" for x in s.gain_sentences) + "</ul>")
    for note in s.notes:
        parts.append(f'<p class="muted">{_e(note)}</p>')
    parts.append("</section>")
    return "\n".join(parts)


def write_report(path: str | Path, sections: Sequence[PlanSection], *, title: str = "ketasim: simulated ketamine "
                 "treatment of depression", model_figure: str | None = None, comparison_figure: str | None = None,
                 comparison_caption: str = "", intro: Sequence[tuple[str, str]] = MODEL_INTRO,
                 embed: bool = False, version: str | None = None) -> Path:
    """Write the HTML report to ``path``; figure paths are relative to its directory."""
    path = Path(path)
    base = path.parent
    base.mkdir(parents=True, exist_ok=True)
    if version is None:
        from ketasim import __version__ as version
    stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">', f"<title>{_e(title)}</title>",
           f"<style>{CSS}</style>", "</head>", "<body>", "<main>", f"<h1>{_e(title)}</h1>",
           f'<p class="muted">ketasim {_e(version)}, generated {stamp}. {len(sections)} simulated plan(s).</p>',
           f'<div class="banner"><strong>{_e(DISCLAIMER)}.</strong> These are simulations of a virtual patient '
           "under stated assumptions, for research and teaching; they are not medical advice and not a prediction "
           "for any real person.</div>"]
    if any(s.off_label for s in sections):
        out.append(f'<div class="offlabel">{_e(OFF_LABEL_WARNING)} (see the marked sections)</div>')
    toc = ['<nav><strong>Contents</strong><ol>', '<li><a href="#model">How the model works</a></li>']
    if comparison_figure:
        toc.append('<li><a href="#comparison">Comparing plans</a></li>')
    toc += [f'<li><a href="#{_e(s.name)}">{_e(s.title)}</a></li>' for s in sections]
    out.append("".join(toc) + "</ol></nav>")

    out.append('<section id="model" class="intro"><h2>How the model works</h2>')
    out.append("<p>ketasim follows one dose of ketamine all the way to a depression rating scale, over months. "
               "The picture shows the chain and, around it, why the benefit fades (red) and what sustains it "
               "(green).</p>")
    if model_figure:
        out.append(_img(model_figure, "The model: from the dose to mood, with the four reasons the benefit fades "
                        "and the four strategies that sustain it", base, embed))
    for heading, text in intro:
        out.append(f"<h3>{_e(heading)}</h3><p>{_e(text)}</p>")
    out.append("</section>")
    if comparison_figure:
        out.append('<section id="comparison"><h2>Comparing plans</h2>')
        if comparison_caption:
            out.append(f"<p>{_e(comparison_caption)}</p>")
        out.append(_img(comparison_figure, "MADRS over time under different plans", base, embed))
        out.append("</section>")
    out += [_section(s, base, embed) for s in sections]
    out.append(f"<footer><p><strong>{_e(DISCLAIMER)}.</strong> Model equations, parameters and their sources: "
               "docs/model.md in the ketasim repository; every parameter is listed by <code>ketasim params</code> "
               "with its status (literature, calibrated or assumed).</p></footer>")
    out += ["</main>", "</body>", "</html>"]
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path
