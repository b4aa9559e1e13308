"""The score chart as inline SVG (drawn from stored data: no computation on a page view).

Observed PHQ-9 totals (dots), GAD-7 totals (open squares), sessions (triangles on the axis), and the
stored forecast: median line with 80% and 95% bands, the relapse level, the recommended next session
and today. Presentation attributes are inline (no CSS), so the same SVG draws in a browser and in
the PDF report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from html import escape
from typing import Any

W, H = 900, 320
LEFT, RIGHT, TOP, BOTTOM = 44, 16, 14, 34
Y_MAX = 27.0
_TEXT = 'font-family="sans-serif" font-size="11"'
STYLE = {
    "grid": 'stroke="#e3e3e3" stroke-width="1"',
    "tick": f'{_TEXT} fill="#555555"',
    "label": f'{_TEXT} fill="#333333"',
    "relapse-label": f'{_TEXT} fill="#c0392b"',
    "next-label": f'{_TEXT} fill="#b35900"',
    "band95": 'fill="#1f77b4" fill-opacity="0.15" stroke="none"',
    "band80": 'fill="#1f77b4" fill-opacity="0.28" stroke="none"',
    "median": 'fill="none" stroke="#1f77b4" stroke-width="2"',
    "relapse": 'stroke="#c0392b" stroke-width="1" stroke-dasharray="5 4"',
    "next": 'stroke="#e67e22" stroke-width="2"',
    "today": 'stroke="#000000" stroke-width="1"',
    "session": 'fill="#7b3fa0" stroke="none"',
    "observed-line": 'fill="none" stroke="#222222" stroke-width="1" stroke-opacity="0.5"',
    "phq9": 'fill="#111111" stroke="none"',
    "gad7": 'fill="none" stroke="#2a7f62" stroke-width="1.5"',
}


class _Axes:
    def __init__(self, d0: dt.date, d1: dt.date) -> None:
        self.d0, self.span = d0, max((d1 - d0).days, 1)

    def x(self, d: dt.date) -> float:
        return LEFT + (W - LEFT - RIGHT) * (d - self.d0).days / self.span

    @staticmethod
    def y(v: float) -> float:
        return TOP + (H - TOP - BOTTOM) * (1.0 - min(max(v, 0.0), Y_MAX) / Y_MAX)

    def points(self, dates: Sequence[dt.date], values: Sequence[float]) -> str:
        return " ".join(f"{self.x(d):.1f},{self.y(v):.1f}" for d, v in zip(dates, values, strict=True))


def _hline(y: float, style: str) -> str:
    return f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" {STYLE[style]}/>'


def _vline(x: float, style: str) -> str:
    return f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{H - BOTTOM}" {STYLE[style]}/>'


def _text(x: float, y: float, text: str, style: str, anchor: str = "start") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" {STYLE[style]} text-anchor="{anchor}">{escape(text)}</text>'


def score_chart(phq9: Sequence[tuple[dt.date, int]], gad7: Sequence[tuple[dt.date, int]],
                sessions: Sequence[dt.date], forecast: dict[str, Any] | None, today: dt.date,
                *, forecast_days: int = 91) -> str:
    """SVG markup of the chart; ``forecast`` is a stored result of ``forecasting.result_from_forecast``."""
    dates: list[dt.date] = [d for d, _ in phq9] + [d for d, _ in gad7] + list(sessions) + [today]
    if forecast and forecast.get("next_session_date"):  # show the recommended date if within six months
        ahead = (dt.date.fromisoformat(forecast["next_session_date"]) - today).days + 14
        forecast_days = max(forecast_days, min(ahead, 182))
    fdates = [dt.date.fromisoformat(x) for x in forecast["dates"][: forecast_days + 1]] if forecast else []
    d0, d1 = min(dates + fdates), max(dates + fdates)
    ax = _Axes(d0, d1 if d1 > d0 else d0 + dt.timedelta(days=7))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" '
             'class="chart" role="img" aria-label="PHQ-9 scores and forecast">']
    for v in (0, 5, 10, 15, 20, 27):
        parts += [_hline(ax.y(v), "grid"), _text(LEFT - 6, ax.y(v) + 4, str(v), "tick", "end")]
    for k in range(7):
        d = d0 + dt.timedelta(days=round(ax.span * k / 6))
        parts.append(_text(ax.x(d), H - 12, d.isoformat(), "tick", "middle"))
    if forecast and fdates:
        bands, n = forecast["bands"], len(fdates)
        for lo, hi, style in (("lower_95", "upper_95", "band95"), ("lower_80", "upper_80", "band80")):
            outline = ax.points(fdates, bands[hi][:n]) + " " + ax.points(fdates[::-1], bands[lo][:n][::-1])
            parts.append(f'<polygon points="{outline}" {STYLE[style]}/>')
        parts.append(f'<polyline points="{ax.points(fdates, bands["median"][:n])}" {STYLE["median"]}/>')
        level = ax.y(float(forecast["relapse_level"]))
        parts += [_hline(level, "relapse"), _text(W - RIGHT - 4, level - 4, "relapse level", "relapse-label", "end")]
        nxt = forecast.get("next_session_date")
        if nxt:
            xn = ax.x(dt.date.fromisoformat(nxt))
            parts += [_vline(xn, "next"), _text(xn + 4, TOP + 24, f"next session by {nxt}", "next-label")]
    parts += [_vline(ax.x(today), "today"), _text(ax.x(today) - 4, TOP + 10, "today", "label", "end")]
    base = H - BOTTOM
    for d in sessions:
        x = ax.x(d)
        parts.append(f'<polygon points="{x - 5:.1f},{base} {x + 5:.1f},{base} {x:.1f},{base - 9}" '
                     f'{STYLE["session"]}><title>session {d.isoformat()}</title></polygon>')
    if len(phq9) > 1:
        parts.append(f'<polyline points="{ax.points([d for d, _ in phq9], [v for _, v in phq9])}" '
                     f'{STYLE["observed-line"]}/>')
    for d, v in phq9:
        parts.append(f'<circle cx="{ax.x(d):.1f}" cy="{ax.y(v):.1f}" r="4" {STYLE["phq9"]}>'
                     f'<title>PHQ-9 {v} on {d.isoformat()}</title></circle>')
    for d, v in gad7:
        parts.append(f'<rect x="{ax.x(d) - 3.5:.1f}" y="{ax.y(v) - 3.5:.1f}" width="7" height="7" {STYLE["gad7"]}>'
                     f'<title>GAD-7 {v} on {d.isoformat()}</title></rect>')
    parts.append("</svg>")
    return "".join(parts)
