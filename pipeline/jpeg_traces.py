"""Does a picture carry JPEG damage? From the file's own quantisation tables, or from its pixels.

The default upscaler depends on it: the real-photo model removes block edges and ringing a clean-input
model would sharpen, and the clean-input model keeps more detail of a lossless picture. The extension
cannot tell (a PNG is often a saved JPEG, a ``.jpg`` may be saved at quality 98), so:

  * a JPEG file: its luma quantisation table gives the quality it was saved at (IJG scaling of the
    standard table, as libjpeg, Pillow, phones and browsers use);
  * any other file: the 8×8 DCT of its luma, on the grid a JPEG would have left. JPEG rounds each
    coefficient to a multiple of its table step, and the decoded pixels keep that: the low-frequency
    coefficients cluster at multiples of one step (within the pixels' own rounding), where an untouched
    photo's spread evenly. The quality is the one whose standard table has that step.
Below quality ``LOSSY_BELOW`` the damage is visible once upscaled; above it a picture counts as clean.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image

from percept.core.colour import LUMA

LOSSY_BELOW = 90  # JPEG quality under which percept treats a picture as JPEG-damaged
# The IJG standard luminance table (ITU-T T.81 Annex K), in natural (row-major) order.
STANDARD_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], dtype=np.float64).reshape(8, 8)
PROBES = ((0, 1), (1, 0), (1, 1), (0, 2), (2, 0))  # low frequencies: large enough to see, small steps
MIN_COEFFICIENTS = 48  # fewer usable coefficients than this: too flat or too small to tell


@dataclass(frozen=True)
class JpegTraces:
    """What the picture shows: ``quality`` (None when no JPEG step was found) and how it was found."""

    quality: int | None
    evidence: str  # "file tables" or "pixels"

    @property
    def damaged(self) -> bool:
        return self.quality is not None and self.quality < LOSSY_BELOW

    def describe(self) -> str:
        if self.quality is None:
            return "no JPEG traces in its pixels"
        source = "its file tables" if self.evidence == "file tables" else "from its pixels"
        return f"JPEG quality ~{self.quality} ({source})"


def ijg_table(quality: int) -> np.ndarray:
    """The luma table libjpeg writes at ``quality`` (1–100)."""
    q = min(max(int(quality), 1), 100)
    factor = 5000 / q if q < 50 else 200 - 2 * q
    return np.clip(np.floor((STANDARD_LUMA * factor + 50) / 100), 1, 255)


def quality_from_table(table: np.ndarray) -> int:
    """The IJG quality whose luma table is closest to ``table`` (8×8, natural order)."""
    errors = [float(np.abs(ijg_table(q) - table).mean()) for q in range(1, 101)]
    return int(np.argmin(errors)) + 1


def quality_from_step(position: tuple[int, int], step: float) -> int:
    """The IJG quality whose table has ``step`` at ``position`` (the highest such quality)."""
    return min(range(1, 101), key=lambda q: (abs(ijg_table(q)[position] - step), -q))


def _dct_matrix() -> np.ndarray:
    k = np.arange(8)
    m = np.cos(np.pi * (2 * k[None, :] + 1) * k[:, None] / 16) * np.sqrt(2 / 8)
    m[0] /= np.sqrt(2)
    return m


def _luma_blocks(rgb: np.ndarray, limit: int = 1024) -> np.ndarray:
    """JPEG's luma (level-shifted) of up to ``limit``² pixels from the top-left, as (N, 8, 8) blocks."""
    a = rgb[:limit, :limit].astype(np.float64)
    y = LUMA[0] * a[..., 0] + LUMA[1] * a[..., 1] + LUMA[2] * a[..., 2] - 128
    h, w = (y.shape[0] // 8) * 8, (y.shape[1] // 8) * 8
    return y[:h, :w].reshape(h // 8, 8, w // 8, 8).transpose(0, 2, 1, 3).reshape(-1, 8, 8)


def step_evidence(coefficients: np.ndarray) -> tuple[float, float]:
    """(the best quantisation step, how strongly the values cluster at its multiples: 0 none, 1 all).

    Only values at least half a step from zero count (zero is where every photo's values crowd), and the
    share within a quarter step of a multiple is compared with the half an even spread would put there.
    """
    best = (0.0, 0.0)
    magnitudes = np.abs(coefficients)
    for step in np.arange(3.0, 41.0):
        used = magnitudes[(magnitudes >= step / 2) & (magnitudes < 8 * step)]
        if used.size < MIN_COEFFICIENTS:
            continue
        offset = np.abs(used / step - np.round(used / step))
        clustering = 2 * (float(np.mean(offset < 0.25)) - 0.5)
        if clustering > best[1] + 0.02:  # a multiple of the step clusters too: keep the smaller step
            best = (float(step), clustering)
    return best


def traces_from_pixels(rgb: np.ndarray) -> JpegTraces:
    """JPEG's quantisation steps in an 8-bit RGB array's pixels, on the grid from its top-left corner."""
    blocks = _luma_blocks(rgb)
    if len(blocks) < 16:
        return JpegTraces(None, "pixels")
    m = _dct_matrix()
    coefficients = m @ blocks @ m.T
    qualities = []
    for position in PROBES:
        step, clustering = step_evidence(coefficients[:, position[0], position[1]])
        if clustering >= 0.5:
            qualities.append(quality_from_step(position, step))
    if len(qualities) < 3:  # most probes must agree there is a step
        return JpegTraces(None, "pixels")
    return JpegTraces(int(np.median(qualities)), "pixels")


def jpeg_traces(path: Path | BinaryIO, rgb: np.ndarray | None = None) -> JpegTraces:
    """The JPEG quality ``path`` was saved at: from its tables if it is a JPEG file, else from its pixels
    (``rgb``, the decoded 8-bit picture, or the file's own decoded here)."""
    with Image.open(path) as img:
        tables = getattr(img, "quantization", None)
        if img.format == "JPEG" and tables:
            return JpegTraces(quality_from_table(np.array(tables[0], dtype=np.float64).reshape(8, 8)), "file tables")
        if rgb is None:
            rgb = np.asarray(img.convert("RGB"))
    return traces_from_pixels(rgb)
