"""What made each output: a small record in the output folder, so a rerun skips only what is still current.

Why: skipping every existing output made a rerun with another ``--strength`` (or model, tile, precision)
keep the old pictures and say "skipped". The record maps each output (relative to ``--out``) to the
fingerprint of the settings that made it. An output whose record matches is skipped; one made with
other settings, or that has no record in a folder percept keeps a record of, is made again and the
run says why. A folder with no record at all (outputs from elsewhere) is left as it was.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from percept.core.atomic import atomic_path
from percept.core.model_header import file_sha256

MANIFEST_NAME = ".percept-outputs.json"
FORMAT = "percept-outputs/1"


def fingerprint(settings: Mapping[str, Any]) -> str:
    """A short stable hash of the settings that decide an output's pixels."""
    text = json.dumps(dict(settings), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def model_identity(path: Path) -> str:
    """The model by content, so a retrained file under the same name counts as another model."""
    return file_sha256(path)[:16]


class OutputManifest:
    """The record of one output folder; thread-safe, written atomically."""

    def __init__(self, out_dir: Path):
        self.path = Path(out_dir) / MANIFEST_NAME
        self.out_dir = Path(out_dir)
        self._lock = threading.Lock()
        self.entries: dict[str, dict[str, Any]] = {}
        self.exists = self.path.is_file()
        if self.exists:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                if data.get("format") == FORMAT:
                    self.entries = dict(data.get("outputs", {}))
            except (OSError, ValueError):
                self.entries = {}  # unreadable record: treat every output as unknown

    def _key(self, output: Path) -> str:
        try:
            return Path(output).resolve().relative_to(self.out_dir.resolve()).as_posix()
        except ValueError:
            return str(Path(output).resolve())

    def stale_reason(self, output: Path, fp: str) -> str | None:
        """None if ``output`` was made with settings ``fp``; else why it must be made again."""
        entry = self.entries.get(self._key(output))
        if entry is None:
            return None if not self.exists else "no record of its settings"
        if entry.get("settings") != fp:
            return "made with other settings"
        return None

    def record(self, output: Path, fp: str, details: Mapping[str, Any]) -> None:
        with self._lock:
            self.entries[self._key(output)] = {"settings": fp, **details}

    def save(self) -> None:
        with self._lock:
            payload = {"format": FORMAT, "outputs": self.entries}
            self.out_dir.mkdir(parents=True, exist_ok=True)
            with atomic_path(self.path) as tmp:
                tmp.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n", encoding="utf-8")
