"""The evidence base: every file loads, the fit rules hold, bad files are refused with file, line and field,
and the files ship in the wheel."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ketasim.errors import PlanError
from ketasim.evidence import fitted_observations, load_evidence, usage
from ketasim.evidence.loader import parse_evidence
from ketasim.trials.targets import TARGETS

ROOT = Path(__file__).resolve().parents[2]


def test_every_clinical_target_is_an_observation_of_the_evidence_base():
    linked = {o.target for s in load_evidence().values() for o in s.observations() if o.target}
    assert linked == {t.id for t in TARGETS}


def test_fit_rules():
    ev = load_evidence()
    for st in ev.values():
        for o in st.observations():
            u = usage(st, o)
            if o.tag == "U":
                assert not u.fitted
            if (o.scale or st.scale) not in ("madrs", "hdrs17", "hdrs21", "qids_sr16", "phq9"):
                assert not u.fitted and "scale" in u.reason
            if u.fitted and o.tag == "S":
                assert u.variance_factor == 2.0
            if u.fitted and o.tag in ("V", "D"):
                assert u.variance_factor == 1.0
    fitted = fitted_observations()
    studies = {s.study for s, _, _ in fitted}
    # every study of the clinical targets and the placebo-controlled esketamine and midazolam trials are fitted
    assert {"zarate06", "murrough13a", "sustain1", "daly2018", "transform12", "transform3", "japan2021",
            "taiwan2023"} <= studies
    # the SSI outcomes of Grunebaum 2018 are recorded, never fitted
    gr = ev["grunebaum2018"]
    assert all(not usage(gr, o).fitted for o in gr.observations())
    # every file lists what it excludes and why (possibly nothing)
    assert all(hasattr(s, "excluded") for s in ev.values())


def test_placebo_arms_are_in_the_evidence_base():
    settings = {a.setting for s in load_evidence().values() for a in s.arms}
    assert {"saline", "midazolam", "placebo_spray"} <= settings


BAD = textwrap.dedent("""\
    study: bad
    citation: x
    read_in: [x]
    design: x
    population: x
    scale: madrs
    simulated_by: builtin
    arms:
      - id: a
        description: x
        n: 10
        n_tag: V
        n_source: x
        setting: open
        observations:
          - {id: o1, kind: response, value: 50, n: 10, tag: Q, source: x}
    """)


def test_a_bad_field_is_named_with_file_and_line():
    with pytest.raises(PlanError) as info:
        parse_evidence(BAD, file="bad.yaml")
    msg = str(info.value)
    assert "bad.yaml" in msg and "line 16" in msg and "arms.0.observations.0.tag" in msg


def test_unknown_field_and_count_above_n_are_refused():
    with pytest.raises(PlanError, match="Extra inputs"):
        parse_evidence(BAD.replace("tag: Q", "tag: V, colour: red"), file="bad.yaml")
    with pytest.raises(PlanError, match="larger than n"):
        parse_evidence(BAD.replace("value: 50", "count: 12").replace("tag: Q", "tag: V"), file="bad.yaml")


def test_invalid_yaml_names_the_line():
    with pytest.raises(PlanError, match="line"):
        parse_evidence("study: [unclosed\n", file="broken.yaml")


def test_evidence_files_ship_in_the_wheel(tmp_path):
    """Build the wheel, install it into an empty folder, and load the evidence base from there."""
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(wheels), str(ROOT)], check=True, capture_output=True)
    target = tmp_path / "site"
    wheel = next(wheels.glob("ketasim-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    code = ("import ketasim, sys; from ketasim.evidence import load_evidence, fitted_observations; "
            "assert ketasim.__file__.startswith(sys.argv[1]), ketasim.__file__; "
            "print(len(load_evidence()), len(fitted_observations()))")
    out = subprocess.run([sys.executable, "-c", code, str(target)], check=True, capture_output=True, text=True,
                         env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}, cwd=tmp_path)
    n_files, n_fitted = map(int, out.stdout.split())
    assert n_files == len(load_evidence()) and n_fitted == len(fitted_observations())
