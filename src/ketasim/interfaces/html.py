"""A self-contained HTML report: the model in plain language, then one section per simulated plan.

:func:`write_report` takes :class:`PlanSection` objects (description, figure, key outcomes,
explanation sentences) and writes one HTML file with inline CSS. Figures are PNG files next to
the HTML (referenced by relative path) or, with ``embed=True``, embedded as base64 so the file
can be mailed on its own. The page is the Jinja2 template ``templates/report.html.j2``
(autoescaped: every piece of text is HTML-escaped).
"""

from __future__ import annotations

import base64
import datetime as dt
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
     "The model has four reasons. (1) Pruning: new synapses "
     "that are not reinforced are removed within about two weeks. (2) Stress and life events: a heavy load (grief, "
     "conflict, poverty, illness) lowers the level the brain settles at, and ketamine does not change that load. "
     "(3) Tolerance: with very frequent doses the growth signal becomes weaker (rare with weekly dosing). "
     "(4) Homeostasis: the brain keeps pulling its connections back towards its usual level, its set point. "
     "Each 'Why the benefit fades' paragraph below says how many MADRS points each reason costs in that plan."),
    ("What sustains it",
     "Four strategies. Psychotherapy during the weeks after the infusions helps new "
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
.offlabel-tag { color: #B71C1C; font-size: 0.85em; font-weight: bold; }
"""


def render_template(name: str, **context: object) -> str:
    """Render ``ketasim/interfaces/templates/<name>`` with autoescaping (every piece of text is HTML-escaped)."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(loader=PackageLoader("ketasim.interfaces", "templates"), autoescape=True,
                      undefined=StrictUndefined, keep_trailing_newline=True)
    return env.get_template(name).render(**context)


def write_report(path: str | Path, sections: Sequence[PlanSection], *, title: str = "ketasim: simulated ketamine "
                 "treatment of depression", model_figure: str | None = None, comparison_figure: str | None = None,
                 comparison_caption: str = "", intro: Sequence[tuple[str, str]] = MODEL_INTRO,
                 embed: bool = False, version: str | None = None) -> Path:
    """Write the HTML report to ``path`` (template ``report.html.j2``); figure paths are relative to its directory."""
    path = Path(path)
    base = path.parent
    base.mkdir(parents=True, exist_ok=True)
    if version is None:
        from ketasim import __version__ as version

    def source(src: str) -> str:
        if not embed:
            return src
        return "data:image/png;base64," + base64.b64encode((base / src).read_bytes()).decode("ascii")

    text = render_template("report.html.j2", title=title, css=CSS, version=version,
                           stamp=dt.datetime.now().strftime("%Y-%m-%d %H:%M"), sections=list(sections),
                           disclaimer=DISCLAIMER, off_label_warning=OFF_LABEL_WARNING, intro=list(intro),
                           model_figure=model_figure, comparison_figure=comparison_figure,
                           comparison_caption=comparison_caption, source=source)
    path.write_text(text, encoding="utf-8")
    return path
