"""A loss plot drawn with Pillow alone (no matplotlib dependency): log-scale curves of each term."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from PIL import Image, ImageDraw

from percept.core.atomic import atomic_path

COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75)]


def trailing_mean(values: Sequence[float], window: int) -> list[float]:
    """Mean of the last ``window`` values at each step (fewer at the start): noisy per-batch losses, readable."""
    out, acc = [], 0.0
    for i, v in enumerate(values):
        acc += v
        if i >= window:
            acc -= values[i - window]
        out.append(acc / min(i + 1, window))
    return out


def plot_losses(steps: Sequence[int], series: Mapping[str, Sequence[float]], path: str | Path,
                size: tuple[int, int] = (900, 500), title: str = "training loss") -> Path:
    """Write a PNG with one smoothed log10 curve per loss term against the step."""
    w, h = size
    left, right, top, bottom = 70, 170, 30, 40
    img = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(img)
    d.text((left, 8), title, fill="black")
    curves = {}
    for name, vals in series.items():
        pts = [(s, math.log10(v)) for s, v in zip(steps, trailing_mean(list(vals), max(1, len(vals) // 100)))
               if v > 0 and math.isfinite(v)]
        if pts:
            curves[name] = pts
    if not curves:
        with atomic_path(path) as tmp:
            img.save(tmp, format="PNG")
        return Path(path)
    xs = [p[0] for pts in curves.values() for p in pts]
    ys = [p[1] for pts in curves.values() for p in pts]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    y0, y1 = math.floor(min(ys)), math.ceil(max(ys))
    y1 = y1 if y1 > y0 else y0 + 1

    def px(x: float, y: float) -> tuple[float, float]:
        return (left + (x - x0) / (x1 - x0) * (w - left - right),
                h - bottom - (y - y0) / (y1 - y0) * (h - top - bottom))

    d.rectangle([left, top, w - right, h - bottom], outline="black")
    for e in range(y0, y1 + 1):
        _, yy = px(x0, e)
        d.line([left, yy, w - right, yy], fill=(225, 225, 225))
        d.text((8, yy - 6), f"1e{e}", fill="black")
    for frac in (0, 0.25, 0.5, 0.75, 1):
        step = x0 + frac * (x1 - x0)
        xx, _ = px(step, y0)
        d.text((xx - 10, h - bottom + 6), f"{int(step)}", fill="black")
    d.text(((w - right) // 2, h - 16), "step", fill="black")
    for i, (name, pts) in enumerate(curves.items()):
        colour = COLOURS[i % len(COLOURS)]
        if len(pts) > 1:
            d.line([px(x, y) for x, y in pts], fill=colour, width=2)
        d.rectangle([w - right + 12, top + 18 * i + 4, w - right + 24, top + 18 * i + 14], fill=colour)
        d.text((w - right + 30, top + 18 * i + 2), name, fill="black")
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")
    return Path(path)
