"""The printable patient report, in plain language, as HTML (template ``report.html``) and as PDF (fpdf2).

:func:`report_content` writes every sentence once; the HTML page and the PDF both render it. The
report tells the patient's course (PHQ-9 scores and what they mean, sessions, psychotherapy) and,
in words a patient understands, why the benefit of ketamine fades and what sustains it (the
mechanisms of the ketasim model).
"""

from __future__ import annotations

import io
from typing import Any
from zoneinfo import ZoneInfo

from ketasim.clinic.chart import score_chart
from ketasim.clinic.instruments import GAD7, PHQ9
from ketasim.clinic.timezones import format_local, local_today

WHY_IT_FADES = (
    "Ketamine works quickly. Within hours of a session it sets off the growth of new connections between nerve "
    "cells in the parts of the brain that steady mood. That is why many people feel better within a day.",
    "These new connections are fragile at first. Over the following days and weeks several things wear them "
    "down: the brain trims away connections that are not used; stress in daily life keeps pulling mood down; the "
    "brain tends to return to its old balance; and when sessions come very close together, each one can do "
    "a little less. This is why the relief from a course of ketamine often fades over weeks or months.",
    "What helps the benefit last: further sessions spaced to fit your own pattern (not more often than needed); "
    "psychotherapy, which helps you use and strengthen new ways of thinking while the brain is most able to "
    "change; good sleep and regular exercise; and other treatments, such as an antidepressant, that you and your "
    "clinician agree on.",
    "For some people whose depression followed a particular event, such as a loss, ketamine is a bridge: as the "
    "weight of that event eases over months, the benefit can last without further sessions.",
)
PHQ9_MEANING = ("The PHQ-9 is the questionnaire you fill in about the last two weeks. Its total runs from 0 to 27: "
                "0-4 means no or minimal depression, 5-9 mild, 10-14 moderate, 15-19 moderately severe and 20-27 "
                "severe. Lower is better.")
NOT_ADVICE = ("This report was made with research software (ketasim). It is not a medical device and not medical "
              "advice: the forecast comes from a computer model and your own scores, and your clinician decides "
              "your treatment with you.")


def _sessions_sentence(sessions: list[Any], tz: ZoneInfo) -> str:
    if not sessions:
        return "No ketamine sessions are recorded yet."
    first, last = sessions[-1], sessions[0]
    return (f"You have had {len(sessions)} ketamine session{'s' if len(sessions) != 1 else ''}, from "
            f"{format_local(first.given_at, tz, with_time=False)} to "
            f"{format_local(last.given_at, tz, with_time=False)}.")


def _course_sentence(phq9: list[Any]) -> str:
    if not phq9:
        return "No PHQ-9 scores are recorded yet."
    first, last = phq9[-1], phq9[0]
    if len(phq9) == 1:
        return f"Your one PHQ-9 score so far is {last.total} ({PHQ9.band(last.total)})."
    change = last.total - first.total
    direction = (f"{-change} points lower" if change < 0 else f"{change} points higher" if change > 0
                 else "the same")
    return (f"Your first PHQ-9 was {first.total} ({PHQ9.band(first.total)}) and your latest is {last.total} "
            f"({PHQ9.band(last.total)}): {direction} than at the start.")


def _forecast_sentences(fc: Any) -> list[str]:
    if fc is None or fc.status != "ok" or not fc.result:
        return ["No forecast is available yet for your record."]
    r = fc.result
    now = r["current_estimate"]["median"]
    out = [f"Based on your own scores, the model estimates that your PHQ-9 is now about {now:.0f}."]
    if r.get("already_relapsed"):
        out.append("Your last two scores are at the level where a new session is recommended as soon as possible.")
    elif r.get("next_session_date"):
        out.append(f"It suggests a next session on or before {r['next_session_date']}, to keep the chance of the "
                   f"depression returning low.")
    else:
        out.append("It does not expect you to need another session in the next six months.")
    out.append(f"(Forecast of {r['today']}.)")
    return out


def report_content(view: dict[str, Any], tz: ZoneInfo, clinic_name: str) -> dict[str, Any]:
    """Every part of the report: title lines, paragraphs, the PHQ-9 table and the chart (SVG)."""
    p = view["patient"]
    current = lambda rows: [r for r in rows if r.status == "current"]  # noqa: E731
    scores = current(view["scores"])
    phq9 = [s for s in scores if s.instrument == PHQ9.name]
    gad7 = [s for s in scores if s.instrument == GAD7.name]
    sessions = current(view["sessions"])
    therapy = current(view["therapy"])
    fc = view["forecast"]
    today = local_today(tz)
    chart = score_chart([(s.taken_at.astimezone(tz).date(), s.total) for s in reversed(phq9)],
                        [(s.taken_at.astimezone(tz).date(), s.total) for s in reversed(gad7)],
                        [s.given_at.astimezone(tz).date() for s in sessions],
                        fc.result if fc is not None and fc.status == "ok" else None, today)
    course = [_course_sentence(phq9), _sessions_sentence(sessions, tz)]
    if therapy:
        course.append(f"You have had {len(therapy)} psychotherapy session{'s' if len(therapy) != 1 else ''}.")
    return {
        "title": f"Your treatment so far: {p.external_id}",
        "subtitle": f"{clinic_name}, printed {today.isoformat()}",
        "synthetic": p.synthetic,
        "sections": [("Your course", course), ("What the PHQ-9 numbers mean", [PHQ9_MEANING]),
                     ("What the forecast says", _forecast_sentences(fc)),
                     ("Why the benefit of ketamine fades, and what keeps it", list(WHY_IT_FADES)),
                     ("Please note", [NOT_ADVICE])],
        "table": [(format_local(s.taken_at, tz, with_time=False), str(s.total), PHQ9.band(s.total)) for s in phq9],
        "chart_svg": chart,
    }


def _latin1(text: str) -> str:
    return text.replace("\u2013", "-").replace("\u2014", "-").encode("latin-1", "replace").decode("latin-1")


def report_pdf(content: dict[str, Any]) -> bytes:
    """The report as a PDF (A4, core fonts: no font files needed)."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.multi_cell(0, 8, _latin1(content["title"]), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.multi_cell(0, 6, _latin1(content["subtitle"]), new_x="LMARGIN", new_y="NEXT")
    if content["synthetic"]:
        pdf.set_text_color(170, 0, 0)
        pdf.multi_cell(0, 6, "SYNTHETIC DEMO PATIENT - not a real person", new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
    pdf.ln(2)
    pdf.image(io.BytesIO(content["chart_svg"].encode()), w=pdf.epw)
    pdf.set_font("Helvetica", "", 8)
    pdf.multi_cell(0, 4, "Dots: your PHQ-9 scores. Triangles: sessions. Blue: the forecast with its likely range. "
                   "Red dashes: the level where the depression counts as returned.", new_x="LMARGIN", new_y="NEXT")
    for heading, paragraphs in content["sections"]:
        pdf.ln(3)
        pdf.set_font("Helvetica", "B", 12)
        pdf.multi_cell(0, 7, _latin1(heading), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 10)
        for para in paragraphs:
            pdf.multi_cell(0, 5, _latin1(para), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1)
        if heading == "Your course" and content["table"]:
            with pdf.table(col_widths=(40, 25, 60), text_align="LEFT", width=125, align="LEFT") as table:
                table.row(("Date", "PHQ-9", "Meaning"))
                for row in content["table"][:40]:
                    table.row(row)
    return bytes(pdf.output())

