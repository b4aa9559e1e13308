"""Every command that writes goes through ``output_folder``/``output_file``: refused before work, complete or nothing.

Includes real interrupts: a ``ketasim population`` subprocess stopped by SIGINT, SIGTERM and SIGKILL mid-run.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import pytest

from ketasim.interfaces.cli import main
from ketasim.interfaces.outputs import MANIFEST, PARTIAL_PREFIX, REPLACED_PREFIX, package_folder, read_manifest

EXAMPLES = Path(str(resources.files("ketasim").joinpath("examples")))
PLAN = EXAMPLES / "single-infusion.yaml"
HISTORY = EXAMPLES / "histories" / "bridge-case.csv"


def run_main(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["ketasim", *args])
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = 0 if exc.code is None else int(exc.code)
    out = capsys.readouterr()
    return code, out.out, out.err


def never(*args, **kwargs):
    raise AssertionError("the work started although the output cannot be written")


# (command line with OUT for the output, the function doing the work)
WRITERS = {
    "simulate": (["simulate", str(PLAN), "--out", "OUT"], "ketasim.interfaces.commands.simulate._simulate_into"),
    "population": (["population", str(PLAN), "-n", "10", "--out", "OUT"],
                   "ketasim.interfaces.commands.population._population_into"),
    "demo": (["demo", "--only", "single-infusion", "--out", "OUT"], "ketasim.interfaces.commands.demo._demo_into"),
    "trials": (["trials", "--n", "20", "--report", "OUT"], "ketasim.interfaces.commands.trials._trials"),
    "calibrate-bands": (["calibrate-bands", "--studies", "murrough13a", "--out", "OUT"],
                  "ketasim.interfaces.commands.calibrate._calibrate"),
    "forecast": (["forecast", str(HISTORY), "--out", "OUT"], "ketasim.interfaces.commands.forecast._forecast_into"),
    "policies": (["policies", "--out", "OUT"], "ketasim.interfaces.commands.policies._policies_into"),
    "export-sbml": (["export-sbml", str(PLAN), "-o", "OUT"], "ketasim.formats.sbml.to_sbml"),
}
FILE_OUTPUTS = {"calibrate-bands", "export-sbml"}


@pytest.mark.parametrize("command", sorted(WRITERS))
def test_an_output_that_cannot_be_written_is_refused_before_the_work(monkeypatch, capsys, tmp_path, command):
    args, work = WRITERS[command]
    monkeypatch.setattr(work, never)
    monkeypatch.chdir(tmp_path)
    blocker = tmp_path / "blocker"
    if command in FILE_OUTPUTS:
        blocker.mkdir()  # a file output that is a folder
    else:
        blocker.write_text("a file, not a folder")
    code, _, err = run_main(monkeypatch, capsys, *[str(blocker) if a == "OUT" else a for a in args])
    assert code == 2 and err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    assert str(blocker) in err
    long_name = str(tmp_path / ("n" * 300))
    code, _, err = run_main(monkeypatch, capsys, *[long_name if a == "OUT" else a for a in args])
    assert code == 2 and "at most 255 bytes" in err and len(err.strip().splitlines()) == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]


def test_calibrate_bands_writes_to_the_working_folder_by_default(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    shipped = package_folder() / "data" / "calibrated.json"
    before = shipped.read_bytes()
    code, out, err = run_main(monkeypatch, capsys, "calibrate-bands", "--studies", "murrough13a", "--n", "20",
                              "--evaluations", "2", "--no-profile")
    assert code == 0, err
    record = json.loads((tmp_path / "calibrated.json").read_text())
    assert "calibrate" in record["command"] and str(tmp_path / "calibrated.json") in " ".join(out.split())
    assert shipped.read_bytes() == before


def test_calibrate_bands_install_is_refused_unless_installed_editable_from_the_checkout(monkeypatch, capsys, tmp_path):
    from ketasim.interfaces.commands import calibrate

    monkeypatch.setattr(calibrate, "_editable_root", lambda: None)
    monkeypatch.setattr(calibrate, "_calibrate", never)
    code, _, err = run_main(monkeypatch, capsys, "calibrate-bands", "--install")
    shipped = package_folder() / "data" / "calibrated.json"
    assert code == 2 and "--install" in err and str(shipped) in err and "editable" in err, err
    # A checkout installed editable: --install writes its src/ketasim/data/calibrated.json.
    checkout = tmp_path / "checkout"
    (checkout / "src" / "ketasim" / "data").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text("[project]\nname = 'ketasim'\n")
    monkeypatch.setattr("ketasim.interfaces.outputs.package_folder", lambda: checkout / "src" / "ketasim")
    monkeypatch.setattr(calibrate, "_editable_root", lambda: checkout)

    def fake(tmp, *args):
        tmp.write_text('{"fake": true}')
        raise KeyboardInterrupt  # interrupted: the checkout's file must not appear

    monkeypatch.setattr(calibrate, "_calibrate", fake)
    code, _, err = run_main(monkeypatch, capsys, "calibrate-bands", "--install")
    assert code == 130 and not (checkout / "src" / "ketasim" / "data" / "calibrated.json").exists()
    monkeypatch.setattr(calibrate, "_print_result", lambda *a: None)
    monkeypatch.setattr(calibrate, "_calibrate", lambda tmp, *a: (tmp.write_text('{"fake": true}'), None)[::-1])
    code, _, err = run_main(monkeypatch, capsys, "calibrate-bands", "--install")
    assert code == 0, err
    assert json.loads((checkout / "src" / "ketasim" / "data" / "calibrated.json").read_text()) == {"fake": True}


def package_hashes() -> dict[str, str]:
    root = package_folder()
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


def test_no_command_writes_into_the_package_or_outside_its_output(monkeypatch, capsys, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    before = package_hashes()
    commands = [
        (["params", "--layer", "synapses"], []),
        (["simulate", str(PLAN), "--out", "s"], ["s"]),
        (["explain", str(PLAN), "--json"], []),
        (["population", str(PLAN), "-n", "20", "--out", "p", "--no-figures"], ["p"]),
        (["demo", "--only", "single-infusion", "--out", "d"], ["d"]),
        (["trials", "--studies", "murrough13a", "--n", "20", "--report", "r", "--sensitivity-n", "0",
          "--other-cohorts", "0"], ["r"]),
        (["calibrate-bands", "--studies", "murrough13a", "--n", "20", "--evaluations", "2", "--no-profile"],
         ["calibrated.json"]),
        (["forecast", str(HISTORY), "--out", "f", "--particles", "100", "--horizon", "28"], ["f"]),
        (["policies", "--out", "pol", "--patients", "2", "--particles", "8", "--no-therapy"], ["pol"]),
        (["export-sbml", str(PLAN)], ["single-infusion.xml"]),
    ]
    expected: set[str] = set()
    for args, outputs in commands:
        code, _, err = run_main(monkeypatch, capsys, *args)
        assert code == 0, (args, err)
        expected |= set(outputs)
        assert {p.name for p in work.iterdir()} == expected, args
        for name in outputs:
            if (work / name).is_dir():
                assert read_manifest(work / name)["complete"] is True
    assert package_hashes() == before


# --- real interrupts -------------------------------------------------------------------------------------------


def start_population(out: Path, patients: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(package_folder().parent)}
    return subprocess.Popen([sys.executable, "-m", "ketasim.interfaces.cli", "population", str(PLAN), "-n",
                             str(patients), "--chunk-size", "512", "--out", str(out), "--no-figures"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_until_running(proc: subprocess.Popen, parent: Path, timeout: float = 120.0) -> None:
    """Until the run's temporary folder holds a first chunk of outcomes (the simulation is under way)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assert proc.poll() is None, proc.communicate()
        partial = [p for p in parent.iterdir() if p.name.startswith(PARTIAL_PREFIX)]
        if partial and (partial[0] / "outcomes.csv").exists():
            return
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("the run did not start")


def folder_state(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def earlier_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("earlier") / "out"
    proc = start_population(out, 30)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return out


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM])
def test_a_run_interrupted_mid_way_leaves_the_earlier_outputs_untouched(tmp_path, earlier_run, how):
    out = tmp_path / "out"
    subprocess.run(["cp", "-a", str(earlier_run), str(out)], check=True)
    before = folder_state(out)
    proc = start_population(out, 2_000_000)
    wait_until_running(proc, tmp_path)
    proc.send_signal(how)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + how, err
    lines = err.strip().splitlines()
    assert lines[-1].startswith("error: interrupted") and "nothing was written" in lines[-1]
    assert "earlier run finished" in lines[-1] and "Traceback" not in err
    assert folder_state(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_first_run_interrupted_leaves_nothing(tmp_path):
    out = tmp_path / "out"
    proc = start_population(out, 2_000_000)
    wait_until_running(proc, tmp_path)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert list(tmp_path.iterdir()) == []


def test_a_killed_run_leaves_only_a_hidden_partial_folder_that_the_next_run_removes(tmp_path, earlier_run):
    out = tmp_path / "out"
    subprocess.run(["cp", "-a", str(earlier_run), str(out)], check=True)
    before = folder_state(out)
    proc = start_population(out, 2_000_000)
    wait_until_running(proc, tmp_path)
    proc.kill()
    proc.communicate(timeout=60)
    assert folder_state(out) == before and read_manifest(out)["complete"] is True
    partial = [p.name for p in tmp_path.iterdir() if p.name != "out"]
    assert len(partial) == 1 and partial[0].startswith(PARTIAL_PREFIX) and MANIFEST not in os.listdir(
        tmp_path / partial[0])
    again = start_population(out, 30)
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert not any(p.name.startswith(REPLACED_PREFIX) for p in tmp_path.iterdir())
