"""One description of a batch job, built once from the command line and handed to every path that runs it.

``stylize`` and ``upscale`` turn their options into a ``Job``: the model and how it runs (``ModelRun``),
what decides each picture's pixels (``PictureSettings``) and how outputs are written (``OutputSettings``).
The local pipeline, the Ray actors and the video path all open their inferencers from the same ``Job``,
and the skip record's fingerprint comes from its pixel-deciding fields only, so a rerun on another
device or thread count still skips what it made, and a new option is one field here plus the code using it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from percept.pipeline.manifest import fingerprint, model_identity

if TYPE_CHECKING:
    from percept.engines.runtime import Runtime
    from percept.pipeline.inference import Inferencer

Log = Callable[[str], None]


def parse_tile(text: str) -> int | str:
    """``--tile``: a size in input pixels, ``auto`` or 0 (whole pictures)."""
    from percept.core.errors import UserError

    if text == "auto":
        return "auto"
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise UserError(f"--tile {text!r}: expected a size in pixels, auto, or 0 for no tiling")
    return value


@dataclass(frozen=True)
class ModelRun:
    """The model file and how it runs. Only ``path`` and ``precision`` decide pixels."""

    path: Path
    kind: str  # "style" or "sr"
    scale: int
    backend: str = "auto"
    device: str = "auto"  # one device, or several comma-separated (one inferencer each)
    precision: str | None = None  # None: the backend's default for the device
    compile: bool = False
    cuda_graphs: bool = False
    batch_size: int = 0  # 0: auto
    threads: int = 1  # CPU inference threads
    max_memory: int | None = None  # bytes; None: the device's default
    detail: float | None = None  # --detail: T × the perceptual partner + (1 − T) × the fidelity model

    def blend(self, path: Path | None = None):
        """The ``--detail`` pair of this model (``path``: where this node keeps the file, for Ray actors)."""
        from percept.engines.detail import detail_blend

        return detail_blend(path or self.path, float(self.detail))

    @property
    def devices(self) -> list[str]:
        return [d.strip() for d in self.device.split(",") if d.strip()] or ["auto"]


@dataclass(frozen=True)
class PictureSettings:
    """Everything besides the model that changes an output's pixels."""

    tile: str = "auto"  # as typed: a size, auto or 0 (the record keeps the text)
    overlap: int | None = None  # None: the kind's default
    strength: float = 1.0
    preserve_color: bool = False
    stroke_scale: float | None = None  # style jobs: 1 = as on a 1024-px picture, 0 = native; None: upscaling
    temporal: bool = False  # clips: normalisation statistics smoothed over frames


@dataclass(frozen=True)
class OutputSettings:
    """How outputs are named and written."""

    fmt: str = "keep"
    quality: int = 95  # JPEG/WebP
    png_compression: int = 1  # zlib level of PNG outputs (lossless: not in the fingerprint)
    crf: int = 18  # clips
    name: str = "{stem}{suffix}.{ext}"
    suffix: str = ""
    skip_existing: bool = True
    max_pixels: int = 0


@dataclass(frozen=True)
class Job:
    """A whole job: what runs, what decides the pixels, how outputs are written; ``why`` says why this model."""

    model: ModelRun
    picture: PictureSettings = PictureSettings()
    output: OutputSettings = OutputSettings()
    why: str = field(default="", compare=False)

    def settings(self) -> dict[str, Any]:
        """The pixel-deciding fields, under the names the skip record has always used."""
        p = self.picture
        settings = {"model": model_identity(self.model.path), "strength": p.strength,
                    "preserve_color": p.preserve_color, "tile": p.tile, "overlap": p.overlap,
                    "precision": self.model.precision or "default", "quality": self.output.quality,
                    "crf": self.output.crf, "temporal": p.temporal}
        if p.stroke_scale is not None:
            settings["stroke_scale"] = p.stroke_scale
        if self.model.detail is not None:
            settings["detail"] = self.model.blend().key()
        return settings

    def fingerprint(self) -> str:
        return self._fingerprint

    @cached_property
    def _fingerprint(self) -> str:
        """Hashes the model file once per job: the planner and the record ask for every file."""
        return fingerprint(self.settings())

    def inferencer(self, runtime: Runtime, log: Log | None = None) -> Inferencer:
        """The Inferencer of this job around an opened ``runtime`` (local, Ray actor and clips alike)."""
        from percept.pipeline.inference import Inferencer
        from percept.pipeline.stroke_scale import StrokeScale, zoo_enlarger

        m, p = self.model, self.picture
        stroke = StrokeScale(p.stroke_scale) if p.stroke_scale else None
        enlarger = None
        if stroke is not None and m.kind == "style":
            enlarger = zoo_enlarger(backend=m.backend, device=runtime.device, precision=m.precision,
                                    max_memory=m.max_memory, log=log)
        return Inferencer(runtime, kind=m.kind, tile=parse_tile(p.tile), overlap=p.overlap, strength=p.strength,
                          preserve_color=p.preserve_color, batch_size=m.batch_size, max_memory=m.max_memory,
                          stroke=stroke, enlarger=enlarger)

    def open_runtime(self, device: str, path: Path | None = None, log: Log | None = None) -> Runtime:
        """The model on one device (``path``: where this node keeps the file, for Ray actors)."""
        from percept.engines.select import open_runtime

        m = self.model
        options = {"compile": m.compile, "cuda_graphs": m.cuda_graphs} if m.compile or m.cuda_graphs else None
        blend = m.blend(path) if m.detail is not None else None
        return open_runtime(path or m.path, backend=m.backend, device=device, precision=m.precision, log=log,
                            torch_options=options, blend=blend)

    def for_clips(self) -> Job:
        """Clips run at their own resolution: a stroke scale's trip through an SR network on every frame would
        cost more than the frame itself and could flicker, so video switches it off (the record keeps it)."""
        from dataclasses import replace

        return replace(self, picture=replace(self.picture, stroke_scale=None))
