"""The directory batch processor: decoder threads → one inference worker per device → encoder threads.

Why a pipeline and not a loop: decoding a JPEG, running the network and encoding the result use
different resources, so with enough decoder/encoder threads the model never waits for I/O. Queues between
the stages are bounded, so memory stays flat however many files there are. The inference worker stacks
equal-shape images (or tiles) into batches. Every file ends with exactly one result (done, skipped or
failed with a reason); one bad file never stops the others, outputs are written atomically, and Ctrl-C
stops after the work in hand, leaving no partial files.
"""

from __future__ import annotations

import glob
import json
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from percept.core.atomic import atomic_path, part_prefix
from percept.pipeline.imageio import DEFAULT_MAX_PIXELS, PNG_LEVEL, ImageReadError, read_image, write_image
from percept.pipeline.manifest import OutputManifest

if TYPE_CHECKING:
    from percept.pipeline.inference import Inferencer, Job, Piece

DONE, SKIPPED, FAILED = "done", "skipped", "failed"
NOT_DONE = "not done"  # left unfinished by an interrupt: not a failure of the file
VIDEO = "VIDEO"  # Task.format of a clip (run by percept.pipeline.video, not the picture pipeline)
_POLL = 0.1


@dataclass(frozen=True)
class Task:
    """One input file, where its output goes, and the output's format (decided when planning)."""

    source: Path
    output: Path
    format: str
    redo: str = ""  # why an existing output is made again (its settings changed), or ""


@dataclass
class FileResult:
    input: str
    output: str | None
    status: str
    reason: str = ""
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    model: str = ""  # the model that made (or would make) the output
    model_reason: str = ""  # why, when percept chose it per picture (the default upscaler)


@dataclass
class Summary:
    results: list[FileResult]
    elapsed: float
    interrupted: bool = False
    stopped: str = ""  # why the run stopped early: a pipeline stage died (the reason names it)
    # busy seconds of each local pipeline stage summed over its threads (decode, model, encode): more than
    # ``elapsed`` in all when the stages overlap, as they should
    stage_busy: dict[str, float] = field(default_factory=dict)

    def then(self, part: Summary) -> Summary:
        """This summary followed by ``part`` (the next job of the same run)."""
        busy = {k: self.stage_busy.get(k, 0.0) + part.stage_busy.get(k, 0.0)
                for k in {**self.stage_busy, **part.stage_busy}}
        return Summary(self.results + part.results, self.elapsed + part.elapsed, part.interrupted,
                       self.stopped or part.stopped, busy)

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def images_per_s(self) -> float:
        return self.count(DONE) / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 1 if self.count(FAILED) or self.stopped else 0

    def line(self) -> str:
        left = f", not done {self.count(NOT_DONE)}" if self.count(NOT_DONE) else ""
        text = (f"done {self.count(DONE)}, skipped {self.count(SKIPPED)}, failed {self.count(FAILED)}{left} "
                f"in {self.elapsed:.1f} s ({self.images_per_s:.2f} images/s)")
        return text + (" — interrupted" if self.interrupted else "") + (f" — stopped: {self.stopped}"
                                                                         if self.stopped else "")

    def to_dict(self) -> dict:
        return {"totals": {"done": self.count(DONE), "skipped": self.count(SKIPPED), "failed": self.count(FAILED),
                           "not_done": self.count(NOT_DONE),
                           "seconds": round(self.elapsed, 3), "images_per_s": round(self.images_per_s, 3),
                           "interrupted": self.interrupted,
                           **({"stage_busy_s": {k: round(v, 3) for k, v in self.stage_busy.items()}}
                              if self.stage_busy else {})},
                "files": [asdict(r) for r in self.results]}

    def write_json(self, path: str | Path, extra: dict | None = None) -> None:
        """The report; ``extra`` adds sections (e.g. ``ray``: the job's stages and actors)."""
        report = {**self.to_dict(), **(extra or {})}
        text = json.dumps(report, indent=2, ensure_ascii=False)
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:  # a file name that is not UTF-8 (an old camera card): escaped, \udcXX per byte
            data = json.dumps(report, indent=2, ensure_ascii=True).encode("ascii")
        with atomic_path(path) as tmp:
            tmp.write_bytes(data + b"\n")


@dataclass
class _Ticket:
    """What travels with a job: its task, its start time, and the inferencer that ran it."""

    index: int
    task: Task
    start: float
    inferencer: Inferencer | None = None
    handed_off: bool = False


class BatchProcessor:
    """Runs tasks through decoder threads, one inference worker per Inferencer (device), encoder threads.

    ``on_result(result, finished)`` is called on the calling thread for every finished file (progress).
    After ``run``, ``stage_seconds`` holds the busy time of each stage summed over its threads: ``decode``
    (read + to tensor), ``model`` (tiling + inference) and ``encode`` (blend, post-process, write) —
    ``percept bench --folder`` reports it as the time split.
    """

    def __init__(self, inferencers: list[Inferencer], load_threads: int = 2, save_threads: int = 2,
                 quality: int = 95, max_pixels: int = DEFAULT_MAX_PIXELS, queue_size: int | None = None,
                 on_result: Callable[[FileResult, int], None] | None = None, png_level: int = PNG_LEVEL):
        if not inferencers:
            raise ValueError("at least one inferencer is needed")
        self.inferencers = inferencers
        self.load_threads, self.save_threads = max(1, load_threads), max(1, save_threads)
        self.quality, self.max_pixels, self.png_level = quality, max_pixels, png_level
        batch = max(i.batch_size for i in inferencers)
        self.queue_size = queue_size or max(2, 2 * batch * len(inferencers), self.load_threads)
        self.on_result = on_result
        self.stage_seconds = {"decode": 0.0, "model": 0.0, "encode": 0.0}

    # ------------------------------------------------------------------------------------------ plumbing
    def _put(self, q: queue.Queue, item) -> bool:
        """Blocking put that gives up when stopping (so no thread hangs on a full queue after Ctrl-C)."""
        while not self._stop.is_set():
            try:
                q.put(item, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def _finish(self, ticket: _Ticket, status: str, reason: str = "", notes: list[str] | None = None) -> None:
        out = str(ticket.task.output) if status == DONE else None
        self._results.put((ticket.index, FileResult(str(ticket.task.source), out, status, reason,
                                                    round(time.monotonic() - ticket.start, 4), notes or [])))

    def _busy(self, stage: str, since: float) -> None:
        with self._lock:
            self.stage_seconds[stage] += time.perf_counter() - since

    def _last_one_out(self, counter: str, q: queue.Queue, sentinels: int) -> None:
        with self._lock:
            self._left[counter] -= 1
            last = self._left[counter] == 0
        if last:
            for _ in range(sentinels):
                self._put(q, None)

    def _guarded(self, stage: str, loop: Callable[..., None], *args) -> Callable[[], None]:
        """A stage's thread body: if the stage dies (an error outside its per-file handling), the run stops
        with the reason instead of leaving the other stages waiting on it forever."""

        def body() -> None:
            try:
                loop(*args)
            except BaseException as exc:  # noqa: BLE001 - any death of a stage must stop the run
                with self._lock:
                    if not self._fatal:
                        self._fatal = f"the {stage} stage failed ({type(exc).__name__}: {exc})"
                self._stop.set()

        return body

    # ------------------------------------------------------------------------------------------ stages
    def _decode_loop(self) -> None:
        from percept.pipeline.inference import Inferencer, Job

        try:
            while not self._stop.is_set():
                item = self._tasks.get()
                if item is None:
                    break
                index, task = item
                ticket = _Ticket(index, task, time.monotonic())
                busy = time.perf_counter()
                try:
                    pic = read_image(task.source, self.max_pixels)
                    job = Job(key=ticket, picture=pic, image=Inferencer.prepare(pic))
                except ImageReadError as exc:
                    self._finish(ticket, FAILED, str(exc))
                    continue
                except Exception as exc:
                    self._finish(ticket, FAILED, f"cannot read ({type(exc).__name__}: {exc})")
                    continue
                finally:
                    self._busy("decode", busy)
                if not self._put(self._decoded, job):
                    break
        finally:
            self._last_one_out("load", self._decoded, len(self.inferencers))

    def _infer_loop(self, inf: Inferencer) -> None:
        from percept.pipeline.inference import next_batch

        pending: list[Piece] = []
        inputs_done = False
        try:
            while not self._stop.is_set():
                while not inputs_done and len(pending) < inf.batch_size:
                    try:
                        job = self._decoded.get(timeout=_POLL) if not pending else self._decoded.get_nowait()
                    except queue.Empty:
                        break
                    if job is None:
                        inputs_done = True
                        break
                    job.key.inferencer = inf
                    busy = time.perf_counter()
                    try:
                        pending += inf.plan(job)
                    except Exception as exc:
                        job.error = f"cannot prepare ({type(exc).__name__}: {exc})"
                        self._settle(job)
                    finally:
                        self._busy("model", busy)
                batch, pending = next_batch(pending, inf.batch_size)
                if not batch:
                    if inputs_done:
                        break
                    continue
                busy = time.perf_counter()
                pending += inf.run_pieces(batch)
                self._busy("model", busy)
                for job in {id(p.job): p.job for p in batch}.values():
                    self._settle(job)
        finally:
            self._last_one_out("proc", self._encode, self.save_threads)

    def _settle(self, job: Job) -> None:
        """Hand a finished job on: a failure to the results, a complete one to the encoders."""
        ticket: _Ticket = job.key
        if ticket.handed_off:
            return
        if job.error is not None:
            ticket.handed_off = True
            self._finish(ticket, FAILED, job.error, job.picture.notes)
        elif job.complete:
            ticket.handed_off = True
            if not self._put(self._encode, job):
                return

    def _encode_loop(self) -> None:
        while True:
            try:
                job = self._encode.get(timeout=_POLL)
            except queue.Empty:
                if self._stop.is_set():
                    return
                continue
            if job is None or self._stop.is_set():
                return
            ticket: _Ticket = job.key
            task = ticket.task
            with self._lock:
                self._writing.add(task.output)
            busy = time.perf_counter()
            try:
                out = ticket.inferencer.finish(job)
                job.image = None  # free the input early: the encoder may hold big outputs for a while
                notes = list(out.notes) + write_image(task.output, out, task.format, self.quality, self.png_level)
                self._finish(ticket, DONE, notes=notes)
            except Exception as exc:
                self._finish(ticket, FAILED, f"cannot write {task.output} ({type(exc).__name__}: {exc})",
                             job.picture.notes)
            finally:
                self._busy("encode", busy)
                with self._lock:
                    self._writing.discard(task.output)

    # ------------------------------------------------------------------------------------------ driver
    def run(self, tasks: list[Task]) -> Summary:
        """Process ``tasks``; returns one result per task, in task order. Ctrl-C sets ``interrupted``."""
        threads = self._start(tasks)
        start = time.monotonic()
        results: dict[int, FileResult] = {}
        interrupted = False
        try:
            self._collect(results, len(tasks), threads)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            if interrupted or len(results) < len(tasks):
                self._stop.set()
            try:
                for t in threads:
                    t.join()
            finally:
                self._remove_partial_files()
        while not self._results.empty():
            index, result = self._results.get_nowait()
            results.setdefault(index, result)
        if interrupted:
            ordered = [results.get(i) or FileResult(str(t.source), None, NOT_DONE, "interrupted")
                       for i, t in enumerate(tasks)]
        else:
            reason = f"not processed: {self._fatal}" if self._fatal else "not processed (internal error)"
            ordered = [results.get(i) or FileResult(str(t.source), None, FAILED, reason) for i, t in enumerate(tasks)]
        return Summary(ordered, time.monotonic() - start, interrupted, stopped=self._fatal,
                       stage_busy=dict(self.stage_seconds))

    def _start(self, tasks: list[Task]) -> list[threading.Thread]:
        """Queues and the stage threads (decoders, one inference worker per Inferencer, encoders), started."""
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._tasks: queue.Queue = queue.Queue()
        self._decoded: queue.Queue = queue.Queue(maxsize=self.queue_size)
        self._encode: queue.Queue = queue.Queue(maxsize=max(2, 2 * self.save_threads))
        self._results: queue.Queue = queue.Queue()
        self._left = {"load": self.load_threads, "proc": len(self.inferencers)}
        self._writing: set[Path] = set()
        self._fatal = ""
        self.stage_seconds = {"decode": 0.0, "model": 0.0, "encode": 0.0}
        for item in enumerate(tasks):
            self._tasks.put(item)
        for _ in range(self.load_threads):
            self._tasks.put(None)
        threads = [threading.Thread(target=self._guarded("decode", self._decode_loop), name=f"decode-{i}",
                                    daemon=True) for i in range(self.load_threads)]
        threads += [threading.Thread(target=self._guarded("inference", self._infer_loop, inf), name=f"infer-{i}",
                                     daemon=True) for i, inf in enumerate(self.inferencers)]
        threads += [threading.Thread(target=self._guarded("encode", self._encode_loop), name=f"encode-{i}",
                                     daemon=True) for i in range(self.save_threads)]
        for t in threads:
            t.start()
        return threads

    def _collect(self, results: dict[int, FileResult], total: int, threads: list[threading.Thread]) -> None:
        """Results as the encoders settle them, until all are in, a stage fails, or every thread has ended."""
        while len(results) < total:
            if self._fatal:
                return
            try:
                index, result = self._results.get(timeout=0.25)
            except queue.Empty:
                if not any(t.is_alive() for t in threads) and self._results.empty():
                    return  # a stage died: report the rest as failed rather than hang
                continue
            results[index] = result
            if self.on_result:
                self.on_result(result, len(results))

    def _remove_partial_files(self) -> None:
        """Temporary files of writes cut short by a second Ctrl-C (atomic_path removes them otherwise)."""
        for dest in list(self._writing):
            for part in dest.parent.glob(f".{dest.name}.*.part"):
                part.unlink(missing_ok=True)


def plan_tasks(sources, out_dir: Path, template: str, suffix: str, format_choice: str,
               overwrite: bool = False, manifest: OutputManifest | None = None,
               settings: str | Callable[[Path], str] = "") -> tuple[list[Task], list[FileResult]]:
    """Decide every output path before any work: existing outputs made with the same ``settings`` (by the
    ``manifest``; a function of the input path where inputs get different jobs) are skipped (unless
    ``overwrite``), those made otherwise are redone; an output that would replace an input or another file's
    output fails with the reason.
    Returns (tasks to run, results already settled), both in input order.
    """
    from percept.pipeline.imageio import extension_for, format_from_suffix, output_format
    from percept.pipeline.inputs import output_path
    from percept.pipeline.planner import Candidate, decide
    from percept.pipeline.video import is_video
    from percept.pipeline.video import output_extension as video_extension

    candidates = []
    for s in sources:
        if is_video(s.path):  # clips stay clips (--format is for pictures)
            fmt = VIDEO
            dest = output_path(s, out_dir, template, suffix, video_extension(s.path))
        else:
            src_fmt = format_from_suffix(s.path)
            fmt = output_format(format_choice, src_fmt)
            dest = output_path(s, out_dir, template, suffix, extension_for(fmt, s.path, src_fmt))
        failure = name_too_long(dest)
        exists = not failure and dest.exists()
        fp = (settings(s.path) if callable(settings) else settings) if exists else ""
        candidates.append(Candidate(s.path, str(s.path), dest, str(dest), dest.resolve(), fmt, exists, fp, failure))

    def stale(dest: Path, fp: str) -> str | None:
        return manifest.stale_reason(dest, fp) if manifest is not None else None

    remove_leftover_parts([c.output for c in candidates if not c.failure])
    return decide(candidates, {s.path.resolve() for s in sources}, overwrite, stale)


def name_too_long(dest: Path) -> str:
    """Why the file system cannot hold ``dest``'s name (one line), or ""."""
    try:
        limit = os.pathconf(dest.parent if dest.parent.exists() else "/", "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    size = len(os.fsencode(dest.name))
    if size > limit:
        return f"output name {dest.name[:40]}… is {size} bytes, longer than this file system's {limit} (use --name)"
    return ""


def remove_leftover_parts(outputs: list[Path]) -> int:
    """Delete the temporary files (``.NAME.XXXX.part``, ``percept.core.atomic``) a killed run left beside these
    outputs: this run writes or keeps each of them, so nothing else may be writing them. Returns the count."""
    removed = 0
    for dest in outputs:
        try:
            for part in dest.parent.glob(f"{glob.escape(part_prefix(dest))}*.part"):
                part.unlink(missing_ok=True)
                removed += 1
        except OSError:
            continue  # an unreadable folder: the output itself will say so
    return removed

