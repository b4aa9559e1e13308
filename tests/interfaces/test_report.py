"""Report figure, comparison figure, model schematic, HTML writer and the generated parts of docs/model.md."""

from __future__ import annotations

import base64
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.dates import ConciseDateFormatter  # noqa: E402

from ketasim.dosing.plan import Dose, LifeEvent, LifestylePeriod, OtherTreatment, Patient, Plan  # noqa: E402
from ketasim.dynamics import STATES  # noqa: E402
from ketasim.interfaces import docs as docgen  # noqa: E402
from ketasim.interfaces.diagram import REASONS, STRATEGIES, figure_model_diagram  # noqa: E402
from ketasim.interfaces.html import PlanSection, write_report  # noqa: E402
from ketasim.interfaces.report import (  # noqa: E402
    DISCLAIMER,
    OFF_LABEL_WARNING,
    PANELS,
    dose_peaks,
    figure_comparison,
    figure_trajectory,
    outcome_rows,
    plot_trajectory,
)
from ketasim.outcomes import summarize  # noqa: E402
from ketasim.parameters import all_parameters  # noqa: E402
from ketasim.simulate import simulate  # noqa: E402

DOCS = Path(__file__).resolve().parents[2] / "docs" / "model.md"


def _full_plan(off_label: bool = True) -> Plan:
    """Every kind of input the figure draws: induction and maintenance doses, therapy, ECT, an
    antidepressant, a lifestyle period, a life event before the start and one during the plan."""
    ind = tuple(Dose(day=d + 0.375, amount_mg=35.0, mg_per_kg=0.5) for d in (0, 2, 4, 7, 9, 11))
    mnt = tuple(Dose(day=d + 0.375, amount_mg=35.0, mg_per_kg=0.5, phase="maintenance") for d in (25, 39, 53))
    return Plan(name="every input", doses=ind + mnt, therapy_days=(1.5, 3.5, 8.5, 15.5),
                lifestyle=(LifestylePeriod(14, 45),),
                treatments=(OtherTreatment("ect", session_days=(30.0, 32.0)),
                            OtherTreatment("antidepressant", start_day=20.0, label="sertraline")),
                patient=Patient(life_events=(LifeEvent(-20, 0.4, 60, "bereavement"), LifeEvent(40, 0.3, 30, "move"))),
                horizon_days=70, allow_off_label=off_label)


@pytest.fixture(scope="module")
def full_traj():
    return simulate(_full_plan())


@pytest.fixture(scope="module")
def full_fig(full_traj):
    fig = figure_trajectory(full_traj)
    fig.canvas.draw()
    yield fig
    plt.close(fig)


def _axes(fig) -> dict:
    return {ax.get_label(): ax for ax in fig.axes}


def _bands(ax) -> dict[str, tuple[float, float]]:
    """(y0, y1) in data units of the shaded horizontal bands, by their gid."""
    out = {}
    for p in ax.patches:
        if p.get_gid():
            ext = p.get_extents().transformed(ax.transData.inverted())
            out[p.get_gid()] = (ext.y0, ext.y1)
    return out


def test_figure_has_every_panel_in_order(full_fig):
    labels = [ax.get_label() for ax in full_fig.axes]
    assert [lab for lab in labels if lab in PANELS] == list(PANELS)
    assert "first dose profile" in labels
    axes = _axes(full_fig)
    # One shared date axis: every stacked panel has the same x limits as the bottom one.
    xlim = axes["symptoms"].get_xlim()
    for name in PANELS:
        assert axes[name].get_xlim() == pytest.approx(xlim)
    assert axes["symptoms"].get_ylabel() == "MADRS (points)"
    assert "ng/mL" in axes["exposure"].get_ylabel()
    assert "%" in axes["receptor"].get_ylabel()


def test_dates_on_the_x_axis(full_fig, full_traj):
    ax = _axes(full_fig)["symptoms"]
    assert isinstance(ax.xaxis.get_major_formatter(), ConciseDateFormatter)
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert any(month in " ".join(labels) for month in ("Jan", "Feb", "Mar"))
    assert "date" in ax.get_xlabel()
    # Plan days on the top edge of the timeline.
    assert _axes(full_fig)["treatment"].child_axes


def test_timeline_rows_follow_the_plan(full_fig):
    rows = [t.get_text() for t in _axes(full_fig)["treatment"].get_yticklabels()]
    assert set(rows) == {"Ketamine", "Psychotherapy", "ECT / TMS", "Antidepressant", "Lifestyle", "Life events"}
    fig = figure_trajectory(simulate(Plan(name="one", doses=(Dose(day=0.375, amount_mg=35.0),), horizon_days=14)))
    try:
        assert [t.get_text() for t in _axes(fig)["treatment"].get_yticklabels()] == ["Ketamine"]
    finally:
        plt.close(fig)


def test_induction_and_maintenance_doses_have_different_markers(full_fig):
    ax = _axes(full_fig)["treatment"]
    markers = {line.get_marker(): len(line.get_xdata()) for line in ax.get_lines() if line.get_linestyle() == "None"}
    assert markers["v"] == 6  # induction
    assert markers["D"] == 3  # maintenance
    assert markers["o"] == 4  # psychotherapy sessions
    assert markers["*"] == 2  # ECT sessions


def test_response_and_remission_bands(full_fig, full_traj):
    ax = _axes(full_fig)["symptoms"]
    bands = _bands(ax)
    # remission 0-10 and response 10-16.5 (50% of baseline 33)
    assert bands["remission band"] == pytest.approx((0.0, 10.0), abs=1e-6)
    assert bands["response band"] == pytest.approx((10.0, 0.5 * full_traj.baseline_madrs), abs=1e-6)
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "remission band" in texts and "response band" in texts


def test_legends_do_not_cover_the_data(full_fig):
    renderer = full_fig.canvas.get_renderer()
    for name in PANELS:
        ax = _axes(full_fig)[name]
        leg = ax.get_legend()
        if leg is None:
            continue
        assert leg.get_window_extent(renderer).x0 >= ax.get_window_extent(renderer).x1 - 1.0, name


def test_footer_and_off_label_warning(full_fig, full_traj):
    texts = [t.get_text() for t in full_fig.texts]
    assert any(DISCLAIMER in t for t in texts)
    assert any(OFF_LABEL_WARNING in t for t in texts)
    assert any("every input" in t for t in texts)  # the title names the plan
    fig = figure_trajectory(simulate(_full_plan(off_label=False).with_horizon(20)))
    try:
        assert not any("OFF-LABEL" in t.get_text() for t in fig.texts)
        assert any(DISCLAIMER in t.get_text() for t in fig.texts)
    finally:
        plt.close(fig)


def test_dose_peaks_are_the_maxima_after_each_dose(full_traj):
    peaks = dose_peaks(full_traj)
    assert len(peaks) == len(full_traj.plan.doses)
    assert [p.phase for p in peaks].count("maintenance") == 3
    tab = full_traj.table
    first = peaks[0]
    t0 = first.day * 24.0
    rows = (tab["hours"] >= t0) & (tab["hours"] < t0 + 48.0)
    assert first.ketamine_ng_ml == pytest.approx(tab.loc[rows, "concentration_ng_ml"].max())
    assert 0.0 < first.occupancy < 1.0
    # the peak is well above the trough a day later (a spike, not a level)
    assert first.ketamine_ng_ml > 20 * float(np.interp(t0 + 24.0, tab["hours"], tab["concentration_ng_ml"]))


def test_esketamine_remission_band_is_12():
    plan = Plan(name="nasal", doses=(Dose(day=0.4, amount_mg=56.0, route="intranasal", drug="esketamine",
                                          devices=2, duration_min=0.0),), horizon_days=10,
                treatments=(OtherTreatment("antidepressant", start_day=-30.0),))  # as labelled
    fig = figure_trajectory(simulate(plan))
    try:
        assert _bands(_axes(fig)["symptoms"])["remission band"] == pytest.approx((0.0, 12.0), abs=1e-6)
    finally:
        plt.close(fig)


def test_plot_trajectory_writes_png(tmp_path, full_traj):
    path = plot_trajectory(full_traj, tmp_path / "sub" / "r.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_outcome_rows_read_the_summary(full_traj):
    summary = summarize(full_traj)
    rows = dict(outcome_rows(summary))
    assert rows["Baseline MADRS"] == "33"
    assert "Interventions" in rows and "6 induction + 3 maintenance" in rows["Interventions"]
    assert any("Relapse" in k for k in rows)


def test_comparison_figure_has_one_panel_per_group(full_traj):
    short = simulate(Plan(name="one", doses=(Dose(day=0.375, amount_mg=35.0),), horizon_days=30))
    fig = figure_comparison([("A", [("full", full_traj), ("one", short)]), ("B", [("one", short)])])
    try:
        used = [ax for ax in fig.axes if ax.get_lines()]
        assert len(used) == 2
        assert {t.get_text() for t in used[0].get_legend().get_texts()} == {"full", "one"}
    finally:
        plt.close(fig)


def test_model_diagram_names_reasons_and_strategies():
    fig = figure_model_diagram()
    try:
        text = " ".join(t.get_text() for t in fig.axes[0].texts)
        for title, *_ in REASONS + STRATEGIES:
            assert title in text
        for word in ("NMDA", "Mood", "New synapses", "Mature synapses"):
            assert word in text
    finally:
        plt.close(fig)


def test_html_report_escapes_and_embeds(tmp_path):
    png = tmp_path / "fig.png"
    fig = plt.figure(figsize=(1, 1))
    fig.savefig(png)
    plt.close(fig)
    section = PlanSection(name="x", title="Plan <x>", description="a <script>alert(1)</script> plan",
                          figure="fig.png", outcomes=[("MADRS", "10 & falling")], loss_sentences=["lost 3 points"],
                          gain_sentences=["therapy adds 2 days"], off_label=True)
    html = write_report(tmp_path / "index.html", [section], model_figure="fig.png").read_text()
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert 'src="fig.png"' in html and "10 &amp; falling" in html
    assert "lost 3 points" in html and "therapy adds 2 days" in html
    assert DISCLAIMER in html and "OFF-LABEL" in html
    embedded = write_report(tmp_path / "embedded.html", [section], embed=True).read_text()
    assert f"data:image/png;base64,{base64.b64encode(png.read_bytes()).decode()}" in embedded


def test_docs_model_md_is_in_sync_with_the_code():
    text = DOCS.read_text(encoding="utf-8")
    assert docgen.render(text) == text, "docs/model.md is out of date: run python -m ketasim.interfaces.docs"


def test_parameter_table_lists_every_parameter():
    table = docgen.parameter_table()
    for p in all_parameters():
        assert f"| `{p.name}` |" in table
    changed = [*all_parameters()]
    from dataclasses import replace

    changed[-1] = replace(changed[-1], value=changed[-1].value * 0.5)
    assert docgen.parameter_table(changed) != table


def test_docs_names_every_state():
    text = DOCS.read_text(encoding="utf-8")
    for state in STATES:
        assert f"| `{state}` |" in text
