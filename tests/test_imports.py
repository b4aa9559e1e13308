"""Every module imports in a fresh interpreter, whatever is imported first (no import cycles)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import ketasim

SRC = Path(ketasim.__file__).resolve().parent.parent


def test_simulate_command_imports_first_in_a_fresh_interpreter():
    code = "from ketasim.interfaces.commands.simulate import run_simulation; print(run_simulation.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(SRC), "PATH": ""}, cwd="/")
    assert out.returncode == 0 and out.stdout.strip() == "run_simulation", out.stderr


def test_every_command_module_imports_first():
    names = [p.stem for p in (SRC / "ketasim" / "interfaces" / "commands").glob("*.py") if p.stem != "__init__"]
    code = ("import importlib, subprocess, sys\n"
            f"for n in {names!r}:\n"
            "    r = subprocess.run([sys.executable, '-c', f'import ketasim.interfaces.commands.{n}'],\n"
            "                       capture_output=True, text=True)\n"
            "    assert r.returncode == 0, (n, r.stderr[-500:])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={"PYTHONPATH": str(SRC), "PATH": ""}, cwd="/")
    assert out.returncode == 0, out.stderr[-2000:]
