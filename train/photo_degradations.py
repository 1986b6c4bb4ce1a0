"""The fixed damage ``eval-sr --degradation`` applies: the photos users bring, reproducible to the byte.

Training (``real_degradations``) draws its damage at random; evaluation needs the same input every time, so
each setting here is one fixed recipe with fixed seeds:

  * ``clean``: MATLAB bicubic ×1/s on 8-bit levels (the benchmark protocol, ``evaluate_sr.make_lr``);
  * ``web``: that, then JPEG quality 70 (a picture from a web page or a messenger);
  * ``phone``: Gaussian blur σ 0.8 (optics), bicubic ×1/s, Gaussian RGB noise σ 4/255 (sensor), JPEG
    quality 85 (the camera's own encoder).

JPEG is Pillow's (libjpeg), 4:2:0 chroma as Pillow saves by default. The noise of each image is seeded by
its name, so one image's input never depends on which others are evaluated.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where it is used: ``eval-sr --help`` lists SETTINGS without it
    import torch


@dataclass(frozen=True)
class PhotoDamage:
    """One evaluation setting: optional blur before the bicubic downscale, noise and JPEG after it."""

    name: str
    blur_sigma: float = 0.0
    noise_sigma: float = 0.0  # in 8-bit levels
    jpeg_quality: int | None = None
    about: str = ""


SETTINGS = {
    "clean": PhotoDamage("clean", about="MATLAB bicubic"),
    "web": PhotoDamage("web", jpeg_quality=70, about="bicubic, then JPEG q70"),
    "phone": PhotoDamage("phone", blur_sigma=0.8, noise_sigma=4.0, jpeg_quality=85,
                         about="blur σ 0.8, bicubic, noise σ 4/255, JPEG q85"),
}


def jpeg_roundtrip(image: torch.Tensor, quality: int) -> torch.Tensor:
    """A CHW [0, 1] image saved as JPEG by Pillow at ``quality`` and decoded again."""
    import numpy as np
    import torch
    from PIL import Image

    array = (image.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    with Image.open(buf) as img:
        back = np.asarray(img.convert("RGB"), dtype=np.uint8).copy()
    return torch.from_numpy(back).permute(2, 0, 1).float() / 255


def image_seed(name: str) -> int:
    """A stable seed from an image's name (Python's ``hash`` changes between runs)."""
    return zlib.crc32(name.encode("utf-8"))


def damaged_lr(hr: torch.Tensor, scale: int, setting: PhotoDamage, name: str) -> torch.Tensor:
    """The LR input of a CHW HR image under ``setting`` (8-bit levels at every step, as files are)."""
    import torch

    from percept.train.degradations import gaussian_blur, matlab_imresize

    src = gaussian_blur(hr.double(), setting.blur_sigma) if setting.blur_sigma else hr.double()
    lr = matlab_imresize(src, 1 / scale, uint8_steps=True).float()
    if setting.noise_sigma:
        g = torch.Generator().manual_seed(image_seed(name))
        lr = lr + torch.randn(lr.shape, generator=g) * (setting.noise_sigma / 255)
        lr = (lr.clamp(0, 1) * 255).round() / 255
    if setting.jpeg_quality is not None:
        lr = jpeg_roundtrip(lr, setting.jpeg_quality)
    return lr
