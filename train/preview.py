"""Preview grids: rows of images side by side, so progress can be seen at a glance."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from percept.core.atomic import atomic_path


def tensor_to_image(x: torch.Tensor) -> Image.Image:
    """CHW float in [0, 1] → PIL RGB."""
    arr = (x.detach().float().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy())
    return Image.fromarray(np.ascontiguousarray(arr))


def grid(rows: Sequence[Sequence[torch.Tensor]], labels: Sequence[str] = (), pad: int = 4) -> Image.Image:
    """Stack rows of CHW images (each row's images may differ in size) into one labelled image."""
    cells = [[tensor_to_image(t) for t in row] for row in rows]
    col_w = [max(r[c].width for r in cells) for c in range(len(cells[0]))]
    row_h = [max(im.height for im in r) for r in cells]
    label_h = 14 if labels else 0
    out = Image.new("RGB", (sum(col_w) + pad * (len(col_w) + 1), sum(row_h) + pad * (len(row_h) + 1) + label_h),
                    "white")
    draw = ImageDraw.Draw(out)
    x = pad
    for c, label in enumerate(labels):
        draw.text((x, 1), label, fill="black")
        x += col_w[c] + pad
    y = pad + label_h
    for r, row in enumerate(cells):
        x = pad
        for c, im in enumerate(row):
            out.paste(im, (x, y))
            x += col_w[c] + pad
        y += row_h[r] + pad
    return out


def save_image(img: Image.Image, path: str | Path) -> Path:
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")
    return Path(path)
