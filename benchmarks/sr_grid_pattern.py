"""Cross-hatch / checkerboard of SR models, measured: the part of the output's error locked to the pixel grid.

    python benchmarks/sr_grid_pattern.py MODEL [MODEL ...] [--set Set14]

A pixel shuffle ×s paints each output pixel from one of s² sub-pixel filters, and VGG pools with stride 2,
so a grid artefact is an error that depends on the output pixel's position modulo s. For each model the
error (output − ground truth, luma, on the published bicubic LR files) is averaged per phase (y mod s,
x mod s) over every pixel of every image; the RMS of that s×s phase pattern (in 8-bit levels) is the grid
energy. A network without a grid artefact has a flat phase pattern (≈ 0); bicubic is printed as the
reference. Lower is better.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from percept.train.checkpoint import load_model
from percept.train.evaluate_sr import bicubic_upscaler
from percept.train.losses import LUMA

SHARED = Path(__file__).resolve().parents[2] / "shared"


def tensor(path: Path) -> torch.Tensor:
    return torch.from_numpy(np.asarray(Image.open(path).convert("RGB"), np.float32) / 255).permute(2, 0, 1)[None]


def grid_energy(upscale, pairs: list[tuple[torch.Tensor, torch.Tensor]], scale: int) -> float:
    luma = torch.tensor(LUMA).view(1, 3, 1, 1)
    phase_sum, count = torch.zeros(scale, scale), 0
    for lr, hr in pairs:
        with torch.no_grad():
            err = ((upscale(lr).clamp(0, 1) - hr) * luma).sum(1)[0]
        h, w = err.shape[0] // scale * scale, err.shape[1] // scale * scale
        phase_sum += err[:h, :w].reshape(h // scale, scale, w // scale, scale).sum(dim=(0, 2))
        count += (h // scale) * (w // scale)
    pattern = phase_sum / count
    return float((pattern - pattern.mean()).pow(2).mean().sqrt() * 255)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", type=Path)
    ap.add_argument("--set", default="Set14")
    ap.add_argument("--scale", type=int, default=4)
    args = ap.parse_args()
    root = SHARED / "data" / "sr_bench" / args.set
    pairs = []
    for hr_path in sorted((root / "HR").glob("*.png")):
        lr_path = root / f"LR_bicubic_x{args.scale}" / hr_path.name
        if lr_path.is_file():
            pairs.append((tensor(lr_path), tensor(hr_path)))
    print(f"# {args.set}: {len(pairs)} images, ×{args.scale}; grid energy = RMS of the error's phase pattern "
          "(8-bit levels)")
    print("| model | grid energy |")
    print("|---|---|")
    bicubic = bicubic_upscaler(args.scale)
    print(f"| bicubic | {grid_energy(lambda x: bicubic(x[0])[None], pairs, args.scale):.3f} |", flush=True)
    for path in args.models:
        net, _ = load_model(path)
        print(f"| {path} | {grid_energy(net.eval(), pairs, args.scale):.3f} |", flush=True)


if __name__ == "__main__":
    main()
