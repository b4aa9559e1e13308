"""Outputs written safely: a command's folder (or file) appears complete, or not at all.

``with output_folder(out, force=False) as tmp:`` checks before any work that ``out`` can be
written, yields a fresh temporary folder beside it (``.ketasim-partial-<pid>-<random>``) and,
only when the block ends without an exception, writes the manifest ``ketasim-run.json`` (what
wrote the folder, when, and every file in it) and renames the folder into place. So:

* an ``out`` that is a file, cannot be written, has a name or path too long, is the working folder
  or one of its parents, lies in the installed package or holds an input of the run is refused at
  once (:class:`~ketasim.errors.OutputError`), before the simulation runs;
* an existing ``out`` is replaced as a whole, and only if it is empty or a complete earlier ketasim
  output (its manifest lists everything in it); a folder holding anything else is refused unless
  ``force=True``;
* symlinks are never followed: nothing is written into the old folder, and deleting it removes a
  planted link, never its target;
* an exception, KeyboardInterrupt or SIGTERM (the CLI turns it into an exception) before the end
  removes the temporary folder and leaves ``out`` as it was; the swap itself runs with SIGINT and
  SIGTERM held, so an interrupt never lands between the two renames; a process killed outright
  leaves only a hidden ``.ketasim-partial-*`` folder, removed by the next run in the same place.

:func:`output_file` does the same for one file (``calibrate --out``, ``export-sbml -o``): a
temporary file beside the target, ``os.replace`` into place when complete. :func:`resumable_folder`
keeps the work folder ``OUT.partial`` of an interrupted run for the next run to continue (``ketasim
calibrate``). :func:`output_set` joins a
folder and the extra files of other options (``--nonmem-out``, ``--netcdf``): all checked before
any work, each written in the same way (one inside the folder is written in the folder's temporary).
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

from ketasim.errors import OutputError

MANIFEST = "ketasim-run.json"
PARTIAL_PREFIX = ".ketasim-partial-"
REPLACED_PREFIX = ".ketasim-replaced-"
#: Characters kept free for the names written inside an output folder.
INNER_RESERVE = 100
#: Errors of a full disk or quota while writing: the user's to fix, reported as OutputError.
FULL = {errno.ENOSPC, errno.EDQUOT}


@contextmanager
def output_folder(path: str | Path, *, force: bool = False, option: str = "--out",
                  inputs: Sequence[str | Path] = ()) -> Iterator[Path]:
    """Yield a temporary folder to write into; rename it to ``path`` when the block completes.

    ``force``: replace an existing folder even if it holds files ketasim did not write (they are
    deleted). ``option`` names the option in error messages; ``inputs`` are the run's input files
    (a folder holding one is refused). Raises :class:`~ketasim.errors.OutputError` before the block
    runs when ``path`` cannot be written.
    """
    started = _now()
    target = _check_target(path, option, inputs, folder=True)
    previous = _previous_run(target, path, option, force)
    tmp = _temporary_beside(target, path, option, folder=True)
    try:
        yield tmp
        _write_manifest(tmp, started)
        _tidy_permissions(tmp)
        with _signals_held():
            replaced = _swap_into_place(tmp, target, path, option)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        note = f"nothing was written to {path}"
        if previous:
            note += f"; it still holds the complete outputs of the earlier run finished {previous}"
        _reraise(exc, path, option, note)
    if replaced is not None:
        shutil.rmtree(replaced, ignore_errors=True)


@contextmanager
def output_file(path: str | Path, *, option: str = "--out", inputs: Sequence[str | Path] = (),
                allow_package: bool = False) -> Iterator[Path]:
    """Yield a temporary file path beside ``path``; replace ``path`` with it when the block completes.

    An existing file is replaced; a folder, an input of the run, a file in the installed package
    (unless ``allow_package``: ``calibrate --install``) and paths that cannot be written are refused
    before the block runs (:class:`~ketasim.errors.OutputError`).
    """
    target = _check_target(path, option, inputs, folder=False, allow_package=allow_package)
    if target.exists() and not os.access(target, os.W_OK):
        raise OutputError(option, str(path), "a file you can write to (this one is read-only)")
    tmp = _temporary_beside(target, path, option, folder=False)
    try:
        yield tmp
        _tidy_permissions(tmp)
        with _signals_held():
            os.replace(tmp, target)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        _reraise(exc, path, option, f"nothing was written to {path}")


PARTIAL_SUFFIX = ".partial"


@contextmanager
def resumable_folder(path: str | Path, *, force: bool = False, option: str = "--out", inputs: Sequence[str | Path] = (),
                     restart: bool = False) -> Iterator[tuple[Path, bool]]:
    """Like :func:`output_folder` for long work that checkpoints: yield ``(work folder, resumed)``.

    The work folder is ``<path>.partial`` beside ``path``. It is kept when the block is interrupted or
    fails, and the next run into the same ``path`` writes into it again (``resumed`` True: continue
    from its checkpoint); ``restart`` empties it first. When the block completes, the manifest is
    written and the folder renamed to ``path`` (an earlier output there replaced as by
    :func:`output_folder`). Two runs into one work folder at once are refused (a lock held while the
    block runs). Every check of ``path`` runs before the block.
    """
    import fcntl

    started = _now()
    target = _check_target(path, option, inputs, folder=True)
    _previous_run(target, path, option, force)
    work = target.parent / (target.name + PARTIAL_SUFFIX)
    name_max, _ = _limits(_nearest_existing(target))
    if len(os.fsencode(work.name)) > name_max:
        raise OutputError(option, _short(str(path)), f"a folder name of at most {name_max - len(PARTIAL_SUFFIX)} "
                                                     f"bytes (the work folder adds {PARTIAL_SUFFIX})")
    _make_parent(target.parent, path, option)
    if os.path.islink(work) or (os.path.lexists(work) and not work.is_dir()):
        raise OutputError(option, str(path), f"a place for its work folder {work} (that is a file or a link: remove "
                                             "it)")
    try:
        work.mkdir(mode=0o700, exist_ok=True)
        lock = os.open(work / ".lock", os.O_CREAT | os.O_RDWR, 0o600)
    except OSError as exc:
        raise OutputError(option, str(path), f"a place you can write to (cannot write {work}: {exc.strerror})"
                          ) from None
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise OutputError(option, str(path), f"a folder no other run is writing (another ketasim process is "
                                                 f"working in {work})") from None
        earlier = [e for e in work.iterdir() if e.name != ".lock"]
        if restart:
            for e in earlier:
                if e.is_dir() and not e.is_symlink():
                    shutil.rmtree(e)
                else:
                    e.unlink()
        resumed = bool(earlier) and not restart
        try:
            yield work, resumed
            os.unlink(work / ".lock")
            _write_manifest(work, started)
            _tidy_permissions(work)
            with _signals_held():
                replaced = _swap_into_place(work, target, path, option)
        except BaseException as exc:
            _reraise(exc, path, option, f"{path} was not changed; the work so far is kept in {work}: run the same "
                                        "command again to continue from it")
    finally:
        os.close(lock)
    if replaced is not None:
        shutil.rmtree(replaced, ignore_errors=True)


@contextmanager
def output_set(folder: str | Path | None, extras: Mapping[str, str | Path | None] | None = None, *,
               force: bool = False, option: str = "--out", inputs: Sequence[str | Path] = (),
               folder_extras: Sequence[str] = ()) -> Iterator[tuple[Path | None, dict[str, Path]]]:
    """A run's output folder and its extra outputs, each written complete or not at all.

    ``extras`` maps an option to its path (None: not asked for); the options in ``folder_extras``
    write a folder (a Zarr store), the others a file. Yields ``(temporary folder or None, {option:
    where to write})``. An extra inside ``folder`` is written at its place in the folder's temporary
    (and appears with it); any other through :func:`output_file` (or :func:`output_folder`). Every
    path is checked before the block runs; two outputs at one path are refused.
    """
    def real(p: str | Path) -> Path:
        return Path(os.path.realpath(os.path.abspath(os.path.expanduser(str(p)))))

    asked = {opt: p for opt, p in (extras or {}).items() if p is not None}
    home = real(folder) if folder is not None else None
    seen: dict[Path, str] = {} if home is None else {home: option}
    inside: dict[str, Path] = {}
    for opt, p in asked.items():
        r = real(p)
        if not str(p).strip() or r in seen:
            raise OutputError(opt, str(p), "a path of its own" + (f" (not the one of {seen[r]})" if r in seen else ""))
        if home is not None and home in r.parents:
            inside[opt] = r.relative_to(home)
        elif home is not None and r in home.parents:
            raise OutputError(opt, str(p), f"a path that does not hold the {option} folder")
        seen[r] = opt
    with ExitStack() as stack:
        where: dict[str, Path] = {}
        for opt, p in asked.items():
            if opt in inside:
                continue
            if opt in folder_extras:
                where[opt] = stack.enter_context(output_folder(p, force=force, option=opt, inputs=inputs))
            else:
                where[opt] = stack.enter_context(output_file(p, option=opt, inputs=inputs))
        tmp = None if folder is None else stack.enter_context(output_folder(folder, force=force, option=option,
                                                                            inputs=inputs))
        for opt, rel in inside.items():
            assert tmp is not None
            where[opt] = tmp / rel
            where[opt].parent.mkdir(parents=True, exist_ok=True)
        yield tmp, where


def shown_path(written: Path, folder: Path | None, final: str | Path) -> str:
    """How to name an output in a run's summary: relative to the folder if inside it, else absolute."""
    if folder is not None and folder in written.parents:
        return written.relative_to(folder).as_posix()
    return os.path.abspath(os.path.expanduser(str(final)))


def package_folder() -> Path:
    """The folder of the installed ``ketasim`` package (never written by default)."""
    import ketasim

    return Path(ketasim.__file__).resolve().parent


def read_manifest(folder: str | Path) -> dict | None:
    """The manifest of a complete ketasim output folder, or None."""
    try:
        record = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("complete") is True else None


# --- checks before any work --------------------------------------------------------------------------


def _check_target(path: str | Path, option: str, inputs: Sequence[str | Path], *, folder: bool,
                  allow_package: bool = False) -> Path:
    """The real target path (the user's own symlinks resolved), after every check that needs no writing."""
    text = str(path)
    if not text.strip() or "\x00" in text:
        raise OutputError(option, text, "a path (not empty, no NUL character)")
    given = Path(os.path.abspath(os.path.expanduser(text)))
    base = _nearest_existing(given)
    name_max, path_max = _limits(base)
    too_long = [part for part in given.parts if len(os.fsencode(part)) > name_max]
    if too_long:
        raise OutputError(option, _short(text), f"a path whose names have at most {name_max} bytes each "
                                                f"(one has {len(os.fsencode(too_long[0]))})")
    reserve = INNER_RESERVE if folder else 0
    if len(os.fsencode(str(given))) + reserve >= path_max:
        raise OutputError(option, _short(text), f"a path of at most {path_max - reserve - 1} bytes")
    target = Path(os.path.realpath(given))
    kind = "folder" if folder else "file"
    if folder and target.exists() and not target.is_dir():
        raise OutputError(option, text, "a folder (this is a file)")
    if not folder and target.is_dir():
        raise OutputError(option, text, "a file (this is a folder)")
    if folder:
        cwd = Path.cwd().resolve()
        if target == cwd or target in cwd.parents or target == Path.home().resolve():
            raise OutputError(option, text, "a folder of its own (not the working folder, one of its parents or "
                                            "your home folder: the whole folder is replaced)")
    package = package_folder()
    if not allow_package and (target == package or package in target.parents or (folder and target in package.parents)):
        raise OutputError(option, text, f"a {kind} outside the installed ketasim package ({package})")
    for item in inputs:
        real = Path(os.path.realpath(os.path.abspath(os.path.expanduser(str(item)))))
        if real == target or (folder and target in real.parents):
            raise OutputError(option, text, f"a {kind} that does not hold the input {item}")
    return target


def _previous_run(target: Path, path: str | Path, option: str, force: bool) -> str | None:
    """When the earlier complete run in ``target`` finished (None if none); refuses foreign content."""
    if not target.exists():
        return None
    if not os.access(target, os.W_OK | os.X_OK):
        raise OutputError(option, str(path), "a folder you can write to (this one is read-only)")
    entries = _entries(target)
    if not entries:
        return None
    manifest = read_manifest(target)
    listed = set(manifest.get("files", [])) | {MANIFEST} if manifest else set()
    dirs = {str(Path(f).parent) for f in listed} | {"."}
    foreign = sorted(e for e in entries if e not in listed and e not in dirs)
    if foreign and not force:
        what = "files ketasim did not write" if manifest else "files, and no ketasim manifest"
        raise OutputError(option, str(path), f"a new or empty folder, or an earlier ketasim output (this one holds "
                                             f"{what}, e.g. {foreign[0]!r}; move them, choose another folder or "
                                             "pass --force to replace the whole folder)")
    return str(manifest.get("finished", "at an unknown time")) if manifest else None


def _entries(folder: Path) -> set[str]:
    """Every file, symlink and folder under ``folder`` as relative POSIX paths (symlinks not followed)."""
    out: set[str] = set()
    for root, dirs, files in os.walk(folder, followlinks=False):
        rel = Path(root).relative_to(folder)
        for name in (*dirs, *files):
            out.add((rel / name).as_posix())
    return out


def _nearest_existing(p: Path) -> Path:
    while not os.path.exists(p) and p != p.parent:
        p = p.parent
    return p if os.path.isdir(p) else p.parent


def _limits(folder: Path) -> tuple[int, int]:
    """(longest name, longest path) in bytes on the file system of ``folder``."""
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX")), int(os.pathconf(folder, "PC_PATH_MAX"))
    except (OSError, ValueError, AttributeError):  # pragma: no cover - non-POSIX
        return 255, 4096


def _short(text: str) -> str:
    return text if len(text) <= 80 else f"{text[:60]}...({len(text)} characters)"


def _temporary_beside(target: Path, path: str | Path, option: str, *, folder: bool) -> Path:
    """A new temporary folder (or file) beside ``target``, after removing those of dead runs."""
    _make_parent(target.parent, path, option)
    _remove_stale(target.parent)
    return _make_temporary(target.parent, path, option, folder=folder)


def _reraise(exc: BaseException, path: str | Path, option: str, note: str) -> None:
    """Re-raise ``exc`` with ``note`` (what happened to the outputs); a full disk becomes an OutputError."""
    if isinstance(exc, OSError) and exc.errno in FULL:
        full = OutputError(option, str(path), f"a place with room for the outputs ({exc.strerror})")
        full.add_note(note)
        raise full from exc
    exc.add_note(note)
    raise exc


def _make_parent(parent: Path, path: str | Path, option: str) -> None:
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(option, str(path), f"a path that can be created ({parent}: {exc.strerror})") from None
    if not parent.is_dir():
        raise OutputError(option, str(path), f"a path inside a folder ({parent} is not a folder)")


def _make_temporary(parent: Path, path: str | Path, option: str, *, folder: bool) -> Path:
    tmp = parent / _temporary_name(PARTIAL_PREFIX)
    try:
        if folder:
            tmp.mkdir(mode=0o700)
        else:
            tmp.touch(mode=0o600, exist_ok=False)
    except OSError as exc:
        raise OutputError(option, str(path), f"a place you can write to (cannot write in {parent}: "
                                             f"{exc.strerror})") from None
    return tmp


def _host() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]


def _temporary_name(prefix: str) -> str:
    """``<prefix><host>-<pid>-<random>``: short, so that any name that fits as the target fits here too."""
    return f"{prefix}{_host()}-{os.getpid()}-{secrets.token_hex(4)}"


def _remove_stale(parent: Path) -> None:
    """Remove temporary folders and files left beside outputs by ketasim processes of this machine that died."""
    try:
        names = [e for e in os.listdir(parent) if e.startswith((PARTIAL_PREFIX, REPLACED_PREFIX))]
    except OSError:
        return
    host = _host()
    for name in names:
        parts = name.rsplit("-", 3)
        if len(parts) != 4 or parts[1] != host or not parts[2].isdigit() or _alive(int(parts[2])):
            continue
        p = parent / name
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True


# --- completing ------------------------------------------------------------------------------------------


def _now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def _write_manifest(tmp: Path, started: str) -> None:
    from ketasim import __version__

    files = sorted(e for e in _entries(tmp) if not (tmp / e).is_dir() or (tmp / e).is_symlink())
    record = {"written_by": f"ketasim {__version__}", "command": shlex.join(["ketasim", *sys.argv[1:]]),
              "started": started, "finished": _now(), "complete": True, "files": files}
    (tmp / MANIFEST).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


def _tidy_permissions(tmp: Path) -> None:
    """The temporary folder or file was made private; give it the permissions a new one would have."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(tmp, (0o777 if tmp.is_dir() else 0o666) & ~mask)


def _swap_into_place(tmp: Path, target: Path, path: str | Path, option: str) -> Path | None:
    """Rename ``tmp`` to ``target``; the old folder, if any, is renamed aside first and returned for deletion."""
    replaced = None
    if os.path.lexists(target):
        replaced = target.parent / _temporary_name(REPLACED_PREFIX)
        os.rename(target, replaced)
    try:
        os.rename(tmp, target)
    except OSError as exc:
        if replaced is not None:
            os.rename(replaced, target)
        raise OutputError(option, str(path), f"a folder that can be replaced ({exc.strerror})") from None
    return replaced


@contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM received inside the block are delivered when it ends (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    kinds = (signal.SIGINT, signal.SIGTERM)
    old = {s: signal.getsignal(s) for s in kinds}
    for s in kinds:
        signal.signal(s, lambda signum, frame: pending.append(signum))
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)
        for s in pending:
            signal.raise_signal(s)
