"""Outputs written safely: ``output_folder`` and ``output_file`` (complete or nothing, checked before any work)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ketasim.errors import OutputError
from ketasim.interfaces.outputs import (
    MANIFEST,
    PARTIAL_PREFIX,
    REPLACED_PREFIX,
    _temporary_name,
    output_file,
    output_folder,
    package_folder,
    read_manifest,
)


def snapshot(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 (or the link target for a symlink) of everything under ``folder``."""
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if p.is_symlink():
            out[rel] = "-> " + os.readlink(p)
        elif p.is_file():
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith((PARTIAL_PREFIX, REPLACED_PREFIX)))


def write_run(out: Path, text: str = "one") -> None:
    with output_folder(out) as tmp:
        (tmp / "a.txt").write_text(text)
        (tmp / "sub").mkdir()
        (tmp / "sub" / "b.txt").write_text(text * 2)


def test_a_complete_run_appears_with_its_manifest_and_nothing_beside_it(tmp_path):
    out = tmp_path / "deep" / "out"
    with output_folder(out) as tmp:
        assert tmp.parent == out.parent and tmp.name.startswith(PARTIAL_PREFIX)
        assert not out.exists()  # nothing at --out while the run is under way
        (tmp / "a.txt").write_text("x")
    assert (out / "a.txt").read_text() == "x"
    record = read_manifest(out)
    assert record["complete"] is True and record["files"] == ["a.txt"] and record["written_by"].startswith("ketasim")
    assert leftovers(out.parent) == []
    mask = os.umask(0)
    os.umask(mask)
    assert (out.stat().st_mode & 0o777) == (0o777 & ~mask)


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_an_interrupted_run_leaves_the_previous_outputs_untouched(tmp_path, error):
    out = tmp_path / "out"
    write_run(out)
    before = snapshot(out)
    with pytest.raises(type(error)) as info:
        with output_folder(out) as tmp:
            (tmp / "a.txt").write_text("two")
            raise error
    assert snapshot(out) == before
    assert leftovers(tmp_path) == []
    assert any("nothing was written" in n and "earlier run finished" in n for n in info.value.__notes__)


def test_an_interrupted_first_run_leaves_nothing(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(RuntimeError):
        with output_folder(out) as tmp:
            (tmp / "a.txt").write_text("half")
            raise RuntimeError("boom")
    assert not out.exists() and leftovers(tmp_path) == []


def test_an_earlier_output_is_replaced_as_a_whole(tmp_path):
    out = tmp_path / "out"
    write_run(out)
    with output_folder(out) as tmp:
        (tmp / "c.txt").write_text("new")
    assert sorted(snapshot(out)) == sorted(["c.txt", MANIFEST])  # no file of the earlier run survives
    assert leftovers(tmp_path) == []


def refused(path, **kw) -> OutputError:
    ran = []
    with pytest.raises(OutputError) as info:
        with output_folder(path, **kw):
            ran.append(True)
    assert not ran  # refused before the block (the work) starts
    return info.value


def test_a_file_a_long_name_a_long_path_and_an_unwritable_place_are_refused_at_once(tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("keep")
    assert "a folder (this is a file)" in str(refused(f))
    assert f.read_text() == "keep"
    assert "at most 255 bytes" in str(refused(tmp_path / ("x" * 300)))
    deep = tmp_path.joinpath(*["d" * 200] * 21)
    assert "a path of at most" in str(refused(deep))
    inside_file = f / "out"
    assert "can be created" in str(refused(inside_file)) or "not a folder" in str(refused(inside_file))
    if Path("/sys/kernel").is_dir():  # a read-only place even for root
        err = refused(Path("/sys/ketasim-test-out"))
        assert "--out" in str(err) and "/sys/ketasim-test-out" in str(err)
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can write a read-only folder")
def test_a_read_only_folder_is_refused(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        assert "write" in str(refused(ro / "out"))
    finally:
        ro.chmod(0o755)


def test_a_folder_holding_files_ketasim_did_not_write_needs_force(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("precious")
    err = refused(out)
    assert "notes.txt" in str(err) and "--force" in str(err)
    assert (out / "notes.txt").read_text() == "precious"
    write_run(tmp_path / "run")
    (tmp_path / "run" / "added-later.csv").write_text("mine")
    assert "added-later.csv" in str(refused(tmp_path / "run"))
    with output_folder(out, force=True) as tmp:
        (tmp / "a.txt").write_text("x")
    assert sorted(snapshot(out)) == ["a.txt", MANIFEST]
    empty = tmp_path / "empty"
    empty.mkdir()
    write_run(empty)  # an empty folder is fine without force
    assert (empty / "a.txt").exists()


def test_symlinks_planted_in_the_old_output_are_never_followed(tmp_path):
    out = tmp_path / "out"
    write_run(out)
    victim = tmp_path / "victim.txt"
    victim.write_text("outside")
    victim_dir = tmp_path / "victim-dir"
    victim_dir.mkdir()
    (victim_dir / "keep.txt").write_text("outside too")
    (out / "a.txt").unlink()
    (out / "a.txt").symlink_to(victim)  # a listed file replaced by a link to a file outside
    shutil.rmtree(out / "sub")
    (out / "sub").symlink_to(victim_dir, target_is_directory=True)
    write_run(out, "two")
    assert victim.read_text() == "outside" and (victim_dir / "keep.txt").read_text() == "outside too"
    assert not (out / "a.txt").is_symlink() and (out / "a.txt").read_text() == "two"
    assert not (out / "sub").is_symlink() and (out / "sub" / "b.txt").read_text() == "twotwo"


def test_the_working_folder_its_parents_home_and_the_package_are_refused(tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for p in (Path("."), tmp_path, Path.home()):
        assert "working folder" in str(refused(p, force=True))
    pkg = package_folder()
    assert "installed ketasim package" in str(refused(pkg / "data" / "out", force=True))
    assert "installed ketasim package" in str(refused(pkg.parent, force=True))


def test_a_folder_holding_an_input_of_the_run_is_refused(tmp_path):
    plan = tmp_path / "out" / "plan.yaml"
    plan.parent.mkdir()
    plan.write_text("x")
    assert "plan.yaml" in str(refused(tmp_path / "out", inputs=[plan], force=True))
    with pytest.raises(OutputError, match="input"):
        with output_file(plan, inputs=[plan]):
            pass
    assert plan.read_text() == "x"


def test_temporary_folders_of_dead_processes_are_removed_and_live_ones_kept(tmp_path):
    child = subprocess.Popen(["true"])
    child.wait()
    dead = _temporary_name(PARTIAL_PREFIX).rsplit("-", 2)[0] + f"-{child.pid}-abcd1234"
    (tmp_path / dead).mkdir()
    (tmp_path / dead / "half.csv").write_text("x")
    alive = _temporary_name(PARTIAL_PREFIX)  # this process
    (tmp_path / alive).mkdir()
    other_host = f"{PARTIAL_PREFIX}zzzzzz-{child.pid}-abcd1234"
    (tmp_path / other_host).mkdir()
    write_run(tmp_path / "out")
    assert leftovers(tmp_path) == sorted([alive, other_host])


def test_output_file_replaces_the_file_only_when_complete(tmp_path):
    target = tmp_path / "sub" / "calibrated.json"
    with output_file(target) as tmp:
        assert tmp.parent == target.parent and not target.exists()
        tmp.write_text('{"v": 1}')
    assert json.loads(target.read_text()) == {"v": 1}
    with pytest.raises(RuntimeError):
        with output_file(target) as tmp:
            tmp.write_text('{"v": 2')
            raise RuntimeError("interrupted")
    assert json.loads(target.read_text()) == {"v": 1}
    assert leftovers(target.parent) == []
    with pytest.raises(OutputError, match="a file"):
        with output_file(tmp_path):
            pass
    with pytest.raises(OutputError, match="installed ketasim package"):
        with output_file(package_folder() / "data" / "calibrated.json"):
            pass


def test_a_full_disk_while_writing_is_a_clean_error_and_leaves_nothing(tmp_path):
    import errno

    out = tmp_path / "out"
    write_run(out)
    before = snapshot(out)
    with pytest.raises(OutputError, match="room for the outputs") as info:
        with output_folder(out) as tmp:
            (tmp / "a.txt").write_text("partial")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert snapshot(out) == before and leftovers(tmp_path) == []
    assert any("earlier run finished" in n for n in info.value.__notes__)
