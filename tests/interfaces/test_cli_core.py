"""The core commands: ketasim simulate, explain and demo (in-process, through Typer and through main())."""

from __future__ import annotations

import json
import os
import sys
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from ketasim.dynamics import STATES
from ketasim.interfaces.cli import app, main
from ketasim.interfaces.report import DISCLAIMER

runner = CliRunner()
EXAMPLES = Path(str(resources.files("ketasim").joinpath("examples")))
SINGLE = EXAMPLES / "single-infusion.yaml"
PNG = b"\x89PNG\r\n\x1a\n"

BAD_PLAN = """\
name: too-much
start_date: 2025-01-06
horizon_days: 30
doses:
  - {date: 2025-01-06, route: iv, dose: 5 mg/kg}
"""


def run_main(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """Run the ``ketasim`` entry point in-process; return (exit status, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["ketasim", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    out = capsys.readouterr()
    code = exc.value.code
    return (0 if code is None else int(code)), out.out, out.err


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("sim")
    result = runner.invoke(app, ["simulate", str(SINGLE), "--out", str(out)])
    return out, result


def test_simulate_writes_timeseries_summary_and_figure(simulated):
    out, result = simulated
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "timeseries.csv")
    for col in ("day", "date", "madrs", "phq9", "hdrs17", "qids_sr16", "concentration_ng_ml", *STATES):
        assert col in table.columns, col
    assert table["day"].is_monotonic_increasing and table["day"].iloc[-1] == pytest.approx(120.0)
    assert str(table["date"].iloc[0]) == "2025-01-06"
    assert table["concentration_ng_ml"].max() > 100.0  # 0.5 mg/kg IV peaks in the 100s of ng/mL
    summary = json.loads((out / "summary.json").read_text())
    assert summary["plan"] == "single-infusion"
    assert summary["off_label"] is False
    assert "not a medical device" in summary["disclaimer"]
    assert summary["baseline_madrs"] == pytest.approx(table["madrs"].iloc[0])
    assert summary["end"]["madrs"] == pytest.approx(table["madrs"].iloc[-1], abs=0.01)
    assert (out / "report.png").read_bytes()[:8] == PNG
    assert "24 h after the first dose" in result.output and DISCLAIMER in result.output


def test_simulate_param_override_changes_the_course(tmp_path):
    # two overrides against each other, so the test does not depend on the shipped values
    runs = {}
    for k_hom in (0.0003, 0.02):
        out = tmp_path / str(k_hom)
        result = runner.invoke(app, ["simulate", str(SINGLE), "--out", str(out), "--param", f"k_hom={k_hom}",
                                     "--param", "kappa_G=8"])
        assert result.exit_code == 0, result.output
        summary = json.loads((out / "summary.json").read_text())
        assert summary["parameter_overrides"] == {"k_hom": k_hom, "kappa_G": 8.0}
        runs[k_hom] = pd.read_csv(out / "timeseries.csv")
    # a faster homeostatic return brings MADRS back up sooner: higher mean over the plan
    assert runs[0.02]["madrs"].mean() > runs[0.0003]["madrs"].mean() + 0.5


@pytest.mark.parametrize("args, words", [
    (["--param", "k_prunex=1"], ["k_prunex", "k_prune", "k_hom"]),
    (["--param", "k_prune=100"], ["k_prune", "bounds"]),
    (["--param", "k_prune"], ["name=value"]),
    (["--param", "k_prune=fast"], ["k_prune", "a number"]),
])
def test_simulate_bad_param_is_one_line(monkeypatch, capsys, tmp_path, args, words):
    code, out, err = run_main(monkeypatch, capsys, "simulate", str(SINGLE), "--out", str(tmp_path), *args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    for w in words:
        assert w in lines[0]
    assert not (tmp_path / "timeseries.csv").exists()


def test_simulate_bad_plan_exits_2_naming_the_field(monkeypatch, capsys, tmp_path):
    plan = tmp_path / "bad.yaml"
    plan.write_text(BAD_PLAN)
    code, out, err = run_main(monkeypatch, capsys, "simulate", str(plan), "--out", str(tmp_path / "o"))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert "bad.yaml" in lines[0] and "line 5" in lines[0] and "doses[0].dose" in lines[0]
    assert "allow_off_label" in lines[0]


def test_simulate_missing_file_exits_2(monkeypatch, capsys, tmp_path):
    code, _, err = run_main(monkeypatch, capsys, "simulate", str(tmp_path / "nope.yaml"), "--out", str(tmp_path))
    assert code == 2 and err.startswith("error: ") and len(err.strip().splitlines()) == 1


def test_explain_json_has_the_shapley_numbers():
    result = runner.invoke(app, ["explain", str(EXAMPLES / "induction-psychotherapy.yaml"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    loss = data["loss"]
    assert set(loss["mechanisms"]) == {"pruning", "homeostasis", "tolerance", "load"}
    total = sum(m["points"] for m in loss["mechanisms"].values()) + loss["residual"]["points"]
    assert total == pytest.approx(loss["total_loss_points"], abs=0.05)  # Shapley values are efficient
    assert loss["total_loss_points"] == pytest.approx(loss["madrs_date2"] - loss["madrs_date1"], abs=0.02)
    assert len(loss["coalition_values"]) == 16
    gain = data["gain"]
    assert "therapy" in gain["strategies"]
    dir_ = gain["metrics"]["days_in_remission"]
    assert sum(g["value"] for g in dir_["gain"].values()) == pytest.approx(dir_["total_gain"], abs=0.05)
    assert loss["sentences"] and gain["sentences"]


def test_explain_window_from_the_command_line():
    result = runner.invoke(app, ["explain", str(EXAMPLES / "induction-six.yaml"), "--from", "2025-01-20",
                                 "--to", "40", "--json"])
    assert result.exit_code == 0, result.output
    loss = json.loads(result.output)["loss"]
    assert loss["date1"] == "2025-01-20" and loss["day2"] == pytest.approx(40.0)


def test_explain_sentences_and_bad_date(monkeypatch, capsys):
    result = runner.invoke(app, ["explain", str(EXAMPLES / "induction-six.yaml")])
    assert result.exit_code == 0, result.output
    assert "Why the benefit fades" in result.output and "homeostasis" in result.output
    code, _, err = run_main(monkeypatch, capsys, "explain", str(EXAMPLES / "induction-six.yaml"), "--from",
                            "2031-01-01")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--from = '2031-01-01'" in err


def test_demo_one_example_writes_the_report(tmp_path):
    result = runner.invoke(app, ["demo", "--out", str(tmp_path), "--only", "single-infusion"])
    assert result.exit_code == 0, result.output
    html = (tmp_path / "index.html").read_text()
    assert (tmp_path / "single-infusion.png").read_bytes()[:8] == PNG
    assert (tmp_path / "model.png").read_bytes()[:8] == PNG
    assert 'src="single-infusion.png"' in html and 'src="model.png"' in html
    assert 'id="single-infusion"' in html and "Key outcomes" in html and "Why the benefit fades" in html
    assert DISCLAIMER in html
    outcomes = json.loads((tmp_path / "outcomes.json").read_text())
    assert list(outcomes) == ["single-infusion"]


def test_demo_unknown_example_is_a_user_error(monkeypatch, capsys, tmp_path):
    code, _, err = run_main(monkeypatch, capsys, "demo", "--out", str(tmp_path), "--only", "no-such-plan")
    assert code == 2 and "single-infusion" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("module", ["simulate", "explain", "population", "demo", "trials", "calibrate", "forecast",
                                    "policies", "export_sbml", "params"])
def test_every_command_module_imports_on_its_own(module):
    import subprocess

    from ketasim.interfaces.outputs import package_folder

    code = f"import ketasim.interfaces.commands.{module} as m; print(m.__name__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(package_folder().parent)})
    assert done.returncode == 0, done.stderr
