"""Is a reduced CPU precision accurate enough to be a default? Every shipped model, against PyTorch fp32.

    python benchmarks/cpu_precision.py [--backends openvino:bf16,torch:bf16] [--photos examples]

Each shipped model runs the sample photos (style nets at 512 px on the long side, SR nets on a 128 px
input) through each backend:precision and through PyTorch fp32 eager; printed is the mean and the largest
difference of the 8-bit outputs, in 0..255 levels. percept's rule: a precision is a default only if every
model stays within 2/255 mean.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from percept.core.zoo import list_models
from percept.engines.select import open_runtime
from percept.train.sizing import pad_to_multiple

ROOT = Path(__file__).resolve().parents[1]


def load(path: Path, long_side: int) -> torch.Tensor:
    im = Image.open(path).convert("RGB")
    s = long_side / max(im.size)
    im = im.resize((round(im.width * s), round(im.height * s)), Image.BICUBIC)
    return torch.from_numpy(np.asarray(im, np.float32) / 255).permute(2, 0, 1)[None]


def eight_bit(x: torch.Tensor) -> np.ndarray:
    return (x.clamp(0, 1) * 255).round().numpy()


def run(runtime, x: torch.Tensor) -> torch.Tensor:
    padded, (h, w) = pad_to_multiple(x, runtime.size_rule, runtime.min_size)
    return runtime.run(padded)[..., : h * runtime.scale, : w * runtime.scale]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backends", default="openvino:bf16,torch:bf16")
    ap.add_argument("--photos", type=Path, default=ROOT / "examples")
    args = ap.parse_args()
    photos = sorted(p for p in args.photos.iterdir() if p.suffix.lower() in {".png", ".jpg", ".jpeg"})
    configs = [tuple(c.split(":")) for c in args.backends.split(",")]
    print(f"{len(photos)} photos from {args.photos}; |difference| from PyTorch fp32 in 0..255 levels (8-bit)")
    print(f"{'model':<16}" + "".join(f"{f'{b} {p} mean':>22}{'max':>6}" for b, p in configs))
    worst = {c: 0.0 for c in configs}
    for m in list_models():
        base = open_runtime(m.path, backend="torch", device="cpu", precision="fp32")
        side = 512 if base.scale == 1 else 128
        inputs = [load(p, side) for p in photos]
        refs = [eight_bit(run(base, x)) for x in inputs]
        cells = []
        for c in configs:
            rt = open_runtime(m.path, backend=c[0], device="cpu", precision=c[1])
            diffs = [np.abs(eight_bit(run(rt, x)) - r) for x, r in zip(inputs, refs)]
            mean, top = float(np.mean([d.mean() for d in diffs])), float(max(d.max() for d in diffs))
            worst[c] = max(worst[c], mean)
            cells.append(f"{mean:>22.2f}{top:>6.0f}")
        print(f"{m.name:<16}" + "".join(cells))
    for (b, p), w in worst.items():
        verdict = "within" if w <= 2.0 else "NOT within"
        print(f"{b} {p}: worst model mean {w:.2f}/255 — {verdict} the 2/255 rule for a default")


if __name__ == "__main__":
    main()
