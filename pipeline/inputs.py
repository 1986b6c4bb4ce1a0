"""Input discovery and output naming: which files to process, and where each result goes.

Why its own module: the rules that keep a batch safe live here — hidden and system files are ignored,
an output never lands on an input, two inputs never share one output, the output folder is never read
back as input, and ``--recursive`` mirrors the folder tree under ``--out``.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

from percept.core.errors import UserError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif", ".ppm", ".pgm",
                  ".pbm", ".pnm", ".tga", ".jp2", ".j2k", ".jfif", ".dib", ".ico", ".pcx", ".sgi", ".heic",
                  ".heif", ".hif", ".avif"}
VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".mts", ".m2ts",
                  ".wmv", ".flv", ".3gp"}
MEDIA_SUFFIXES = IMAGE_SUFFIXES | VIDEO_SUFFIXES  # what folder walks and globs pick up
SYSTEM_FILES = {"thumbs.db", "desktop.ini", "ehthumbs.db", ".ds_store", "icon\r"}
SYSTEM_DIRS = {"__macosx", "$recycle.bin", "system volume information", "@eadir"}


@dataclass(frozen=True)
class Source:
    """An input file and its path relative to the folder it was found in (mirrored under --out)."""

    path: Path
    rel: Path


def is_ignored(name: str) -> bool:
    """Dot-files, macOS/Windows system files and folders: never images a user meant to process."""
    low = name.lower()
    return name.startswith(".") or low in SYSTEM_FILES or low in SYSTEM_DIRS


def _walk(folder: Path, recursive: bool, exclude: Path | None) -> list[Source]:
    found = []
    for root, dirs, files in os.walk(folder):
        here = Path(root)
        dirs[:] = sorted(d for d in dirs if not is_ignored(d)
                         and (exclude is None or (here / d).resolve() != exclude)) if recursive else []
        for name in sorted(files):
            p = here / name
            if is_ignored(name) or p.suffix.lower() not in MEDIA_SUFFIXES:
                continue
            found.append(Source(p, p.relative_to(folder)))
    return found


def unsearched_subfolders(inputs: list[str]) -> list[Path]:
    """Sub-folders of folder inputs that a run without ``--recursive`` does not look into (to say so)."""
    found = []
    for text in inputs:
        path = Path(text).expanduser()
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.is_dir() and not is_ignored(p.name))
    return found


def _has_magic(text: str) -> bool:
    return any(c in text for c in "*?[")


def discover(inputs: list[str], recursive: bool = False, exclude: str | os.PathLike | None = None) -> list[Source]:
    """Expand files, folders and globs into sources, in a stable order, without duplicates.

    Explicit files are taken whatever their extension (a non-image then fails with its reason); folders
    and globs yield only image and video files. ``exclude`` (the output folder) is never descended into, and files
    found in it by a folder walk or a glob are dropped (they may be earlier outputs); a file named
    explicitly is always taken, and a folder input that is (or is inside) ``exclude`` is refused.
    """
    excluded = Path(exclude).resolve() if exclude is not None else None
    out: list[Source] = []
    explicit: set[Path] = set()
    for text in inputs:
        path = Path(text).expanduser()
        if path.is_dir():
            where = path.resolve()
            if excluded is not None and (where == excluded or excluded in where.parents):
                raise UserError(f"{text}: is the output folder or inside it; choose another --out (outputs there "
                                "would be read back as inputs on the next run)")
            out += _walk(path, recursive, excluded)
        elif path.is_file():
            out.append(Source(path, Path(path.name)))
            explicit.add(path.resolve())
        elif _has_magic(text):
            matches = sorted(glob.glob(os.path.expanduser(text), recursive=recursive))
            if not matches:
                raise UserError(f"{text}: no file matches this pattern")
            for m in map(Path, matches):
                if any(is_ignored(part) for part in m.parts if part not in (".", "..")):
                    continue
                if m.is_file() and m.suffix.lower() in MEDIA_SUFFIXES:
                    out.append(Source(m, Path(m.name)))
                elif m.is_dir():
                    out += _walk(m, recursive, excluded)
        else:
            raise UserError(f"{text}: no such file or folder")
    seen: set[Path] = set()
    unique = []
    for s in out:
        key = s.path.resolve()
        if excluded is not None and excluded in key.parents and key not in explicit:
            continue
        if key not in seen:
            seen.add(key)
            unique.append(s)
    return unique


def check_template(template: str) -> None:
    """``--name`` must use only {stem}, {suffix}, {ext} and name a file, not a path."""
    try:
        name = template.format(stem="a", suffix="_b", ext="png")
    except (KeyError, IndexError, ValueError) as exc:
        raise UserError(f"--name {template!r}: use only {{stem}}, {{suffix}} and {{ext}} ({exc})") from None
    if "/" in name or "\\" in name or name in (".", "..") or not name:
        raise UserError(f"--name {template!r}: must name a file, not a path")


def output_path(source: Source, out_dir: Path, template: str, suffix: str, ext: str) -> Path:
    """Where ``source``'s result goes: its relative folder under ``out_dir``, named by the template."""
    name = template.format(stem=source.path.stem, suffix=suffix, ext=ext)
    return out_dir / source.rel.parent / name
