"""Host-side tiling: cut an image into overlapping tiles, and blend the tiles' outputs back seamlessly.

Why: a big photo does not fit through the network in one piece, but cutting it naively leaves seams —
each tile sees a different border, and instance norm computes different statistics per tile. Tiles here
are evenly spaced so every neighbour pair overlaps by the same amount, and outputs are blended with linear
ramps across each overlap (weights sum to one), so tile borders fade into each other instead of meeting
at an edge. Tile sizes are kept multiples of the model's size rule so inner tiles need no padding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tile:
    y: int
    x: int
    h: int
    w: int


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of size ``tile`` covering ``[0, length)``, neighbours overlapping >= ``overlap``."""
    if tile <= 0 or length <= tile:
        return [0]
    overlap = max(0, min(overlap, tile // 2))
    step = tile - overlap
    count = -(-(length - overlap) // step)  # ceil
    span = length - tile
    return [round(i * span / (count - 1)) for i in range(count)]


def plan_tiles(height: int, width: int, tile: int, overlap: int, multiple: int = 1) -> list[Tile]:
    """Tiles for an image; ``tile`` is rounded down to ``multiple``; 0 means the whole image in one piece."""
    if tile <= 0 or (height <= tile and width <= tile):
        return [Tile(0, 0, height, width)]
    tile = max(multiple, tile // multiple * multiple)
    th, tw = min(tile, height), min(tile, width)
    return [Tile(y, x, th, tw) for y in tile_starts(height, th, overlap) for x in tile_starts(width, tw, overlap)]


def _ramp(start: int, size: int, starts: list[int], scale: int) -> np.ndarray:
    """1-D blend weights of one tile (in output pixels): ramps up/down over the overlaps with its neighbours."""
    w = np.ones(size * scale, np.float32)
    i = starts.index(start)
    if i > 0:  # overlap with the previous tile
        ov = (starts[i - 1] + size - start) * scale
        if ov > 0:
            w[:ov] = np.minimum(w[:ov], (np.arange(ov, dtype=np.float32) + 0.5) / ov)
    if i < len(starts) - 1:  # overlap with the next tile
        ov = (start + size - starts[i + 1]) * scale
        if ov > 0:
            w[size * scale - ov:] = np.minimum(w[size * scale - ov:],
                                               (np.arange(ov, 0, -1, dtype=np.float32) - 0.5) / ov)
    return w


def _normalised_ramp(start: int, size: int, starts: list[int], scale: int) -> np.ndarray:
    """``_ramp`` divided by the sum of all tiles' ramps along this axis, so the weights sum to exactly one
    (even spacing can make a tile overlap more than its direct neighbours)."""
    total = np.zeros((max(starts) + size) * scale, np.float32)
    for s in starts:
        total[s * scale:(s + size) * scale] += _ramp(s, size, starts, scale)
    return _ramp(start, size, starts, scale) / total[start * scale:(start + size) * scale]


def blend_weights(tiles: list[Tile], index: int, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column blend weights (output pixels) of ``tiles[index]``. The tiles form a grid and the
    weights are separable, so normalising each axis makes all tiles' weights sum to one everywhere: outputs
    accumulate straight into the final image, with no weight map."""
    t = tiles[index]
    ys = sorted({u.y for u in tiles})
    xs = sorted({u.x for u in tiles})
    return _normalised_ramp(t.y, t.h, ys, scale), _normalised_ramp(t.x, t.w, xs, scale)


def add_tile(canvas: np.ndarray, tiles: list[Tile], index: int, output: np.ndarray, scale: int) -> None:
    """Accumulate ``tiles[index]``'s output (C × h·scale × w·scale), weighted, into ``canvas``
    (C × H·scale × W·scale): once every tile is in, the canvas is the blended image."""
    t = tiles[index]
    wy, wx = blend_weights(tiles, index, scale)
    sy, sx = t.y * scale, t.x * scale
    canvas[:, sy:sy + t.h * scale, sx:sx + t.w * scale] += output * (wy[:, None] * wx[None, :])


def blend(tiles: list[Tile], outputs: list[np.ndarray], height: int, width: int, scale: int) -> np.ndarray:
    """Blend per-tile outputs (C × h·scale × w·scale each) into one C × H·scale × W·scale image."""
    if len(tiles) == 1:
        return outputs[0]
    canvas = np.zeros((outputs[0].shape[0], height * scale, width * scale), np.float32)
    for i, out in enumerate(outputs):
        add_tile(canvas, tiles, i, out, scale)
    return canvas
