"""Training data: any folder of images, recursive; bad files skipped and counted, never fatal.

Sampling is a pure function of (seed, global sample position), so a resumed run sees exactly the
batches an uninterrupted run would, with any number of loader workers or DDP ranks.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch.utils.data import Dataset, Sampler

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm"}
ENV_VAR = "PERCEPT_TRAIN_DATA"
WHAT_IS_A_TRAINING_FOLDER = (
    "a training folder is any folder of natural photos (searched recursively), e.g. COCO train2014 "
    "(~80k images) as in the paper; a few thousand varied photos already train a usable model"
)


class DataError(ValueError):
    """The training data cannot be used; the message names the folder and the problem."""


@dataclass
class ScanResult:
    files: list[Path]
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def resolve_data_dir(data: str | os.PathLike | None) -> Path:
    """``--data`` or ``$PERCEPT_TRAIN_DATA``; a clear error explaining what is expected otherwise."""
    value = data or os.environ.get(ENV_VAR)
    if not value:
        raise DataError(f"no training data: pass --data DIR or set {ENV_VAR}; {WHAT_IS_A_TRAINING_FOLDER}")
    path = Path(value).expanduser()
    if not path.is_dir():
        raise DataError(f"{path}: training data folder not found; {WHAT_IS_A_TRAINING_FOLDER}")
    return path


def scan_images(root: Path) -> ScanResult:
    """All image files below ``root`` (hidden ones ignored) whose header Pillow can read."""
    result = ScanResult([])
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            result.skipped.append((path, "not an image file type"))
            continue
        try:
            with Image.open(path):
                pass  # opening parses the header only: cheap even for large folders
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            result.skipped.append((path, f"unreadable ({type(exc).__name__})"))
            continue
        result.files.append(path)
    if not result.files:
        raise DataError(f"{root}: no readable images found; {WHAT_IS_A_TRAINING_FOLDER}")
    return result


def load_rgb(path: Path) -> Image.Image:
    """Decode an image upright (EXIF orientation applied) as 8-bit RGB."""
    with Image.open(path) as img:
        img = ImageOps.exif_transpose(img)
        return img.convert("RGB")


def to_tensor(img: Image.Image) -> torch.Tensor:
    """PIL RGB → float32 CHW in [0, 1]."""
    return torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()).permute(2, 0, 1).float().div_(255.0)


def resize_center_crop(img: Image.Image, size: int) -> Image.Image:
    """Resize the short side to ``size`` (up or down) and take the centre square."""
    w, h = img.size
    s = size / min(w, h)
    nw, nh = max(size, round(w * s)), max(size, round(h * s))
    img = img.resize((nw, nh), Image.BICUBIC)
    left, top = (nw - size) // 2, (nh - size) // 2
    return img.crop((left, top, left + size, top + size))


class RandomCropFlip:
    """Picklable training transform: a random square crop at the photo's own scale, flipped half the time.

    The photo is resized only when its short side is below ``size``. Keeping the photo's own scale
    matches how the network is used (whole photos, not crops of upscaled ones), and a fresh crop per
    epoch shows the network new content instead of the same centre crop every time.
    """

    def __init__(self, size: int):
        self.size = size

    def __call__(self, img: Image.Image, rng: np.random.Generator) -> torch.Tensor:
        w, h = img.size
        if min(w, h) < self.size:
            s = self.size / min(w, h)
            w, h = max(self.size, round(w * s)), max(self.size, round(h * s))
            img = img.resize((w, h), Image.BICUBIC)
        left = int(rng.integers(0, w - self.size + 1))
        top = int(rng.integers(0, h - self.size + 1))
        img = img.crop((left, top, left + self.size, top + self.size))
        if rng.random() < 0.5:
            img = img.transpose(Image.FLIP_LEFT_RIGHT)
        return to_tensor(img)


def sample_rng(seed: int, position: int) -> np.random.Generator:
    """The RNG for one sample: a function of the run seed and the global sample position only."""
    return np.random.default_rng([seed, position])


class ImageFolderDataset(Dataset):
    """Images of a folder; ``transform(img, rng)`` builds the training example from a decoded image.

    Indexed by ``(file_index, position)`` pairs from ``PositionSampler``. A file that fails to decode
    at training time (e.g. truncated after the scan) is replaced by the next file, with a warning.
    """

    def __init__(self, files: list[Path], transform: Callable[[Image.Image, np.random.Generator], object],
                 seed: int = 0):
        self.files, self.transform, self.seed = files, transform, seed

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, key: tuple[int, int]):
        index, position = key
        for attempt in range(len(self.files)):
            path = self.files[(index + attempt) % len(self.files)]
            try:
                img = load_rgb(path)
            except (OSError, ValueError, UnidentifiedImageError) as exc:
                warnings.warn(f"{path}: skipped, cannot decode ({exc})", stacklevel=1)
                continue
            return self.transform(img, sample_rng(self.seed, position))
        raise DataError("no training image could be decoded")


class PositionSampler(Sampler):
    """Yields ``(file_index, position)`` for global sample positions ``start, start+1, ...``.

    Each epoch is a seeded permutation, so the sample at a position never depends on where a run
    was interrupted. With DDP, rank r of w takes positions r, r+w, ... of each global batch.
    """

    def __init__(self, n: int, seed: int, start: int = 0, total: int | None = None, rank: int = 0, world: int = 1):
        self.n, self.seed, self.start, self.total, self.rank, self.world = n, seed, start, total, rank, world
        self._perm_epoch, self._perm = -1, None

    def file_at(self, position: int) -> int:
        epoch, offset = divmod(position, self.n)
        if epoch != self._perm_epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._perm, self._perm_epoch = torch.randperm(self.n, generator=g), epoch
        return int(self._perm[offset])

    def __iter__(self) -> Iterator[tuple[int, int]]:
        position = self.start + self.rank
        end = None if self.total is None else self.start + self.total
        while end is None or position < end:
            yield self.file_at(position), position
            position += self.world

    def __len__(self) -> int:
        if self.total is None:
            raise TypeError("infinite sampler")
        return len(range(self.rank, self.total, self.world))
