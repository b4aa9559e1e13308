"""Every claim in an example's caption (its description) and in the demo report is visible in the simulated output.

If a change to the model or a plan makes a caption untrue, these tests fail: fix the caption or the plan.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from ketasim.dosing.planfile import load_plan
from ketasim.interfaces.report import dose_peaks, figure_trajectory, growth_signal_share
from ketasim.outcomes import summarize
from ketasim.simulate import simulate

EXAMPLES = Path(str(resources.files("ketasim").joinpath("examples")))


def run(name: str, **kw):
    plan = load_plan(EXAMPLES / f"{name}.yaml")
    return plan, simulate(plan, **kw)


@pytest.fixture(scope="module")
def daily():
    return run("daily-dosing-tolerance")


def test_the_tolerance_caption_is_true(daily):
    plan, traj = daily
    text = " ".join(plan.description.split())
    assert "Tolerance builds over the four weeks" in text and "two thirds" in text and "nine tenths" in text
    doses = sorted(d.day for d in plan.doses)
    assert len(doses) == 28 and doses[-1] - doses[0] == pytest.approx(27.0)
    tab = traj.table
    # Tolerance builds over the four weeks: rises from dose to dose and ends above 30%.
    t_at = np.interp(doses, tab["day"], tab["T"])
    assert np.all(np.diff(t_at) > 0) and t_at[-1] > 0.30
    # Each infusion's growth signal shrinks to about two thirds of the first one's ...
    share = growth_signal_share(dose_peaks(traj))
    assert np.all(np.diff(share) <= 1e-9) and 0.6 <= share[-1] <= 0.72
    # ... where weekly maintenance keeps it above nine tenths.
    weekly_plan, weekly = run("induction-weekly-maintenance")
    peaks = dose_peaks(weekly)
    weekly_share = growth_signal_share(peaks)[[p.phase == "maintenance" for p in peaks]]
    assert weekly_share.size >= 10 and weekly_share.min() > 0.9
    # MADRS falls to about 14 in the second week and creeps back up to about 19 while the infusions continue ...
    assert "about 14 in the second week" in text and "about 19" in text and "three and a half" in text
    second_week = (tab["day"] >= doses[0] + 7) & (tab["day"] < doses[0] + 14)
    assert 13.0 <= tab.loc[second_week, "madrs"].min() < 15.0
    assert 18.0 <= np.interp(doses[-1], tab["day"], tab["madrs"]) < 20.0
    # ... and tolerance costs up to about three and a half MADRS points.
    _, without = run("daily-dosing-tolerance", switches={"tolerance": False})
    gap = np.abs(tab["madrs"].to_numpy() - without.table["madrs"].to_numpy())
    assert 3.0 < gap.max() < 4.0
    # After the last infusion the benefit fades.
    assert summarize(traj)["relapse_sustain1"]["relapsed"] is True


def test_the_tolerance_figure_shows_the_growth_signal_of_each_dose(daily):
    import matplotlib.pyplot as plt

    _, traj = daily
    fig = figure_trajectory(traj)
    try:
        ax = next(a for a in fig.axes if a.get_label() == "receptor")
        line = next(ln for ln in ax.get_lines() if "growth signal" in str(ln.get_label()))
        y = np.asarray(line.get_ydata(), dtype=float)
        assert y[0] == pytest.approx(100.0) and 60.0 <= y[-1] <= 72.0 and len(y) == 28
        assert ax.get_ylim()[1] >= y.max()
        tolerance = next(ln for ln in ax.get_lines() if ln.get_label() == "antidepressant tolerance")
        assert np.nanmax(np.asarray(tolerance.get_ydata(), dtype=float)) > 30.0
    finally:
        plt.close(fig)


def test_the_single_infusion_caption_is_true():
    plan, traj = run("single-infusion")
    s = summarize(traj)
    base = plan.patient.baseline_madrs
    daily = traj.daily()
    m = daily["madrs"].to_numpy()
    assert "about a fifth" in " ".join(plan.description.split())
    assert 0.75 * base < s["madrs_24h_after_first_dose"] < 0.85 * base  # eases within a day, by about a fifth
    assert m.min() > 0.5 * base  # short of a response (a halving)
    best = base - m.min()
    assert base - m[14] < 0.5 * best  # most of the improvement gone within two weeks
    assert base - s["end"]["madrs"] < 0.1 * best  # the rest fades over months


def test_the_induction_captions_are_true():
    six_plan, six = run("induction-six")
    assert "about two fifths" in " ".join(six_plan.description.split())
    m = six.daily()["madrs"].to_numpy()
    base = six_plan.patient.baseline_madrs
    assert 0.55 * base < m.min() < 0.65 * base  # MADRS falls by about two fifths: no response (a halving)
    last = max(d.day for d in six_plan.doses)
    faded = np.flatnonzero((np.arange(m.size) > last) & (m >= base - 0.1 * (base - m.min())))
    assert 7 <= faded[0] - last <= 35  # the benefit lasts a few weeks after the last infusion, then fades
    _, lifestyle = run("induction-lifestyle")
    assert lifestyle.table["set_point"].min() > six.table["set_point"].max()  # lifestyle raises the set point
    assert lifestyle.table["reinforcement"].max() > 0.1  # and reinforces new synapses
    late_plan, late = run("late-psychotherapy")
    first_session = min(late_plan.therapy_days)
    last_infusion = max(d.day for d in late_plan.doses)
    assert first_session - last_infusion == pytest.approx(56.0, abs=1.0)  # eight weeks after the last infusion
    response_line = 0.5 * late_plan.patient.baseline_madrs
    assert np.interp(first_session, six.table["day"], six.table["madrs"]) > response_line  # the benefit has faded
    bridge_plan, bridge = run("bereavement-bridge")
    bridge_madrs = bridge.daily()["madrs"].to_numpy()
    last_bridge_infusion = max(d.day for d in bridge_plan.doses)
    first_remission = int(np.argmax(bridge_madrs <= 10.0))
    assert bridge_madrs[first_remission] <= 10.0 and first_remission > last_bridge_infusion  # easing on, after it
    assert 150 <= first_remission <= 210 and bridge_madrs[-1] <= 10.0  # remission about six months after the start
    chronic = summarize(run("chronic-load")[1])
    assert chronic["end"]["madrs"] > 0.95 * bridge_plan.patient.baseline_madrs  # back at the starting level


def test_no_set_point_panel_claims_a_scale_its_data_leave():
    import matplotlib.pyplot as plt

    for name in ("chronic-load", "bereavement-bridge", "induction-psychotherapy"):
        _, traj = run(name)
        fig = figure_trajectory(traj)
        try:
            ax = next(a for a in fig.axes if a.get_label() == "set point")
            assert "0-1" not in ax.get_ylabel()
            top = max(float(np.nanmax(np.asarray(ln.get_ydata(), dtype=float))) for ln in ax.get_lines())
            assert ax.get_ylim()[1] >= top
        finally:
            plt.close(fig)


# --- the demo report as a person reads it ---------------------------------------------------------------


INTERNAL_NAMES = [r"seed text", r"seed strategy", r"\bdate[12]\b", r"allow_off_label", r"\bk_[a-z]+", r"\bM\*",
                  r"\bN \+ M\b", r"\b(?:labile|mature) [NM]\b", r"\boccupancy O\b", r"\bstate [A-Z]\b",
                  r"\bHDRS17\b", r"\bPHQ9\b", r"<="]


def report_text(html_text: str) -> str:
    import html

    body = re.sub(r"<style>.*?</style>", " ", html_text, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from ketasim.interfaces.commands.demo import run_demo

    out = tmp_path_factory.mktemp("demo") / "report"
    index = run_demo(out, ["daily-dosing-tolerance", "chronic-load", "single-infusion", "induction-six"])
    return index.read_text(encoding="utf-8")


def test_the_demo_report_uses_no_internal_names(demo):
    text = report_text(demo)
    for pattern in INTERNAL_NAMES:
        assert not re.search(pattern, text), pattern


def test_the_off_label_banner_tops_only_the_plan_it_applies_to(demo):
    sections = re.split(r'<section id="', demo)
    banner = 'class="offlabel"'
    assert banner not in sections[0]  # not above the whole report
    marked = [s.split('"', 1)[0] for s in sections[1:] if banner in s]
    assert marked == ["daily-dosing-tolerance"]


def test_a_value_prints_the_same_everywhere_on_the_page(demo):
    text = " ".join(report_text(demo).split())
    for name in ("chronic-load", "induction-six", "daily-dosing-tolerance"):
        section = text.split(f"Example {name}", 1)[1]
        end = re.search(r"End of induction \(24 h after the last induction dose\) MADRS (\d+\.\d) on (\d+ \w+ \d{4})",
                        section)
        goes = re.search(r"MADRS goes from (\d+\.\d) on (\d+ \w+ \d{4})", section)
        assert end and goes and end.groups() == goes.groups(), name
