"""Everything between a decoded picture and the picture to write, apart from the CLI (cf. Real-ESRGAN's
``RealESRGANer``): pre-process, tile, pad to the size rule, run batches on a Runtime, blend, post-process.

It is split in three steps so the batch pipeline can put each on the right thread: ``prepare`` (decoder
threads: H×W×3 to a contiguous 3×H×W array), ``run_pieces`` (the one inference worker per device:
equal-shape tiles or whole images stacked into batches), ``finish`` (encoder threads: blend tiles,
strength, colour, alpha).
``process`` chains them for one image.

Memory is bounded by design: the decoded image stays in its source depth (uint8: a quarter of float32)
and is converted a tile at a time; each tile's output is blended into one preallocated float32 canvas as
it arrives (the blend weights of neighbouring tiles sum to one, so no weight map is kept); and the result
is quantised back to the source depth in bands of rows. The peak beyond the output image is the canvas
(4 bytes per output sample) plus the model's working memory, which ``--max-memory`` caps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from percept.core.devices import free_memory, is_out_of_memory
from percept.core.traits import ModelTraits, working_bytes_per_px
from percept.engines.norm_stats import Stats
from percept.engines.runtime import Runtime
from percept.pipeline.array_ops import as_float, luminance, pad_to_multiple, resize_area, resize_bicubic
from percept.pipeline.imageio import Picture, to_bits
from percept.pipeline.stroke_scale import Enlarger, StrokeScale, shrink
from percept.pipeline.tiling import Tile, add_tile, plan_tiles

MIN_TILE = 32  # the smallest tile auto picks
SMALLEST_TILE = 8  # an explicit --tile below this is refused
# Shared instance-norm statistics are measured on the whole image downscaled to this longer side (or the
# tile, if larger): closer to the full-resolution statistics than a tile-sized copy, at ~1.5 GB at most.
STATS_SIDE = 1024
FINISH_ROWS = 256  # output rows post-processed and quantised at a time (bounds float temporaries)


def _release_cuda_cache() -> None:
    """Give cached CUDA memory back before a smaller retry (only where torch is already loaded)."""
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


class PieceFailed(Exception):
    """The model could not process one piece (kept apart from errors that should stop everything)."""


def auto_batch_size(device: str) -> int:
    """1 on the CPU: batch 4 of 512² measured 12% slower per image there (docs/research/benchmarks-log.md); GPUs need
    batches to fill their cores."""
    return 4 if str(device).startswith("cuda") else 1


DEFAULT_MAX_MEMORY = 2 << 30  # bytes the model's working memory may take on the CPU: fits an 8 GB laptop


def auto_tile(device: str, kind: str, scale: int, size_rule: int, batch_size: int = 1,
              fraction: float | None = None, max_memory: int | None = None,
              bytes_per_px: int | None = None) -> int:
    """Largest square tile (input pixels) whose batch fits the memory budget, a multiple of ``size_rule``.

    The budget is a share of free memory, capped on the CPU by ``max_memory`` (default 2 GiB): bigger tiles
    buy no speed there (measured: ``--tile 256`` ran as fast as a tile from a quarter of free memory, in
    less than half the memory), so taking more only risks the machine. The per-pixel cost includes the
    output (``scale²`` larger for SR); ``bytes_per_px`` (``working_bytes_per_px``) gives the model's own."""
    if fraction is None:
        fraction = 0.7 if device.startswith("cuda") else 0.25
    per_px = bytes_per_px or working_bytes_per_px(kind, scale, None)
    budget = free_memory(device) * fraction
    if max_memory is None and not device.startswith("cuda"):
        max_memory = DEFAULT_MAX_MEMORY
    if max_memory:
        budget = min(budget, max_memory)
    pixels = budget / (per_px * max(1, batch_size))
    side = int(pixels ** 0.5) // size_rule * size_rule
    return max(MIN_TILE, side)


@dataclass
class Job:
    """One picture on its way through the model: its array, tile plan, and outputs as they arrive."""

    key: object
    picture: Picture
    image: np.ndarray                       # 3×H×W, uint8 (8-bit sources) or float32 in [0, 1]
    full_image: np.ndarray | None = None    # the full-size source when ``image`` is a working-size copy
    tiles: list[Tile] = field(default_factory=list)
    done: list[bool] = field(default_factory=list)  # per tile: its output is in ``canvas``
    canvas: np.ndarray | None = None        # 3×(scale·H)×(scale·W) float32: tile outputs blended in
    tile_size: int = 0
    generation: int = 0                     # bumped when re-tiled after OOM: stale pieces are dropped
    norm_stats: Stats | None = None         # shared instance-norm statistics of a tiled style job
    error: str | None = None

    @property
    def complete(self) -> bool:
        return self.error is None and all(self.done)

    def add(self, index: int, output: np.ndarray, scale: int) -> None:
        """Blend one tile's output into the canvas (allocated at the first tile)."""
        if len(self.tiles) == 1:
            self.canvas = output
        else:
            if self.canvas is None:
                _, h, w = self.image.shape
                self.canvas = np.zeros((output.shape[0], h * scale, w * scale), np.float32)
            add_tile(self.canvas, self.tiles, index, output, scale)
        self.done[index] = True


@dataclass(frozen=True)
class Piece:
    job: Job
    index: int
    generation: int

    @property
    def shape(self) -> tuple[int, int]:
        t = self.job.tiles[self.index]
        return t.h, t.w

    @property
    def stale(self) -> bool:
        return self.job.error is not None or self.generation != self.job.generation


class Inferencer:
    """Runs pictures through one Runtime with tiling, batching, and the style/SR post-processing.

    ``tile``: input-pixel tile size, ``0`` for whole images, or ``"auto"`` (sized from free memory and the
    working memory the runtime's model description implies, so every caller tiles alike; halved on
    out-of-memory). ``overlap`` defaults to 128 px for style nets (wide context) and 16 px for SR.
    ``global_norm``: tiles of a style image share instance-norm statistics measured on the whole image
    (every runtime whose ``shared_stats`` is True; see ``percept.engines.norm_stats``). ``strength`` blends
    a stylised result with the original; ``preserve_color`` keeps the input's chroma and takes only the
    stylised luminance. ``stroke`` (with an ``enlarger``): large pictures are stylised at a working size and
    enlarged back with an SR network (``percept.pipeline.stroke_scale``).
    """

    def __init__(self, runtime: Runtime, kind: str | None = None, tile: int | str = "auto",
                 overlap: int | None = None, strength: float = 1.0, preserve_color: bool = False,
                 batch_size: int = 0, global_norm: bool = True, max_memory: int | None = None,
                 stroke: StrokeScale | None = None, enlarger: Enlarger | None = None):
        self.runtime = runtime
        scale = int(runtime.scale)
        self.traits = ModelTraits.of(runtime.info, kind or ("sr" if scale > 1 else "style"), scale,
                                     int(runtime.size_rule), int(runtime.min_size))
        self.kind, self.scale = self.traits.kind, scale
        self.size_rule, self.min_size = self.traits.size_rule, self.traits.min_size
        limits = runtime.limits
        self.pad_min = max(self.min_size, *limits.min_hw)  # pad small inputs up to the runtime's minimum
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"strength must be within 0..1, not {strength}")
        self.strength, self.preserve_color = float(strength), bool(preserve_color)
        self.batch_size = int(batch_size) or auto_batch_size(runtime.device)
        if limits.max_batch is not None:
            self.batch_size = max(1, min(self.batch_size, limits.max_batch))
        self.overlap = self.traits.overlap if overlap is None else max(0, int(overlap))
        self.shared = global_norm and self.traits.instance_norms and runtime.shared_stats
        if stroke is not None and stroke.value > 0 and self.kind == "style" and enlarger is None:
            raise ValueError("a stroke scale needs an enlarger (the SR network that brings pictures back)")
        self.stroke = stroke if stroke is not None and stroke.value > 0 and self.kind == "style" else None
        self.enlarger = enlarger
        self.notes: list[str] = []  # adjustments the user should hear about
        self.auto = tile == "auto"
        self.tile = self._tile_size(tile, max_memory)
        if global_norm and self.traits.instance_norms and not runtime.shared_stats and self.tile != 0:
            self.notes.append(f"{runtime.name} ({runtime.precision}) cannot share normalisation statistics between "
                              "tiles: tiled images use per-tile statistics and may differ from untiled ones (use "
                              "--tile 0, or a backend that shares them: openvino, torch, onnxruntime fp32)")
        if self.tile and self.overlap * 2 > self.tile:
            shrunk = self.tile // 4
            self.notes.append(f"tile {self.tile} px leaves no room for a {self.overlap} px overlap on each side: "
                              f"using overlap {shrunk} px (seams may show; a larger --tile hides them)")
            self.overlap = shrunk

    def _tile_size(self, tile: int | str, max_memory: int | None) -> int:
        """The tile side in input pixels: ``auto`` from memory and the model's traits, capped by the runtime's
        largest input; refused below ``SMALLEST_TILE``."""
        runtime, limits = self.runtime, self.runtime.limits
        if tile == "auto":
            tile = auto_tile(runtime.device, self.kind, self.scale, self.size_rule, self.batch_size,
                             max_memory=max_memory, bytes_per_px=self.traits.working_bytes_per_px)
        size = int(tile)
        if size < 0:
            raise ValueError(f"tile must be >= 0 or auto, not {tile}")
        if limits.max_hw is not None:
            cap = min(limits.max_hw) // self.size_rule * self.size_rule
            if size == 0 or size > cap:
                if not self.auto:
                    self.notes.append(f"{runtime.name} takes inputs up to {limits.max_hw[0]}×{limits.max_hw[1]}: "
                                      f"tiling at {cap} px" + (" instead of whole images" if size == 0 else ""))
                size = cap
        if 0 < size < SMALLEST_TILE:
            raise ValueError(f"--tile {size}: below the smallest tile percept runs ({SMALLEST_TILE} px); tiles "
                             f"this small are slow and show seams (try --tile {MIN_TILE * 8}, or 0 for whole images)")
        return size

    # -- decoder threads
    @staticmethod
    def prepare(picture: Picture) -> np.ndarray:
        """H×W×3 array to a contiguous 3×H×W one (the copy happens off the inference thread): uint8
        sources stay uint8 (a quarter of float32's memory); 16-bit ones become float32."""
        rgb = picture.rgb if picture.rgb.dtype == np.uint8 else picture.float_rgb()
        return np.ascontiguousarray(rgb.transpose(2, 0, 1))

    # -- inference worker
    def plan(self, job: Job, stats: Stats | None = None) -> list[Piece]:
        """(Re)cut ``job`` into tiles; a whole image is one piece when it fits or tiling is off. ``stats``
        (from ``measure``, e.g. smoothed over video frames) are imposed on every tile instead of the image's
        own. With a stroke scale, a large picture is first shrunk to the working size (once)."""
        if self.stroke is not None and job.full_image is None:
            factor = self.stroke.factor(*job.image.shape[-2:])
            if factor > 1.0:
                job.full_image, job.image = job.image, shrink(job.image, factor)
        _, h, w = job.image.shape
        job.tile_size = self.tile
        job.tiles = plan_tiles(h, w, self.tile, self.overlap, self.size_rule)
        job.done = [False] * len(job.tiles)
        job.canvas = None
        job.generation += 1
        job.norm_stats = None
        if stats is not None:
            job.norm_stats = stats
        elif len(job.tiles) > 1 and self.shared:
            job.norm_stats = self.measure(job.image, max(STATS_SIDE, job.tiles[0].h, job.tiles[0].w))
        return [Piece(job, i, job.generation) for i in range(len(job.tiles))]

    def measure(self, image: np.ndarray, max_side: int = STATS_SIDE) -> Stats:
        """Instance-norm statistics of a 3×H×W image (downscaled to ``max_side``); the runtime must share them."""
        return self.runtime.measure_stats(self._stats_input(image, max_side))

    def _stats_input(self, image: np.ndarray, max_side: int) -> np.ndarray:
        """The whole image as one padded batch, downscaled so its longer side is at most ``max_side``
        (and within the runtime's largest input)."""
        if self.runtime.limits.max_hw is not None:
            max_side = min(max_side, min(self.runtime.limits.max_hw) // self.size_rule * self.size_rule)
        h, w = image.shape[-2:]
        factor = min(1.0, max_side / max(h, w))
        x = as_float(image)
        if factor < 1.0:
            x = resize_area(x, (max(1, round(h * factor)), max(1, round(w * factor))))
        return pad_to_multiple(x[None], self.size_rule, self.pad_min)[0]

    def _run(self, batch: np.ndarray, stats: list[Stats | None]) -> np.ndarray:
        padded, (h, w) = pad_to_multiple(batch, self.size_rule, self.pad_min)
        if any(s is not None for s in stats):
            y = self.runtime.run_with_stats(padded, stats)
        else:
            y = self.runtime.run(padded)
        return y[..., : h * self.scale, : w * self.scale]

    def run_pieces(self, pieces: list[Piece]) -> list[Piece]:
        """Run equal-shape pieces as one batch, storing outputs in their jobs; returns pieces to queue anew.

        Out of memory: a batch is split in halves; a single tile that does not fit has its job re-tiled
        at half the tile size (and later images start there); a job that cannot shrink further fails.
        Other errors fall back to one piece at a time so only the faulty image fails.
        """
        pieces = [p for p in pieces if not p.stale]
        if not pieces:
            return []
        crops = []
        for p in pieces:
            t = p.job.tiles[p.index]
            crops.append(as_float(p.job.image[:, t.y:t.y + t.h, t.x:t.x + t.w]))
        try:
            out = self._run(np.stack(crops), [p.job.norm_stats for p in pieces])
        except Exception as exc:
            if len(pieces) > 1:
                half = len(pieces) // 2
                return self.run_pieces(pieces[:half]) + self.run_pieces(pieces[half:])
            return self._single_failed(pieces[0], exc)
        for p, o in zip(pieces, out):
            p.job.add(p.index, o, self.scale)
        return []

    def _single_failed(self, piece: Piece, exc: Exception) -> list[Piece]:
        job = piece.job
        if not is_out_of_memory(exc):
            job.error = f"inference failed ({type(exc).__name__}: {exc})"
            return []
        _release_cuda_cache()
        t = job.tiles[piece.index]
        current = max(t.h, t.w)
        smaller = current // 2 // self.size_rule * self.size_rule
        if self.tile == 0 and not self.auto:
            job.error = "out of memory (try --tile auto or a tile size)"
            return []
        if smaller < MIN_TILE:
            job.error = f"out of memory even with {current}px tiles"
            return []
        self.tile = min(self.tile or smaller, smaller)
        return self.plan(job, stats=job.norm_stats)  # statistics given (video) or measured stay valid

    # -- encoder threads
    def finish(self, job: Job) -> Picture:
        """Post-process the blended canvas into the output picture (scale × the input size), in the
        source's depth, a band of rows at a time."""
        pic = job.picture
        out = job.canvas
        if out is None:
            raise PieceFailed("no output")
        source_image = job.image
        if job.full_image is not None:
            source_image = job.full_image
            out = self.enlarger.enlarge(np.clip(out, 0.0, 1.0), *source_image.shape[-2:])
        bits = 16 if pic.bits == 16 else 8
        _, oh, ow = out.shape
        rgb = np.empty((oh, ow, 3), np.uint16 if bits == 16 else np.uint8)
        for r0 in range(0, oh, FINISH_ROWS):
            r1 = min(oh, r0 + FINISH_ROWS)
            band = np.clip(out[:, r0:r1], 0.0, 1.0)
            if self.kind == "style":
                band = self.style_finish(band, as_float(source_image[:, r0:r1]))
            else:
                band = sr_finish(band, pic.grey)
            rgb[r0:r1] = to_bits(np.ascontiguousarray(band.transpose(1, 2, 0)), bits)
        job.canvas = None  # the float canvas goes as soon as the samples are out
        alpha = pic.alpha
        if alpha is not None and self.scale > 1:
            a = pic.float_alpha()
            up = resize_bicubic(a[None], (a.shape[0] * self.scale, a.shape[1] * self.scale))[0]
            alpha = to_bits(np.clip(up, 0.0, 1.0), bits)
        elif alpha is not None:
            alpha = to_bits(alpha, bits)
        result = pic.with_pixels(rgb, alpha)
        result.grey = self.kind == "sr" and pic.grey
        return result

    def style_finish(self, band: np.ndarray, source: np.ndarray) -> np.ndarray:
        """A stylised band against its source band: only the luminance with ``preserve_color``, then
        ``strength`` of it over the source."""
        if self.preserve_color:
            band = np.clip(source + (luminance(band) - luminance(source)), 0.0, 1.0)
        if self.strength < 1.0:
            band = self.strength * band + (1.0 - self.strength) * source
        return band

    def process(self, picture: Picture) -> Picture:
        """One picture through all three steps (no pipeline): for tests, APIs and simple loops."""
        result = self.process_many([picture])[0]
        if isinstance(result, PieceFailed):
            raise result
        return result

    def process_many(self, pictures: list[Picture]) -> list[Picture | PieceFailed]:
        """Several pictures through all three steps, equal-shape pieces batched together (a Ray actor's
        batch); each picture gets its output or the ``PieceFailed`` that stopped it, alone."""
        jobs = [Job(key=None, picture=p, image=self.prepare(p)) for p in pictures]
        pending: list[Piece] = []
        for job in jobs:
            try:
                pending += self.plan(job)
            except Exception as exc:
                job.error = f"cannot prepare ({type(exc).__name__}: {exc})"
        self.drain(pending)
        results: list[Picture | PieceFailed] = []
        for job in jobs:
            try:
                results.append(PieceFailed(job.error) if job.error else self.finish(job))
            except Exception as exc:
                results.append(PieceFailed(f"cannot finish ({type(exc).__name__}: {exc})"))
        return results

    def enlarge(self, image: np.ndarray) -> np.ndarray:
        """An SR model's raw output for a 3×H×W float image (tiled like any picture): the stroke scale's
        way back to full size."""
        job = Job(key=None, picture=None, image=image)  # type: ignore[arg-type]
        self.drain(self.plan(job))
        if job.error or job.canvas is None:
            raise PieceFailed(job.error or "no output")
        return job.canvas

    def drain(self, pending: list[Piece]) -> None:
        """Run pieces until none is left (re-tiled pieces come back into the loop)."""
        while pending:
            batch, pending = next_batch(pending, self.batch_size)
            if batch:
                pending += self.run_pieces(batch)


def sr_finish(band: np.ndarray, grey: bool) -> np.ndarray:
    """An upscaled band: a greyscale source comes back grey (the network may tint it slightly)."""
    return np.broadcast_to(luminance(band), (3, *band.shape[1:])) if grey else band


def next_batch(pending: list[Piece], batch_size: int) -> tuple[list[Piece], list[Piece]]:
    """The one batching rule of every caller (folders, clips, Ray, ``drain``): from the live pieces, up to
    ``batch_size`` of the most common shape (tiles and pictures of one shape stack into one batch);
    returns (batch, the rest). Stale pieces (of failed or re-tiled jobs) are dropped."""
    live = [p for p in pending if not p.stale]
    if not live:
        return [], []
    groups: dict[tuple[int, int], list[Piece]] = {}
    for p in live:
        groups.setdefault(p.shape, []).append(p)
    batch = max(groups.values(), key=len)[:batch_size]
    chosen = set(map(id, batch))
    return batch, [p for p in live if id(p) not in chosen]
