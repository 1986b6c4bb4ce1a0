"""``percept stylize`` and ``percept upscale``: files, folders or globs through a model, fast and safely.

The commands only parse options, pick the model and print; the work is in ``percept.pipeline.batch`` (the
pipeline), ``percept.pipeline.inference`` (tiling and post-processing) and ``percept.pipeline.imageio`` (files).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from percept.cli.errors import UserError
from percept.core.progress import ProgressReporter
from percept.core.zoo import normalise_name, resolve_model
from percept.engines.registry import BACKEND_CHOICES
from percept.pipeline.batch import DONE, FAILED, SKIPPED, VIDEO, BatchProcessor, FileResult, Summary, Task, plan_tasks
from percept.pipeline.imageio import DEFAULT_MAX_PIXELS, FORMATS, check_writable_format, configure_pixel_limit
from percept.pipeline.inputs import check_template, discover, unsearched_subfolders
from percept.pipeline.job import Job, ModelRun, OutputSettings, PictureSettings, parse_tile
from percept.pipeline.manifest import OutputManifest
from percept.pipeline.model_choice import Choice, ModelChoice, default_upscaling
from percept.pipeline.scaleout import RayOptions
from percept.pipeline.stroke_scale import parse_stroke_scale
from percept.pipeline.video_runs import DEFAULT_CRF, check_clips, run_clips

if TYPE_CHECKING:
    from percept.core.model_header import ModelInfo
    from percept.pipeline.inference import Inferencer

# Help panels: what most runs need comes first (the unpanelled options), then how outputs are written, how the
# model runs, and scale-out.
OUTPUT_PANEL, RUNTIME_PANEL = "Output", "Runtime (device, speed, memory)"
INPUTS = typer.Argument(..., help="Image files, folders or glob patterns.", show_default=False)
OUT = typer.Option(..., "--out", "-o", help="Output folder (created if missing); with --ray also a URI.",
                   show_default=False)
RECURSIVE = typer.Option(False, "--recursive", "-r", help="Descend into sub-folders and mirror them under --out.")
BACKEND = typer.Option("auto", "--backend", help=f"{', '.join(BACKEND_CHOICES[:-1])} or {BACKEND_CHOICES[-1]}.",
                       rich_help_panel=RUNTIME_PANEL)
DEVICE = typer.Option("auto", "--device", help="auto, cpu, cuda or cuda:N (several: cuda:0,cuda:1).",
                      rich_help_panel=RUNTIME_PANEL)
PRECISION = typer.Option(None, "--precision", help="fp32, bf16, fp16 or int8 (default: fp16 on GPU; on the CPU "
                         "int8 with OpenVINO for models whose int8 form passed its check, else bf16 where the CPU has "
                         "native bf16, else fp32).", rich_help_panel=RUNTIME_PANEL)
BATCH = typer.Option(0, "--batch-size", "-b", min=0, help="Images (or tiles) of equal shape run together "
                     "(0: auto — 1 on the CPU, where batching measured slower, 4 on GPUs).",
                     rich_help_panel=RUNTIME_PANEL)
THREADS = typer.Option("auto", "--threads", help="LOAD:PROC:SAVE — decoder threads, CPU inference threads, "
                       "encoder threads (auto: min(4, cores):cores:min(4, cores)).", rich_help_panel=RUNTIME_PANEL)
TILE = typer.Option("auto", "--tile", help="Tile size in input pixels, auto (from free memory, halved on "
                    "out-of-memory) or 0 (whole images).", rich_help_panel=RUNTIME_PANEL)
OVERLAP = typer.Option(None, "--tile-overlap", min=0, help="Tile overlap in input pixels "
                       "(default 128 for style, 16 for upscaling).", rich_help_panel=RUNTIME_PANEL)
FORMAT = typer.Option("keep", "--format", help="keep, png, jpg, webp, tiff, avif or heic (keep: the input's "
                      "format; HEIC becomes jpg, which every viewer opens; formats percept cannot write become png).",
                      rich_help_panel=OUTPUT_PANEL)
QUALITY = typer.Option(95, "--quality", min=1, max=100, help="JPEG/WebP quality.", rich_help_panel=OUTPUT_PANEL)
PNG_COMPRESSION = typer.Option(1, "--png-compression", min=0, max=9, help="zlib level of PNG outputs, 0-9 "
                               "(all lossless): 1 is fast, 9 the smallest files (several times slower).",
                               rich_help_panel=OUTPUT_PANEL)
NAME = typer.Option("{stem}{suffix}.{ext}", "--name", help="Output file name template: {stem}, {suffix}, {ext}.",
                    rich_help_panel=OUTPUT_PANEL)
SUFFIX = typer.Option(None, "--suffix", help="The {suffix} of --name (default _STYLE or _xSCALE).",
                      rich_help_panel=OUTPUT_PANEL)
SKIP = typer.Option(True, "--skip-existing/--overwrite", help="Skip inputs whose output exists (default), or "
                    "redo them.", rich_help_panel=OUTPUT_PANEL)
DRY_RUN = typer.Option(False, "--dry-run", help="Print what would be done and exit.", rich_help_panel=OUTPUT_PANEL)
REPORT = typer.Option(None, "--json-report", help="Write per-file status and totals to this JSON file.",
                      rich_help_panel=OUTPUT_PANEL)
MAX_MEMORY = typer.Option("auto", "--max-memory", help="Working memory for the model, e.g. 2G or 800M; sizes "
                          "--tile auto (auto: 2G on the CPU, 70% of free memory on a GPU).",
                          rich_help_panel=RUNTIME_PANEL)
COMPILE = typer.Option(False, "--compile", help="torch backend on CUDA: torch.compile the network (a compile "
                       "per new input shape; tiles then use per-tile normalisation statistics).",
                       rich_help_panel=RUNTIME_PANEL)
CUDA_GRAPHS = typer.Option(False, "--cuda-graphs", help="torch backend on CUDA: replay one captured CUDA graph per "
                           "input shape (tiles then use per-tile normalisation statistics).",
                           rich_help_panel=RUNTIME_PANEL)
CRF = typer.Option(DEFAULT_CRF, "--crf", min=0, max=51, help="Video quality of clips (x264 CRF: lower is "
                   "better and larger; 18 looks lossless, 23 is x264's default).", rich_help_panel=OUTPUT_PANEL)
RAY = typer.Option(None, "--ray", help="Run as a Ray Data job: local (start Ray on this machine), auto (the "
                   "cluster in $RAY_ADDRESS or the running one) or ray://host:port. Inputs and --out may then be "
                   "s3://, gs:// or file:// URIs.", rich_help_panel="Scale-out (Ray)")
RAY_GPUS = typer.Option(None, "--ray-gpus-per-actor", min=0.0, help="GPUs per inference actor, fractional "
                        "allowed (default: 1 where the cluster has GPUs, else 0).", rich_help_panel="Scale-out (Ray)")
RAY_CPUS = typer.Option(1.0, "--ray-cpus-per-actor", min=0.0, help="CPUs reserved per inference actor (the rest "
                        "decode and write).", rich_help_panel="Scale-out (Ray)")
RAY_ACTORS = typer.Option(0, "--ray-actors", min=0, help="Inference actors (0: one per GPU share, or one per "
                          "node on a CPU-only cluster).", rich_help_panel="Scale-out (Ray)")
RAY_STATS = typer.Option(False, "--ray-stats", help="Print the Ray Data stages with their task and row counts, and "
                         "the files each actor ran.", rich_help_panel="Scale-out (Ray)")
MAX_PIXELS = typer.Option(DEFAULT_MAX_PIXELS, "--max-pixels", min=0, help="Refuse inputs with more pixels "
                          "(decompression-bomb guard); 0 for no limit.", rich_help_panel=RUNTIME_PANEL)


def parse_threads(text: str) -> tuple[int, int, int]:
    """``LOAD:PROC:SAVE`` (or ``auto``) into three positive counts."""
    cores = os.cpu_count() or 1
    if text == "auto":
        return min(4, cores), cores, min(4, cores)
    parts = text.split(":")
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 3 or min(values) < 1:
        raise UserError(f"--threads {text!r}: expected LOAD:PROC:SAVE, three positive numbers, e.g. 2:4:2")
    return values  # type: ignore[return-value]


def parse_memory(text: str) -> int | None:
    """``2G``, ``1500M``, ``512k`` or plain bytes; ``auto`` → None (the default for the device)."""
    if text == "auto":
        return None
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    t = text.strip().lower().removesuffix("b").removesuffix("i")
    try:
        value = float(t[:-1]) * units[t[-1]] if t and t[-1] in units else float(t)
    except (ValueError, IndexError):
        value = -1
    if value < 16 << 20:
        raise UserError(f"--max-memory {text!r}: expected a size of at least 16M, e.g. 2G or 800M, or auto")
    return int(value)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def check_writable(out: Path) -> None:
    """Stop once, up front, when --out cannot be written (read-only file system, permissions), instead of
    failing every file with the same reason."""
    from percept.core.atomic import write_test

    try:
        write_test(out)
    except OSError as exc:
        raise UserError(f"{out}: cannot write to the output folder ({exc.strerror or type(exc).__name__})") from None


def check_report_writable(report: Path) -> None:
    """Stop before any work when --json-report cannot be written, instead of after it (the work done is kept
    either way; the report of it would be lost)."""
    from percept.core.atomic import write_test

    try:
        if Path(report).is_dir():
            raise IsADirectoryError(21, "is a folder")
        write_test(Path(report).expanduser().absolute().parent)
    except OSError as exc:
        raise UserError(f"{report}: cannot write the --json-report there ({exc.strerror or type(exc).__name__})") \
            from None


def precision_for(info: ModelInfo, precision: str | None) -> str | None:
    """The precision asked for, checked against what the model supports (a foreign model may not run in
    fp16 or bf16); with none asked for, fp32 where the model supports no reduced precision."""
    half, bf16 = info.config.get("supports_half", True), info.config.get("supports_bfloat16", True)
    name = info.config.get("spandrel_name") or info.config.get("arch")
    if (precision == "fp16" and not half) or (precision == "bf16" and not bf16):
        raise UserError(f"--precision {precision}: {name} does not support it (use fp32)")
    if precision is None and not (half and bf16):
        return "fp32"
    return precision


def _check_kind(path: Path, info: ModelInfo, kind: str) -> None:
    if info.kind != kind:
        other = "percept upscale" if info.kind == "sr" else "percept stylize"
        raise UserError(f"{path}: is a {info.kind} model, not a {kind} model (use {other})")


@dataclass(frozen=True)
class RunOptions:
    """How the command runs, not what it makes: where inputs are found, threads, reporting, Ray."""

    recursive: bool
    threads: tuple[int, int, int]  # LOAD:PROC:SAVE
    verb: str
    dry_run: bool = False
    json_report: Path | None = None
    ray: RayOptions | None = None


@dataclass
class Plan:
    """Every input settled or given a task, and each task's job (``choice`` remembers it per input)."""

    order: list[str]
    tasks: list[Task]
    settled: list[FileResult]
    manifest: Any
    out: Path | None = None
    in_store: Any = None
    out_store: Any = None

    def groups(self, choice: ModelChoice) -> list[tuple[Job, list[Task], list[Task]]]:
        """(job, pictures, clips) for each job that has work, in the order of their first input."""
        out = []
        for job in dict.fromkeys(choice.job(t.source) for t in self.tasks):
            mine = [t for t in self.tasks if choice.job(t.source) == job]
            out.append((job, [t for t in mine if t.format != VIDEO], [t for t in mine if t.format == VIDEO]))
        return out


def _check_output_settings(output: OutputSettings) -> None:
    if output.fmt != "keep" and output.fmt not in FORMATS:
        raise UserError(f"--format {output.fmt!r}: choose keep, {', '.join(FORMATS)}")
    try:
        check_writable_format(output.fmt)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    check_template(output.name)
    configure_pixel_limit(output.max_pixels)


def _plan_local(sources_text: list[str], choice: ModelChoice, out: Path, run: RunOptions) -> Plan:
    """Discover local inputs, give each its job and decide every output (skip, redo, refuse) before any work."""
    sources = discover(sources_text, recursive=run.recursive, exclude=out)
    if not sources:
        raise UserError(f"no images found in {' '.join(sources_text)}"
                        + ("" if run.recursive else " (add --recursive to descend into sub-folders)"))
    if not run.recursive:
        subfolders = [p for p in unsearched_subfolders(sources_text) if p.resolve() != out.resolve()]
        if subfolders:
            names = ", ".join(p.name for p in subfolders[:3]) + (" ..." if len(subfolders) > 3 else "")
            typer.echo(f"note: {_count(len(subfolders), 'sub-folder')} not searched ({names}); add --recursive "
                       "to process them", err=True)
    manifest = OutputManifest(out)
    o = choice.first.output
    tasks, settled = plan_tasks(sources, out, o.name, o.suffix, o.fmt, overwrite=not o.skip_existing,
                                manifest=manifest, settings=lambda path: choice.job(path).fingerprint())
    tasks, refused = check_clips(tasks, choice.first.model.scale)
    settled += refused
    if refused and not tasks:
        first = f"{refused[0].input}: {refused[0].reason}"
        raise UserError(first if len(refused) == 1 else f"{first} (and {_count(len(refused) - 1, 'other clip')})")
    return Plan([str(s.path) for s in sources], tasks, settled, manifest, out=out)


def _plan_remote(sources_text: list[str], choice: ModelChoice, out_text: str, run: RunOptions) -> Plan:
    """The same plan for URIs (object stores, file://), through pyarrow file systems."""
    from percept.pipeline.remote_plan import StoreManifest, plan_remote_tasks
    from percept.pipeline.storage import list_media, open_store, read_bytes

    in_store, _ = open_store(sources_text[0])
    if any(open_store(t)[0].scheme != in_store.scheme for t in sources_text):
        raise UserError("inputs in different stores: give the inputs of one job from one file system")
    out_store, out_base = open_store(out_text)
    sources = list_media(in_store, sources_text, run.recursive)
    if not sources:
        raise UserError(f"no images found in {' '.join(sources_text)}")
    manifest = StoreManifest(out_store, out_base)
    for s in sources:  # a picture's own bytes choose its job (read once more here only for the default upscale)
        choice.choose(s.path, lambda path: read_bytes(in_store, str(path)))
    o = choice.first.output
    tasks, settled = plan_remote_tasks(sources, in_store, out_store, out_base, o.name, o.suffix, o.fmt,
                                       overwrite=not o.skip_existing, manifest=manifest,
                                       settings=lambda path: choice.job(path).fingerprint())
    return Plan([in_store.uri(str(s.path)) for s in sources], tasks, settled, manifest, None, in_store, out_store)


def _print_dry_run(plan: Plan, choice: ModelChoice, run: RunOptions) -> None:
    for t in plan.tasks:
        picked = choice.choose(t.source)
        why = f": {picked.reason}" if choice.classify is not None else ""
        typer.echo(f"{t.source} -> {t.output} ({picked.job.model.path.stem}{why})"
                   + (f" (redo: {t.redo})" if t.redo else ""))
    for r in plan.settled:
        typer.echo(f"{r.input}: {r.status} ({r.reason})")
    models = ", ".join(j.model.path.stem for j in dict.fromkeys(choice.job(t.source) for t in plan.tasks))
    typer.echo(f"dry run: {len(plan.tasks)} to process, {sum(r.status == SKIPPED for r in plan.settled)} skipped, "
               f"{sum(r.status == FAILED for r in plan.settled)} failed" + (f"; model {models}" if models else ""))
    if run.json_report:
        planned = []
        for t in plan.tasks:
            model, why = choice.model_and_reason(t.source)
            planned.append(FileResult(str(t.source), str(t.output), "planned", model=model, model_reason=why))
        Summary(planned + plan.settled, 0.0).write_json(run.json_report)


def _say_choices(plan: Plan, choice: ModelChoice) -> None:
    """Which model each group of pictures gets, and why (the default upscaler decides per picture)."""
    if not choice.is_default or not plan.tasks:
        return
    by_model: dict[str, list[tuple[Task, Choice]]] = {}
    for t in plan.tasks:
        picked = choice.choose(t.source)
        by_model.setdefault(picked.job.model.path.stem, []).append((t, picked))
    for name, pairs in by_model.items():
        first, picked = pairs[0]
        why = f"e.g. {Path(str(first.source)).name}: {picked.reason}" if choice.classify else picked.reason
        typer.echo(f"using model {name} for {_count(len(pairs), 'file')} ({why})", err=True)


def _open_inferencers(job: Job) -> list[Inferencer]:
    """One Inferencer per device of ``--device`` (a comma-separated list)."""
    inferencers = []
    for dev in job.model.devices:
        try:
            if (job.model.compile or job.model.cuda_graphs) and job.model.backend != "torch":
                raise UserError("--compile and --cuda-graphs need --backend torch (and a CUDA device)")
            runtime = job.open_runtime(dev, log=lambda m: typer.echo(m, err=True))
            if getattr(runtime, "note", ""):
                typer.echo(f"{runtime.name}: {runtime.note}", err=True)
            inferencer = job.inferencer(runtime, log=lambda m: typer.echo(m, err=True))
            if not inferencers:
                for note in inferencer.notes:
                    typer.echo(f"note: {note}", err=True)
            inferencers.append(inferencer)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    return inferencers


class _Recorder:
    """Finished files: their job's settings into the record, failures and notes to the user, progress."""

    def __init__(self, plan: Plan, choice: ModelChoice, reporter: ProgressReporter):
        self.plan, self.choice, self.reporter = plan, choice, reporter
        self.counts = {DONE: 0, FAILED: 0}
        self.finished = 0
        self.ray_run = None  # percept.pipeline.scaleout.RayRun of a --ray job
        self.last_save = time.monotonic()
        store = plan.in_store  # Ray results show their input as a URI
        self.source_of = {(store.uri(str(t.source)) if store is not None else str(t.source)): t.source
                          for t in plan.tasks}

    def name_model(self, result: FileResult) -> FileResult:
        """``result`` with the model its input was given and, when percept chose per picture, why."""
        source = self.source_of.get(result.input)
        if source is not None:
            result.model, result.model_reason = self.choice.model_and_reason(source)
        return result

    def record(self, result: FileResult, log: Callable[[str], None] | None = None) -> None:
        log = log or self.reporter.log
        if result.status == DONE and result.output:
            job = self.choice.job(self.source_of.get(result.input, Path(result.input)))
            p = job.picture
            output = result.output if self.plan.out is None else Path(result.output)
            self.plan.manifest.record(output, job.fingerprint(),
                                      {"source": result.input, "model": job.model.path.name, "strength": p.strength,
                                       "preserve_color": p.preserve_color})
            if time.monotonic() - self.last_save > 1.0:
                self.plan.manifest.save()
                self.last_save = time.monotonic()
        self.counts[result.status] = self.counts.get(result.status, 0) + 1
        if result.status == FAILED:
            log(f"failed: {result.input}: {result.reason}")
        for note in result.notes:
            log(f"note: {result.input}: {note}")

    def on_result(self, result: FileResult, _finished: int) -> None:
        self.record(result)
        self.finished += 1
        elapsed = time.monotonic() - self.reporter.start
        self.reporter.update(self.finished, **{"img/s": self.counts[DONE] / elapsed if elapsed > 0 else 0.0,
                                               "failed": self.counts[FAILED]})


def _run_group(job: Job, pictures: list[Task], clips: list[Task], plan: Plan, run: RunOptions,
               recorder: _Recorder) -> Summary:
    """One job's pictures through the local pipeline or Ray, then its clips (always local)."""
    load, proc, save = run.threads
    inferencers = _open_inferencers(job) if run.ray is None or clips else []
    if plan.out is not None:
        check_writable(plan.out)  # after the model opened: a bad option never leaves an empty --out behind
    where = (", ".join(f"{i.runtime.name}/{i.runtime.device}/{i.runtime.precision}" for i in inferencers)
             if run.ray is None else f"Ray ({run.ray.address}), {job.model.backend} on {job.model.device}")
    layout = (f"threads {load}:{proc}:{save}, batch {inferencers[0].batch_size}, tile {inferencers[0].tile or 'off'}"
              if run.ray is None else f"tile {job.picture.tile}")
    what = _count(len(pictures), "image") + (f" and {_count(len(clips), 'clip')}" if clips else "")
    settled = f" ({len(plan.settled)} already settled)" if plan.settled else ""
    recorder.reporter.log(f"{run.verb}: {what}{settled} with {job.model.path.stem} on {where}, {layout}")
    if not pictures:
        summary = Summary([], 0.0)
    elif run.ray is not None:
        summary = _run_on_ray(job, pictures, plan, run, recorder)
    else:
        o = job.output
        processor = BatchProcessor(inferencers, load_threads=load, save_threads=save, quality=o.quality,
                                   max_pixels=o.max_pixels, on_result=recorder.on_result,
                                   png_level=o.png_compression)
        summary = processor.run(pictures)
    if clips and not summary.interrupted:
        native = job.for_clips().inferencer(inferencers[0].runtime)
        run_clips(clips, native, summary, recorder.record, verb=run.verb, crf=job.output.crf,
                  temporal=job.picture.temporal, settings=job.fingerprint())
    return summary


def _run_on_ray(job: Job, pictures: list[Task], plan: Plan, run: RunOptions, recorder: _Recorder) -> Summary:
    from percept.pipeline.scaleout import ray_job, run_on_ray
    from percept.pipeline.storage import open_store

    local_store = plan.in_store or open_store(".")[0]
    gpus = str(job.model.device).startswith("cuda") or (run.ray.gpus_per_actor or 0) > 0
    job = replace(job, model=replace(job.model, batch_size=job.model.batch_size or (4 if gpus else 1)))
    return run_on_ray(pictures, ray_job(job), run.ray, local_store, plan.out_store or local_store,
                      run=recorder.ray_run, on_result=recorder.on_result)


def _run(sources_text: list[str], choice: ModelChoice, out_text: str, run: RunOptions) -> None:
    """Plan every input, then run each job's share of them; the exit code says whether anything failed."""
    from percept.pipeline.storage import is_uri

    _check_output_settings(choice.first.output)
    remote = is_uri(out_text) or any(is_uri(t) for t in sources_text)
    if remote and run.ray is None:
        raise UserError("URIs (s3://, gs://, file://) as inputs or --out need --ray (local, auto or an address)")
    plan = (_plan_remote(sources_text, choice, out_text, run) if remote
            else _plan_local(sources_text, choice, Path(out_text).expanduser(), run))
    if run.dry_run:
        _print_dry_run(plan, choice, run)
        raise typer.Exit(1 if any(r.status == FAILED for r in plan.settled) else 0)
    redone = [t for t in plan.tasks if t.redo]
    if redone:
        typer.echo(f"{_count(len(redone), 'existing output')} made with other settings (or without a record) "
                   f"will be made again, e.g. {redone[0].output}", err=True)
    _say_choices(plan, choice)
    if run.json_report:
        check_report_writable(run.json_report)
    from percept.core.devices import set_threads

    set_threads(run.threads[1])  # before opening: every runtime sizes its thread pool from it
    recorder = _Recorder(plan, choice, ProgressReporter(len(plan.tasks), run.verb, log_every=5.0))
    recorder.ray_run = _connect_ray(run)
    summary = Summary([], 0.0)
    try:
        with recorder.reporter:
            for job, pictures, clips in plan.groups(choice):
                part = _run_group(job, pictures, clips, plan, run, recorder)
                summary = summary.then(part)
                if part.interrupted:
                    break
    finally:
        if plan.manifest.entries:
            plan.manifest.save()
    _finish(summary, plan, run, recorder)


def _connect_ray(run: RunOptions):
    if run.ray is None:
        return None
    from percept.pipeline.scaleout import RayRun, connect

    ray_run = RayRun()
    ray_run.startup_s, _ = connect(run.ray.address)
    return ray_run


def _finish(summary: Summary, plan: Plan, run: RunOptions, recorder: _Recorder) -> None:
    """Settled failures, the report, the summary line and the exit code."""
    for r in plan.settled:
        if r.status == FAILED:
            recorder.reporter.log(f"failed: {r.input}: {r.reason}")
    position = {text: i for i, text in enumerate(plan.order)}
    summary.results = sorted([recorder.name_model(r) for r in summary.results] + plan.settled,
                             key=lambda r: position.get(r.input, 0))
    ray_run = recorder.ray_run
    if run.json_report:
        summary.write_json(run.json_report, extra={"ray": ray_run.to_dict()} if ray_run else None)
    if ray_run is not None and run.ray.stats:
        typer.echo(ray_run.table())
    typer.echo(summary.line())
    if summary.interrupted:
        typer.echo("interrupted: unfinished files were not written (no partial files left); run again to resume",
                   err=True)
    raise typer.Exit(summary.exit_code)


def _ray_options(address: str | None, gpus: float | None, cpus: float, actors: int, stats: bool) -> RayOptions | None:
    if address is None:
        if stats or actors or gpus is not None:
            raise UserError("--ray-stats, --ray-actors and --ray-gpus-per-actor need --ray")
        return None
    return RayOptions(address=address, gpus_per_actor=gpus, cpus_per_actor=cpus, actors=actors, stats=stats)


# The options stylize and upscale share (their signatures list them, as typer needs; they are parsed once, here).
SHARED_OPTIONS = ("recursive", "backend", "device", "precision", "batch_size", "threads", "tile", "tile_overlap",
                  "format", "quality", "png_compression", "name", "skip_existing", "dry_run", "json_report",
                  "max_pixels", "max_memory", "compile", "cuda_graphs", "crf", "ray", "ray_gpus_per_actor",
                  "ray_cpus_per_actor", "ray_actors", "ray_stats")


@dataclass(frozen=True)
class Shared:
    """What stylize and upscale take alike, as the settings objects the job and the run consume."""

    picture: PictureSettings
    output: OutputSettings
    run: RunOptions
    model_run: Callable[[Path, ModelInfo], ModelRun]

    @classmethod
    def parse(cls, verb: str, *, recursive: bool, backend: str, device: str, precision: str | None,
              batch_size: int, threads: str, tile: str, tile_overlap: int | None, format: str, quality: int,
              png_compression: int, name: str, skip_existing: bool, dry_run: bool, json_report: Path | None,
              max_pixels: int, max_memory: str, compile: bool, cuda_graphs: bool, crf: int, ray: str | None,
              ray_gpus_per_actor: float | None, ray_cpus_per_actor: float, ray_actors: int,
              ray_stats: bool) -> Shared:
        threads_ = parse_threads(threads)
        parse_tile(tile)  # a bad --tile is a usage error before any input is looked at
        output = OutputSettings(fmt=format, quality=quality, png_compression=png_compression, crf=crf, name=name,
                                skip_existing=skip_existing, max_pixels=max_pixels)
        run = RunOptions(recursive=recursive, threads=threads_, verb=verb, dry_run=dry_run, json_report=json_report,
                         ray=_ray_options(ray, ray_gpus_per_actor, ray_cpus_per_actor, ray_actors, ray_stats))
        model_run = _model_runner(backend, device, precision, compile, cuda_graphs, batch_size, threads_[1],
                                  max_memory)
        return cls(PictureSettings(tile=tile, overlap=tile_overlap), output, run, model_run)


def stylize(
    inputs: list[str] = INPUTS,
    style: str = typer.Option(..., "--style", "-s", help="Shipped style name or style model file.",
                              show_default=False),
    out: str = OUT,
    strength: float = typer.Option(1.0, "--strength", min=0.0, max=1.0, help="Blend with the original: 0..1."),
    preserve_color: bool = typer.Option(False, "--preserve-color", help="Take only the luminance from the "
                                        "style; keep the input's colours (YCbCr chroma)."),
    recursive: bool = RECURSIVE, backend: str = BACKEND, device: str = DEVICE, precision: str | None = PRECISION,
    batch_size: int = BATCH, threads: str = THREADS, tile: str = TILE, tile_overlap: int | None = OVERLAP,
    format: str = FORMAT, quality: int = QUALITY, png_compression: int = PNG_COMPRESSION, name: str = NAME,
    suffix: str | None = SUFFIX,
    skip_existing: bool = SKIP, dry_run: bool = DRY_RUN, json_report: Path | None = REPORT,
    max_pixels: int = MAX_PIXELS, max_memory: str = MAX_MEMORY, compile: bool = COMPILE,
    cuda_graphs: bool = CUDA_GRAPHS, crf: int = CRF, ray: str | None = RAY, ray_gpus_per_actor: float | None = RAY_GPUS,
    ray_cpus_per_actor: float = RAY_CPUS, ray_actors: int = RAY_ACTORS, ray_stats: bool = RAY_STATS,
    temporal: bool = typer.Option(True, "--temporal/--per-frame", help="Clips: normalisation statistics "
                                  "smoothed over frames (less flicker), or each frame's own."),
    stroke_scale: str = typer.Option("1", "--stroke-scale", help="Stroke size relative to the picture: 1 paints "
                                     "as on a 1024-px picture at any resolution (large photos are stylised at that "
                                     "size and enlarged back with percept's SR network), 2 twice as big; native: "
                                     "the network's own stroke size in pixels (tiny on a 12 MP photo). Images only."),
) -> None:
    """Stylise images and video clips with a style network (written as {stem}_{style}.{ext} under --out)."""
    from percept.engines.model_info import read_model_info

    model = resolve_model(style, kind="style")
    info = read_model_info(model)
    _check_kind(model, info, "style")
    style_name = normalise_name(info.name or model.stem) or model.stem
    try:
        stroke = parse_stroke_scale(stroke_scale)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    shared = Shared.parse("stylize", **{k: v for k, v in locals().items() if k in SHARED_OPTIONS})
    picture = replace(shared.picture, strength=strength, preserve_color=preserve_color, stroke_scale=stroke.value,
                      temporal=temporal)
    output = replace(shared.output, suffix=f"_{style_name}" if suffix is None else suffix)
    job = _job(shared.model_run(model, info), info, picture, output)
    _run(inputs, ModelChoice.single(job), out, shared.run)


def upscale(
    inputs: list[str] = INPUTS,
    scale: int | None = typer.Option(None, "--scale", help="Upscaling factor: 2, 4 or 8 (default: the --model's "
                                     "own, else 4).", show_default=False),
    model: str | None = typer.Option(None, "--model", "-m", help="Shipped SR model name or model file "
                                     "(default at ×2 and ×4: per picture, the real-photo model for JPEG-damaged "
                                     "pictures and clips, the clean-input model otherwise; ×8: sr-x8-pixel; printed)."),
    out: str = OUT,
    recursive: bool = RECURSIVE, backend: str = BACKEND, device: str = DEVICE, precision: str | None = PRECISION,
    batch_size: int = BATCH, threads: str = THREADS, tile: str = TILE, tile_overlap: int | None = OVERLAP,
    format: str = FORMAT, quality: int = QUALITY, png_compression: int = PNG_COMPRESSION, name: str = NAME,
    suffix: str | None = SUFFIX,
    skip_existing: bool = SKIP, dry_run: bool = DRY_RUN, json_report: Path | None = REPORT,
    max_pixels: int = MAX_PIXELS, max_memory: str = MAX_MEMORY, compile: bool = COMPILE,
    cuda_graphs: bool = CUDA_GRAPHS, crf: int = CRF, ray: str | None = RAY, ray_gpus_per_actor: float | None = RAY_GPUS,
    ray_cpus_per_actor: float = RAY_CPUS, ray_actors: int = RAY_ACTORS, ray_stats: bool = RAY_STATS,
    detail: float | None = typer.Option(None, "--detail", min=0.0, max=1.0, show_default=False,
                                        help="0 (fidelity: clean, closest to the truth) to 1 (perceptual: more "
                                        "texture and grain): the model's weights blended with its partner's when "
                                        "opened. Models with a partner only; without --model it applies to the "
                                        "JPEG-damaged pictures' model, clean pictures keep the clean model."),
) -> None:
    """Upscale images and clips ×2, ×4 or ×8 with a super-resolution network (written as {stem}_x{scale}.{ext}
    under --out). Without --model, ×4 and ×2 give each picture the shipped model for its kind: JPEG-damaged
    pictures (from their JPEG tables or their pixels) and clips the real-photo model, clean ones the clean-input
    model; ×8 has one shipped model."""
    if scale is not None and scale not in (2, 4, 8):
        raise UserError(f"--scale {scale}: choose 2, 4 or 8")
    shared = Shared.parse("upscale", **{k: v for k, v in locals().items() if k in SHARED_OPTIONS})

    if detail is not None and ray is not None:
        raise UserError("--detail runs on this machine only, not with --ray")

    def make_job(path: Path, blended: float | None = None) -> Job:
        from percept.engines.model_info import read_model_info

        info = read_model_info(path)
        _check_kind(path, info, "sr")
        if scale is not None and int(info.scale) != scale:
            raise UserError(f"{model}: is a ×{info.scale} model but --scale is {scale} "
                            f"(pass --scale {info.scale} or a ×{scale} model)")
        suffix_ = f"_x{int(info.scale)}" if suffix is None else suffix
        run = replace(shared.model_run(path, info), detail=blended)
        if blended is not None:
            run.blend()  # a model without a partner stops here, in one line
        return _job(run, info, shared.picture, replace(shared.output, suffix=suffix_))

    if model is None:
        choice = default_upscaling(make_job, scale or 4, detail)
    else:
        choice = ModelChoice.single(make_job(resolve_model(model, kind="sr"), detail))
    _run(inputs, choice, out, shared.run)


def _note(message: str) -> None:
    typer.echo(message, err=True)


def _model_runner(backend: str, device: str, precision: str | None, compile: bool, cuda_graphs: bool,
                  batch_size: int, threads: int, max_memory: str) -> Callable[[Path, ModelInfo], ModelRun]:
    """How the command line says models run, for each model the job opens (the default upscale has two)."""
    memory = parse_memory(max_memory)

    def model_run(path: Path, info: ModelInfo) -> ModelRun:
        chosen = precision_for(info, precision)
        if chosen is None:  # int8 where this model's form passed its check and is faster on this CPU
            from percept.engines.int8_choice import default_int8

            verdict = default_int8(path, backend, device, log=_note)
            if verdict.use:  # opened with --precision int8 then; otherwise the runtime's note says why not
                _note(f"{path.stem}: int8: {verdict.why}")
            chosen = "int8" if verdict.use else None
        return ModelRun(path=path, kind=info.kind, scale=int(info.scale), backend=backend, device=device,
                        precision=chosen, compile=compile, cuda_graphs=cuda_graphs,
                        batch_size=batch_size, threads=threads, max_memory=memory)

    return model_run


def _job(model: ModelRun, info: ModelInfo, picture: PictureSettings, output: OutputSettings) -> Job:
    """A model's job, with a foreign model's own tile overlap (its receptive field) unless one was given."""
    if picture.overlap is None and info.config.get("tile_overlap") is not None:
        picture = replace(picture, overlap=info.config.get("tile_overlap"))
    return Job(model, picture, output)


PANEL = "Process"


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel=PANEL)(stylize)
    app.command(rich_help_panel=PANEL)(upscale)
