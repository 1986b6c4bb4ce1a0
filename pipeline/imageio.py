"""Image files in and out without losing what a photographer cares about.

Why this is more than ``Image.open(...).convert("RGB")``: EXIF orientation must be applied (or portrait
photos come out sideways), ICC profiles and EXIF must survive, alpha must not be flattened, CMYK and palette
files need real colour conversion, and 16-bit PNG/TIFF must not be quantised to 8 bits (Pillow reads 16-bit
RGB as 8-bit, so those pixels come from ``percept.pipeline.png16`` (or imagecodecs) and ``tifffile``). Every
failure is an ``ImageReadError`` with a one-line reason, so one bad file never takes the batch down.

Pixels travel in the source's own depth: ``rgb`` H×W×3 and ``alpha`` H×W (or None) as uint8 or uint16
(a 12-megapixel photo is 36 MB as uint8, 144 MB as float32); float32 in [0, 1] is accepted too.
``to_unit_float`` converts where arithmetic needs it, a tile at a time.
Greyscale sources are expanded to RGB for the networks; ``grey`` remembers it so an upscaled greyscale
image is written greyscale again, while a stylised one is written RGB (the style adds colour).
"""

from __future__ import annotations

import io
import os
import re
import struct
import warnings
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, UnidentifiedImageError

from percept.core.atomic import atomic_path
from percept.core.extras import install_hint

DEFAULT_MAX_PIXELS = 100_000_000
_UMASK = os.umask(0)
os.umask(_UMASK)  # read once at import: temporary files are created 0600, outputs get the usual mode
ORIENTATION = 0x0112
EXIF_IFD = 0x8769
# IFD0 tags that describe the photo (not the TIFF layout), carried when the source is a TIFF.
_DESCRIPTIVE_TAGS = (0x010E, 0x010F, 0x0110, 0x0131, 0x0132, 0x013B, 0x8298)
GREY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
ALPHA_MODES = {"LA", "La", "PA", "RGBA", "RGBa"}

# Output formats: CLI name -> (Pillow format, extension).
FORMATS = {"png": ("PNG", "png"), "jpg": ("JPEG", "jpg"), "webp": ("WEBP", "webp"), "tiff": ("TIFF", "tif"),
           "avif": ("AVIF", "avif"), "heic": ("HEIF", "heic")}
HIGH_BIT_FORMATS = {"PNG", "TIFF"}
# zlib level of PNG outputs: 1 writes a 4-megapixel picture ~5× faster than Pillow's 6 for ~15 % more bytes
# (docs/RESULTS.md); --png-compression 9 for the smallest files.
PNG_LEVEL = 1
HEIF_SUFFIXES = {".heic", ".heif", ".hif"}
# ``--format keep`` for a HEIC photo writes JPEG: every viewer and browser opens it, while HEIC opens
# natively only on Apple systems and recent Windows with an extension. Ask for --format heic to keep it.
KEEP_AS = {"HEIF": "JPEG"}


def _register_heif() -> bool:
    """HEIC/HEIF (iPhone photos) through pillow-heif, an optional extra; AVIF is Pillow's own (≥ 11.3)."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


HEIF_AVAILABLE = _register_heif()
WRITABLE = {"PNG", "JPEG", "WEBP", "TIFF", "AVIF"} | ({"HEIF"} if HEIF_AVAILABLE else set())


def check_writable_format(choice: str) -> None:
    """``--format`` up front: a format this installation cannot write is one line, not a failure per file."""
    if choice == "heic" and not HEIF_AVAILABLE:
        raise ValueError(f"--format heic needs pillow-heif: {install_hint('heif')}")


class ImageReadError(Exception):
    """A file that cannot be read as an image; ``str()`` is the reason (no path: the caller adds it)."""


@dataclass
class Picture:
    """Decoded pixels plus what the output must carry over."""

    rgb: np.ndarray                 # H×W×3 uint8/uint16 (source depth) or float32 in [0, 1]
    alpha: np.ndarray | None = None  # H×W, same dtype as rgb
    bits: int = 8                   # sample depth of the source: 8 or 16
    grey: bool = False              # the source was greyscale
    format: str = "PNG"             # source container (Pillow's name)
    icc: bytes | None = None
    exif: bytes | None = None       # EXIF with the orientation tag reset to 1
    notes: list[str] = field(default_factory=list)

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    def with_pixels(self, rgb: np.ndarray, alpha: np.ndarray | None) -> Picture:
        return replace(self, rgb=rgb, alpha=alpha, notes=list(self.notes))

    def float_rgb(self) -> np.ndarray:
        return to_unit_float(self.rgb)

    def float_alpha(self) -> np.ndarray | None:
        return None if self.alpha is None else to_unit_float(self.alpha)


def to_unit_float(a: np.ndarray) -> np.ndarray:
    """uint8 / uint16 samples (or floats) as float32 in [0, 1]."""
    if a.dtype == np.uint8:
        return a.astype(np.float32) / 255.0
    if a.dtype == np.uint16:
        return a.astype(np.float32) / 65535.0
    return np.clip(a, 0.0, 1.0).astype(np.float32, copy=False)


def to_bits(a: np.ndarray, bits: int) -> np.ndarray:
    """Samples as ``bits``-deep unsigned integers (8 or 16): integers are rescaled, floats quantised."""
    if a.dtype == (np.uint16 if bits == 16 else np.uint8):
        return a
    if a.dtype == np.uint8:  # 8 → 16: 255 → 65535 exactly
        return a.astype(np.uint16) * np.uint16(257)
    if a.dtype == np.uint16:  # 16 → 8, rounded
        return ((a.astype(np.uint32) + 128) // 257).astype(np.uint8)
    return quantise(a, bits)


def configure_pixel_limit(max_pixels: int) -> None:
    """Align Pillow's own bomb guard with ours: ours rejects first with a clear reason; 0 means no limit."""
    Image.MAX_IMAGE_PIXELS = None if max_pixels <= 0 else max_pixels
    # Pillow also warns between 1× and 2× its limit; read_image already refuses those with a clear reason.
    warnings.simplefilter("ignore", Image.DecompressionBombWarning)


def icc_colour_space(icc: bytes | None) -> str | None:
    """'RGB', 'GRAY', 'CMYK', ... from an ICC header (bytes 16-19), or None."""
    if not icc or len(icc) < 20:
        return None
    return icc[16:20].decode("ascii", "replace").strip()


# ----------------------------------------------------------------------------------------------- reading

def _orient(a: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1-8) to an H×W[×C] array, as ``ImageOps.exif_transpose`` does."""
    if orientation == 2:
        a = a[:, ::-1]
    elif orientation == 3:
        a = a[::-1, ::-1]
    elif orientation == 4:
        a = a[::-1]
    elif orientation == 5:
        a = np.swapaxes(a, 0, 1)
    elif orientation == 6:
        a = np.rot90(a, -1)
    elif orientation == 7:
        a = np.rot90(np.swapaxes(a, 0, 1), 2)
    elif orientation == 8:
        a = np.rot90(a, 1)
    return np.ascontiguousarray(a)


def _to_source_depth(a: np.ndarray) -> np.ndarray:
    """Decoded samples as uint8 or uint16 (no float copy); 32-bit float images stay float32 in [0, 1]."""
    if a.dtype in (np.uint8, np.uint16):
        return a
    if a.dtype == bool:
        return a.astype(np.uint8) * np.uint8(255)
    if a.dtype.kind in "iu":
        return np.clip(a, 0, 65535).astype(np.uint16)
    return np.clip(a.astype(np.float32), 0.0, 1.0)


def _is_high_bit(im: Image.Image) -> bool:
    if im.mode.startswith("I;16") or im.mode == "I":
        return True
    if im.format not in HIGH_BIT_FORMATS or not im.tile:
        return False
    args = im.tile[0].args
    rawmode = args[0] if isinstance(args, tuple) else args
    return isinstance(rawmode, str) and ";16" in rawmode


def _decode_png16(data: bytes) -> np.ndarray | None:
    """A 16-bit PNG's samples: imagecodecs' C decoder where it is installed (fast on large pictures), else
    percept's numpy one; None for the rare layouts neither takes here (Pillow then reads 8 bits)."""
    try:
        import imagecodecs
    except ImportError:
        from percept.pipeline.png16 import PngError, decode_png16

        try:
            a = decode_png16(data)
        except PngError:
            return None
        return a[:, :, 0] if a.shape[2] == 1 else a
    return imagecodecs.png_decode(data)


def _read_high_bit(path: Path, fmt: str, data: bytes | None = None) -> np.ndarray | None:
    """16-bit samples as uint16 H×W[×C]; None when the layout is not plain grey/RGB (Pillow then reads it)."""
    if fmt == "PNG":
        a = _decode_png16(path.read_bytes() if data is None else data)
        if a is None:
            return None
    else:
        import tifffile

        with tifffile.TiffFile(path if data is None else io.BytesIO(data)) as tf:
            page = tf.pages[0]
            if page.photometric not in (tifffile.PHOTOMETRIC.RGB, tifffile.PHOTOMETRIC.MINISBLACK):
                return None
            a = page.asarray()
            if page.planarconfig == tifffile.PLANARCONFIG.SEPARATE and a.ndim == 3:
                a = np.moveaxis(a, 0, -1)
    if a.dtype != np.uint16 or a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] > 4):
        return None
    return a


def _portable_exif(im: Image.Image) -> Image.Exif:
    """The EXIF to carry. A TIFF's IFD0 is its own layout, so only its descriptive tags and Exif IFD go."""
    exif = im.getexif()
    if im.format != "TIFF":
        return exif
    out = Image.Exif()
    for tag in _DESCRIPTIVE_TAGS:
        if tag in exif:
            out[tag] = exif[tag]
    if ORIENTATION in exif:
        out[ORIENTATION] = exif[ORIENTATION]
    sub = exif.get_ifd(EXIF_IFD)
    if sub:
        out[EXIF_IFD] = sub
    return out


def _pillow_pixels(im: Image.Image, icc: bytes | None, notes: list[str]) -> tuple[np.ndarray, bytes | None]:
    """8-bit (or Pillow-native 16-bit grey) pixels as an array, with colour conversions that keep colours right."""
    mode = im.mode
    if mode == "P":
        im = im.convert("RGBA" if im.has_transparency_data else "RGB")
    elif mode == "PA":
        im = im.convert("RGBA")
    elif mode == "1":
        im = im.convert("L")
    elif mode == "CMYK":
        if icc_colour_space(icc) == "CMYK":
            try:
                src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
                im = ImageCms.profileToProfile(im, src, ImageCms.createProfile("sRGB"), outputMode="RGB")
                notes.append("CMYK converted to sRGB with its ICC profile")
            except (ImageCms.PyCMSError, OSError, ValueError):
                im = im.convert("RGB")
                notes.append("CMYK ICC profile unusable: naive CMYK to RGB conversion")
        else:
            im = im.convert("RGB")
        icc = None  # the output is sRGB: a CMYK profile must not be attached to RGB pixels
    elif mode in ("RGBa", "La"):
        im = im.convert("RGBA" if mode == "RGBa" else "LA")
    elif mode in ("YCbCr", "LAB", "HSV", "RGBX"):
        im = im.convert("RGB")
    elif mode == "F":
        pass
    elif mode not in ("L", "LA", "RGB", "RGBA", "I", "I;16", "I;16B", "I;16L", "I;16N"):
        im = im.convert("RGBA" if "A" in mode else "RGB")
    return np.asarray(im), icc


def _bomb_reason(exc: Exception, max_pixels: int) -> str:
    """Pillow refuses over twice its limit (set from ``max_pixels``) with a message naming that doubled limit:
    say it as our own check does."""
    found = re.search(r"\((\d+) pixels\)", str(exc))
    pixels = int(found.group(1)) if found else 0
    if 0 < max_pixels < pixels:
        return f"too large: {pixels:,} pixels exceeds the limit of {max_pixels:,} (--max-pixels)"
    return f"too large: {exc}"


def _open_image(path: Path, max_pixels: int, data: bytes | None) -> Image.Image:
    """Pillow's lazy handle on the file (headers only), or one ``ImageReadError`` line saying why not."""
    try:
        if (path.stat().st_size if data is None else len(data)) == 0:
            raise ImageReadError("empty file")
        return Image.open(path if data is None else io.BytesIO(data))
    except ImageReadError:
        raise
    except UnidentifiedImageError:
        if path.suffix.lower() in HEIF_SUFFIXES and not HEIF_AVAILABLE:
            raise ImageReadError(f"HEIC/HEIF needs pillow-heif: {install_hint('heif')}") from None
        raise ImageReadError("not an image (or a format Pillow cannot read)") from None
    except Image.DecompressionBombError as exc:
        raise ImageReadError(_bomb_reason(exc, max_pixels)) from None
    except OSError as exc:
        raise ImageReadError(f"cannot open: {exc}") from None


def read_image(path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS, data: bytes | None = None) -> Picture:
    """Decode the first frame of ``path`` upright, as floats, with its ICC profile and EXIF. ``data``: the
    file's bytes, already read (from an object store, by a Ray read task); ``path`` then only names it."""
    path = Path(path)
    im = _open_image(path, max_pixels, data)
    with im:
        w, h = im.size
        if max_pixels > 0 and w * h > max_pixels:
            raise ImageReadError(f"too large: {w}×{h} = {w * h:,} pixels exceeds the limit of {max_pixels:,} "
                                 f"(--max-pixels)")
        notes: list[str] = []
        frames = int(getattr(im, "n_frames", 1) or 1)
        if frames > 1:
            notes.append(f"animated ({frames} frames): only the first frame is processed")
        fmt = im.format or "PNG"
        high_bit = _is_high_bit(im) and fmt in HIGH_BIT_FORMATS  # before getexif(), which may load the tiles
        icc = im.info.get("icc_profile") or None
        try:
            exif = _portable_exif(im)
        except Exception:  # broken EXIF blocks are common; the pixels still matter more
            exif = Image.Exif()
            notes.append("unreadable EXIF dropped")
        orientation = int(exif.get(ORIENTATION, 1) or 1)
        if orientation not in range(1, 9):
            orientation = 1
        try:
            a = _read_high_bit(path, fmt, data) if high_bit else None
            bits = 16 if a is not None else 8
            if a is None:
                im.load()
                if im.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
                    bits = 16
                a, icc = _pillow_pixels(im, icc, notes)
        except ImageReadError:
            raise
        except MemoryError:
            raise ImageReadError(f"not enough memory to decode this {im.width}×{im.height} image") from None
        except (OSError, ValueError, SyntaxError, EOFError, RuntimeError) as exc:
            raise ImageReadError(f"truncated or corrupt image data ({exc})") from None
        except Exception as exc:  # imagecodecs/tifffile raise their own types
            raise ImageReadError(f"corrupt image data ({type(exc).__name__}: {exc})") from None
    grey = a.ndim == 2 or a.shape[2] <= 2
    if a.ndim == 2:
        a = a[:, :, None]
    f = _to_source_depth(_orient(a, orientation))
    alpha = f[:, :, -1].copy() if f.shape[2] in (2, 4) else None
    colour = f[:, :, :1] if grey else f[:, :, :3]
    rgb = np.ascontiguousarray(np.broadcast_to(colour, (*colour.shape[:2], 3)))
    if ORIENTATION in exif:
        exif[ORIENTATION] = 1
    exif_bytes = exif.tobytes() if len(exif) else None
    return Picture(rgb=rgb, alpha=alpha, bits=bits, grey=grey, format=fmt, icc=icc, exif=exif_bytes, notes=notes)


# ----------------------------------------------------------------------------------------------- writing

SUFFIX_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".jpe": "JPEG", ".jfif": "JPEG", ".png": "PNG",
                  ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF", ".avif": "AVIF",
                  **dict.fromkeys(HEIF_SUFFIXES, "HEIF")}


def format_from_suffix(path: Path) -> str:
    """The container a file name promises (planning decides output names before anything is decoded)."""
    return SUFFIX_FORMATS.get(path.suffix.lower(), "GIF" if path.suffix.lower() == ".gif" else "OTHER")


def output_format(choice: str, source_format: str) -> str:
    """Pillow format name for ``--format`` (keep: the source's, or PNG when it cannot be written)."""
    if choice == "keep":
        kept = KEEP_AS.get(source_format, source_format)
        return kept if kept in WRITABLE else "PNG"
    if choice not in FORMATS:
        raise ValueError(f"unknown format {choice!r}; choose keep, {', '.join(FORMATS)}")
    return FORMATS[choice][0]


def extension_for(fmt: str, source_path: Path | None = None, source_format: str | None = None) -> str:
    """File extension for ``fmt``; the source's own spelling (.jpeg, .TIF) is kept when the format is kept."""
    if source_path is not None and source_format == fmt and source_path.suffix:
        return source_path.suffix[1:].lower()
    return {v[0]: v[1] for v in FORMATS.values()}[fmt]


def quantise(a: np.ndarray, bits: int) -> np.ndarray:
    top = 65535.0 if bits == 16 else 255.0
    dtype = np.uint16 if bits == 16 else np.uint8
    return (np.clip(a, 0.0, 1.0) * top + 0.5).astype(dtype)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png16(a: np.ndarray, icc: bytes | None = None, exif: bytes | None = None, level: int = 6) -> bytes:
    """16-bit PNG (grey, grey+alpha, RGB, RGBA) from uint16 H×W×C, with numpy and zlib only.

    Pillow cannot hold 16-bit RGB, so it cannot write it. Rows use the Up filter (vectorised), which
    compresses photos about as well as adaptive filtering.
    """
    if a.ndim == 2:
        a = a[:, :, None]
    h, w, c = a.shape
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    rows = np.ascontiguousarray(a, dtype=">u2").view(np.uint8).reshape(h, w * c * 2)
    filtered = np.empty((h, rows.shape[1] + 1), dtype=np.uint8)
    filtered[:, 0] = 2  # Up
    filtered[0, 1:] = rows[0]
    filtered[1:, 1:] = rows[1:] - rows[:-1]  # uint8 arithmetic wraps modulo 256, as the filter wants
    out = [b"\x89PNG\r\n\x1a\n", _png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0))]
    if icc:
        out.append(_png_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc)))
    if exif:
        out.append(_png_chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\x00\x00") else exif))
    out.append(_png_chunk(b"IDAT", zlib.compress(filtered.tobytes(), level)))
    out.append(_png_chunk(b"IEND", b""))
    return b"".join(out)


def _flatten_on_white(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    a = to_unit_float(alpha)[:, :, None]
    return to_unit_float(rgb) * a + (1.0 - a)


def write_image(path: str | os.PathLike, pic: Picture, fmt: str, quality: int = 95,
                png_level: int = PNG_LEVEL) -> list[str]:
    """Write ``pic`` atomically as ``fmt`` ("PNG", "JPEG", "WEBP", "TIFF", "AVIF", "HEIF"); returns notes
    (e.g. alpha flattened). ``png_level`` is zlib's compression level for PNG (lossless at every level).

    16-bit sources stay 16-bit in PNG and TIFF. ICC is attached only when its colour space fits the pixels.
    """
    notes: list[str] = []
    rgb, alpha = pic.rgb, pic.alpha
    if alpha is not None and fmt == "JPEG":
        rgb, alpha = _flatten_on_white(rgb, alpha), None
        notes.append("JPEG has no alpha: transparent areas flattened onto white")
    bits = 16 if pic.bits == 16 and fmt in HIGH_BIT_FORMATS else 8
    grey = pic.grey
    colour = to_bits(rgb[:, :, :1] if grey else rgb, bits)
    a = colour if alpha is None else np.concatenate([colour, to_bits(alpha, bits)[:, :, None]], axis=2)
    icc = pic.icc if icc_colour_space(pic.icc) == ("GRAY" if grey else "RGB") else None
    if pic.icc and icc is None:
        notes.append(f"ICC profile ({icc_colour_space(pic.icc)}) does not fit the output pixels: not attached")
    with atomic_path(path) as tmp:
        if bits == 16 and fmt == "PNG":
            tmp.write_bytes(encode_png16(a, icc, pic.exif, level=png_level))
        elif bits == 16:
            import tifffile

            photometric = "minisblack" if grey else "rgb"
            extras = {"extrasamples": ["unassalpha"]} if alpha is not None else {}
            data = a[:, :, 0] if a.shape[2] == 1 else a
            tifffile.imwrite(tmp, data, photometric=photometric, compression="zlib", iccprofile=icc, **extras)
        else:
            im = Image.fromarray(a[:, :, 0] if a.shape[2] == 1 else a)  # L, LA, RGB or RGBA from the shape
            options: dict = {}
            if icc:
                options["icc_profile"] = icc
            if pic.exif:
                options["exif"] = pic.exif
            if fmt == "JPEG":
                options.update(quality=quality, subsampling=0 if quality >= 90 else 2)
            elif fmt == "WEBP":
                options.update(quality=quality, method=4)
            elif fmt in ("AVIF", "HEIF"):
                options.update(quality=quality)
            elif fmt == "PNG":
                options.update(compress_level=png_level)
            elif fmt == "TIFF":
                options.update(compression="tiff_deflate")
            im.save(tmp, format=fmt, **options)
        os.chmod(tmp, 0o666 & ~_UMASK)
    return notes
