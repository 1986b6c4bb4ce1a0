"""Calibration photos for an int8 form: the user's photos brought to the size the model usually sees.

Why here: ``percept quantize``, the trainers and the tool that makes the shipped forms all calibrate the
same way, and reading photos is the pipeline's job.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from percept.core.model_header import ModelInfo
from percept.pipeline.array_ops import pad_to_multiple, resize_area
from percept.pipeline.imageio import read_image
from percept.pipeline.inputs import discover

STYLE_SIDE, SR_SIDE = 512, 192  # calibration pictures' long side: what each kind of model is usually given


def calibration_pictures(folder: Path, count: int, side: int, multiple: int,
                         hold_out: int = 0) -> tuple[list[np.ndarray], list[str]]:
    """Up to ``count`` photos of ``folder`` and its sub-folders, spread evenly over them in name order (a
    folder sorted by subject still gives every subject), their long side brought to ``side`` and both sides
    to a multiple of ``multiple``, as 1×3×H×W float32 batches; unreadable files are skipped and named. The
    last ``hold_out`` photos are never used (those a benchmark measures on)."""
    if not folder.is_dir():
        raise ValueError(f"{folder}: not a folder (calibration needs a folder of photos)")
    sources = discover([str(folder)], recursive=True)
    sources = sources[: max(0, len(sources) - hold_out)]
    step = max(1, len(sources) // max(1, count))
    spread = sources[::step]
    taken = set(spread)
    ordered = spread + [s for s in sources if s not in taken]  # the others stand in for unreadable ones
    pictures, skipped = [], []
    for source in ordered:
        if len(pictures) == count:
            break
        try:
            rgb = read_image(source.path).float_rgb()
        except Exception as exc:  # a bad file is skipped, like in a batch
            skipped.append(f"{source.path.name} ({type(exc).__name__})")
            continue
        chw = np.ascontiguousarray(rgb.transpose(2, 0, 1), np.float32)
        h, w = chw.shape[1:]
        s = side / max(h, w)
        if s < 1:
            chw = resize_area(chw, (max(1, round(h * s)), max(1, round(w * s))))
        padded, _ = pad_to_multiple(chw[None], multiple)
        pictures.append(np.ascontiguousarray(padded, np.float32))
    return pictures, skipped


def held_out_pictures(folder: Path, count: int, side: int) -> list[np.ndarray]:
    """The last ``count`` photos of ``folder`` (those ``hold_out`` keeps from calibration), centre-cropped to
    ``side``² after scaling the short side to it, as 1×3×side×side float32 batches: what the int8 forms are
    measured on apart from their own check."""
    out = []
    for source in discover([str(folder)], recursive=True)[-count:]:
        with Image.open(source.path) as im:
            im = im.convert("RGB")
        s = side / min(im.size)
        im = im.resize((max(side, round(im.width * s)), max(side, round(im.height * s))), Image.BICUBIC)
        left, top = (im.width - side) // 2, (im.height - side) // 2
        a = np.asarray(im.crop((left, top, left + side, top + side)), np.float32) / 255
        out.append(np.ascontiguousarray(a.transpose(2, 0, 1)[None]))
    return out


def calibration_side(info: ModelInfo) -> int:
    return STYLE_SIDE if info.scale == 1 else SR_SIDE


def split_calibration(folder: Path, photos: int, check: int, info: ModelInfo,
                      hold_out: int = 0) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
    """(calibration pictures, check pictures, skipped files): up to ``photos`` + ``check`` of ``folder``'s
    photos, every other one (up to ``check``, at most half) kept apart to check the result."""
    pictures, skipped = calibration_pictures(folder, photos + check, calibration_side(info), max(1, info.size_rule),
                                             hold_out)
    if len(pictures) < 2:
        raise ValueError(f"{folder}: needs at least 2 readable photos, found {len(pictures)}")
    n_check = min(check, len(pictures) // 2)
    checked = set(range(1, 2 * n_check, 2))
    return ([p for i, p in enumerate(pictures) if i not in checked], [pictures[i] for i in sorted(checked)],
            skipped)
