"""Progress for long work: a rich bar on a terminal, plain periodic log lines otherwise."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class ProgressReporter:
    """``update(done, **fields)``; fields (losses, images/s) are shown on the bar or in the log line.

    ``interactive`` defaults to whether stderr is a terminal; plain lines go out at most every
    ``log_every`` seconds (and at the end) so logs stay readable when piped to a file.
    """

    def __init__(self, total: int, description: str, interactive: bool | None = None, log_every: float = 10.0,
                 stream=None, clock: Callable[[], float] = time.monotonic, deadline_s: float | None = None,
                 initial: int = 0):
        self.total, self.description, self.log_every = total, description, log_every
        self.initial = initial  # done before this process started (a resumed run): not part of its speed
        self.deadline_s = deadline_s  # work that stops at a time limit: the ETA never goes past it
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty() if interactive is None else interactive
        self.clock = clock
        self.start = clock()
        self._last_log = -float("inf")
        self._done = initial
        self._progress: Progress | None = None
        if self.interactive:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                console=Console(file=self.stream), transient=False,
            )
            self._task = self._progress.add_task(description, total=total, completed=initial, info="")

    def __enter__(self) -> ProgressReporter:
        if self._progress:
            self._progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @staticmethod
    def format_fields(fields: dict) -> str:
        parts = []
        for k, v in fields.items():
            parts.append(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}")
        return "  ".join(parts)

    def restart_clock(self) -> None:
        """Time (and so the eta) from now: what came before the first step was not training."""
        self.start = self.clock()
        if self._progress:
            self._progress.reset(self._task, total=self.total, completed=self._done)

    def update(self, done: int, **fields) -> None:
        self._done = done
        info = self.format_fields(fields)
        if self._progress:
            self._progress.update(self._task, completed=done, info=info)
            return
        now = self.clock()
        if now - self._last_log >= self.log_every or done >= self.total:
            self._last_log = now
            elapsed = now - self.start
            ran = done - self.initial
            eta = elapsed / ran * (self.total - done) if ran > 0 else float("nan")
            if self.deadline_s:
                eta = min(eta, max(0.0, self.deadline_s - elapsed)) if ran > 0 else self.deadline_s - elapsed
            print(f"{self.description}: {done}/{self.total}  {info}  elapsed {elapsed:.0f}s  eta {eta:.0f}s",
                  file=self.stream, flush=True)

    def log(self, message: str) -> None:
        if self._progress:
            self._progress.console.print(message, markup=False, highlight=False)
        else:
            print(message, file=self.stream, flush=True)

    def close(self) -> None:
        if self._progress:
            self._progress.stop()
            self._progress = None
