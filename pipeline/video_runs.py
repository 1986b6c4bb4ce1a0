"""The clips of a ``stylize``/``upscale`` run: checked when planning, then run one after another.

Kept apart from ``percept.pipeline.video`` (decoding, encoding, joining) so that module knows nothing of tasks,
results and progress, and apart from the command so the command stays a list of options.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from percept.core.progress import ProgressReporter
from percept.pipeline.batch import DONE, FAILED, NOT_DONE, FileResult, Summary, Task
from percept.pipeline.video import DEFAULT_CRF, VideoError, VideoProcessor, check_output_size, probe

if TYPE_CHECKING:
    from percept.pipeline.inference import Inferencer

__all__ = ["DEFAULT_CRF", "check_clips", "run_clips"]


def check_clips(tasks: list[Task], scale: int) -> tuple[list[Task], list[FileResult]]:
    """Probe every clip before any work: unreadable ones and outputs beyond the codec's limits are refused
    up front (one line each), the rest go ahead."""
    from percept.pipeline.batch import VIDEO

    kept, refused = [], []
    for t in tasks:
        if t.format != VIDEO:
            kept.append(t)
            continue
        try:
            check_output_size(t.source, probe(t.source), scale)
            kept.append(t)
        except VideoError as exc:
            refused.append(FileResult(str(t.source), None, FAILED, str(exc).removeprefix(f"{t.source}: ")))
    return kept, refused


def run_clips(clips: list[Task], inferencer: Inferencer, summary: Summary, record: Callable[..., None], *,
              verb: str, crf: int, temporal: bool, settings: str) -> None:
    """Run each clip (frames counted on their own progress bar); results are appended to ``summary``.
    Ctrl-C keeps the finished segments of the clip in hand and marks the run interrupted."""
    from percept.pipeline.inference import PieceFailed

    processor = VideoProcessor(inferencer, crf=crf, temporal=temporal)
    start = time.monotonic() - summary.elapsed
    for i, task in enumerate(clips):
        begun = time.monotonic()
        total = probe(task.source).frames
        reporter = ProgressReporter(total, f"{verb} {task.source.name}", log_every=5.0)
        stop = threading.Event()

        def progress(frames: int, reporter=reporter, begun=begun) -> None:
            elapsed = time.monotonic() - begun
            reporter.update(min(frames, reporter.total), **{"frames/s": frames / elapsed if elapsed > 0 else 0.0})

        try:
            with reporter:
                result = processor.run(task.source, task.output, settings, progress=progress, stop=stop)
            outcome = FileResult(str(task.source), str(task.output), DONE, "",
                                 round(time.monotonic() - begun, 3), result.notes)
        except KeyboardInterrupt:
            summary.interrupted = True
            summary.results.append(FileResult(str(task.source), None, NOT_DONE, "interrupted (finished segments "
                                              "kept: a rerun resumes the clip)"))
            summary.results += [FileResult(str(t.source), None, NOT_DONE, "interrupted") for t in clips[i + 1:]]
            break
        except (VideoError, PieceFailed) as exc:
            outcome = FileResult(str(task.source), None, FAILED, str(exc).removeprefix(f"{task.source}: "))
        except Exception as exc:  # one bad clip never stops the others
            outcome = FileResult(str(task.source), None, FAILED, f"{type(exc).__name__}: {str(exc)[:160]}")
        summary.results.append(outcome)
        record(outcome, reporter.log)
    summary.elapsed = time.monotonic() - start
