"""Keep numba's on-disk cache consistent with the source of every compiled function.

numba keys a cached function on its own file only: if ``dynamics.py`` changes, the cached
``integrate_one`` (in another file) would silently keep the old equations. We key the whole
cache directory on a hash of every ketasim module that uses numba, so any change to any of
them recompiles everything. A user-set ``NUMBA_CACHE_DIR`` is respected as the parent folder.

numba itself is not imported here (it costs a fifth of a second): when it is not loaded yet,
the folder goes into ``NUMBA_CACHE_DIR``, which numba reads when it is first imported; the
user's own value is kept in ``KETASIM_NUMBA_CACHE_PARENT`` so child processes (Dask workers)
compute the same folder.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

PARENT_VARIABLE = "KETASIM_NUMBA_CACHE_PARENT"


def cache_dir() -> str:
    """The cache folder of this version of ketasim's compiled code (under the user's parent folder)."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        text = path.read_bytes()
        if b"numba" in text:
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(text)
    return os.path.join(_parent(), digest.hexdigest()[:16])


def _parent() -> str:
    return os.environ.get(PARENT_VARIABLE) or os.environ.get("NUMBA_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.join(os.path.expanduser("~"), ".cache")), "ketasim", "numba")


def configure() -> None:
    base = _parent()
    folder = cache_dir()
    os.environ[PARENT_VARIABLE] = base
    if "numba" in sys.modules:
        sys.modules["numba"].config.CACHE_DIR = folder
    else:
        os.environ["NUMBA_CACHE_DIR"] = folder
