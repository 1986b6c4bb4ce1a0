"""Atomic file writes: a file is either absent or complete, never half-written."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

_UMASK = os.umask(0o022)
os.umask(_UMASK)  # read once at import: mkstemp creates 0600 files, outputs should get the user's usual mode


LONG_NAME = 200  # bytes: beyond it the temporary name is a hash, so it fits the file system's name limit too


def part_prefix(dest: Path) -> str:
    """How the temporary files of ``dest`` begin (``.NAME.`` or, for long names, ``.HASH.``)."""
    name = dest.name
    if len(os.fsencode(name)) > LONG_NAME:
        import hashlib

        name = hashlib.sha1(os.fsencode(name)).hexdigest()[:16]
    return f".{name}."


@contextmanager
def atomic_path(dest: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; on success it is renamed over ``dest``, on error removed."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=part_prefix(dest), suffix=".part", dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_UMASK)
        os.replace(tmp_path, dest)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_test(folder: str | os.PathLike) -> None:
    """Make ``folder`` and write (and remove) a file in it: ``OSError`` where it cannot be written, so callers
    say so once, before any work, instead of failing every file."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".percept-write-test-"):
        pass


def atomic_write(dest: str | os.PathLike, writer: Callable[[Path], None]) -> Path:
    """Call ``writer(tmp_path)`` then rename into place."""
    with atomic_path(dest) as tmp:
        writer(tmp)
    return Path(dest)
