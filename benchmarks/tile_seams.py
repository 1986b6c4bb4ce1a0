"""How far a tiled style image is from the untiled one, per backend, with and without shared statistics.

A 1024×768 photo (tubingen, resized) through a shipped style, untiled and at ``--tile`` with the default
overlap; mean |tiled − untiled| in 8-bit steps. Shared statistics are the default on every backend that
supports them (torch, onnxruntime fp32, openvino); "per-tile" is what a backend without them gives.

    python benchmarks/tile_seams.py [--style wave] [--tile 256]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from percept.core.zoo import resolve_model
from percept.engines.openvino_runtime import native_bf16
from percept.engines.select import open_runtime
from percept.pipeline.imageio import read_image
from percept.pipeline.inference import Inferencer

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT.parent / "shared" / "data" / "content" / "tubingen.jpg"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--style", default="wave")
    ap.add_argument("--tile", type=int, default=256)
    ap.add_argument("--photo", type=Path, default=PHOTO)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "photo.png"
        Image.open(args.photo).convert("RGB").resize((1024, 768), Image.BICUBIC).save(path)
        pic = read_image(path)
    model = resolve_model(args.style, kind="style")
    print(f"{args.photo.name} at 1024×768, style {args.style}, tile {args.tile}, {torch.get_num_threads()} threads")
    print(f"{'backend':<19}{'statistics':<12}{'mean |Δ| (of 255)':>19}{'max':>6}{'time s':>8}")
    configs = [("torch", "fp32"), ("onnxruntime", "fp32"), ("openvino", "fp32")]
    if native_bf16():
        configs.append(("openvino", "bf16"))  # the CPU default where bf16 is native
    for backend, precision in configs:
        rt = open_runtime(model, backend=backend, device="cpu", precision=precision)
        ref = Inferencer(rt, tile=0).process(pic).float_rgb()
        for shared in (False, True):
            t0 = time.perf_counter()
            out = Inferencer(rt, tile=args.tile, global_norm=shared).process(pic).float_rgb()
            seconds = time.perf_counter() - t0
            diff = np.abs(out.astype(np.float64) - ref.astype(np.float64)) * 255
            label = f"{backend} {precision}"
            print(f"{label:<19}{'shared' if shared else 'per-tile':<12}{diff.mean():>19.2f}{diff.max():>6.0f}"
                  f"{seconds:>8.1f}")


if __name__ == "__main__":
    main()
