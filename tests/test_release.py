"""Release files: the licence matches pyproject.toml, the version has one source, --version prints it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml
from typer.testing import CliRunner

import ketasim
from ketasim.interfaces.cli import app

ROOT = Path(__file__).resolve().parents[1]


def test_licence_file_matches_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"]["text"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_version_has_one_source() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "ketasim.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", ketasim.__version__)


def test_citation_and_changelog_name_the_version() -> None:
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["license"] == "MIT"
    assert cff["version"] == ketasim.__version__
    assert f"## [{ketasim.__version__}]" in (ROOT / "CHANGELOG.md").read_text()


def test_version_option_prints_the_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"ketasim {ketasim.__version__}"
