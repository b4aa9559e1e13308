"""Fuzzing the command-line options of every command: exit status 0 or 2, a one-line ``error:``, never a traceback.

Each input is a cheap valid invocation of one command with one to three options mutated: replaced
by edge values (negative, zero, just past the allowed range, huge, NaN, infinite), text of any
kind, paths that cannot be written, key=value items with unknown keys or values out of bounds,
or an option left without its value. Commands run in-process through ``ketasim.interfaces.cli.main``
in a fresh working folder, each under 30 s (a watchdog stops a hang at 60 s).

Options whose *valid* values can cost minutes (``--patients``, ``--evaluations``, ``--particles``,
...) are mutated within their cheap valid range or outside the allowed range, never to an allowed
but large value; the capacity limits themselves are tested in ``tests/interfaces`` and
``tests/population``. ``ketasim calibrate`` runs with the fit itself replaced by a stand-in that
writes its three files (a real fit takes minutes; its options, the checks of ``--out`` and the
resumable work folder are what is fuzzed here; the fit is tested in ``tests/evidence``), and
``--install`` of both calibrations is always refused here (no editable checkout), so that a fuzz
run never writes a shipped file. Arguments never hold NUL: a command line cannot carry one.

The default run is a seeded, bounded share (``CI_EXAMPLES`` inputs, the same number for every
command); ``-m fuzz_long`` runs ``LONG_EXAMPLES`` of them.
"""

from __future__ import annotations

import io
import os
import signal
import sys
import tempfile
import time
from contextlib import redirect_stderr, redirect_stdout
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, seed, settings
from hypothesis import strategies as st

from ketasim.interfaces.cli import main

CI_EXAMPLES = 120
LONG_EXAMPLES = 1200
LIMIT_S = 30.0
WATCHDOG_S = 60

EXAMPLES = Path(str(resources.files("ketasim").joinpath("examples")))
PLAN = str(EXAMPLES / "single-infusion.yaml")
HISTORY = str(EXAMPLES / "histories" / "bridge-case.csv")
NONMEM = "nonmem.csv"  # written into each run's folder by _fixtures
NONMEM_TEXT = ("ID,TIME,EVID,AMT,RATE,CMT,MDV,DV,SCALE,WT\n1,0,0,0,.,.,0,20,PHQ-9,70\n"
               "1,9,1,35,52.5,2,1,.,.,70\n1,33,0,0,.,.,0,12,PHQ-9,70\n")

# --- value pools -------------------------------------------------------------------------------------------

JUNK = st.sampled_from(["", " ", "abc", "1.5", "1e3", "0x10", "+5", "-0", "007", "nan", "NaN", "inf", "-inf",
                        "1e309", "-1e309", "99999999999999999999999999", "-99999999999999999999999999",
                        "\u0661\u0662", "\u00bd", "--", "-", "=", "k=v", "\x7f", "\t", "\n", "\u202e",
                        "é" * 300, "9" * 400])
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)


def ints(lo: int, hi: int, *bad: int) -> st.SearchStrategy[str]:
    """Cheap valid integers lo..hi, the given invalid edges, junk and text."""
    return st.one_of(st.integers(lo, hi).map(str), st.sampled_from([str(b) for b in bad]), JUNK, TEXT)


def any_ints(lo: int, hi: int) -> st.SearchStrategy[str]:
    """Integers whose every valid value is cheap (seeds): anything, with the range edges."""
    edges = [str(v) for v in (lo - 1, lo, hi, hi + 1)] + ["1_000", "4_294_967_296"]  # int() reads underscores
    return st.one_of(st.integers(-(2**70), 2**70).map(str), st.sampled_from(edges), JUNK)


def floats(lo: float, hi: float, *bad: float) -> st.SearchStrategy[str]:
    return st.one_of(st.floats(lo, hi, allow_nan=False).map(repr), st.sampled_from([repr(b) for b in bad]),
                     st.floats(allow_nan=True, allow_infinity=True).map(repr), JUNK, TEXT)


def keyvalues(keys: list[str], values: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    key = st.one_of(st.sampled_from(keys), st.sampled_from(["", " ", "x", "K_FORM", "k_form "]), TEXT)
    return st.one_of(st.tuples(key, values).map(lambda kv: f"{kv[0]}={kv[1]}"), JUNK, TEXT)


def dates() -> st.SearchStrategy[str]:
    return st.one_of(st.dates().map(lambda d: d.isoformat()), st.integers(-500, 1000).map(str),
                     st.sampled_from(["2025-02-30", "2025-13-01", "0000-01-01", "9999-12-31", "2025-01-06T09:00",
                                      "06/01/2025", "today", "1e9", "nan"]), JUNK)


OUTPUTS = st.sampled_from(["out", "a/b/out", "afile", "afile/out", "adir", "n" * 300, "/sys/ketasim-fuzz", ".",
                           "..", "", " ", "out\n", "~", "plan-copy.yaml", "-", str(EXAMPLES / "fuzz-out")])
PLANS = st.sampled_from([PLAN, "missing.yaml", "adir", "afile", "empty.yaml", "bad.yaml", HISTORY, "", "-",
                         str(EXAMPLES / "daily-dosing-tolerance.yaml")])
PARAMS = ["k_form", "k_prune", "k_hom", "beta", "kappa_G", "k_T_on", "fu", "ke0", "nonexistent"]
PARAM_VALUES = st.one_of(st.floats(0, 2, allow_nan=False).map(repr), st.sampled_from(["-1", "0", "1e9", "nan"]),
                         JUNK)
SPREADS = ["k_form", "k_prune", "baseline_madrs", "chronic_load", "pk_cl", "acute_load_scale", "k_G", "nope"]
TARGETS = ["zarate06-r1", "murrough13a-r1", "murrough13a-d1", "nope", "zarate06"]
STUDIES = st.one_of(st.sampled_from(["murrough13a", "zarate06", "murrough13a,zarate06", "nope", ",", " , ",
                                     "murrough13a,,", "MURROUGH13A"]), TEXT)
LAYERS = st.one_of(st.sampled_from(["", "synapses", "exposure", "exposure:kamp2020", "population", "nonexistent",
                                    "SYNAPSES", " synapses"]), TEXT)
FLAG = st.just(None)
SCALES = st.one_of(st.sampled_from(["madrs", "PHQ-9", "phq9", "QIDS-SR16", "HDRS-17", "hamd", ""]), TEXT)
DATASETS = st.sampled_from(["d.nc", "d.zarr", "D.NC", "d.txt", "d", "", "afile", "adir", "out/d.nc", "out",
                            "a/b/d.zarr", "n" * 300 + ".nc", str(EXAMPLES / "fuzz-out.nc")])
FILES = st.sampled_from(["data.csv", "a/b/data.csv", "afile", "adir", "afile/x.csv", "n" * 300, "", "out",
                         "plan-copy.yaml", str(EXAMPLES / "fuzz-out")])

# command -> (base arguments, {option: values}); "ARG" replaces the first positional argument.
OPTIONS: dict[str, tuple[list[str], dict[str, st.SearchStrategy]]] = {
    "params": (["params", "--json"], {"--layer": LAYERS, "--json": FLAG}),
    "simulate": (["simulate", PLAN, "--out", "out"],
                 {"ARG": PLANS, "--out": OUTPUTS, "--method": st.one_of(st.sampled_from(["fast", "reference"]), JUNK),
                  "--param": keyvalues(PARAMS, PARAM_VALUES), "--force": FLAG, "--nonmem-out": FILES,
                  "--nonmem-scale": SCALES, "--nonmem-noise": FLAG}),
    "explain": (["explain", PLAN, "--json"],
                {"ARG": PLANS, "--from": dates(), "--to": dates(), "--param": keyvalues(PARAMS, PARAM_VALUES)}),
    "demo": (["demo", "--only", "single-infusion", "--out", "out"],
             {"--only": st.one_of(st.sampled_from(["single-infusion", "nope", ""]), TEXT), "--out": OUTPUTS,
              "--embed": FLAG}),
    "population": (["population", PLAN, "-n", "20", "--no-figures", "--out", "out"],
                   {"ARG": PLANS, "--patients": ints(1, 200, -1, 0, 10_000_001, 10**30),
                    "--seed": any_ints(0, 2**32 - 1),
                    "--chunk-size": ints(1, 300, -1, 0, 65_537), "--out": OUTPUTS,
                    "--param": keyvalues(PARAMS, PARAM_VALUES),
                    "--omega": keyvalues(SPREADS, st.one_of(st.floats(0, 2).map(repr), JUNK,
                                                            st.sampled_from(["100", "-1", "15", "16"]))),
                    "--scheduler": st.one_of(st.sampled_from(["foo", "tcp://", "tcp://host", "tcp://h:0",
                                                              "tcp://h:99999", "http://h:8786", "tcp://h:-1"]), TEXT),
                    "--no-figures": FLAG, "--netcdf": DATASETS, "--nonmem-out": FILES, "--nonmem-scale": SCALES,
                    "--nonmem-noise": FLAG, "--force": FLAG, "--draws": ints(1, 4, 0, -1, 10_001),
                    "--typical": FLAG}),
    "trials": (["trials", "--studies", "murrough13a", "--n", "20", "--json"],
               {"--studies": STUDIES, "--n": ints(0, 40, -1, 100_001), "--seed": any_ints(0, 2**32 - 1),
                "--report": OUTPUTS, "--sensitivity-n": ints(0, 0, -1, 4097), "--other-cohorts": ints(0, 1, -1, 51),
                "--study": st.sampled_from(["missing.yaml", "adir", "afile", "empty.yaml", "bad.yaml", PLAN]),
                "--nonmem-out": FILES, "--nonmem-noise": FLAG, "--draws": ints(1, 2, 0, -1, 10_001),
                "--typical": FLAG}),
    "calibrate-bands": (["calibrate-bands", "--studies", "murrough13a", "--n", "20", "--evaluations", "2",
                         "--no-profile", "--out", "cal.json"],
                  {"--coarse-evaluations": ints(0, 3, -1, 100_001), "--evaluations": ints(1, 3, -1, 0, 100_001),
                   "--minutes": floats(0.05, 5, 0.0, -1.0, 10_081.0), "--n": ints(10, 30, -1, 100_001),
                   "--seed": any_ints(0, 2**32 - 1), "--optimiser-seed": any_ints(1, 2**32 - 1),
                   "--popsize": ints(2, 5, -3, 1, 1001), "--sigma": floats(0.01, 1, 0.0, -0.5, 1.5),
                   "--fine-sigma": floats(0.01, 1, 0.0, 2.0), "--studies": STUDIES,
                   "--weight": keyvalues(TARGETS, PARAM_VALUES), "--out": OUTPUTS,
                   "--start": st.sampled_from(["missing.json", "adir", "afile", "empty.yaml", PLAN]),
                   "--from-declared": FLAG, "--from-shipped": FLAG, "--install": FLAG,
                   "--replace-posterior-median": FLAG}),
    "calibrate": (["calibrate", "--out", "out", "--waves", "2,2", "--validation", "0", "--steps", "10", "--draws", "1"],
                  {"--waves": st.one_of(st.sampled_from(["2,2", "300,200,200", "1,2", "2,,2", "20001", "a", "", ",",
                                                         ",".join(["2"] * 11), "2, 3", "-2"]), JUNK, TEXT),
                   "--validation": ints(0, 3, -1, 10_001), "--steps": ints(10, 20, 9, -1, 10_000_001),
                   "--draws": ints(1, 3, 0, -1, 100_001), "--n": ints(0, 3, -1, 100_001),
                   "--seed": any_ints(0, 2**32 - 1), "--design-seed": any_ints(0, 2**32 - 1), "--out": OUTPUTS,
                   "--restart": FLAG, "--install": FLAG, "--force": FLAG}),
    "posterior": (["posterior", "--summary"],
                  {"--path": st.sampled_from(["missing.parquet", "adir", "afile", "empty.yaml", PLAN, ""]),
                   "--json": FLAG, "--no-summary": FLAG}),
    "import-nonmem": (["import-nonmem", NONMEM, "--out", "out"],
                      {"ARG": st.sampled_from([NONMEM, "missing.csv", "adir", "afile", "empty.yaml", PLAN, HISTORY]),
                       "--start": st.one_of(dates(), st.sampled_from(["2025-01-06 09:00", "2025-01-06 25:00"])),
                       "--horizon-days": floats(1, 60, 0.5, 0.0, 3651.0, -1.0), "--allow-off-label": FLAG,
                       "--out": OUTPUTS, "--force": FLAG}),
    "forecast": (["forecast", HISTORY, "--particles", "100", "--horizon", "28", "--out", "out"],
                 {"ARG": st.sampled_from([HISTORY, "missing.csv", "adir", "afile", "empty.yaml", PLAN]),
                  "--risk": floats(0.01, 0.99, 0.0, 1.0, -0.1, 2.0), "--horizon": ints(14, 40, 13, 731, -1),
                  "--particles": ints(100, 200, 99, 100_001, -1), "--every": floats(1, 180, 0.5, 181, -7),
                  "--seed": any_ints(0, 2**32 - 1), "--today": dates(), "--out": OUTPUTS,
                  "--dose-mg": floats(10, 70, 0.0, -35.0, 1e6), "--draws": ints(1, 5, 0, -1, 401),
                  "--typical": FLAG}),
    "policies": (["policies", "--patients", "2", "--particles", "8", "--no-therapy", "--out", "out"],
                 {"--patients": ints(2, 3, 1, 0, 2_001), "--particles": ints(8, 10, 7, 513),
                  "--seed": any_ints(0, 2**32 - 1), "--out": OUTPUTS, "--therapy": FLAG}),
    "export-sbml": (["export-sbml", PLAN, "-o", "model.xml"], {"ARG": PLANS, "--output": OUTPUTS, "--check": FLAG}),
    "claims": (["claims", "--draws", "2"],
               {"--draws": ints(1, 3, 0, -1, 10_001), "--typical": FLAG, "--seed": any_ints(0, 2**32 - 1),
                "--json": FLAG, "--out": st.sampled_from(["claims.md", "a/b/claims.md", "afile", "adir", "afile/x.md",
                                                          "", "n" * 300, str(EXAMPLES / "fuzz-out.md")])}),
}
# `ketasim clinic` is a group of long-running subcommands (serve, a demo database); tests/clinic/test_clinic_cli.py
# tests its options.
NOT_FUZZED = {"clinic", "warmup"}  # warmup takes no options or arguments


@st.composite
def invocations(draw, command: str) -> list[str]:
    base, options = OPTIONS[command]
    args = list(base)
    names = sorted(options)
    count = draw(st.integers(1, min(3, len(names))))
    for name in draw(st.permutations(names))[:count]:  # distinct options, drawn without rejections
        value = draw(options[name])
        if name == "ARG":
            args[1] = value
        elif value is None:
            args.append(name)
        elif draw(st.integers(0, 19)) == 0:
            args.append(name)  # an option without its value
        else:
            args += [name, value]
    return args


def _fixtures(folder: Path) -> None:
    (folder / "afile").write_text("not a folder\n")
    (folder / "adir").mkdir()
    (folder / "empty.yaml").write_text("")
    (folder / "bad.yaml").write_text("name: [unclosed\n")
    (folder / "plan-copy.yaml").write_text(Path(PLAN).read_text())
    (folder / NONMEM).write_text(NONMEM_TEXT)


class Hang(BaseException):
    """Raised by the watchdog (a BaseException, so that no ``except Exception`` in the code under test hides it)."""


def _watchdog(signum, frame):
    raise Hang(f"no answer after {WATCHDOG_S} s")


def check(args: list[str]) -> None:
    """Run one invocation; assert exit 0, or 2 with exactly one ``error:`` line last on stderr; no traceback."""
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="ketasim-fuzz-") as tmp:
        folder = Path(tmp)
        _fixtures(folder)
        os.chdir(folder)
        out, err = io.StringIO(), io.StringIO()
        old = signal.signal(signal.SIGALRM, _watchdog)
        signal.alarm(WATCHDOG_S)
        start = time.monotonic()
        argv = sys.argv
        try:
            sys.argv = ["ketasim", *args]
            with redirect_stdout(out), redirect_stderr(err):
                try:
                    main(list(args))
                    code = 0
                except SystemExit as exc:
                    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)
            sys.argv = argv
            os.chdir(cwd)
        seconds = time.monotonic() - start
    text = err.getvalue()
    where = f"ketasim {' '.join(repr(a) for a in args)}"
    assert seconds < LIMIT_S, f"{where}: {seconds:.1f} s"
    assert "Traceback" not in text, f"{where}:\n{text}"
    assert code in (0, 2), f"{where}: exit {code}\n{text}"
    if code == 2:
        lines = [ln for ln in text.splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("error: ")]
        assert len(errors) == 1 and lines[-1] == errors[0], f"{where}:\n{text}"
    assert not (EXAMPLES / "fuzz-out").exists()
    event(f"{args[0]}: exit {code}")


FUZZ_SETTINGS = {"deadline": None, "database": None, "derandomize": False, "print_blob": True,
                 "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large]}


def fake_fit(out, config, *, resume=False, command="", progress=None, **kwargs):
    """Stands in for ``ketasim.evidence.fit.run_fit``: writes the fit's three files into ``out``."""
    for name in ("posterior.parquet", "posterior.json", "calibrated.json"):
        (out / name).write_text("{}\n")
    return {"simulations": 0, "seconds": {"wall_total": 0.0, "cpu_total": 0.0},
            "validation": {"share_within_2sd": float("nan"), "draws_simulated": 0}}


@pytest.fixture(autouse=True)
def no_real_fit_and_no_install(monkeypatch):
    monkeypatch.setattr("ketasim.evidence.fit.run_fit", fake_fit)
    monkeypatch.setattr("ketasim.interfaces.commands.calibrate._editable_root", lambda: None)


@pytest.mark.parametrize("command", sorted(OPTIONS))
def test_mutated_options_exit_0_or_2_with_one_error_line(command):
    run = seed(20251203)(settings(max_examples=CI_EXAMPLES // len(OPTIONS), **FUZZ_SETTINGS)(
        given(args=invocations(command))(check)))
    run()


@pytest.mark.fuzz_long
@pytest.mark.parametrize("command", sorted(OPTIONS))
def test_mutated_options_long(command):
    run = seed(91)(settings(max_examples=LONG_EXAMPLES // len(OPTIONS), **FUZZ_SETTINGS)(
        given(args=invocations(command))(check)))
    run()


def test_every_command_is_fuzzed():
    from typer.main import get_command

    from ketasim.interfaces.cli import app

    commands = set(get_command(app).commands)
    assert commands - NOT_FUZZED == set(OPTIONS), sorted(commands ^ (set(OPTIONS) | NOT_FUZZED))
