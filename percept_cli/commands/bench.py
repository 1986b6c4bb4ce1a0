"""``percept bench``: how fast a model runs here, per backend and precision, and where a folder's time goes.

Model-only mode times ``Runtime.run`` on random batches (no decoding or encoding) after warm-up: the median
of repeats as images/s, ms/image and achieved GFLOP/s (from the network's FLOP count at that size), with
PyTorch FP32 eager as the first row, the baseline of the ratio column. ``--folder`` runs the folder's images
through the same pipeline as ``percept stylize``/``upscale`` (decoder threads → model → encoder threads)
and reports images/s and the split of busy time between decode, model and encode.

The timing itself lives in ``percept.engines.timing`` (shared with ``benchmarks/``).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from percept.cli.errors import UserError
from percept.engines.registry import BENCH_CHOICES, PRECISIONS

if TYPE_CHECKING:
    from percept.engines.timing import ModelRow, Opened

DEFAULT_SIZES = "256,512,1024"
STAGES = ("decode", "model", "encode")


def parse_sizes(text: str) -> list[int]:
    """``256,512,1024`` into positive sides in pixels (duplicates dropped, order kept)."""
    try:
        sizes = [int(p) for p in text.replace(" ", "").split(",") if p]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1:
        raise UserError(f"--sizes {text!r}: expected comma-separated image sides in pixels, e.g. 256,512,1024")
    return list(dict.fromkeys(sizes))


def parse_precisions(text: str) -> list[str] | None:
    """``auto`` (None: each backend's useful precisions) or a comma list of fp32, bf16, fp16, int8."""
    if text.strip() == "auto":
        return None
    items = [p.strip().lower() for p in text.split(",") if p.strip()]
    bad = [p for p in items if p not in PRECISIONS]
    if not items or bad:
        raise UserError(f"--precision {text!r}: choose auto or a comma list of {', '.join(PRECISIONS)}")
    return list(dict.fromkeys(items))


def _check_sizes(sizes: list[int], scale: int, size_rule: int, min_size: int) -> None:
    from percept.engines.timing import input_side

    for size in sizes:
        try:
            input_side(size, scale, size_rule, min_size)
        except ValueError as exc:
            raise UserError(f"--sizes: {exc} (sizes are output sides; this model upscales ×{scale})") from None


def default_model() -> Path:
    """The first shipped style model (else any shipped model); a clear error when none is shipped."""
    from percept.core.zoo import list_models

    models = list_models()
    styles = [m for m in models if m.info.kind == "style"]
    if not (styles or models):
        raise UserError("no shipped model in this installation to benchmark; pass --model FILE "
                        "(a percept .safetensors model, an .onnx export or a TensorRT engine)")
    return (styles or models)[0].path


@dataclass
class FolderRow:
    """One pass over a folder through the ``stylize``/``upscale`` pipeline."""

    backend: str
    precision: str
    device: str
    threads: str              # LOAD:PROC:SAVE
    batch: int
    images: int
    failed: int
    seconds: float            # wall time of the pass
    images_per_s: float
    decode_ms: float          # busy ms per image in each stage, summed over that stage's threads
    model_ms: float
    encode_ms: float
    peak_rss_mb: float = 0.0  # peak resident memory of the process during this pass
    ratio: float | None = None  # × the first row

    @property
    def split(self) -> dict[str, float]:
        total = self.decode_ms + self.model_ms + self.encode_ms
        return {s: (getattr(self, f"{s}_ms") / total if total else 0.0) for s in STAGES}

    def to_dict(self) -> dict:
        d = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}
        d["split"] = {k: round(v, 4) for k, v in self.split.items()}
        return d


def run_pipeline(runtime, tasks, *, load_threads: int, save_threads: int, batch_size: int = 0,
                 tile: int | str = "auto", quality: int = 95, warm: bool = True):
    """``tasks`` through the batch pipeline of ``percept stylize``/``upscale`` on an opened runtime.

    ``warm``: one untimed image through the model first (first-call allocations and kernel choice).
    Returns the Summary and the busy seconds per stage (``BatchProcessor.stage_seconds``).
    """
    from percept.pipeline.batch import BatchProcessor
    from percept.pipeline.imageio import read_image
    from percept.pipeline.inference import Inferencer

    inferencer = Inferencer(runtime, tile=tile, batch_size=batch_size)
    if warm and tasks:
        try:
            inferencer.process(read_image(tasks[0].source))
        except Exception:
            pass  # the timed pass reports the file's failure
    processor = BatchProcessor([inferencer], load_threads=load_threads, save_threads=save_threads, quality=quality)
    summary = processor.run(tasks)
    return summary, dict(processor.stage_seconds)


def folder_row(item: Opened, summary, stages: dict[str, float], threads: str, batch: int,
               peak_rss_mb: float = 0.0) -> FolderRow:
    from percept.pipeline.batch import DONE, FAILED

    done = summary.count(DONE)
    per = 1000.0 / max(1, done)
    rt = item.runtime
    return FolderRow(backend=rt.name, precision=rt.precision, device=rt.device, threads=threads, batch=batch,
                     images=done, failed=summary.count(FAILED), seconds=summary.elapsed,
                     images_per_s=summary.images_per_s, decode_ms=stages["decode"] * per,
                     model_ms=stages["model"] * per, encode_ms=stages["encode"] * per, peak_rss_mb=peak_rss_mb)


def _console() -> Console:
    console = Console()
    return console if console.is_terminal else Console(width=160)


def _precision(backend: str, precision: str) -> str:
    return f"{precision} autocast" if backend == "torch" and precision == "bf16" else precision


def _model_table(rows: list[ModelRow], title: str, caption: str) -> Table:
    table = Table(title=title, caption=caption)
    for col in ("size", "backend", "precision", "images/s", "ms/image", "GFLOP/s", "× baseline", "mean |Δ|/255",
                "max |Δ|"):
        table.add_column(col, justify="left" if col in ("backend", "precision") else "right")
    for r in rows:
        table.add_row(f"{r.size}²", r.backend + (" (baseline)" if r.baseline else ""),
                      _precision(r.backend, r.precision),
                      f"{r.images_per_s:.2f}", f"{r.ms_per_image:.1f}",
                      "-" if r.gflops is None else f"{r.gflops:.1f}",
                      "-" if r.ratio is None else f"{r.ratio:.2f}×",
                      "-" if r.mean_abs_diff is None or r.baseline else f"{255 * r.mean_abs_diff:.2f}",
                      "-" if r.max_abs_diff is None or r.baseline else f"{r.max_abs_diff:.1e}")
    return table


def _folder_table(rows: list[FolderRow], title: str, caption: str) -> Table:
    table = Table(title=title, caption=caption)
    for col in ("backend", "precision", "threads", "images", "images/s", "decode ms/img", "model ms/img",
                "encode ms/img", "split d/m/e", "peak RSS MB", "× first"):
        table.add_column(col, justify="left" if col in ("backend", "precision") else "right")
    for r in rows:
        split = "/".join(f"{100 * v:.0f}%" for v in r.split.values())
        images = f"{r.images}" + (f" ({r.failed} failed)" if r.failed else "")
        table.add_row(r.backend, _precision(r.backend, r.precision), r.threads, images,
                      f"{r.images_per_s:.2f}", f"{r.decode_ms:.1f}", f"{r.model_ms:.1f}", f"{r.encode_ms:.1f}",
                      split, f"{r.peak_rss_mb:.0f}", "-" if r.ratio is None else f"{r.ratio:.2f}×")
    return table


def bench(
    model: str | None = typer.Option(None, "--model", "-m", help="Shipped model name or model file (.safetensors, "
                                     ".onnx or engine); default: a shipped style model."),
    sizes: str = typer.Option(DEFAULT_SIZES, "--sizes", help="Comma-separated output image sides in pixels (square; "
                              "an SR model gets side/scale inputs). Ignored with --folder."),
    batch: int | None = typer.Option(None, "--batch", "-b", help="Images per run (default: 1; with --folder 4, "
                                     "as percept stylize)."),
    backend: str = typer.Option("all", "--backend", help=f"{', '.join(BENCH_CHOICES)}: 'all' times every "
                                "backend that opens here, 'auto' the one percept stylize would pick. PyTorch FP32 "
                                "eager is always timed first, as the baseline."),
    precision: str = typer.Option("auto", "--precision", help="auto (CPU: fp32, bf16 where the CPU has it "
                                  "natively, int8 where the model has an int8 form; GPU: fp32 and fp16) or a comma "
                                  "list of fp32, bf16, fp16, int8."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or cuda:N."),
    repeats: int | None = typer.Option(None, "--repeats", help="Timed runs per row, median reported (default: 5, "
                                       "3 from 1024²). With --folder: passes over the folder (best reported)."),
    warmup: int | None = typer.Option(None, "--warmup", help="Untimed runs first (default: 2, 1 from 1024²); "
                                      "with --folder, 0 skips the warm-up image."),
    threads: str = typer.Option("auto", "--threads", help="LOAD:PROC:SAVE as for percept stylize; PROC is the "
                                "CPU inference threads in both modes."),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the results to this JSON file."),
    folder: Path | None = typer.Option(None, "--folder", help="End-to-end mode: decode → model → encode every image "
                                       "of this folder (outputs go to a temporary folder)."),
) -> None:
    """Measure throughput: model-only per backend and precision, or end to end over a folder (--folder)."""
    from percept.cli.commands.process import parse_threads

    size_list = parse_sizes(sizes)
    precisions = parse_precisions(precision)
    _check_counts(backend, batch, repeats, warmup)
    load, proc, save = parse_threads(threads)
    if folder is not None and not folder.is_dir():
        raise UserError(f"--folder {folder}: not a folder")

    from percept.core.devices import set_threads
    from percept.core.zoo import resolve_model
    from percept.engines.select import file_kind, resolve_device
    from percept.engines.timing import machine_info, machine_line, plan_configs

    path = resolve_model(model) if model is not None else default_model()
    try:
        dev = resolve_device(device)
        planned, skipped = plan_configs(file_kind(path), dev, backend, precisions)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if folder is None:  # fail before any export or engine build
        from percept.engines.model_info import read_model_info

        info = read_model_info(path)
        _check_sizes(size_list, int(info.scale), int(info.size_rule), int(info.min_size))
    set_threads(proc)  # before opening: every runtime sizes its thread pool from it
    opened = _open_backends(path, planned, dev, backend, skipped)

    machine = machine_info(dev)
    record: dict = {"model": str(path), "device": dev, "machine": machine,
                    "skipped": [{"config": what, "reason": why} for what, why in skipped]}
    caption = escape(machine_line(machine))
    if folder is None:
        errors = _bench_model_mode(opened, path, size_list, batch or 1, warmup, repeats, proc, record, caption)
    else:  # batch 0: the Inferencer's auto batch size, as percept stylize
        errors = _bench_folder_mode(opened, folder, batch or 0, (load, proc, save), warmup, repeats, record,
                                    caption)
    _report(record, skipped, errors, json_out)


def _log(message: str) -> None:
    typer.echo(message, err=True)


def _check_counts(backend: str, batch: int | None, repeats: int | None, warmup: int | None) -> None:
    if backend not in BENCH_CHOICES:
        raise UserError(f"--backend {backend!r}: choose {', '.join(BENCH_CHOICES)}")
    if batch is not None and batch < 1:
        raise UserError(f"--batch {batch}: expected a positive number of images")
    if repeats is not None and repeats < 1:
        raise UserError(f"--repeats {repeats}: expected at least 1")
    if warmup is not None and warmup < 0:
        raise UserError(f"--warmup {warmup}: expected 0 or more")


def _open_backends(path: Path, planned: list, dev: str, backend: str, skipped: list[tuple[str, str]]) -> list[Opened]:
    """Open every planned configuration; those that fail join ``skipped``. At least one must open."""
    from percept.engines.timing import open_configs

    opened, failed = open_configs(path, planned, dev, log=_log)
    skipped += failed
    if not opened:
        raise UserError(f"{path.name}: no backend could run it here: "
                        + "; ".join(f"{what}: {why}" for what, why in skipped))
    if backend not in ("all", "auto") and not any(o.runtime.name == backend for o in opened):
        reasons = [why for what, why in skipped if what.startswith(backend)] or ["it did not open"]
        raise UserError(f"--backend {backend}: {reasons[0]}")
    return opened


def _bench_model_mode(opened: list[Opened], path: Path, sizes: list[int], n: int, warmup: int | None,
                      repeats: int | None, proc: int, record: dict, caption: str) -> list[tuple[str, str]]:
    """Model-only timings per backend, precision and size: a table, and rows in ``record``."""
    from percept.engines.timing import bench_model, network_of

    first = opened[0].runtime
    _check_sizes(sizes, int(first.scale), int(first.size_rule), int(first.min_size))
    rows, errors = bench_model(opened, sizes, n, warmup, repeats, net=network_of(path), log=_log)
    record.update(mode="model", batch=n, sizes=sizes, rows=[r.to_dict() for r in rows],
                  errors=[{"run": what, "error": why} for what, why in errors])
    title = f"percept bench: {path.name}, model only, batch {n}, {record['device']}, {proc} CPU thread(s)"
    _console().print(_model_table(rows, escape(title), caption))
    return errors


def _bench_folder_mode(opened: list[Opened], folder: Path, n: int, threads: tuple[int, int, int],
                       warmup: int | None, repeats: int | None, record: dict, caption: str) -> list[tuple[str, str]]:
    """End-to-end passes over a folder per backend: a table of per-stage busy times, and rows in ``record``."""
    load, proc, save = threads
    rows, errors = _bench_folder(opened, folder, n, load, save, proc, warmup, repeats, _log)
    record.update(mode="folder", batch=n, folder=str(folder), threads=f"{load}:{proc}:{save}",
                  rows=[r.to_dict() for r in rows], errors=[{"run": w, "error": e} for w, e in errors])
    title = f"percept bench --folder {folder}: decode → model → encode, batch {n or 'auto'}, {record['device']}"
    console = _console()
    console.print(_folder_table(rows, escape(title), caption))
    console.print("ms/img: busy time per image in each stage, summed over that stage's threads; stages overlap, "
                  "so images/s is set by the slowest stage per thread. Peak RSS: the whole process during that "
                  "pass.", highlight=False)
    return errors


def _report(record: dict, skipped: list[tuple[str, str]], errors: list[tuple[str, str]],
            json_out: Path | None) -> None:
    """What was skipped or failed, the JSON file if asked, and an error when nothing could be timed."""
    for what, why in skipped:
        _log(f"skipped {what}: {why}")
    for what, why in errors:
        _log(f"failed {what}: {why}")
    if json_out is not None:
        from percept.core.atomic import atomic_path

        with atomic_path(json_out) as tmp:
            tmp.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        _log(f"wrote {json_out}")
    if not record["rows"]:
        raise UserError("every timed run failed: " + "; ".join(f"{w}: {e}" for w, e in errors))


def _bench_folder(opened: list[Opened], folder: Path, batch: int, load: int, save: int, proc: int,
                  warmup: int | None, repeats: int | None, log) -> tuple[list[FolderRow], list[tuple[str, str]]]:
    from percept.pipeline.batch import plan_tasks
    from percept.pipeline.inputs import discover
    from percept.pipeline.peak_memory import peak_rss_bytes, reset_peak

    sources = discover([str(folder)])
    if not sources:
        raise UserError(f"--folder {folder}: no images found")
    rows: list[FolderRow] = []
    errors: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="percept-bench-") as tmp:
        tasks, _ = plan_tasks(sources, Path(tmp), "{stem}{suffix}.{ext}", "_bench", "keep", overwrite=True)
        for item in opened:
            log(f"{item.label}: {len(tasks)} images from {folder}, threads {load}:{proc}:{save}, batch {batch}")
            best = None
            for _ in range(repeats or 1):
                reset_peak()
                try:
                    summary, stages = run_pipeline(item.runtime, tasks, load_threads=load, save_threads=save,
                                                   batch_size=batch, warm=warmup != 0)
                except Exception as exc:
                    errors.append((item.label, f"{type(exc).__name__}: {exc}".splitlines()[0]))
                    break
                row = folder_row(item, summary, stages, f"{load}:{proc}:{save}", batch, peak_rss_bytes() / 1e6)
                if best is None or row.images_per_s > best.images_per_s:
                    best = row
            if best is not None:
                if best.failed:
                    errors.append((item.label, f"{best.failed} image(s) failed"))
                rows.append(best)
    if rows and rows[0].images_per_s > 0:
        for r in rows:
            r.ratio = r.images_per_s / rows[0].images_per_s
    return rows, errors


PANEL = "Measure"


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel=PANEL)(bench)
