"""Scale-out: the batch job as Ray Data stages, for folders that outgrow one machine.

Why Ray Data and not a scheduler of our own: it streams files through CPU tasks and a pool of (GPU)
actors with backpressure, retries tasks whose worker died, restarts dead actors and spills to disk, on
one machine or a cluster. The stages reuse percept's own pieces, not copies of them:

    plan (the local planner: names, mirroring, skip-existing)  → ray.data.from_items
    read    Map      bytes from a shared folder or an object store (pyarrow file systems)
    decode  Map      ``imageio.read_image`` (upright, EXIF/ICC, alpha, 16-bit) on CPU tasks
    model   MapBatches on an actor pool: ``Inferencer.process_many`` (tiling, batching, any backend), one
                     model per actor, the model file sent through the object store and cached per node
    write   Map      ``imageio.write_image``: atomic (hidden ``.part`` then rename; one PUT on object stores)

Every row carries its file to the end: a file that cannot be read, decoded, run or written ends as
``failed`` with its reason and never stops the others. A worker that dies mid-job has its task retried
(Ray), and since outputs are atomic a rerun skips what was written and completes the rest.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from percept.core.errors import UserError
from percept.core.extras import install_hint
from percept.pipeline.batch import DONE, FAILED, NOT_DONE, FileResult, Summary, Task
from percept.pipeline.job import Job
from percept.pipeline.ray_stages import InferenceActor, RayJob, decode_row, read_row, write_row
from percept.pipeline.storage import Store

TASK_CPUS = 0.25  # scheduling share of a read/decode/write task: they wait on I/O much of the time


@dataclass(frozen=True)
class RayOptions:
    """``--ray ADDRESS`` and its sizing options."""

    address: str                    # local | auto | ray://host:port (or host:port of a running cluster)
    gpus_per_actor: float | None = None  # None: 1 where the cluster has GPUs, else 0
    cpus_per_actor: float = 1.0
    actors: int = 0                 # 0: one per GPU share, or one per node on CPU-only clusters
    stats: bool = False


@dataclass
class RayRun:
    """What the job did, for ``--ray-stats`` and the JSON report."""

    startup_s: float = 0.0
    actors: int = 0
    plan: list[dict[str, Any]] = field(default_factory=list)  # per Ray operator: name, tasks, rows
    workers: dict[str, int] = field(default_factory=dict)     # files per inference actor
    stats_text: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"startup_s": round(self.startup_s, 2), "actors": self.actors, "plan": self.plan,
                "files_per_actor": self.workers}

    def table(self) -> str:
        lines = [f"ray: start-up {self.startup_s:.1f} s, {self.actors} inference actor(s)",
                 f"{'stage':<58} {'tasks':>6} {'rows':>6}"]
        lines += [f"{p['operator'][:58]:<58} {p['tasks']:>6} {p['rows']:>6}" for p in self.plan]
        lines += [f"actor {w}: {n} file(s)" for w, n in sorted(self.workers.items())]
        return "\n".join(lines)


def connect(address: str) -> tuple[float, bool]:
    """Start or join Ray; (seconds it took, whether this process started the instance)."""
    try:
        import ray
    except ImportError:
        raise UserError(f"--ray needs Ray Data: {install_hint('ray')}") from None
    if ray.is_initialized():
        return 0.0, False
    t0 = time.perf_counter()
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": "WARNING"}
    try:
        if address == "local":
            ray.init(address="local", num_cpus=os.cpu_count() or 1, **kwargs)
        else:
            ray.init(address=address, **kwargs)  # auto: $RAY_ADDRESS, else the cluster running here
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise UserError(f"--ray {address}: cannot connect ({str(exc).splitlines()[0][:160]})") from None
    return time.perf_counter() - t0, address == "local"


def _cluster_shape() -> tuple[int, float]:
    """(alive nodes, GPUs) of the cluster."""
    import ray

    nodes = [n for n in ray.nodes() if n.get("Alive")]
    return max(1, len(nodes)), float(ray.cluster_resources().get("GPU", 0.0))


def actor_plan(options: RayOptions, device: str) -> tuple[int, float]:
    """(number of inference actors, GPUs per actor) from the options and the cluster."""
    nodes, gpus = _cluster_shape()
    per = options.gpus_per_actor
    if per is None:
        per = 1.0 if gpus > 0 and device != "cpu" else 0.0
    if per > 0 and gpus <= 0:
        raise UserError(f"--ray-gpus-per-actor {per:g}: the Ray cluster has no GPUs (use 0 for CPU actors)")
    if options.actors > 0:
        return options.actors, per
    return (max(1, int(gpus / per)) if per > 0 else nodes), per


# ------------------------------------------------------------------------------------------ the driver
def input_blocks(files: int, actors: int) -> int:
    """How many blocks the file list is cut into. A task of an actor takes a whole block, so one block of
    nine files ran on one actor while the other idled (measured): small jobs get a block per file, large ones
    at least eight per actor and at most 32 files per block (the driver tracks every block)."""
    return max(1, min(files, max(8 * actors, -(-files // 32))))


_OPERATOR = re.compile(r"^Operator \d+ (.+?): (\d+) tasks executed, (\d+) blocks produced")
_ROWS = re.compile(r"Total output num rows: (\d+)")


def parse_stats(text: str) -> list[dict[str, Any]]:
    """Ray Data's execution statistics as rows of (operator, tasks, output rows)."""
    plan: list[dict[str, Any]] = []
    for line in text.splitlines():
        m = _OPERATOR.match(line.strip())
        if m:
            plan.append({"operator": m.group(1), "tasks": int(m.group(2)), "rows": None})
            continue
        m = _ROWS.search(line)
        if m and plan and plan[-1]["rows"] is None:
            plan[-1]["rows"] = int(m.group(1))
    return plan


def ray_job(job: Job) -> RayJob:
    """Put the job's model file into Ray's object store, so no node needs its own copy."""
    import ray

    data = job.model.path.read_bytes()
    return RayJob(job=job, sha256=hashlib.sha256(data).hexdigest(), data=[ray.put(data)])


def run_on_ray(tasks: list[Task], spec: RayJob, options: RayOptions, in_store: Store, out_store: Store, *,
               run: RayRun, on_result: Callable[[FileResult, int], None] | None = None) -> Summary:
    """Run ``tasks`` (paths of ``in_store`` → paths of ``out_store``) as Ray Data stages; one result per task."""
    import ray
    import ray.data

    start = time.monotonic()
    actors, gpus = actor_plan(options, spec.job.model.device)
    quality, max_pixels = spec.job.output.quality, spec.job.output.max_pixels
    run.actors = actors
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # percept reports progress per file
    context.print_on_execution_start = False
    def where(store: Store, path: Path | str) -> str:  # local paths absolute: workers have their own cwd
        return str(Path(path).resolve()) if store.local and not store.scheme else str(path)

    items = [{"index": i, "source": where(in_store, t.source), "output": where(out_store, t.output),
              "shown_in": in_store.uri(str(t.source)), "shown_out": out_store.uri(str(t.output)),
              "format": t.format, "error": "",
              "data": b"", "picture": b"", "notes": "[]", "seconds": 0.0, "worker": ""}
             for i, t in enumerate(tasks)]
    ds = (ray.data.from_items(items, override_num_blocks=input_blocks(len(items), actors))
          .map(read_row, fn_kwargs={"store": in_store}, num_cpus=TASK_CPUS)
          .map(decode_row, fn_kwargs={"max_pixels": max_pixels}, num_cpus=TASK_CPUS)
          .map_batches(InferenceActor, fn_constructor_kwargs={"spec": spec},
                       batch_size=max(1, spec.job.model.batch_size),
                       compute=ray.data.ActorPoolStrategy(size=actors, max_tasks_in_flight_per_actor=2),
                       num_cpus=options.cpus_per_actor,
                       num_gpus=gpus or None, batch_format="numpy", zero_copy_batch=False)
          .map(write_row, fn_kwargs={"store": out_store, "quality": quality,
                                     "png_level": spec.job.output.png_compression}, num_cpus=TASK_CPUS))
    results: dict[int, FileResult] = {}
    workers: Counter[str] = Counter()
    interrupted = False
    try:
        for row in ds.iter_rows():
            index = int(row["index"])
            source, output = row["shown_in"], row["shown_out"]
            notes = json.loads(row["notes"] or "[]")
            result = (FileResult(source, None, FAILED, row["error"], round(row["seconds"], 4), notes)
                      if row["error"] else FileResult(source, output, DONE, "", round(row["seconds"], 4), notes))
            if row["worker"]:
                workers[row["worker"]] += 1
            results[index] = result
            if on_result:
                on_result(result, len(results))
    except KeyboardInterrupt:
        interrupted = True
    except Exception as exc:  # the job itself failed (e.g. an actor could not open the model)
        raise UserError(f"the Ray job failed: {_first_line(exc)}") from None
    run.workers = dict(workers)
    if not interrupted:
        run.stats_text = ds.stats()
        run.plan = parse_stats(run.stats_text)
    missing = NOT_DONE if interrupted else FAILED
    ordered = [results.get(i) or FileResult(in_store.uri(str(t.source)), None, missing,
                                            "interrupted" if interrupted else "not processed (lost by the job)")
               for i, t in enumerate(tasks)]
    return Summary(ordered, time.monotonic() - start, interrupted)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    cause = next((ln for ln in reversed(lines) if re.match(r"^[A-Za-z_.]+(Error|Exception)\b", ln.strip())), "")
    return (cause or (lines[0] if lines else type(exc).__name__)).strip()[:300]
