"""``percept stylize`` and ``percept upscale``: files, folders or globs through a model, fast and safely.

The commands only parse options, pick the model and print; the work is in ``percept.cli.batch`` (the
pipeline), ``percept.cli.inference`` (tiling and post-processing) and ``percept.cli.imageio`` (files).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import typer

from percept.cli.batch import DONE, FAILED, SKIPPED, VIDEO, BatchProcessor, FileResult, Summary, plan_tasks
from percept.cli.errors import UserError
from percept.cli.imageio import DEFAULT_MAX_PIXELS, FORMATS, check_writable_format, configure_pixel_limit
from percept.cli.inference import Inferencer
from percept.cli.inputs import check_template, discover, unsearched_subfolders
from percept.cli.manifest import OutputManifest, fingerprint, model_identity
from percept.cli.scaleout import RayOptions
from percept.cli.stroke_scale import StrokeScale, parse_stroke_scale
from percept.cli.video_runs import DEFAULT_CRF, check_clips, run_clips
from percept.cli.zoo import default_sr_model, normalise_name, resolve_model
from percept.engines.model_info import read_model_info
from percept.train.checkpoint import ModelInfo
from percept.train.progress import ProgressReporter

INPUTS = typer.Argument(..., help="Image files, folders or glob patterns.", show_default=False)
OUT = typer.Option(..., "--out", "-o", help="Output folder (created if missing); with --ray also a URI.",
                   show_default=False)
RECURSIVE = typer.Option(False, "--recursive", "-r", help="Descend into sub-folders and mirror them under --out.")
BACKEND = typer.Option("auto", "--backend", help="auto, torch, onnxruntime, openvino or tensorrt.")
DEVICE = typer.Option("auto", "--device", help="auto, cpu, cuda or cuda:N (several: cuda:0,cuda:1).")
PRECISION = typer.Option(None, "--precision", help="fp32, bf16 or fp16 (default: fp16 on GPU; on the CPU bf16 "
                         "with OpenVINO where the CPU has native bf16, else fp32).")
BATCH = typer.Option(0, "--batch-size", "-b", min=0, help="Images (or tiles) of equal shape run together "
                     "(0: auto — 1 on the CPU, where batching measured slower, 4 on GPUs).")
THREADS = typer.Option("auto", "--threads", help="LOAD:PROC:SAVE — decoder threads, CPU inference threads, "
                       "encoder threads (auto: min(4, cores):cores:min(4, cores)).")
TILE = typer.Option("auto", "--tile", help="Tile size in input pixels, auto (from free memory, halved on "
                    "out-of-memory) or 0 (whole images).")
OVERLAP = typer.Option(None, "--tile-overlap", min=0, help="Tile overlap in input pixels "
                       "(default 128 for style, 16 for upscaling).")
FORMAT = typer.Option("keep", "--format", help="keep, png, jpg, webp, tiff, avif or heic (keep: the input's "
                      "format; HEIC becomes jpg, which every viewer opens; formats percept cannot write become png).")
QUALITY = typer.Option(95, "--quality", min=1, max=100, help="JPEG/WebP quality.")
NAME = typer.Option("{stem}{suffix}.{ext}", "--name", help="Output file name template: {stem}, {suffix}, {ext}.")
SUFFIX = typer.Option(None, "--suffix", help="The {suffix} of --name (default _STYLE or _xSCALE).")
SKIP = typer.Option(True, "--skip-existing/--overwrite", help="Skip inputs whose output exists (default), or "
                    "redo them.")
DRY_RUN = typer.Option(False, "--dry-run", help="Print what would be done and exit.")
REPORT = typer.Option(None, "--json-report", help="Write per-file status and totals to this JSON file.")
MAX_MEMORY = typer.Option("auto", "--max-memory", help="Working memory for the model, e.g. 2G or 800M; sizes "
                          "--tile auto (auto: 2G on the CPU, 70% of free memory on a GPU).")
COMPILE = typer.Option(False, "--compile", help="torch backend on CUDA: torch.compile the network (a compile "
                       "per new input shape; tiles then use per-tile normalisation statistics).")
CUDA_GRAPHS = typer.Option(False, "--cuda-graphs", help="torch backend on CUDA: replay one captured CUDA graph per "
                           "input shape (tiles then use per-tile normalisation statistics).")
CRF = typer.Option(DEFAULT_CRF, "--crf", min=0, max=51, help="Video quality of clips (x264 CRF: lower is "
                   "better and larger; 18 looks lossless, 23 is x264's default).")
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
                          "(decompression-bomb guard); 0 for no limit.")


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


def parse_tile(text: str) -> int | str:
    if text == "auto":
        return "auto"
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise UserError(f"--tile {text!r}: expected a size in pixels, auto, or 0 for no tiling")
    return value


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def check_writable(out: Path) -> None:
    """Stop once, up front, when --out cannot be written (read-only file system, permissions), instead of
    failing every file with the same reason."""
    import tempfile

    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".percept-write-test-"):
            pass
    except OSError as exc:
        raise UserError(f"{out}: cannot write to the output folder ({exc.strerror or type(exc).__name__})") from None


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


def _plan_local(sources_text: list[str], out: Path, recursive: bool, name: str, suffix: str, fmt: str,
                skip_existing: bool, settings_fp: str, scale: int):
    """Discover local inputs and decide every output (skip, redo, refuse) before any work."""
    sources = discover(sources_text, recursive=recursive, exclude=out)
    if not sources:
        raise UserError(f"no images found in {' '.join(sources_text)}"
                        + ("" if recursive else " (add --recursive to descend into sub-folders)"))
    if not recursive:
        subfolders = [p for p in unsearched_subfolders(sources_text) if p.resolve() != out.resolve()]
        if subfolders:
            names = ", ".join(p.name for p in subfolders[:3]) + (" ..." if len(subfolders) > 3 else "")
            typer.echo(f"note: {_count(len(subfolders), 'sub-folder')} not searched ({names}); add --recursive "
                       "to process them", err=True)
    manifest = OutputManifest(out)
    tasks, settled = plan_tasks(sources, out, name, suffix, fmt, overwrite=not skip_existing, manifest=manifest,
                                settings=settings_fp)
    tasks, refused = check_clips(tasks, scale)
    settled += refused
    if refused and not tasks:
        first = f"{refused[0].input}: {refused[0].reason}"
        raise UserError(first if len(refused) == 1 else f"{first} (and {_count(len(refused) - 1, 'other clip')})")
    return [str(s.path) for s in sources], tasks, settled, manifest


def _plan_remote(sources_text: list[str], out_text: str, recursive: bool, name: str, suffix: str, fmt: str,
                 skip_existing: bool, settings_fp: str):
    """The same plan for URIs (object stores, file://), through pyarrow file systems."""
    from percept.cli.remote_plan import StoreManifest, plan_remote_tasks
    from percept.cli.storage import list_media, open_store

    in_store, _ = open_store(sources_text[0])
    if any(open_store(t)[0].scheme != in_store.scheme for t in sources_text):
        raise UserError("inputs in different stores: give the inputs of one job from one file system")
    out_store, out_base = open_store(out_text)
    sources = list_media(in_store, sources_text, recursive)
    if not sources:
        raise UserError(f"no images found in {' '.join(sources_text)}")
    manifest = StoreManifest(out_store, out_base)
    tasks, settled = plan_remote_tasks(sources, in_store, out_store, out_base, name, suffix, fmt,
                                       overwrite=not skip_existing, manifest=manifest, settings=settings_fp)
    return [in_store.uri(str(s.path)) for s in sources], tasks, settled, manifest, in_store, out_store


def _open_inferencers(model: Path, *, device: str, backend: str, precision: str | None, compile: bool,
                      cuda_graphs: bool, kind: str, tile_size: int | str, overlap: int | None, strength: float,
                      preserve_color: bool, batch_size: int, memory: int | None,
                      stroke: StrokeScale | None = None) -> list[Inferencer]:
    """One Inferencer per device of ``--device`` (a comma-separated list)."""
    from percept.cli.stroke_scale import zoo_enlarger
    from percept.engines.select import open_runtime

    inferencers = []
    for dev in [d.strip() for d in device.split(",") if d.strip()] or ["auto"]:
        try:
            options = {"compile": compile, "cuda_graphs": cuda_graphs} if compile or cuda_graphs else None
            if options and backend != "torch":
                raise UserError("--compile and --cuda-graphs need --backend torch (and a CUDA device)")
            runtime = open_runtime(model, backend=backend, device=dev, precision=precision,
                                   log=lambda m: typer.echo(m, err=True), torch_options=options)
            if getattr(runtime, "note", ""):
                typer.echo(f"{runtime.name}: {runtime.note}", err=True)
            enlarger = None
            if stroke is not None and stroke.value > 0:
                enlarger = zoo_enlarger(backend=backend, device=dev, precision=precision, max_memory=memory,
                                        log=lambda m: typer.echo(m, err=True))
            inferencer = Inferencer(runtime, kind=kind, tile=tile_size, overlap=overlap, strength=strength,
                                    preserve_color=preserve_color, batch_size=batch_size, max_memory=memory,
                                    stroke=stroke, enlarger=enlarger)
            if not inferencers:
                for note in inferencer.notes:
                    typer.echo(f"note: {note}", err=True)
            inferencers.append(inferencer)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    return inferencers


def _run(sources_text: list[str], model: Path, info: ModelInfo, out_text: str, suffix: str, *, recursive: bool,
         backend: str, device: str, precision: str | None, batch_size: int, threads: str, tile: str,
         overlap: int | None, fmt: str, quality: int, name: str, skip_existing: bool, dry_run: bool,
         json_report: Path | None, max_pixels: int, max_memory: str = "auto", compile: bool = False,
         cuda_graphs: bool = False, strength: float = 1.0, preserve_color: bool = False,
         crf: int = DEFAULT_CRF, temporal: bool = True, verb: str, ray: RayOptions | None = None,
         stroke: StrokeScale | None = None) -> None:
    from percept.cli.storage import is_uri

    load, proc, save = parse_threads(threads)
    tile_size = parse_tile(tile)
    precision = precision_for(info, precision)
    if overlap is None:
        overlap = info.config.get("tile_overlap")  # a foreign model's receptive field (percept.train.foreign)
    memory = parse_memory(max_memory)
    if fmt != "keep" and fmt not in FORMATS:
        raise UserError(f"--format {fmt!r}: choose keep, {', '.join(FORMATS)}")
    try:
        check_writable_format(fmt)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    check_template(name)
    configure_pixel_limit(max_pixels)
    remote = is_uri(out_text) or any(is_uri(t) for t in sources_text)
    if remote and ray is None:
        raise UserError("URIs (s3://, gs://, file://) as inputs or --out need --ray (local, auto or an address)")
    settings = {"model": model_identity(model), "strength": strength, "preserve_color": preserve_color,
                "tile": tile, "overlap": overlap, "precision": precision or "default", "quality": quality,
                "crf": crf, "temporal": temporal}
    if stroke is not None:
        settings["stroke_scale"] = stroke.value
    settings_fp = fingerprint(settings)
    out = Path(out_text).expanduser() if not remote else None
    if remote:
        order, tasks, settled, manifest, in_store, out_store = _plan_remote(
            sources_text, out_text, recursive, name, suffix, fmt, skip_existing, settings_fp)
    else:
        order, tasks, settled, manifest = _plan_local(sources_text, out, recursive, name, suffix, fmt,
                                                      skip_existing, settings_fp, int(info.scale))
        in_store = out_store = None
    redone = [t for t in tasks if t.redo]
    if dry_run:
        for t in tasks:
            typer.echo(f"{t.source} -> {t.output}" + (f" (redo: {t.redo})" if t.redo else ""))
        for r in settled:
            typer.echo(f"{r.input}: {r.status} ({r.reason})")
        typer.echo(f"dry run: {len(tasks)} to process, {sum(r.status == SKIPPED for r in settled)} skipped, "
                   f"{sum(r.status == FAILED for r in settled)} failed; model {model}")
        if json_report:
            planned = [FileResult(str(t.source), str(t.output), "planned") for t in tasks]
            Summary(planned + settled, 0.0).write_json(json_report)
        raise typer.Exit(1 if any(r.status == FAILED for r in settled) else 0)

    if redone:
        typer.echo(f"{_count(len(redone), 'existing output')} made with other settings (or without a record) "
                   f"will be made again, e.g. {redone[0].output}", err=True)

    import torch

    torch.set_num_threads(proc)  # before opening: ONNX Runtime sizes its thread pool from it
    clips = [t for t in tasks if t.format == VIDEO]
    tasks = [t for t in tasks if t.format != VIDEO]
    opening = dict(device=device, backend=backend, precision=precision, compile=compile, cuda_graphs=cuda_graphs,
                   kind=info.kind, tile_size=tile_size, overlap=overlap, strength=strength,
                   preserve_color=preserve_color, batch_size=batch_size, memory=memory, stroke=stroke)
    inferencers = _open_inferencers(model, **opening) if ray is None or clips else []
    if out is not None:
        check_writable(out)  # after the model opened: a bad option never leaves an empty --out behind
    ray_run = None
    if ray is not None:
        from percept.cli.scaleout import RayRun, connect

        ray_run = RayRun()
        ray_run.startup_s, _ = connect(ray.address)
        devices = f"Ray ({ray.address}, start-up {ray_run.startup_s:.1f} s), {backend} on {device}"
    else:
        devices = ", ".join(f"{i.runtime.name}/{i.runtime.device}/{i.runtime.precision}" for i in inferencers)
    reporter = ProgressReporter(len(tasks), verb, log_every=5.0)
    what = _count(len(tasks), "image") + (f" and {_count(len(clips), 'clip')}" if clips else "")
    layout = (f"threads {load}:{proc}:{save}, batch {inferencers[0].batch_size}, tile {inferencers[0].tile or 'off'}"
              if ray is None else f"tile {tile}")
    reporter.log(f"{verb}: {what} ({len(settled)} already settled) on {devices}, {layout}")
    counts = {DONE: 0, FAILED: 0}
    started = [0.0]

    last_save = [time.monotonic()]

    def record(result: FileResult, log: Callable[[str], None] = reporter.log) -> None:
        """A finished file: its settings into the manifest, failures and notes to the user."""
        if result.status == DONE and result.output:
            manifest.record(result.output if remote else Path(result.output), settings_fp,
                            {"source": result.input, "model": model.name, "strength": strength,
                             "preserve_color": preserve_color})
            if time.monotonic() - last_save[0] > 1.0:
                manifest.save()
                last_save[0] = time.monotonic()
        counts[result.status] = counts.get(result.status, 0) + 1
        if result.status == FAILED:
            log(f"failed: {result.input}: {result.reason}")
        for note in result.notes:
            log(f"note: {result.input}: {note}")

    def on_result(result: FileResult, finished: int) -> None:
        if not started[0]:
            started[0] = time.monotonic()
        record(result)
        elapsed = time.monotonic() - reporter.start
        reporter.update(finished, **{"img/s": counts[DONE] / elapsed if elapsed > 0 else 0.0,
                                     "failed": counts[FAILED]})

    try:
        if not (tasks or not clips):
            summary = Summary([], 0.0)
        elif ray is not None:
            from percept.cli.scaleout import model_spec, run_on_ray
            from percept.cli.storage import open_store

            local_store = in_store or open_store(".")[0]
            auto_batch = batch_size or (4 if str(device).startswith("cuda") or (ray.gpus_per_actor or 0) > 0 else 1)
            spec = model_spec(model, backend=backend, device=device, precision=precision, kind=info.kind,
                              tile=tile_size, overlap=overlap, strength=strength, preserve_color=preserve_color,
                              batch_size=auto_batch, max_memory=memory, threads=proc,
                              stroke_scale=stroke.value if stroke is not None else 0.0)
            with reporter:
                summary = run_on_ray(tasks, spec, ray, local_store, out_store or local_store, quality=quality,
                                     max_pixels=max_pixels, run=ray_run, on_result=on_result)
        else:
            processor = BatchProcessor(inferencers, load_threads=load, save_threads=save, quality=quality,
                                       max_pixels=max_pixels, on_result=on_result)
            with reporter:
                summary = processor.run(tasks)
        if clips and not summary.interrupted:
            run_clips(clips, _native(inferencers[0]), summary, record, verb=verb, crf=crf, temporal=temporal,
                      settings=settings_fp)
    finally:
        if manifest.entries:
            manifest.save()
    for r in settled:
        if r.status == FAILED:
            reporter.log(f"failed: {r.input}: {r.reason}")
    position = {text: i for i, text in enumerate(order)}
    summary.results = sorted(summary.results + settled, key=lambda r: position.get(r.input, 0))
    if json_report:
        summary.write_json(json_report, extra={"ray": ray_run.to_dict()} if ray_run else None)
    if ray_run is not None and ray.stats:
        typer.echo(ray_run.table())
    typer.echo(summary.line())
    if summary.interrupted:
        typer.echo("interrupted: unfinished files were not written (no partial files left); run again to resume",
                   err=True)
    raise typer.Exit(summary.exit_code)


def _native(inferencer: Inferencer) -> Inferencer:
    """Clips are stylised at their own resolution: a stroke scale's SR trip on every frame would cost more
    than the frame itself and could flicker."""
    import copy

    native = copy.copy(inferencer)
    native.stroke = None
    return native


def _ray_options(address: str | None, gpus: float | None, cpus: float, actors: int, stats: bool) -> RayOptions | None:
    if address is None:
        if stats or actors or gpus is not None:
            raise UserError("--ray-stats, --ray-actors and --ray-gpus-per-actor need --ray")
        return None
    return RayOptions(address=address, gpus_per_actor=gpus, cpus_per_actor=cpus, actors=actors, stats=stats)


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
    format: str = FORMAT, quality: int = QUALITY, name: str = NAME, suffix: str | None = SUFFIX,
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
    model = resolve_model(style, kind="style")
    info = read_model_info(model)
    _check_kind(model, info, "style")
    style_name = normalise_name(info.name or model.stem) or model.stem
    try:
        stroke = parse_stroke_scale(stroke_scale)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    _run(inputs, model, info, out, f"_{style_name}" if suffix is None else suffix, recursive=recursive,
         backend=backend, device=device, precision=precision, batch_size=batch_size, threads=threads, tile=tile,
         overlap=tile_overlap, fmt=format, quality=quality, name=name, skip_existing=skip_existing,
         dry_run=dry_run, json_report=json_report, max_pixels=max_pixels, max_memory=max_memory, compile=compile,
         cuda_graphs=cuda_graphs, strength=strength,
         preserve_color=preserve_color, crf=crf, temporal=temporal, verb="stylize", stroke=stroke,
         ray=_ray_options(ray, ray_gpus_per_actor, ray_cpus_per_actor, ray_actors, ray_stats))


def upscale(
    inputs: list[str] = INPUTS,
    scale: int | None = typer.Option(None, "--scale", help="Upscaling factor: 2, 4 or 8 (default: the --model's "
                                     "own, else 4).", show_default=False),
    model: str | None = typer.Option(None, "--model", "-m", help="Shipped SR model name or model file "
                                     "(default: the shipped model for --scale)."),
    out: str = OUT,
    recursive: bool = RECURSIVE, backend: str = BACKEND, device: str = DEVICE, precision: str | None = PRECISION,
    batch_size: int = BATCH, threads: str = THREADS, tile: str = TILE, tile_overlap: int | None = OVERLAP,
    format: str = FORMAT, quality: int = QUALITY, name: str = NAME, suffix: str | None = SUFFIX,
    skip_existing: bool = SKIP, dry_run: bool = DRY_RUN, json_report: Path | None = REPORT,
    max_pixels: int = MAX_PIXELS, max_memory: str = MAX_MEMORY, compile: bool = COMPILE,
    cuda_graphs: bool = CUDA_GRAPHS, crf: int = CRF, ray: str | None = RAY, ray_gpus_per_actor: float | None = RAY_GPUS,
    ray_cpus_per_actor: float = RAY_CPUS, ray_actors: int = RAY_ACTORS, ray_stats: bool = RAY_STATS,
) -> None:
    """Upscale images and clips ×2, ×4 or ×8 with a super-resolution network (written as {stem}_x4.{ext}
    under --out)."""
    if scale is not None and scale not in (2, 4, 8):
        raise UserError(f"--scale {scale}: choose 2, 4 or 8")
    if model is None:
        scale = scale or 4
        path = default_sr_model(scale)
        typer.echo(f"using model {path.stem} ({path})", err=True)
    else:
        path = resolve_model(model, kind="sr")
    info = read_model_info(path)
    _check_kind(path, info, "sr")
    scale = scale or int(info.scale)
    if int(info.scale) != scale:
        raise UserError(f"{model}: is a ×{info.scale} model but --scale is {scale} "
                        f"(pass --scale {info.scale} or a ×{scale} model)")
    _run(inputs, path, info, out, f"_x{scale}" if suffix is None else suffix, recursive=recursive,
         backend=backend, device=device, precision=precision, batch_size=batch_size, threads=threads, tile=tile,
         overlap=tile_overlap, fmt=format, quality=quality, name=name, skip_existing=skip_existing,
         dry_run=dry_run, json_report=json_report, max_pixels=max_pixels, max_memory=max_memory, compile=compile,
         cuda_graphs=cuda_graphs, crf=crf, temporal=False, verb="upscale",
         ray=_ray_options(ray, ray_gpus_per_actor, ray_cpus_per_actor, ray_actors, ray_stats))


PANEL = "Process"


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel=PANEL)(stylize)
    app.command(rich_help_panel=PANEL)(upscale)
