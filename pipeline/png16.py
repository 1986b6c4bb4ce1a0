"""16-bit PNG decoding with numpy and zlib: Pillow reads 16-bit RGB as 8-bit, and the codec library that reads
it (imagecodecs, 80 MB) would be a sixth of the base install.

PNG filters each byte against its left, upper and upper-left neighbours, so a row cannot be undone in one
vectorised step (Paeth and Average depend on the byte just decoded). A pixel depends only on pixels up and to
the left, though, so all pixels on one anti-diagonal (row + column = d) can be decoded together: h + w numpy
steps, each over every row at once, whatever filter each row uses.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type → samples per pixel (grey, RGB, grey+alpha, RGBA)


class PngError(ValueError):
    """Not a PNG this decoder reads (it says why); the caller falls back to Pillow's 8-bit reading."""


def _chunks(data: bytes):
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise PngError("not a PNG file")
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        yield kind, data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IEND":
            return
    raise PngError("truncated PNG (no IEND chunk)")


def _unfilter(raw: np.ndarray, filters: np.ndarray, bpp: int) -> np.ndarray:
    """Undo the per-row filters of an h × (w·bpp) byte array, one anti-diagonal of pixels at a time."""
    h, width = raw.shape
    w = width // bpp
    x = np.zeros((h + 1, (w + 1) * bpp), np.int16)  # one zero row above and one zero pixel to the left
    filters = filters.astype(np.int16)
    lanes = np.arange(bpp)
    for d in range(h + w - 1):
        r = np.arange(max(0, d - w + 1), min(h, d + 1))  # rows on this diagonal
        c = d - r  # their pixel columns
        cols = ((c + 1) * bpp)[:, None] + lanes  # byte columns in x (shifted by the zero pixel)
        rows = (r + 1)[:, None]
        a, b, up_left = x[rows, cols - bpp], x[rows - 1, cols], x[rows - 1, cols - bpp]
        p = a + b - up_left
        pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - up_left)
        paeth = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, up_left))
        f = filters[r][:, None]
        predictor = np.select([f == 1, f == 2, f == 3, f == 4], [a, b, (a + b) >> 1, paeth], 0)
        x[rows, cols] = (raw[r[:, None], (c * bpp)[:, None] + lanes].astype(np.int16) + predictor) & 0xFF
    return x[1:, bpp:].astype(np.uint8)


def decode_png16(data: bytes) -> np.ndarray:
    """A 16-bit PNG's samples as uint16 H×W×C (C: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA)."""
    header, idat = None, []
    for kind, body in _chunks(data):
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body[:13])
        elif kind == b"IDAT":
            idat.append(body)
    if header is None:
        raise PngError("PNG without a header chunk")
    w, h, depth, colour, _, _, interlace = header
    if depth != 16 or colour not in CHANNELS:
        raise PngError(f"not a 16-bit grey or RGB PNG (depth {depth}, colour type {colour})")
    if interlace:
        raise PngError("interlaced 16-bit PNG")
    c = CHANNELS[colour]
    bpp = 2 * c
    try:
        stream = zlib.decompress(b"".join(idat))
    except zlib.error as exc:
        raise PngError(f"corrupt image data ({exc})") from None
    if len(stream) < h * (w * bpp + 1):
        raise PngError("truncated image data")
    rows = np.frombuffer(stream, np.uint8, count=h * (w * bpp + 1)).reshape(h, w * bpp + 1)
    if rows[:, 0].max(initial=0) > 4:
        raise PngError("unknown PNG row filter")
    plain = _unfilter(rows[:, 1:], rows[:, 0], bpp)
    return plain.reshape(h, w * c * 2).view(">u2").astype(np.uint16).reshape(h, w, c)
