"""The one rule that decides each input's fate before any work, for local folders and object stores alike:
an output on an input fails, two inputs claiming one output fail, an existing output made with the same
settings is skipped (unless overwriting), one made otherwise is redone, everything else runs."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from percept.pipeline.batch import FAILED, SKIPPED, FileResult, Task


@dataclass(frozen=True)
class Candidate:
    """One input and the output it would make."""

    source: Any  # the task's source (a local Path or a store path)
    source_shown: str  # how the report names the source
    output: Any  # the task's output
    output_shown: str
    key: Hashable  # the output's identity (resolved path, store path), compared with inputs and other outputs
    format: str
    exists: bool
    settings: str  # the fingerprint of the job this input gets
    failure: str = ""  # why the output cannot be made at all (a name the file system cannot hold), or ""


def decide(candidates: list[Candidate], input_keys: set, overwrite: bool,
           stale_reason: Callable[[Any, str], str | None]) -> tuple[list[Task], list[FileResult]]:
    """(tasks to run, results already settled), both in input order. ``stale_reason(output, settings)``: why
    an existing output must be made again (the record says other settings), or None."""
    claimed: dict[Hashable, str] = {}
    tasks: list[Task] = []
    settled: list[FileResult] = []
    for c in candidates:
        if c.failure:
            settled.append(FileResult(c.source_shown, None, FAILED, c.failure))
        elif c.key in input_keys:
            settled.append(FileResult(c.source_shown, None, FAILED,
                                      f"output {c.output_shown} would overwrite an input"))
        elif c.key in claimed:
            settled.append(FileResult(c.source_shown, None, FAILED, f"output {c.output_shown} is also the output of "
                                      f"{claimed[c.key]} (rename with --name)"))
        else:
            claimed[c.key] = c.source_shown
            stale = stale_reason(c.output, c.settings) if c.exists and not overwrite else None
            if c.exists and not overwrite and not stale:
                settled.append(FileResult(c.source_shown, c.output_shown, SKIPPED,
                                          "output exists with the same settings (--overwrite to redo)"))
            else:
                tasks.append(Task(c.source, c.output, c.format, redo=stale or ""))
    return tasks, settled
