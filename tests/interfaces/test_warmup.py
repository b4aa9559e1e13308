"""``ketasim warmup`` and the first-run message: the marker in numba's cache folder, when the CLI compiles,
and that ``import ketasim`` leaves numba unloaded (start-up time)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ketasim import _numba_cache
from ketasim.engine import warmup
from ketasim.interfaces.commands import warmup as warmup_cmd


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv(_numba_cache.PARENT_VARIABLE, str(tmp_path))
    monkeypatch.setattr(sys.modules["numba"].config if "numba" in sys.modules else _numba_cache, "CACHE_DIR", "",
                        raising=False)
    return tmp_path


def test_cache_folder_is_keyed_on_the_source_and_not_nested_again(cache):
    folder = _numba_cache.cache_dir()
    assert os.path.dirname(folder) == str(cache)
    _numba_cache.configure()  # what a child process inherits: the folder in NUMBA_CACHE_DIR, the parent kept
    assert _numba_cache.cache_dir() == folder


def test_warm_up_runs_every_engine_and_leaves_the_marker(cache, monkeypatch):
    ran = []
    monkeypatch.setattr(warmup, "ENGINES", {"a": lambda: ran.append("a"), "b": lambda: ran.append("b")})
    assert not warmup.is_warm()
    seconds = warmup.warm_up()
    assert ran == ["a", "b"] and set(seconds) == {"a", "b"}
    assert warmup.is_warm()


def test_cli_compiles_once_with_one_line_before_a_simulating_command(cache, monkeypatch, capsys):
    from rich.console import Console

    calls = []
    warmup_cmd.compile_if_needed(["simulate", "plan.yaml"])  # stderr not a terminal: nothing compiled up front
    assert calls == [] and capsys.readouterr().err == ""
    monkeypatch.setattr(Console, "is_terminal", property(lambda self: True))
    monkeypatch.setattr(warmup, "ENGINES", {"x": lambda: calls.append(1)})
    warmup_cmd.compile_if_needed(["params"])  # answers without compiled code
    warmup_cmd.compile_if_needed(["simulate", "--help"])
    assert calls == [] and capsys.readouterr().err == ""
    warmup_cmd.compile_if_needed(["simulate", "plan.yaml"])
    assert calls == [1]
    assert warmup_cmd.COMPILING in capsys.readouterr().err
    warmup_cmd.compile_if_needed(["population", "plan.yaml"])  # warm now: nothing compiled, nothing said
    assert calls == [1] and capsys.readouterr().err == ""


def test_import_ketasim_does_not_load_numba():
    code = "import sys, ketasim, ketasim.interfaces.cli; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert out.stdout.strip() == "False"
