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

from ketasim.interfaces.cli import Interrupted, main
from ketasim.interfaces.outputs import MANIFEST, PARTIAL_PREFIX, REPLACED_PREFIX, package_folder, read_manifest

EXAMPLES = Path(str(resources.files("ketasim").joinpath("examples")))
PLAN = EXAMPLES / "single-infusion.yaml"
HISTORY = EXAMPLES / "histories" / "bridge-case.csv"
NONMEM_TEXT = ("ID,TIME,EVID,AMT,RATE,CMT,MDV,DV,SCALE,WT\n1,0,0,0,.,.,0,20,PHQ-9,70\n"
               "1,9,1,35,52.5,2,1,.,.,70\n1,33,0,0,.,.,0,12,PHQ-9,70\n")


@pytest.fixture
def nonmem_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("inputs") / "dataset.csv"
    path.write_text(NONMEM_TEXT)
    return path


def fake_fit(out, config, *, resume=False, command="", progress=None, **kwargs):
    """Stands in for ``ketasim.evidence.fit.run_fit`` (minutes of work): the fit's three files into ``out``."""
    for name in ("posterior.parquet", "posterior.json", "calibrated.json"):
        (out / name).write_text(json.dumps({"file": name, "resumed": resume}) + "\n")
    return {"simulations": 0, "seconds": {"wall_total": 0.0, "cpu_total": 0.0},
            "validation": {"share_within_2sd": 1.0, "draws_simulated": 0}}


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
    "export-sbml --check": (["export-sbml", str(PLAN), "--check", "-o", "OUT"], "ketasim.formats.sbml.to_sbml"),
    "calibrate": (["calibrate", "--out", "OUT", "--waves", "2,2"], "ketasim.evidence.fit.run_fit"),
    "import-nonmem": (["import-nonmem", "NONMEM", "--out", "OUT"], "ketasim.formats.nonmem.read_nonmem"),
    "simulate --nonmem-out": (["simulate", str(PLAN), "--out", "s", "--nonmem-out", "OUT"],
                              "ketasim.interfaces.commands.simulate._simulate_into"),
    "population --nonmem-out": (["population", str(PLAN), "-n", "10", "--out", "p", "--nonmem-out", "OUT"],
                                "ketasim.interfaces.commands.population._population_into"),
    "trials --nonmem-out": (["trials", "--n", "20", "--nonmem-out", "OUT"], "ketasim.trials.runner.run_trials"),
    "forecast --dose-mg": (["forecast", str(HISTORY), "--every", "14", "--dose-mg", "35", "--out", "OUT"],
                           "ketasim.interfaces.commands.forecast._forecast_into"),
}
FILE_OUTPUTS = {"calibrate-bands", "export-sbml", "export-sbml --check", "simulate --nonmem-out",
                "population --nonmem-out", "trials --nonmem-out"}


@pytest.mark.parametrize("command", sorted(WRITERS))
def test_an_output_that_cannot_be_written_is_refused_before_the_work(monkeypatch, capsys, tmp_path, command,
                                                                      nonmem_csv):
    args, work = WRITERS[command]
    args = [str(nonmem_csv) if a == "NONMEM" else a for a in args]
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


def test_calibrate_bands_install_does_not_silently_replace_the_posterior_median(monkeypatch, capsys, tmp_path):
    from ketasim.interfaces.commands import calibrate

    checkout = tmp_path / "checkout"
    data = checkout / "src" / "ketasim" / "data"
    data.mkdir(parents=True)
    (checkout / "pyproject.toml").write_text("[project]\nname = 'ketasim'\n")
    median = (package_folder() / "data" / "calibrated.json").read_text()
    assert json.loads(median)["method"].startswith("posterior median")  # what ships now
    (data / "calibrated.json").write_text(median)
    monkeypatch.setattr("ketasim.interfaces.outputs.package_folder", lambda: checkout / "src" / "ketasim")
    monkeypatch.setattr(calibrate, "_editable_root", lambda: checkout)
    monkeypatch.setattr(calibrate, "_calibrate", never)
    code, _, err = run_main(monkeypatch, capsys, "calibrate-bands", "--install")
    assert code == 2 and "posterior median" in err and "--replace-posterior-median" in err, err
    assert (data / "calibrated.json").read_text() == median
    code, _, err = run_main(monkeypatch, capsys, "calibrate-bands", "--replace-posterior-median")
    assert code == 2 and "--install" in err, err
    monkeypatch.setattr(calibrate, "_print_result", lambda *a: None)
    monkeypatch.setattr(calibrate, "_calibrate", lambda tmp, *a: (tmp.write_text('{"fake": true}'), None)[::-1])
    code, _, err = run_main(monkeypatch, capsys, "calibrate-bands", "--install", "--replace-posterior-median")
    assert code == 0, err
    assert json.loads((data / "calibrated.json").read_text()) == {"fake": True}


def test_calibrate_keeps_its_work_folder_when_interrupted_and_continues_from_it(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    calls = []

    def interrupted(out, config, *, resume=False, **kwargs):
        calls.append((out, resume))
        (out / "checkpoint.npz").write_bytes(b"half of the simulations")
        raise Interrupted(signal.SIGINT)  # what the CLI's handler raises on Ctrl-C

    monkeypatch.setattr("ketasim.evidence.fit.run_fit", interrupted)
    code, _, err = run_main(monkeypatch, capsys, "calibrate", "--out", "fit", "--waves", "2,2")
    work = tmp_path / "fit.partial"
    assert code == 130 and not (tmp_path / "fit").exists(), err
    assert (work / "checkpoint.npz").read_bytes() == b"half of the simulations"
    assert "fit.partial" in err and "again" in err, err
    assert calls == [(work, False)]

    def finishing(out, config, *, resume=False, **kwargs):
        calls.append((out, resume))
        assert (out / "checkpoint.npz").read_bytes() == b"half of the simulations"  # the same folder, reused
        return fake_fit(out, config, resume=resume)

    monkeypatch.setattr("ketasim.evidence.fit.run_fit", finishing)
    code, out, err = run_main(monkeypatch, capsys, "calibrate", "--out", "fit", "--waves", "2,2")
    assert code == 0, err
    assert calls[-1] == (work, True) and not work.exists()
    manifest = read_manifest(tmp_path / "fit")
    assert manifest is not None and "calibrated.json" in manifest["files"] and ".lock" not in manifest["files"]
    assert json.loads((tmp_path / "fit" / "calibrated.json").read_text())["resumed"] is True
    # --restart discards an interrupted run's work folder
    monkeypatch.setattr("ketasim.evidence.fit.run_fit", interrupted)
    run_main(monkeypatch, capsys, "calibrate", "--out", "again", "--waves", "2,2")
    monkeypatch.setattr("ketasim.evidence.fit.run_fit", fake_fit)
    code, _, err = run_main(monkeypatch, capsys, "calibrate", "--out", "again", "--waves", "2,2", "--restart")
    assert code == 0, err
    assert json.loads((tmp_path / "again" / "calibrated.json").read_text())["resumed"] is False
    assert not (tmp_path / "again" / "checkpoint.npz").exists()
    # the shipped files are never touched without --install
    assert json.loads((package_folder() / "data" / "calibrated.json").read_text())["method"].startswith("posterior")


def test_calibrate_install_installs_the_fit_only_when_asked(monkeypatch, capsys, tmp_path):
    from ketasim.interfaces.commands import calibrate

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("ketasim.evidence.fit.run_fit", never)
    monkeypatch.setattr(calibrate, "_editable_root", lambda: None)
    code, _, err = run_main(monkeypatch, capsys, "calibrate", "--out", "fit", "--install")
    assert code == 2 and "--install" in err and "editable" in err and not list(tmp_path.iterdir()), err
    checkout = tmp_path / "checkout"
    data = checkout / "src" / "ketasim" / "data"
    data.mkdir(parents=True)
    (checkout / "pyproject.toml").write_text("[project]\nname = 'ketasim'\n")
    monkeypatch.setattr("ketasim.interfaces.outputs.package_folder", lambda: checkout / "src" / "ketasim")
    monkeypatch.setattr(calibrate, "_editable_root", lambda: checkout)
    monkeypatch.setattr("ketasim.evidence.fit.run_fit", fake_fit)
    code, _, err = run_main(monkeypatch, capsys, "calibrate", "--out", "fit")
    assert code == 0 and not list(data.iterdir()), err  # not asked: nothing installed
    code, out, err = run_main(monkeypatch, capsys, "calibrate", "--out", "fit2", "--install")
    assert code == 0, err
    assert sorted(p.name for p in data.iterdir()) == ["calibrated.json", "posterior.parquet"]
    assert json.loads((data / "calibrated.json").read_text())["file"] == "calibrated.json"
    assert (data / "posterior.parquet").read_bytes() == (tmp_path / "fit2" / "posterior.parquet").read_bytes()


def test_import_nonmem_writes_its_folder_complete_or_not_at_all(monkeypatch, capsys, tmp_path, nonmem_csv):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text(NONMEM_TEXT.replace("1,9,1,35,52.5", "1,9,1,105,157.5"))  # 1.5 mg/kg: off-label
    code, _, err = run_main(monkeypatch, capsys, "import-nonmem", str(bad), "--out", "imp")
    assert code == 2 and "line 3" in err and "--allow-off-label" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]
    code, _, err = run_main(monkeypatch, capsys, "import-nonmem", str(nonmem_csv), "--out", "imp")
    assert code == 0, err
    manifest = read_manifest(tmp_path / "imp")
    assert manifest is not None and {"import.json", "plans/id-1.yaml", "histories/id-1.csv"} <= set(manifest["files"])
    (tmp_path / "imp" / "mine.txt").write_text("not ketasim's")
    code, _, err = run_main(monkeypatch, capsys, "import-nonmem", str(nonmem_csv), "--out", "imp")
    assert code == 2 and "--force" in err, err
    code, _, err = run_main(monkeypatch, capsys, "import-nonmem", str(nonmem_csv), "--out", "imp", "--force")
    assert code == 0 and not (tmp_path / "imp" / "mine.txt").exists(), err


def package_hashes() -> dict[str, str]:
    root = package_folder()
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


def test_no_command_writes_into_the_package_or_outside_its_output(monkeypatch, capsys, tmp_path, nonmem_csv):
    monkeypatch.setattr("ketasim.evidence.fit.run_fit", fake_fit)  # the real fit takes minutes (tests/evidence)
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
        (["export-sbml", str(PLAN), "--check", "-o", "checked.xml"], ["checked.xml"]),
        (["simulate", str(PLAN), "--out", "s2", "--nonmem-out", "s2.csv"], ["s2", "s2.csv"]),
        (["population", str(PLAN), "-n", "5", "--out", "p2", "--no-figures", "--netcdf", "p2.nc", "--nonmem-out",
          "p2.csv"], ["p2", "p2.nc", "p2.csv"]),
        (["population", str(PLAN), "-n", "5", "--out", "p3", "--no-figures", "--netcdf", "p3.zarr"],
         ["p3", "p3.zarr"]),
        (["trials", "--studies", "murrough13a", "--n", "20", "--nonmem-out", "t.csv"], ["t.csv"]),
        (["forecast", str(HISTORY), "--out", "f2", "--particles", "100", "--horizon", "28", "--every", "14",
          "--dose-mg", "35"], ["f2"]),
        (["calibrate", "--out", "fit", "--waves", "2,2"], ["fit"]),
        (["posterior", "--summary"], []),
        (["import-nonmem", str(nonmem_csv), "--out", "imp"], ["imp"]),
        (["claims", "--draws", "2"], []),
        (["claims", "--typical", "--out", "claims.md"], ["claims.md"]),
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
