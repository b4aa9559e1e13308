"""Report figures for one patient: the plan's timeline and every model layer on a shared date axis.

:func:`plot_trajectory` draws, from top to bottom, the treatment timeline (doses, psychotherapy,
ECT/TMS, antidepressant, lifestyle, life events), the peak plasma concentration of each dose
(with the concentration-time profile of the first dose beside it), the peak NMDA occupancy and
the antidepressant tolerance, the synapses (labile N, mature M, set point M*), what moves the
set point (effective load, coping skills, reinforcement) and the MADRS with its response and
remission bands. :func:`plot_comparison` overlays the MADRS of several plans.

Concentrations last hours while the plan lasts months, so exposure is drawn as one stem per
dose at its peak rather than as a line that would only show as hairlines.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ketasim.dosing.plan import Plan
from ketasim.outcomes.formatting import SCALE_NAMES, date_text, number, score
from ketasim.outcomes.summary import OFF_LABEL_NOTE
from ketasim.parameters import HOURS_PER_DAY

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ketasim.simulate import Trajectory

DISCLAIMER = "ketasim \u2014 research and decision-support software, not a medical device"
OFF_LABEL_WARNING = "OFF-LABEL: " + OFF_LABEL_NOTE

REMISSION_MADRS = 10.0
RELAPSE_MADRS = 22.0

# Colours (colour-blind safe, Okabe-Ito).
KETAMINE = "#0072B2"
NORKETAMINE = "#56B4E9"
INDUCTION = "#0072B2"
MAINTENANCE = "#D55E00"
THERAPY = "#009E73"
NEUROSTIM = "#CC79A7"
ANTIDEPRESSANT = "#E69F00"
LIFESTYLE = "#B5D99C"
EVENT = "#7F3C8D"
LABILE = "#E69F00"
MATURE = "#0072B2"
SETPOINT = "#555555"
MOOD = "#222222"
GROWTH = "#2E7D32"

# Panel titles, in drawing order; tests and the HTML report refer to them.
PANELS = ("treatment", "exposure", "receptor", "synapses", "set point", "symptoms")


def disclaimer_lines(plan: Plan) -> list[str]:
    """The disclaimer, plus the off-label warning when the plan lifted the dose limits."""
    return [DISCLAIMER, *([OFF_LABEL_WARNING] if plan.allow_off_label else [])]


@dataclass(frozen=True)
class DosePeak:
    """Peak plasma concentrations (ng/mL), effect-site occupancy (0-1) and growth signal G after one dose."""

    day: float
    phase: str
    amount_mg: float
    route: str
    ketamine_ng_ml: float
    norketamine_ng_ml: float
    occupancy: float
    growth_signal: float


def dose_peaks(traj: Trajectory) -> list[DosePeak]:
    """Peak of each dose, taken over the output times from its start to the next dose (at most 48 h)."""
    table = traj.table
    hours = table["hours"].to_numpy()
    doses = sorted(traj.plan.doses, key=lambda d: d.day)
    starts = [d.day * HOURS_PER_DAY for d in doses]
    peaks = []
    for i, d in enumerate(doses):
        t0 = starts[i]
        t1 = min(t0 + 48.0, starts[i + 1] if i + 1 < len(doses) else np.inf)
        rows = (hours >= t0) & (hours < t1) if t1 > t0 else (hours >= t0) & (hours <= t0 + 48.0)
        if not rows.any():
            continue
        amount = d.mg_per_kg * traj.plan.patient.weight_kg if d.mg_per_kg is not None else d.amount_mg
        peaks.append(DosePeak(d.day, d.phase, float(amount), d.route,
                              float(table.loc[rows, "concentration_ng_ml"].max()),
                              float(table.loc[rows, "norketamine_ng_ml"].max()),
                              float(table.loc[rows, "occupancy"].max()), float(table.loc[rows, "G"].max())))
    return peaks


def growth_signal_share(peaks: Sequence[DosePeak]) -> np.ndarray:
    """Each dose's peak growth signal as a share of the first dose's (tolerance makes it shrink)."""
    g = np.array([p.growth_signal for p in peaks], dtype=float)
    return g / g[0] if g.size and g[0] > 0 else np.full(g.size, np.nan)


def dose_summary(plan: Plan) -> str:
    """The doses in a few words, e.g. ``racemic 0.5 mg/kg IV over 40 min``; several kinds are joined by ';'."""
    kinds: list[str] = []
    for d in sorted(plan.doses, key=lambda d: d.day):
        amount = f"{d.mg_per_kg:g} mg/kg" if d.mg_per_kg is not None else f"{d.amount_mg:g} mg"
        how = f" over {d.duration_min:g} min" if d.route == "iv" and d.duration_min > 0 else ""
        drug = "racemic ketamine" if d.drug == "racemic" else d.drug
        text = f"{drug} {amount} {d.route.upper() if d.route in ('iv', 'im') else d.route}{how}"
        if text not in kinds:
            kinds.append(text)
    if not kinds:
        return "no doses"
    return "; ".join(kinds[:3]) + (f"; +{len(kinds) - 3} more" if len(kinds) > 3 else "")


def _dates(plan: Plan, days: np.ndarray | Sequence[float]) -> np.ndarray:
    """Plan days (fractions kept) as numpy datetimes for the x axis."""
    start = np.datetime64(plan.start_date, "ms")
    ms = np.round(np.asarray(days, dtype=float) * 86_400_000.0).astype("int64")
    return start + ms.astype("timedelta64[ms]")


def _shade_periods(ax: Axes, plan: Plan) -> None:
    """Lifestyle periods as a light band and life events as dashed lines, in every panel."""
    for lp in plan.lifestyle:
        x0, x1 = _dates(plan, [max(lp.start_day, 0.0), min(lp.end_day, plan.horizon_days)])
        ax.axvspan(x0, x1, color=LIFESTYLE, alpha=0.18 * max(lp.level, 0.3), lw=0, zorder=0)
    for ev in plan.patient.life_events:
        if 0 <= ev.day <= plan.horizon_days:
            ax.axvline(_dates(plan, [ev.day])[0], color=EVENT, ls="--", lw=0.9, alpha=0.7, zorder=1)


def _legend_beside(ax: Axes, handles: list | None = None, labels: list | None = None, **kw) -> None:
    """Legend in the margin right of the panel, so it never covers data."""
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0,
                  frameon=False, fontsize=8, handlelength=1.6, **kw)


def _timeline_rows(plan: Plan) -> list[str]:
    """Rows of the treatment timeline: ketamine always, the others when the plan uses them."""
    rows = ["Ketamine"]
    if plan.therapy_days:
        rows.append("Psychotherapy")
    if any(t.kind in ("ect", "tms") for t in plan.treatments):
        rows.append("ECT / TMS")
    if any(t.kind == "antidepressant" for t in plan.treatments):
        rows.append("Antidepressant")
    if plan.lifestyle:
        rows.append("Lifestyle")
    if plan.patient.life_events:
        rows.append("Life events")
    return rows


def _timeline(ax: Axes, plan: Plan) -> None:
    """One row per kind of intervention; only rows the plan uses, ketamine always."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    rows = _timeline_rows(plan)
    neuro = [t for t in plan.treatments if t.kind in ("ect", "tms")]
    ads = [t for t in plan.treatments if t.kind == "antidepressant"]
    y = {name: len(rows) - 1 - i for i, name in enumerate(rows)}
    horizon = plan.horizon_days
    handles: list = []

    ind = [d.day for d in plan.doses if d.phase == "induction" and 0 <= d.day <= horizon]
    mnt = [d.day for d in plan.doses if d.phase == "maintenance" and 0 <= d.day <= horizon]
    if ind:
        ax.plot(_dates(plan, ind), np.full(len(ind), y["Ketamine"]), "v", color=INDUCTION, ms=7, ls="none")
        handles.append(Line2D([], [], marker="v", color=INDUCTION, ls="none", label="induction dose"))
    if mnt:
        ax.plot(_dates(plan, mnt), np.full(len(mnt), y["Ketamine"]), "D", color=MAINTENANCE, ms=5.5, ls="none")
        handles.append(Line2D([], [], marker="D", color=MAINTENANCE, ls="none", label="maintenance dose"))
    if plan.therapy_days:
        days = [d for d in plan.therapy_days if 0 <= d <= horizon]
        ax.plot(_dates(plan, days), np.full(len(days), y["Psychotherapy"]), "o", color=THERAPY, ms=5.5, ls="none")
        handles.append(Line2D([], [], marker="o", color=THERAPY, ls="none", label="psychotherapy session"))
    for t in neuro:
        days = [d for d in t.session_days if 0 <= d <= horizon]
        marker = "*" if t.kind == "ect" else "P"
        ax.plot(_dates(plan, days), np.full(len(days), y["ECT / TMS"]), marker, color=NEUROSTIM, ms=8, ls="none")
        handles.append(Line2D([], [], marker=marker, color=NEUROSTIM, ls="none", label=f"{t.kind.upper()} session"))
    for t in ads:
        end = horizon if t.end_day is None else min(t.end_day, horizon)
        x0, x1 = _dates(plan, [max(t.start_day, 0.0), end])
        ax.barh(y["Antidepressant"], x1 - x0, left=x0, height=0.45, color=ANTIDEPRESSANT, alpha=0.85)
        if t.label:
            ax.text(x0, y["Antidepressant"], f" {t.label}", va="center", ha="left", fontsize=7.5)
    if ads:
        handles.append(Patch(color=ANTIDEPRESSANT, label="oral antidepressant"))
    for lp in plan.lifestyle:
        x0, x1 = _dates(plan, [max(lp.start_day, 0.0), min(lp.end_day, horizon)])
        ax.barh(y["Lifestyle"], x1 - x0, left=x0, height=0.45, color=LIFESTYLE, alpha=0.5 + 0.5 * lp.level)
    if plan.lifestyle:
        handles.append(Patch(color=LIFESTYLE, label="healthy lifestyle"))
    for ev in plan.patient.life_events:
        if ev.day <= horizon:
            x = _dates(plan, [max(ev.day, 0.0)])[0]
            ax.plot([x], [y["Life events"]], marker="X" if ev.day >= 0 else "<", color=EVENT, ms=7, ls="none",
                    clip_on=False)
            label = ev.label if ev.day >= 0 else f"{ev.label} ({-ev.day:g} d before start)"
            ax.text(x, y["Life events"] + 0.32, label, fontsize=7.5, color=EVENT, va="bottom", ha="left")
    if plan.patient.life_events:
        handles.append(Line2D([], [], marker="X", color=EVENT, ls="none", label="life event (load)"))
    if not plan.doses:
        ax.text(0.01, y["Ketamine"], "no ketamine in this plan", transform=ax.get_yaxis_transform(),
                va="center", fontsize=8, color="#666666")

    ax.set_yticks(list(y.values()), list(y.keys()), fontsize=8.5)
    ax.set_ylim(-0.7, len(rows) - 0.2)
    ax.tick_params(axis="y", length=0)
    ax.grid(axis="y", color="#dddddd", lw=0.6)
    for side in ("right", "left"):
        ax.spines[side].set_visible(False)
    _legend_beside(ax, handles, [h.get_label() for h in handles])


def _exposure(ax: Axes, ax_profile: Axes, traj: Trajectory, peaks: list[DosePeak]) -> None:
    plan = traj.plan
    if peaks:
        x = _dates(plan, [p.day for p in peaks])
        k = np.array([p.ketamine_ng_ml for p in peaks])
        n = np.array([p.norketamine_ng_ml for p in peaks])
        # Norketamine stem a few hours to the right so both stay visible on a months-long axis.
        shift = np.timedelta64(int(max(plan.horizon_days, 1) * 0.004 * 86_400_000), "ms")
        ax.vlines(x, 0, k, color=KETAMINE, lw=1.6)
        ax.plot(x, k, "o", color=KETAMINE, ms=4, label="ketamine (peak)")
        ax.vlines(x + shift, 0, n, color=NORKETAMINE, lw=1.2)
        ax.plot(x + shift, n, "s", color=NORKETAMINE, ms=3, label="norketamine (peak)")
        ax.set_ylim(0, 1.2 * max(k.max(), n.max(), 1.0))
    else:
        ax.set_ylim(0, 1)
        ax.text(0.5, 0.5, "no doses", transform=ax.transAxes, ha="center", va="center", color="#666666")
    ax.set_ylabel("peak plasma\nconc. (ng/mL)", fontsize=8.5)
    ax.set_title("Exposure: peak plasma concentration after each dose", loc="left", fontsize=10,
                 fontweight="bold")

    # Concentration-time profile of the first dose, in hours.
    ax_profile.set_title("first dose (ng/mL)", fontsize=8.5)
    if peaks:
        t0 = peaks[0].day * HOURS_PER_DAY
        tab = traj.table
        rows = (tab["hours"] >= t0) & (tab["hours"] <= t0 + 8.0)
        h = tab.loc[rows, "hours"].to_numpy() - t0
        ax_profile.plot(h, tab.loc[rows, "concentration_ng_ml"], color=KETAMINE, lw=1.6, label="ketamine")
        ax_profile.plot(h, tab.loc[rows, "norketamine_ng_ml"], color=NORKETAMINE, lw=1.4, label="norketamine")
        ax_profile.set_xlim(0, 8)
        ax_profile.set_xticks([0, 2, 4, 6, 8])
        ax_profile.set_ylim(0, None)
        ax_profile.set_xlabel("hours after start", fontsize=7.5, labelpad=1)
        ax_profile.yaxis.tick_right()
        ax_profile.tick_params(labelsize=7.5)
        ax_profile.legend(fontsize=7, frameon=False, loc="upper right")
        ax_profile.grid(color="#eeeeee", lw=0.6)
    else:
        ax_profile.axis("off")


def _receptor(ax: Axes, traj: Trajectory, peaks: list[DosePeak]) -> None:
    plan = traj.plan
    tab = traj.table
    if peaks:
        x = _dates(plan, [p.day for p in peaks])
        occ = 100.0 * np.array([p.occupancy for p in peaks])
        ax.vlines(x, 0, occ, color="#444444", lw=1.4)
        ax.plot(x, occ, "o", color="#444444", ms=3.5, label="NMDA occupancy (peak)")
    ax.plot(_dates(plan, tab["day"]), 100.0 * tab["T"], color="#C0392B", lw=1.6, label="antidepressant tolerance")
    top = max(100.0 * float(tab["T"].max()), max((100.0 * p.occupancy for p in peaks), default=0.0))
    if len(peaks) > 1:
        share = 100.0 * growth_signal_share(peaks)
        ax.plot(_dates(plan, [p.day for p in peaks]), share, "o-", color=GROWTH, mfc="white", ms=3.5, lw=0.9,
                label="growth signal of each dose\n(% of the first dose's)")
        top = max(top, float(np.nanmax(share)))
    ax.set_ylim(0, max(10.0, 1.2 * top))
    ax.set_ylabel("%", fontsize=8.5)
    ax.set_title("NMDA receptor: peak occupancy, tolerance and each dose's growth signal", loc="left", fontsize=10,
                 fontweight="bold")
    _legend_beside(ax)


def _synapses(ax: Axes, traj: Trajectory) -> None:
    plan = traj.plan
    tab = traj.table
    x = _dates(plan, tab["day"])
    ax.axhline(1.0, color="#2E7D32", lw=1.0, ls=":", label="healthy connectivity (1)")
    ax.plot(x, tab["N"] + tab["M"], color=MOOD, lw=1.3, label="all synapses (new + mature)")
    ax.plot(x, tab["M"], color=MATURE, lw=1.6, label="mature synapses")
    ax.plot(x, tab["set_point"], color=SETPOINT, lw=1.3, ls="--", label="set point (where mature\nsynapses settle)")
    ax.plot(x, tab["N"], color=LABILE, lw=1.6, label="new (fragile) synapses")
    top = max(1.05, float((tab["N"] + tab["M"]).max()) + 0.05)
    ax.set_ylim(0, top)
    ax.set_ylabel("fraction of\nhealthy level", fontsize=8.5)
    ax.set_title("Synapses (1 = healthy connectivity)", loc="left", fontsize=10, fontweight="bold")
    _legend_beside(ax)


def _set_point_drivers(ax: Axes, traj: Trajectory) -> None:
    plan = traj.plan
    tab = traj.table
    x = _dates(plan, tab["day"])
    ax.plot(x, tab["load_effective"], color=EVENT, lw=1.5, label="stress load (as felt)")
    ax.plot(x, tab["C"], color=THERAPY, lw=1.5, label="coping skills")
    ax.plot(x, tab["reinforcement"], color="#8C564B", lw=1.1, alpha=0.85, label="reinforcement")
    if (tab["A"] > 1e-6).any():
        ax.plot(x, tab["A"], color=ANTIDEPRESSANT, lw=1.3, label="antidepressant effect")
    top = float(np.nanmax(tab[["load_effective", "C", "reinforcement", "A"]].to_numpy()))
    ax.set_ylim(0, max(1.0, 1.05 * top))
    ax.set_ylabel("level (no unit;\n0 = none)", fontsize=8.5)
    ax.set_title("What moves the set point: stress load, coping skills, reinforcement", loc="left", fontsize=10,
                 fontweight="bold")
    _legend_beside(ax)


def _symptoms(ax: Axes, traj: Trajectory) -> None:
    plan = traj.plan
    tab = traj.table
    from ketasim.outcomes.summary import default_remission_threshold

    base = traj.baseline_madrs
    x = _dates(plan, tab["day"])
    response = 0.5 * base
    remission = default_remission_threshold(plan)
    ax.axhspan(0, remission, color="#2E7D32", alpha=0.16, lw=0, gid="remission band")
    if response > remission:
        ax.axhspan(remission, response, color="#8BC34A", alpha=0.13, lw=0, gid="response band")
    ax.axhline(base, color="#888888", lw=0.9, ls="--")
    ax.axhline(RELAPSE_MADRS, color="#C0392B", lw=0.8, ls=":")
    ax.plot(x, tab["madrs"], color=MOOD, lw=1.7, label="MADRS")
    ymax = max(base + 8.0, float(tab["madrs"].max()) + 4.0)
    ax.set_ylim(0, min(60.0, ymax))
    ax.set_ylabel("MADRS (points)", fontsize=8.5)
    ax.set_title("Depressive symptoms (MADRS, 0-60)", loc="left", fontsize=10, fontweight="bold")
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], color=MOOD, lw=1.7, label="MADRS"),
        Line2D([], [], color="#888888", lw=0.9, ls="--", label=f"baseline ({base:g})"),
        Line2D([], [], color="#C0392B", lw=0.8, ls=":", label=f"relapse threshold (\u2265 {RELAPSE_MADRS:g})"),
    ]
    _legend_beside(ax, handles, [h.get_label() for h in handles])
    # The bands are labelled in the right margin, level with the bands themselves.
    trans = ax.get_yaxis_transform()
    ax.text(1.012, remission / 2, f"remission band\n(MADRS \u2264 {remission:g})", transform=trans,
            fontsize=7.5, color="#1B5E20", va="center", ha="left")
    if response > remission + 2:
        ax.text(1.012, (remission + response) / 2,
                f"response band\n(\u2264 {response:g}: 50% of baseline)", transform=trans, fontsize=7.5,
                color="#33691E", va="center", ha="left")


def _date_axis(ax: Axes, plan: Plan) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=5, maxticks=12)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(
        locator, formats=["%Y", "%b %Y", "%d %b", "%H:%M", "%H:%M", "%S.%f"],
        zero_formats=["", "%b %Y", "%d %b", "%d %b", "%H:%M", "%H:%M"],
        offset_formats=["", "", "", "%d %b %Y", "%d %b %Y", "%d %b %Y %H:%M"]))
    ax.set_xlim(*_dates(plan, [0.0, plan.horizon_days]))


def _plan_day_axis(ax: Axes, plan: Plan) -> None:
    """Plan days on the top edge of ``ax`` (matplotlib dates are days, so the map is a shift)."""
    import matplotlib.dates as mdates

    origin = mdates.date2num(dt.datetime.combine(plan.start_date, dt.time()))
    sec = ax.secondary_xaxis("top", functions=(lambda v: v - origin, lambda d: d + origin))
    sec.set_xlabel("day of plan", fontsize=8)
    sec.tick_params(labelsize=7.5)


def figure_trajectory(traj: Trajectory, *, title: str | None = None) -> Figure:
    """The report figure of one simulated patient (see the module docstring)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    plan = traj.plan
    peaks = dose_peaks(traj)
    n_rows_timeline = len(_timeline_rows(plan))
    heights = [0.35 + 0.27 * n_rows_timeline, 1.5, 1.25, 1.9, 1.3, 2.5]
    head_in, foot_in = (1.45 if plan.allow_off_label else 1.2), (1.15 if plan.allow_off_label else 0.9)
    fig_h = head_in + foot_in + sum(heights) * 1.2
    fig = plt.figure(figsize=(12.0, fig_h), dpi=110)
    gs = fig.add_gridspec(len(heights), 2, height_ratios=heights, width_ratios=[1.0, 0.21], hspace=0.5,
                          wspace=0.09, left=0.085, right=0.975, top=1.0 - head_in / fig_h,
                          bottom=foot_in / fig_h)
    ax_time = fig.add_subplot(gs[0, 0])
    axes = [ax_time] + [fig.add_subplot(gs[i, 0], sharex=ax_time) for i in range(1, len(heights))]
    ax_profile = fig.add_subplot(gs[1, 1])
    ax_time.set_label("treatment")
    for ax, name in zip(axes, PANELS, strict=True):
        ax.set_label(name)
    ax_profile.set_label("first dose profile")

    _timeline(ax_time, plan)
    _exposure(axes[1], ax_profile, traj, peaks)
    _receptor(axes[2], traj, peaks)
    _synapses(axes[3], traj)
    _set_point_drivers(axes[4], traj)
    _symptoms(axes[5], traj)
    for ax in axes:
        _shade_periods(ax, plan)
        ax.tick_params(labelsize=8)
        ax.spines["top"].set_visible(False)
        ax.spines["right"].set_visible(False)
        if ax is not axes[-1]:
            ax.tick_params(labelbottom=False)
        if ax is not ax_time:
            ax.grid(axis="x", color="#eeeeee", lw=0.6)
    _date_axis(axes[-1], plan)
    _plan_day_axis(ax_time, plan)
    axes[-1].set_xlabel(f"date (plan starts {plan.start_date:%a %d %b %Y})", fontsize=9)

    p = plan.patient
    heading = title or plan.name
    sub = (f"Patient: {p.weight_kg:g} kg, baseline MADRS {p.baseline_madrs:g}, ongoing stress load "
           f"{p.chronic_load:g}.   "
           f"Plan: {plan.horizon_days:g} days; {len(plan.doses)} dose(s) of {dose_summary(plan)}; "
           f"{len(plan.therapy_days)} psychotherapy session(s)")
    fig.text(0.085, 1.0 - 0.18 / fig_h, heading, ha="left", va="top", fontsize=14, fontweight="bold")
    fig.text(0.085, 1.0 - 0.5 / fig_h, sub, ha="left", va="top", fontsize=9, color="#444444")
    fig.text(0.085, 0.12 / fig_h, DISCLAIMER + ".  Simulated patient; not a prediction for any real person.",
             fontsize=8.5, color="#444444", ha="left", va="bottom")
    if plan.allow_off_label:
        for y, va in ((1.0 - 0.76 / fig_h, "top"), (0.4 / fig_h, "bottom")):
            fig.text(0.085, y, "\u26a0 " + OFF_LABEL_WARNING, fontsize=9, color="#B71C1C", fontweight="bold",
                     ha="left", va=va)
    return fig


def plot_trajectory(traj: Trajectory, path: str | Path, *, title: str | None = None, dpi: int = 110) -> Path:
    """Write the report figure of ``traj`` to ``path`` (PNG, SVG or PDF by suffix); return the path."""
    import matplotlib.pyplot as plt

    fig = figure_trajectory(traj, title=title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def figure_comparison(groups: Sequence[tuple[str, Sequence[tuple[str, Trajectory]]]], *,
                      title: str = "How the plan shapes the course") -> Figure:
    """One panel per group of plans, each overlaying the MADRS of its plans against plan day.

    ``groups`` is ``[(panel title, [(label, trajectory), ...]), ...]``. Days, not dates, so plans
    starting on different dates line up.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    colours = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"]
    n = len(groups)
    ncol = 2 if n > 1 else 1
    nrow = int(np.ceil(n / ncol))
    fig, axs = plt.subplots(nrow, ncol, figsize=(6.2 * ncol, 3.6 * nrow + 0.7), dpi=110, squeeze=False)
    for ax in axs.flat[n:]:
        ax.axis("off")
    for ax, (panel, items) in zip(axs.flat, groups, strict=False):
        base = max((t.baseline_madrs for _, t in items), default=33.0)
        horizon = max((t.plan.horizon_days for _, t in items), default=90.0)
        ax.axhspan(0, REMISSION_MADRS, color="#2E7D32", alpha=0.14, lw=0)
        ax.axhspan(REMISSION_MADRS, 0.5 * base, color="#8BC34A", alpha=0.12, lw=0)
        ax.text(horizon * 0.995, REMISSION_MADRS / 2, "remission", fontsize=7, color="#1B5E20", ha="right",
                va="center")
        ax.text(horizon * 0.995, (REMISSION_MADRS + 0.5 * base) / 2, "response", fontsize=7, color="#33691E",
                ha="right", va="center")
        for i, (label, traj) in enumerate(items):
            daily = traj.daily()
            colour = colours[i % len(colours)]
            ax.plot(daily["day"], daily["madrs"], color=colour, lw=1.8, label=label)
            doses = [d.day for d in traj.plan.doses]
            if doses:
                ax.plot(doses, np.full(len(doses), -1.2 - 1.3 * i), "|", color=colour, ms=6, mew=1.4,
                        clip_on=False)
        ax.set_xlim(0, horizon)
        # Head room above the curves for a legend that does not cover them.
        ax.set_ylim(-1.5 - 1.3 * len(items), max(base, 35.0) + 17.0)
        ax.set_yticks([0, 10, 20, 30, 40])
        ax.set_title(panel, loc="left", fontsize=10, fontweight="bold")
        ax.set_xlabel("day of plan (ticks below zero: ketamine doses)", fontsize=8.5)
        ax.set_ylabel("MADRS (points)", fontsize=8.5)
        ax.grid(color="#eeeeee", lw=0.6)
        ax.tick_params(labelsize=8)
        ax.spines["top"].set_visible(False)
        ax.spines["right"].set_visible(False)
        ax.legend(fontsize=7.5, frameon=False, loc="upper center", ncol=2, columnspacing=1.2, handlelength=1.8)
    fig.suptitle(title, x=0.01, ha="left", fontsize=13, fontweight="bold")
    fig.text(0.01, 0.005, DISCLAIMER + ".  Simulated patients.", fontsize=7.5, color="#555555")
    fig.tight_layout(rect=(0, 0.03, 1, 0.96))
    return fig


def plot_comparison(groups: Sequence[tuple[str, Sequence[tuple[str, Trajectory]]]], path: str | Path, *,
                    title: str = "How the plan shapes the course", dpi: int = 110) -> Path:
    """Write :func:`figure_comparison` to ``path``; return the path."""
    import matplotlib.pyplot as plt

    fig = figure_comparison(groups, title=title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path



def _yes_no(x: bool | None) -> str:
    return "n/a" if x is None else ("yes" if x else "no")


def _at(entry: dict) -> str:
    if not entry or entry.get("madrs") is None:
        return "n/a"
    return (f"MADRS {score(entry['madrs'])} on {date_text(entry['date'])} (response {_yes_no(entry['response'])}, "
            f"remission {_yes_no(entry['remission'])})")


def _relapse(entry: dict) -> str:
    if entry.get("relapsed") is None:
        return "n/a (no induction dose)"
    if not entry["relapsed"]:
        return "none within the horizon"
    return (f"{date_text(entry['date'])} ({number(entry['days_after_last_induction_dose'], 0)} days after the last "
            "induction dose)")


def outcome_rows(summary: dict) -> list[tuple[str, str]]:
    """Key outcomes of :func:`ketasim.outcomes.summarize` as (label, text) rows for people.

    Numbers go through :mod:`ketasim.outcomes.formatting`, like the explanation sentences beside them.
    """
    rows = [("Baseline MADRS", f"{summary['baseline_madrs']:g}")]
    if summary.get("madrs_24h_after_first_dose") is not None:
        rows.append(("24 h after the first dose",
                     f"MADRS {score(summary['madrs_24h_after_first_dose'])} "
                     f"({score(summary['change_24h'], signed=True)})"))
    rows.append(("End of induction (24 h after the last induction dose)", _at(summary.get("end_of_induction", {}))))
    if summary.get("madrs_min") is not None:
        rows.append(("Lowest MADRS", f"{score(summary['madrs_min'])} on {date_text(summary['madrs_min_date'])}"))
    rows.append(("Relapse (as in SUSTAIN-1: MADRS \u2265 22 at two visits 5-15 days apart)",
                 _relapse(summary.get("relapse_sustain1", {}))))
    rows.append(("Loss of response (MADRS no longer at least 50% below baseline)",
                 _relapse(summary.get("relapse_loss_of_response", {}))))
    rule = str(summary.get("remission_rule", "MADRS <= 10")).replace("<=", "\u2264")
    rows.append((f"Days in remission ({rule})",
                 f"{number(summary['days_in_remission'], 1)} of {summary['horizon_days']:g} "
                 f"({number(100 * summary['fraction_of_time_in_remission'], 0)}%)"))
    rows.append(("Mean MADRS over the plan", score(summary["mean_madrs"])))
    end = summary.get("end", {})
    if end.get("madrs") is not None:
        others = ", ".join(f"{SCALE_NAMES[k]} {score(end[k])}" for k in ("hdrs17", "phq9", "qids_sr16")
                           if end.get(k) is not None)
        rows.append((f"End of plan ({date_text(end['date'])})",
                     f"MADRS {score(end['madrs'])}" + (f"; {others}" if others else "")))
    iv = summary.get("interventions", {})
    if iv:
        parts = [f"{iv.get('induction_doses', 0)} induction + {iv.get('maintenance_doses', 0)} maintenance doses"]
        for key, label in (("therapy_sessions", "psychotherapy"), ("ect_sessions", "ECT"), ("tms_sessions", "TMS")):
            if iv.get(key):
                parts.append(f"{iv[key]} {label}")
        rows.append(("Interventions", ", ".join(parts) + f" (total {iv.get('total', 0)})"))
    return rows
