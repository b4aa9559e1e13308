"""Keep numba's on-disk cache consistent with the source of every compiled function.

numba keys a cached function on its own file only: if ``dynamics.py`` changes, the cached
``integrate_one`` (in another file) would silently keep the old equations. We key the whole
cache directory on a hash of every ketasim module that uses numba, so any change to any of
them recompiles everything. A user-set ``NUMBA_CACHE_DIR`` is respected as the parent folder.

numba itself is not imported here (it costs about half a second, and ``ketasim --help`` should not
pay it): when numba is not loaded yet, the folder goes into ``NUMBA_CACHE_DIR``, which numba reads
when it is first imported.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path


def cache_dir() -> str:
    """The cache folder of this version of ketasim's compiled code."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        text = path.read_bytes()
        if b"numba" in text:
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(text)
    key = digest.hexdigest()[:16]
    base = os.environ.get("NUMBA_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.join(os.path.expanduser("~"), ".cache")), "ketasim", "numba")
    # a child process inherits the folder chosen by its parent: do not nest it again
    return base if os.path.basename(os.path.normpath(base)) == key else os.path.join(base, key)


def configure() -> None:
    folder = cache_dir()
    numba = sys.modules.get("numba")
    if numba is not None:
        numba.config.CACHE_DIR = folder
    os.environ["NUMBA_CACHE_DIR"] = folder
