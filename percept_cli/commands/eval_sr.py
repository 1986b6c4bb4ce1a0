"""``percept eval-sr``: PSNR/SSIM of SR models against MATLAB bicubic on a benchmark folder.

The protocol lives in ``percept.train.evaluate_sr``; this module only turns model files into upscalers
(any backend, padded to the runtime's size rule) and prints/writes the results.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from percept.cli.errors import UserError
from percept.core.atomic import atomic_path
from percept.core.model_header import read_info
from percept.core.progress import ProgressReporter
from percept.core.zoo import resolve_model
from percept.engines.registry import BACKEND_CHOICES
from percept.engines.select import open_runtime
from percept.train.photo_degradations import SETTINGS
from percept.train.vgg_errors import VGGWeightsError

if TYPE_CHECKING:
    from percept.engines.runtime import Runtime
    from percept.train.evaluate_sr import Scores, Upscaler
    from percept.train.lpips_metric import LPIPSFn

SCALES = (2, 4, 8)


def runtime_upscaler(runtime: Runtime) -> Upscaler:
    """Pad the LR batch (a torch tensor: the metrics are torch code) to the runtime's size rule, run it, crop
    back to exactly scale × the input."""
    import torch

    from percept.pipeline.array_ops import pad_to_multiple

    def upscale(lr):
        padded, (h, w) = pad_to_multiple(lr.detach().cpu().float().numpy(), runtime.size_rule, runtime.min_size)
        return torch.from_numpy(runtime.run(padded)[..., : h * runtime.scale, : w * runtime.scale].copy())

    return upscale


def _unique(name: str, taken: dict) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}-{n}", n + 1
    return candidate


def parse_details(text: str | None) -> list[float | None]:
    """``--detail 0,0.5,1`` → [0.0, 0.5, 1.0]; none given → [None] (the model's own weights)."""
    if text is None:
        return [None]
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or not all(0.0 <= v <= 1.0 for v in values):
        raise UserError(f"--detail {text!r}: one value or a comma list from 0 (fidelity) to 1 (perceptual)")
    return values


def model_upscalers(models: list[str], scale: int, backend: str, device: str, precision: str,
                    histogram_match: bool, details: list[float | None] | None = None) -> dict[str, Upscaler]:
    """Open each model (zoo name or file) after checking it is an SR model of this scale; with ``details``,
    once per ``--detail`` value (rows ``NAME@T``)."""
    from percept.engines.detail import detail_blend
    from percept.train.evaluate_sr import bicubic_upscaler, with_histogram_match

    upscalers: dict[str, Upscaler] = {"bicubic": bicubic_upscaler(scale)}
    for text in models:
        path = resolve_model(text, kind="sr")
        info = read_info(path)
        if info.kind != "sr":
            raise UserError(f"{path}: a {info.kind} model, not a super-resolution model")
        if info.scale != scale:
            raise UserError(f"{path}: a x{info.scale} model, but --scale is {scale}")
        for t in details or [None]:
            blend = detail_blend(path, t, info) if t is not None else None
            try:
                runtime = open_runtime(path, backend=backend, device=device, precision=precision, blend=blend)
            except ValueError as exc:
                raise UserError(f"{path}: {exc}") from None
            stem = path.name.removesuffix(".safetensors")
            name = _unique(stem if t is None else f"{stem}@{t:g}", upscalers)
            upscalers[name] = runtime_upscaler(runtime)
            if histogram_match:
                upscalers[_unique(f"{name}+histmatch", upscalers)] = with_histogram_match(upscalers[name])
    return upscalers


def _fmt_psnr(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:.2f}"


def _cells(scores: Scores, psnr: float, ssim: float, lpips: float | None, block: float) -> list[str]:
    cells = [_fmt_psnr(psnr), f"{ssim:.4f}"]
    if scores.lpips:
        cells.append(f"{lpips:.4f}")
    return cells + [f"{block:.2f}"]


def results_table(results: dict[str, Scores], title: str, source: str) -> Table:
    """Rows per image and a mean row; PSNR, SSIM, LPIPS (when measured) and blockiness columns per upscaler."""
    table = Table(title=title, caption_justify="left")
    table.add_column("image")
    for name, scores in results.items():
        table.add_column(f"{escape(name)} PSNR", justify="right")
        table.add_column("SSIM", justify="right")
        if scores.lpips:
            table.add_column("LPIPS", justify="right")
        table.add_column("grid", justify="right")
    images = list(next(iter(results.values())).psnr)
    for image in images:
        cells = [escape(image)]
        for sc in results.values():
            cells += _cells(sc, sc.psnr[image], sc.ssim[image], sc.lpips.get(image), sc.blockiness[image])
        table.add_row(*cells)
    table.add_section()
    mean_cells = ["[bold]mean[/]"]
    for sc in results.values():
        mean_cells += [f"[bold]{c}[/]" for c in _cells(sc, sc.mean_psnr, sc.mean_ssim, sc.mean_lpips,
                                                          sc.mean_blockiness)]
    table.add_row(*mean_cells)
    notes = [f"LR: {escape(source)}", "grid: JPEG block grid against the truth's (1.00 = none added; "
             "percept.train.blockiness)"]
    notes += [f"{escape(name)}: {s.infinite} identical image(s) (PSNR inf) left out of the mean PSNR"
              for name, s in results.items() if s.infinite]
    table.caption = "\n".join(notes)
    return table


def eval_sr(
    hr_dir: Path = typer.Argument(..., help="Folder of ground-truth HR images (cropped to a multiple of the scale)."),
    scale: int = typer.Option(..., "--scale", help="Upscaling factor: 2, 4 or 8."),
    model: list[str] = typer.Option(None, "--model", "-m",
                                    help="SR model (shipped name or file); repeat to compare several."),
    lr_dir: Path = typer.Option(None, "--lr-dir", help="Read LR inputs here (same stem, or STEMx4) instead of "
                                                       "making them with MATLAB bicubic."),
    json_out: Path = typer.Option(None, "--json", help="Write the results as JSON to this file."),
    save: Path = typer.Option(None, "--save", help="Write every output as SAVE/<model>/<image>.png."),
    backend: str = typer.Option("auto", "--backend", help=" | ".join(BACKEND_CHOICES)),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda:N"),
    precision: str = typer.Option("fp32", "--precision", help="fp32 | bf16 | fp16 | int8 (fp32 scores the "
                                                               "weights themselves; int8 the model's int8 form)."),
    histogram_match: bool = typer.Option(False, "--histogram-match",
                                         help="Also score each model with the paper's histogram matching to "
                                              "the bicubic LR (reported as MODEL+histmatch)."),
    degradation: str = typer.Option("clean", "--degradation", help="How LR inputs are made: " + "; ".join(
        f"{k}: {v.about}" for k, v in SETTINGS.items()) + " (fixed seeds)."),
    detail: str = typer.Option(None, "--detail", help="Score models with a fidelity/perceptual partner at these "
                               "blends, e.g. 0,0.25,0.5,0.75,1 (rows MODEL@T; 0 fidelity, 1 perceptual)."),
    lpips: bool = typer.Option(True, "--lpips/--no-lpips", help="Also report LPIPS (VGG; needs percept[eval])."),
    vgg_weights: str = typer.Option(None, "--vgg-weights", help="VGG-16 weights for LPIPS (else "
                                    "$PERCEPT_VGG_WEIGHTS or torchvision's)."),
) -> None:
    """PSNR/SSIM (Y channel, border = scale, 8-bit outputs), LPIPS and JPEG-grid visibility of SR models
    and MATLAB bicubic, on clean or photo-like (JPEG, noise, blur) inputs."""
    from percept.train.evaluate_sr import EvalDataError, dataset_name, evaluate, iter_pairs, match_files, results_json

    if scale not in SCALES:
        raise UserError(f"--scale must be one of {', '.join(map(str, SCALES))}, not {scale}")
    if degradation not in SETTINGS:
        raise UserError(f"--degradation must be one of {', '.join(SETTINGS)}, not {degradation!r}")
    if lr_dir is not None and degradation != "clean":
        raise UserError("--lr-dir reads ready-made LR files; --degradation makes them: pass one of the two")
    try:
        files = match_files(hr_dir, lr_dir, scale)
        upscalers = model_upscalers(model or [], scale, backend, device, precision, histogram_match,
                                    parse_details(detail))
        lpips_fn = _lpips(vgg_weights) if lpips else None  # after the inputs: a bad file fails at once
        dataset = dataset_name(hr_dir)
        total = len(files) * len(upscalers)
        done = 0
        with ProgressReporter(total, f"eval-sr {dataset} x{scale}") as progress:
            def tick(_upscaler: str, _image: str) -> None:
                nonlocal done
                done += 1
                progress.update(done)

            results = evaluate(iter_pairs(files, scale, SETTINGS[degradation]), upscalers, scale, save_dir=save,
                               on_image=tick, lpips=lpips_fn)
    except EvalDataError as exc:
        raise UserError(str(exc)) from None
    lr_source = str(lr_dir) if lr_dir is not None else f"{degradation}: {SETTINGS[degradation].about} (made here)"
    Console(width=160).print(results_table(results, f"{escape(dataset)} x{scale} (Y channel, border {scale})",
                                           lr_source))
    if json_out is not None:
        record = results_json(results, scale, dataset, lr_source)
        with atomic_path(json_out) as tmp:
            tmp.write_text(json.dumps(record, indent=2, allow_nan=False) + "\n")
        typer.echo(f"results written to {json_out}")
    if save is not None:
        typer.echo(f"outputs written to {save}/<model>/")


def _lpips(vgg_weights: str | None) -> LPIPSFn | None:
    """LPIPS when the package and VGG-16 weights are there; without them, one line saying how to get them, and
    PSNR/SSIM still run. A ``--vgg-weights`` file that cannot be used is an error."""
    from percept.train.lpips_metric import LPIPSUnavailable, load_lpips

    try:
        return load_lpips(vgg_weights)
    except LPIPSUnavailable as exc:
        typer.echo(f"LPIPS left out: {exc}", err=True)
        return None
    except VGGWeightsError as exc:
        if vgg_weights:
            raise UserError(str(exc)) from None
        typer.echo(f"LPIPS left out: {exc}", err=True)
        return None


PANEL = "Measure"


def register(app: typer.Typer) -> None:
    app.command("eval-sr", rich_help_panel=PANEL)(eval_sr)
