"""Planning a job whose inputs or outputs are URIs (object stores): the local planner's rules, on a store.

The same outputs as a local run: names from ``--name``, the input tree mirrored under ``--out``, an output
never on an input, existing outputs skipped only when the record in ``--out`` says they were made with the
same settings (the record is the local one's file, ``.percept-outputs.json``, kept in the store).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any

from percept.pipeline.batch import FileResult, Task
from percept.pipeline.imageio import extension_for, format_from_suffix, output_format
from percept.pipeline.manifest import FORMAT, MANIFEST_NAME
from percept.pipeline.planner import Candidate, decide
from percept.pipeline.storage import RemoteSource, Store, existing, is_uri, open_store, read_json, write_json


class StoreManifest:
    """``percept.pipeline.manifest.OutputManifest`` for an output folder in a store (same file, same rules)."""

    def __init__(self, store: Store, out_base: str):
        self.store, self.out_base = store, out_base.rstrip("/")
        self.path = f"{self.out_base}/{MANIFEST_NAME}"
        data = read_json(store, self.path)
        self.exists = data is not None
        self.entries: dict[str, dict[str, Any]] = dict(data.get("outputs", {})) if data and data.get(
            "format") == FORMAT else {}

    def _key(self, output: str) -> str:
        if is_uri(output):
            output = open_store(output)[1]
        return str(PurePosixPath(output).relative_to(self.out_base))

    def stale_reason(self, output: str, fp: str) -> str | None:
        entry = self.entries.get(self._key(output))
        if entry is None:
            return None if not self.exists else "no record of its settings"
        return None if entry.get("settings") == fp else "made with other settings"

    def record(self, output: str, fp: str, details: dict[str, Any]) -> None:
        self.entries[self._key(output)] = {"settings": fp, **details}

    def save(self) -> None:
        write_json(self.store, self.path, {"format": FORMAT, "outputs": self.entries})


def plan_remote_tasks(sources: list[RemoteSource], in_store: Store, out_store: Store, out_base: str, template: str,
                      suffix: str, format_choice: str, overwrite: bool, manifest: StoreManifest,
                      settings: str | Callable[[PurePosixPath], str]) -> tuple[list[Task], list[FileResult]]:
    """Tasks (source and output as store paths) and the results already settled, in input order; ``settings``
    is the fingerprint of the job, or a function of the source path where inputs get different jobs."""
    planned = []
    for s in sources:
        src_fmt = format_from_suffix(s.path)
        fmt = output_format(format_choice, src_fmt)
        name = template.format(stem=s.path.stem, suffix=suffix, ext=extension_for(fmt, s.path, src_fmt))
        planned.append((s, fmt, str(PurePosixPath(out_base) / s.rel.parent / name)))
    there = existing(out_store, [dest for _, _, dest in planned])
    candidates = []
    for s, fmt, dest in planned:
        exists = dest in there
        fp = (settings(s.path) if callable(settings) else settings) if exists else ""
        candidates.append(Candidate(s.path, in_store.uri(str(s.path)), dest, out_store.uri(dest), dest, fmt,
                                    exists, fp))
    return decide(candidates, {str(s.path) for s in sources}, overwrite, manifest.stale_reason)
