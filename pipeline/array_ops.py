"""The few image operations the pipeline needs on C×H×W float32 arrays: padding to a size rule, area
shrinking, bicubic and nearest enlarging, box blur and luma. Numpy and Pillow only, so running a model needs
no torch."""

from __future__ import annotations

import numpy as np
from PIL import Image

from percept.core.colour import LUMA


def padded_size(size: int, multiple: int) -> int:
    """Smallest multiple of ``multiple`` that is >= ``size``."""
    return -(-size // multiple) * multiple


def pad_to_multiple(x: np.ndarray, multiple: int, min_size: int = 1) -> tuple[np.ndarray, tuple[int, int]]:
    """Reflect-pad the bottom/right of an N×C×H×W (or C×H×W) array so H and W are multiples of ``multiple`` and
    at least ``min_size``; returns (padded, (h, w)). Reflection needs pad < size, so tiny inputs are padded by
    repeating their edge."""
    h, w = x.shape[-2:]
    ph = padded_size(max(h, min_size), multiple) - h
    pw = padded_size(max(w, min_size), multiple) - w
    if ph == 0 and pw == 0:
        return x, (h, w)
    mode = "reflect" if ph < h and pw < w else "edge"
    pads = [(0, 0)] * (x.ndim - 2) + [(0, ph), (0, pw)]
    return np.pad(x, pads, mode=mode), (h, w)


def as_float(image: np.ndarray) -> np.ndarray:
    """A uint8 image (or crop) as float32 in [0, 1]; float images pass through."""
    if image.dtype == np.uint8:
        return image.astype(np.float32) * np.float32(1 / 255)
    return image.astype(np.float32, copy=False)


def _per_channel(image: np.ndarray, size: tuple[int, int], resample: int) -> np.ndarray:
    """Resize each channel of a C×H×W float32 array with Pillow's float ("F") mode; ``size`` is (h, w)."""
    h, w = size
    out = np.empty((image.shape[0], h, w), np.float32)
    for c in range(image.shape[0]):
        plane = Image.fromarray(np.ascontiguousarray(image[c], dtype=np.float32), mode="F")
        out[c] = np.asarray(plane.resize((w, h), resample), dtype=np.float32)
    return out


def resize_area(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Shrink a C×H×W float image to ``size`` (h, w) by averaging the pixels each output pixel covers."""
    return _per_channel(as_float(image), size, Image.Resampling.BOX)


def _cubic_taps(out_len: int, in_len: int, a: float = -0.75) -> tuple[np.ndarray, np.ndarray]:
    """Source indices (out_len×4, clamped to the edge) and weights of a cubic convolution resize with
    half-pixel centres: what torch's and ONNX's bicubic compute (a = −0.75)."""
    centre = (np.arange(out_len) + 0.5) * (in_len / out_len) - 0.5
    base = np.floor(centre).astype(np.int64)
    t = centre - base
    d = np.stack([t + 1, t, 1 - t, 2 - t], axis=1)  # distances to the four taps
    near = ((a + 2) * d - (a + 3)) * d * d + 1
    far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    weights = np.where(d <= 1, near, far).astype(np.float32)
    index = np.clip(base[:, None] + np.arange(-1, 3)[None, :], 0, in_len - 1)
    return index, weights


def _cubic_axis(x: np.ndarray, out_len: int, axis: int) -> np.ndarray:
    index, weights = _cubic_taps(out_len, x.shape[axis])
    shape = [1] * x.ndim
    shape[axis] = out_len
    out = np.zeros(x.shape[:axis] + (out_len,) + x.shape[axis + 1:], np.float32)
    for k in range(4):
        out += np.take(x, index[:, k], axis=axis) * weights[:, k].reshape(shape)
    return out


def resize_bicubic(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A …×H×W float image resized to ``size`` (h, w) by bicubic convolution, as torch's ``bicubic``
    (``align_corners=False``) and the SR networks' ONNX ``Resize`` compute it."""
    x = as_float(image)
    return _cubic_axis(_cubic_axis(x, size[0], x.ndim - 2), size[1], x.ndim - 1)


def enlarge_nearest(image: np.ndarray, factor: int) -> np.ndarray:
    """Each pixel of a …×H×W array repeated ``factor`` × ``factor`` times."""
    return image.repeat(factor, axis=-2).repeat(factor, axis=-1)


def luminance(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma of a 3×H×W RGB array, 1×H×W."""
    return LUMA[0] * rgb[0:1] + LUMA[1] * rgb[1:2] + LUMA[2] * rgb[2:3]


def box_blur(plane: np.ndarray, size: int) -> np.ndarray:
    """Mean over a ``size``×``size`` window (odd) of an H×W array, windows cut at the border (each pixel
    averages only the samples that exist), by summed-area tables."""
    r = size // 2
    h, w = plane.shape
    table = np.zeros((h + 1, w + 1), np.float64)
    table[1:, 1:] = plane.astype(np.float64).cumsum(0).cumsum(1)
    y0, y1 = np.clip(np.arange(h) - r, 0, h), np.clip(np.arange(h) + r + 1, 0, h)
    x0, x1 = np.clip(np.arange(w) - r, 0, w), np.clip(np.arange(w) + r + 1, 0, w)
    total = table[y1][:, x1] - table[y0][:, x1] - table[y1][:, x0] + table[y0][:, x0]
    count = (y1 - y0)[:, None] * (x1 - x0)[None, :]
    return (total / count).astype(np.float32)
