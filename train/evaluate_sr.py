"""Super-resolution benchmark evaluation: PSNR/SSIM of upscalers against HR ground truth, as papers report.

Engine-free: an upscaler is any callable ``upscale(lr_batch) -> sr_batch`` on float32 NCHW [0, 1] tensors,
so the CLI decides how models run. Protocol (BasicSR / the MATLAB scripts): HR cropped to a multiple of
the scale; LR made by MATLAB bicubic (or read from the published files); outputs rounded to 8 bits;
Y-channel metrics with ``crop_border = scale``; means are over images.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from percept.core.atomic import atomic_path
from percept.train.blockiness import relative_blockiness
from percept.train.data import to_tensor
from percept.train.degradations import crop_to_multiple, histogram_match, matlab_imresize
from percept.train.lpips_metric import LPIPSFn
from percept.train.metrics import mean_psnr, psnr, quantize_8bit, ssim
from percept.train.photo_degradations import SETTINGS, PhotoDamage, damaged_lr

Upscaler = Callable[[torch.Tensor], torch.Tensor]
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm")
GENERIC_DIR_NAMES = {"hr", "gt", "hr_images", "original"}
GREY_MODES = {"1", "L", "LA", "I", "I;16", "F"}


class EvalDataError(ValueError):
    """An HR/LR folder or image that cannot be evaluated; the message names the file."""


@dataclass
class Pair:
    """One benchmark image: ground truth cropped to a multiple of the scale and its LR input (float32 RGB CHW).

    ``grey`` images are upscaled as RGB but scored on their grey values (see ``percept.train.metrics``).
    """

    name: str
    hr: torch.Tensor
    lr: torch.Tensor
    grey: bool = False

    @property
    def truth(self) -> torch.Tensor:
        return self.hr[:1] if self.grey else self.hr


@dataclass
class Scores:
    """Per-image and mean PSNR/SSIM of one upscaler; ``infinite`` counts images reproduced exactly.

    ``lpips`` (when measured) and ``blockiness`` (``percept.train.blockiness``, 1.00 = the truth's) sit beside.
    """

    psnr: dict[str, float] = field(default_factory=dict)
    ssim: dict[str, float] = field(default_factory=dict)
    lpips: dict[str, float] = field(default_factory=dict)
    blockiness: dict[str, float] = field(default_factory=dict)

    @property
    def mean_psnr(self) -> float:
        return mean_psnr(list(self.psnr.values()))[0]

    @property
    def infinite(self) -> int:
        return mean_psnr(list(self.psnr.values()))[1]

    @property
    def mean_ssim(self) -> float:
        return _mean(self.ssim)

    @property
    def mean_lpips(self) -> float:
        return _mean(self.lpips)

    @property
    def mean_blockiness(self) -> float:
        return _mean(self.blockiness)


def _mean(values: dict[str, float]) -> float:
    return sum(values.values()) / len(values) if values else math.nan


def list_images(folder: Path) -> list[Path]:
    """Image files directly in ``folder``, sorted by name."""
    if not folder.is_dir():
        raise EvalDataError(f"{folder}: not a folder")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise EvalDataError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)})")
    return files


def dataset_name(hr_dir: Path) -> str:
    """``Set5/HR`` is called ``Set5``: a generic HR folder name takes its parent's name."""
    hr_dir = hr_dir.resolve()
    return hr_dir.parent.name if hr_dir.name.lower() in GENERIC_DIR_NAMES else hr_dir.name


def _unreadable(path: Path, exc: Exception) -> EvalDataError:
    if isinstance(exc, UnidentifiedImageError):
        return EvalDataError(f"{path}: cannot read image (not an image file, or an unsupported format)")
    return EvalDataError(f"{path}: cannot read image ({type(exc).__name__}: {exc})")


def check_readable(path: Path) -> None:
    """Parse the header only (cheap), so a broken file stops the run before any work is done."""
    try:
        with Image.open(path):
            pass
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as exc:
        raise _unreadable(path, exc) from None


def read_image(path: Path) -> tuple[torch.Tensor, bool]:
    """An image file as float32 RGB CHW in [0, 1], and whether the file is grey (then the channels are equal)."""
    try:
        with Image.open(path) as img:
            grey = img.mode in GREY_MODES
            return to_tensor(ImageOps.exif_transpose(img).convert("RGB")), grey
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as exc:
        raise _unreadable(path, exc) from None


def find_lr_file(lr_dir: Path, stem: str, scale: int) -> Path:
    """The LR file for an HR stem: ``baby.png``, ``babyx4.png``, ``baby_x4.png`` or ``baby_LRBI_x4.png``."""
    candidates = {}
    for p in lr_dir.iterdir():
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES:
            candidates.setdefault(p.stem.lower(), p)
    for name in (stem, f"{stem}x{scale}", f"{stem}_x{scale}", f"{stem}_lrbi_x{scale}"):
        if name.lower() in candidates:
            return candidates[name.lower()]
    raise EvalDataError(f"{lr_dir}: no LR image for {stem} (looked for {stem}, {stem}x{scale}, {stem}_x{scale})")


def make_lr(hr: torch.Tensor, scale: int) -> torch.Tensor:
    """The standard benchmark input: MATLAB bicubic downscaling of 8-bit images (matches published LR files)."""
    return damaged_lr(hr, scale, SETTINGS["clean"], "")


def match_files(hr_dir: Path, lr_dir: Path | None = None, scale: int = 4) -> list[tuple[Path, Path | None]]:
    """(HR file, LR file or None) for every image of ``hr_dir``; fails early on a missing or broken file."""
    if lr_dir is not None and not lr_dir.is_dir():
        raise EvalDataError(f"{lr_dir}: not a folder")
    files = [(p, None if lr_dir is None else find_lr_file(lr_dir, p.stem, scale)) for p in list_images(hr_dir)]
    for hr_path, lr_path in files:
        check_readable(hr_path)
        if lr_path is not None:
            check_readable(lr_path)
    return files


def load_pair(hr_path: Path, lr_path: Path | None, scale: int,
              damage: PhotoDamage = SETTINGS["clean"]) -> Pair:
    """The HR image cropped to a multiple of ``scale`` and its LR input, read from ``lr_path`` or made here
    under ``damage`` (``photo_degradations``)."""
    hr, grey = read_image(hr_path)
    hr = crop_to_multiple(hr, scale)
    h, w = hr.shape[-2:]
    if min(h, w) < 2 * scale + 11:
        raise EvalDataError(f"{hr_path}: {w}x{h} is too small to evaluate at x{scale}")
    if lr_path is None:
        return Pair(hr_path.stem, hr, damaged_lr(hr, scale, damage, hr_path.stem), grey)
    lr, _ = read_image(lr_path)
    if tuple(lr.shape[-2:]) != (h // scale, w // scale):
        raise EvalDataError(f"{lr_path}: size {lr.shape[-1]}x{lr.shape[-2]} is not the HR crop {w}x{h} "
                            f"divided by {scale}")
    return Pair(hr_path.stem, hr, lr, grey)


def iter_pairs(files: Iterable[tuple[Path, Path | None]], scale: int,
               damage: PhotoDamage = SETTINGS["clean"]) -> Iterator[Pair]:
    """Decode pairs one at a time, so large sets never sit in memory at once."""
    for hr_path, lr_path in files:
        yield load_pair(hr_path, lr_path, scale, damage)


def bicubic_upscaler(scale: int) -> Upscaler:
    """The baseline every SR table reports: MATLAB ``imresize(lr, scale, 'bicubic')`` on 8-bit images."""
    def upscale(lr: torch.Tensor) -> torch.Tensor:
        return matlab_imresize(lr.double(), scale, uint8_steps=True).float()

    return upscale


def with_histogram_match(upscale: Upscaler) -> Upscaler:
    """Wrap an upscaler with the paper's post-processing (output CDF matched to the bicubic LR)."""
    def matched(lr: torch.Tensor) -> torch.Tensor:
        return histogram_match(upscale(lr), lr)

    return matched


def save_png(path: Path, image: torch.Tensor) -> None:
    """Write a CHW [0, 1] tensor as an 8-bit PNG, atomically."""
    array = (image.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    with atomic_path(path) as tmp:
        Image.fromarray(np.ascontiguousarray(array)).save(tmp, format="PNG")


def evaluate(pairs: Iterable[Pair], upscalers: dict[str, Upscaler], scale: int,
             save_dir: str | os.PathLike | None = None,
             on_image: Callable[[str, str], None] | None = None,
             lpips: LPIPSFn | None = None) -> dict[str, Scores]:
    """PSNR/SSIM (Y channel, border = ``scale``), blockiness and, given ``lpips``, LPIPS (RGB) of every
    upscaler on every pair.

    Outputs are rounded to 8 bits before scoring (grey images on their grey values); with ``save_dir``
    they are written as ``save_dir/<upscaler>/<image>.png``. ``on_image(upscaler, image)`` is called after
    each image.
    """
    results = {name: Scores() for name in upscalers}
    for pair in pairs:
        for name, upscale in upscalers.items():
            sr = upscale(pair.lr[None])[0]
            if sr.shape != pair.hr.shape:
                raise EvalDataError(f"{name}: output {tuple(sr.shape)} for {pair.name} is not the HR shape "
                                    f"{tuple(pair.hr.shape)}")
            sr = quantize_8bit(sr.float())
            results[name].psnr[pair.name] = psnr(sr, pair.truth, crop_border=scale).item()
            results[name].ssim[pair.name] = ssim(sr, pair.truth, crop_border=scale).item()
            results[name].blockiness[pair.name] = relative_blockiness(sr, pair.hr, scale)
            if lpips is not None:
                results[name].lpips[pair.name] = lpips(sr, pair.hr)
            if save_dir is not None:
                save_png(Path(save_dir) / name / f"{pair.name}.png", sr)
            if on_image is not None:
                on_image(name, pair.name)
    return results


def _json_number(value: float) -> float | None:
    return value if math.isfinite(value) else None


def results_json(results: dict[str, Scores], scale: int, dataset: str, lr_source: str) -> dict[str, Any]:
    """The ``--json`` record. JSON has no infinity: an infinite PSNR (identical images) is written as null
    and listed under ``psnr_infinite``; ``psnr`` is the mean over the finite ones.
    """
    out: dict[str, Any] = {"scale": scale, "dataset": dataset, "lr_source": lr_source,
                           "metric": f"Y channel (BT.601), crop_border={scale}, 8-bit outputs", "results": {}}
    for name, scores in results.items():
        out["results"][name] = {
            "psnr": _json_number(scores.mean_psnr),
            "ssim": _json_number(scores.mean_ssim),
            "lpips": _json_number(scores.mean_lpips),
            "blockiness": _json_number(scores.mean_blockiness),
            "images": len(scores.psnr),
            "psnr_infinite": sorted(k for k, v in scores.psnr.items() if math.isinf(v)),
            "per_image": {k: {"psnr": _json_number(scores.psnr[k]), "ssim": scores.ssim[k],
                              "lpips": scores.lpips.get(k), "blockiness": scores.blockiness[k]}
                          for k in scores.psnr},
        }
    return out
