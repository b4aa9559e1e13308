"""The clinic commands: init, create-user, backup, restore (serve is exercised by the durability and browser tests)."""

from __future__ import annotations

import ast
from pathlib import Path

from typer.testing import CliRunner

from ketasim.interfaces.cli import app

SRC = Path(__file__).parents[2] / "src" / "ketasim"


def run(*args: str, stdin: str | None = None):
    return CliRunner().invoke(app, list(args), input=stdin, catch_exceptions=False)


def test_init_create_user_backup_restore(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    r = run("clinic", "init", "--db", url, "--timezone", "Europe/Vienna", "--name", "Test clinic")
    assert r.exit_code == 0 and "ready" in r.output
    assert run("clinic", "init", "--db", url).exit_code == 0  # again: nothing overwritten
    r = run("clinic", "create-user", "doc@x.org", "--role", "clinician", "--password-stdin", "--db", url,
            stdin="a long enough password\n")
    assert r.exit_code == 0 and "doc@x.org (clinician) created" in r.output
    out = tmp_path / "b.json"
    r = run("clinic", "backup", "--out", str(out), "--db", url)
    assert r.exit_code == 0 and out.exists()
    url2 = f"sqlite:///{tmp_path / 'd.db'}"
    r = run("clinic", "restore", str(out), "--db", url2)
    assert r.exit_code == 0 and "restored" in r.output
    from ketasim.clinic.db import Database
    from ketasim.clinic.models import ClinicSettings, User

    with Database(url2).read() as s:
        assert s.get(ClinicSettings, 1).timezone == "Europe/Vienna"
        assert [u.email for u in s.query(User)] == ["doc@x.org"]


def test_user_mistakes_are_one_line_errors(tmp_path, capsys, monkeypatch):
    import io

    import pytest

    from ketasim.interfaces.cli import main

    url = f"sqlite:///{tmp_path / 'c.db'}"
    cases = [["clinic", "init", "--db", url, "--timezone", "Mars/Olympus"],
             ["clinic", "init", "--db", "mysql://x"],
             ["clinic", "create-user", "doc@x.org", "--role", "boss", "--password-stdin", "--db", url],
             ["clinic", "restore", str(tmp_path / "none.json"), "--db", url],
             ["clinic", "serve", "--db", f"sqlite:///{tmp_path / 'empty.db'}", "--port", "8799"]]
    for argv in cases:
        import sys

        monkeypatch.setattr(sys, "stdin", io.StringIO("a long enough password\n"))
        old = sys.argv
        sys.argv = ["ketasim", *argv]
        try:
            with pytest.raises(SystemExit) as exc:
                main()
        finally:
            sys.argv = old
        err = capsys.readouterr().err
        assert exc.value.code == 2 and err.startswith("error: ") and err.count("\n") == 1, (argv, err)


def test_nothing_below_the_clinic_imports_it():
    offenders = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC)
        if rel.parts[0] == "clinic" or rel.as_posix() == "interfaces/commands/clinic.py":
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n == "ketasim.clinic" or n.startswith("ketasim.clinic.") for n in names):
                offenders.append(str(rel))
    assert offenders == []


def test_migrations_ship_as_package_data():
    import tomllib

    cfg = tomllib.loads((SRC.parents[1] / "pyproject.toml").read_text())
    data = cfg["tool"]["setuptools"]["package-data"]["ketasim"]
    for pattern in ("clinic/templates/*.html", "clinic/static/*", "clinic/migrations/*.py", "clinic/migrations/*.mako",
                    "clinic/migrations/versions/*.py"):
        assert pattern in data
    assert (SRC / "clinic" / "migrations" / "script.py.mako").exists()
    test_extras = [r for r in cfg["project"]["optional-dependencies"]["test"] if r.startswith("ketasim[")]
    assert any("clinic" in r.split("[", 1)[1].rstrip("]").split(",") for r in test_extras)
