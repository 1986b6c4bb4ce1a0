"""Where a Ray job's files live: local (shared) folders, or object stores (``s3://``, ``gs://``, ...).

Why pyarrow file systems: they are what Ray Data itself reads and writes through, they cover S3, GCS,
Azure and HDFS with the cluster's own credentials, and ``file://`` gives the same code path on a local
disk (which is how the tests exercise it: no object store can be reached here). A local path is not a
URI and keeps the local planner's rules (``percept.pipeline.inputs``, ``percept.pipeline.manifest``).

Writes are never partial: a local (or ``file://``) output is written to a hidden ``.part`` name and
renamed; an object-store output is one PUT, which becomes visible only once complete.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from percept.core.errors import UserError
from percept.pipeline.inputs import MEDIA_SUFFIXES, VIDEO_SUFFIXES, is_ignored

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_uri(text: str | Path) -> bool:
    """``s3://bucket/key``, ``gs://...``, ``file:///abs/path``: anything with a scheme."""
    return bool(_SCHEME.match(str(text)))


@dataclass(frozen=True)
class Store:
    """A pyarrow file system and the URI prefix that names its paths (``""`` for a local path)."""

    fs: Any  # pyarrow.fs.FileSystem
    scheme: str

    def uri(self, path: str) -> str:
        """The user-facing name of ``path`` (a file-system path of this store)."""
        return f"{self.scheme}://{path}" if self.scheme else path

    @property
    def local(self) -> bool:
        import pyarrow.fs as pafs

        return isinstance(self.fs, pafs.LocalFileSystem)


def open_store(text: str | Path) -> tuple[Store, str]:
    """(store, path within it) for a URI or a local path."""
    import pyarrow.fs as pafs

    text = str(text)
    if not is_uri(text):
        return Store(pafs.LocalFileSystem(), ""), str(Path(text).expanduser().resolve())
    try:
        fs, path = pafs.FileSystem.from_uri(text)
    except Exception as exc:  # unknown scheme, missing credentials, bad bucket name
        raise UserError(f"{text}: cannot open this location ({type(exc).__name__}: {str(exc)[:160]})") from None
    return Store(fs, text.split("://", 1)[0].lower()), path.rstrip("/") or "/"


@dataclass(frozen=True)
class RemoteSource:
    """An input file in a store, and its path relative to the folder it was found in (mirrored)."""

    path: PurePosixPath
    rel: PurePosixPath


def list_media(store: Store, inputs: list[str], recursive: bool) -> list[RemoteSource]:
    """The picture files named by URIs: files as given, folders listed (recursively with ``recursive``).
    Clips are left out (they run on the local pipeline: ``percept.pipeline.video``)."""
    import pyarrow.fs as pafs

    found: list[RemoteSource] = []
    for text in inputs:
        _, base = open_store(text)
        info = store.fs.get_file_info(base)
        if info.type == pafs.FileType.File:
            found.append(RemoteSource(PurePosixPath(base), PurePosixPath(PurePosixPath(base).name)))
            continue
        if info.type != pafs.FileType.Directory:
            raise UserError(f"{text}: no such file or folder")
        for item in sorted(store.fs.get_file_info(pafs.FileSelector(base, recursive=recursive)),
                           key=lambda i: i.path):
            p = PurePosixPath(item.path)
            rel = p.relative_to(base)
            if (item.type != pafs.FileType.File or any(is_ignored(part) for part in rel.parts)
                    or p.suffix.lower() not in MEDIA_SUFFIXES or p.suffix.lower() in VIDEO_SUFFIXES):
                continue
            found.append(RemoteSource(p, rel))
    unique: dict[str, RemoteSource] = {}
    for s in found:
        unique.setdefault(str(s.path), s)
    return list(unique.values())


def existing(store: Store, paths: list[str]) -> set[str]:
    """Which of ``paths`` exist (one listing call per batch, not one request per file on object stores)."""
    import pyarrow.fs as pafs

    if not paths:
        return set()
    return {i.path for i in store.fs.get_file_info(paths) if i.type == pafs.FileType.File}


def read_bytes(store: Store, path: str) -> bytes:
    with store.fs.open_input_stream(path) as f:
        return f.read()


def put_file(store: Store, local_file: Path, dest: str) -> None:
    """Copy a finished local file to ``dest`` in the store, never leaving a partial ``dest`` behind."""
    import pyarrow.fs as pafs

    parent = str(PurePosixPath(dest).parent)
    store.fs.create_dir(parent, recursive=True)
    if store.local or isinstance(store.fs, pafs.SubTreeFileSystem):
        part = f"{parent}/.{PurePosixPath(dest).name}.{local_file.name}.part"
        try:
            _copy(store, local_file, part)
            store.fs.move(part, dest)
        except BaseException:
            try:
                store.fs.delete_file(part)
            except Exception:
                pass
            raise
    else:
        _copy(store, local_file, dest)  # object stores: the object appears only when the upload completes


def _copy(store: Store, local_file: Path, dest: str) -> None:
    with open(local_file, "rb") as src, store.fs.open_output_stream(dest) as out:
        while chunk := src.read(1 << 22):
            out.write(chunk)


def read_json(store: Store, path: str) -> dict | None:
    """A small JSON file of the store (an output record), or None if absent or unreadable."""
    try:
        return json.loads(read_bytes(store, path).decode("utf-8"))
    except (OSError, ValueError):
        return None


def write_json(store: Store, path: str, payload: dict) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / "record.json"
        local.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        put_file(store, local, path)
