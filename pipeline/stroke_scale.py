"""Strokes sized to the picture, not to the pixel (``percept stylize --stroke-scale``).

A style network paints strokes of a fixed size in pixels, the size it learnt on 256² crops. On a 1 MP
photo they read as a painting; on a 12 MP photo the same strokes cover a twelfth of the area each and the
result looks like an edge filter. So large pictures are stylised at a *working size* (the long side of a
~1 MP picture, divided by the stroke scale) and brought back to full size by percept's own
super-resolution network (×2, ×4 or ×8, the smallest that reaches the full size), which keeps edges sharp
where a resize would blur them; an area resize then gives the exact size. Strength, colour preservation
and alpha are applied at full size against the original pixels.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from percept.pipeline.array_ops import resize_area

REFERENCE_SIDE = 1024  # long side at which a style net's strokes look as intended (~1 MP at 4:3)
MIN_FACTOR = 1.25      # below this a down-and-up trip is not worth its softening: stylise at full size
SR_SCALES = (2, 4, 8)


@dataclass(frozen=True)
class StrokeScale:
    """``value`` 1: strokes as big, relative to the picture, as on a 1024-px picture; 2: twice as big;
    0: native (the network's own stroke size at every resolution)."""

    value: float = 1.0

    @property
    def working_side(self) -> int:
        return 0 if self.value <= 0 else max(64, round(REFERENCE_SIDE / self.value))

    def factor(self, height: int, width: int) -> float:
        """How much a ``height``×``width`` picture is shrunk for stylising (1.0: not at all)."""
        side = self.working_side
        if not side:
            return 1.0
        f = max(height, width) / side
        return f if f >= MIN_FACTOR else 1.0


def parse_stroke_scale(text: str) -> StrokeScale:
    """``1`` (default), ``2``, ``0.5`` …, or ``native``/``0`` for the network's own stroke size."""
    if text.strip().lower() in ("native", "0", "off"):
        return StrokeScale(0.0)
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (value > 0 and math.isfinite(value)) or value > 16:
        raise ValueError(f"--stroke-scale {text!r}: expected a number between 0 and 16 (1: strokes as on a "
                         "1024-px picture, 2: twice as big) or native")
    return StrokeScale(value)


def shrink(image: np.ndarray, factor: float) -> np.ndarray:
    """A 3×H×W image (uint8 or float) shrunk by ``factor`` with an area filter, as float32 in [0, 1]."""
    h, w = image.shape[-2:]
    size = (max(8, round(h / factor)), max(8, round(w / factor)))
    return np.clip(resize_area(image, size), 0.0, 1.0)


def sr_scale_for(factor: float) -> int:
    """The smallest SR factor that reaches ``factor`` (×8 beyond)."""
    return next((s for s in SR_SCALES if s >= factor - 1e-6), SR_SCALES[-1])


class Enlarger:
    """Brings a stylised working-size image back to a full size with an SR network.

    ``open_sr(scale)`` returns something with ``enlarge(image) -> image × scale`` (an SR ``Inferencer``);
    networks are opened on first use and kept. Encoder threads share one Enlarger: a lock runs one
    enlargement at a time (runtimes are not guaranteed to take concurrent calls)."""

    def __init__(self, open_sr: Callable[[int], object]):
        self._open_sr = open_sr
        self._networks: dict[int, object] = {}
        self._lock = threading.Lock()

    def enlarge(self, image: np.ndarray, height: int, width: int) -> np.ndarray:
        """3×h×w float image → 3×``height``×``width`` float image."""
        h, w = image.shape[-2:]
        scale = sr_scale_for(max(height / h, width / w))
        with self._lock:
            network = self._networks.get(scale)
            if network is None:
                network = self._networks[scale] = self._open_sr(scale)
            big = network.enlarge(image)  # type: ignore[attr-defined]
        if big.shape[-2:] != (height, width):
            big = resize_area(big, (height, width))
        return np.clip(big, 0.0, 1.0)


def zoo_enlarger(*, backend: str, device: str, precision: str | None, max_memory: int | None,
                 log: Callable[[str], None] | None = None) -> Enlarger:
    """An Enlarger on percept's shipped pixel-loss SR models (the highest-PSNR ones: no invented texture
    on top of the painting's), run on the same backend and device as the style network."""
    from percept.core.zoo import default_sr_model
    from percept.engines.select import open_runtime
    from percept.pipeline.inference import Inferencer

    def open_sr(scale: int) -> Inferencer:
        runtime = open_runtime(default_sr_model(scale), backend=backend, device=device, precision=precision, log=log)
        return Inferencer(runtime, kind="sr", tile="auto", max_memory=max_memory)

    return Enlarger(open_sr)
