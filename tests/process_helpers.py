"""Small generated images and untrained tiny-cost models for the batch-processor tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from percept.train.checkpoint import describe, save_model
from percept.train.networks import SRNet, TransformNet


def photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth, photo-like uint8 RGB image (gradients + blobs + a little noise), not white noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    for c in range(3):
        fx, fy, ph = rng.uniform(0.5, 3.0), rng.uniform(0.5, 3.0), rng.uniform(0, 6.28)
        img[..., c] = 0.5 + 0.35 * np.sin(fx * 6.28 * x / w + ph) * np.cos(fy * 6.28 * y / h)
    for _ in range(4):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(0.1, 0.3) * max(h, w)
        img += (rng.uniform(-0.3, 0.3, 3) * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * r * r))[..., None])
    img += rng.normal(0, 0.02, img.shape)
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def save_style_model(path: Path, name: str = "Test Style", seed: int = 0) -> Path:
    torch.manual_seed(seed)
    net = TransformNet()
    return save_model(path, net, describe(net, name))


def save_sr_model(path: Path, scale: int = 4, bicubic: bool = False, seed: int = 0) -> Path:
    """An untrained SRNet; ``bicubic`` zeroes its last conv so the output is exactly the bicubic upsampling
    (the global skip): a model whose output colours are known, for fidelity checks."""
    torch.manual_seed(seed)
    net = SRNet(scale=scale, channels=8, blocks=1)
    if bicubic:
        with torch.no_grad():
            net.tail[1].weight.zero_()
            net.tail[1].bias.zero_()
    return save_model(path, net, describe(net, f"sr-x{scale}"))


def no_partial_files(folder: Path) -> bool:
    return not [p for p in folder.rglob("*") if p.name.endswith(".part")]


def listing(folder: Path) -> list[str]:
    """The names a user sees in an output folder (the hidden record of settings is not an output)."""
    return sorted(p.name for p in Path(folder).iterdir() if not p.name.startswith("."))


def visible(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).iterdir() if not p.name.startswith("."))
