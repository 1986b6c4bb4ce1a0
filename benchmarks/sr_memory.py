"""Peak memory of `percept upscale` on big photos, against the size of the output image itself.

    python benchmarks/sr_memory.py [--cases 12x2,3x4] [--backend torch]

Each case is MEGAPIXELSxSCALE: a synthetic photo of that size (JPEG, 4:3) is upscaled by the shipped default
model of that scale (``--random``: a SubPixelSR of the default size with random weights) in a fresh process, and its
peak resident memory is read from the kernel (``ru_maxrss`` of the child). "over output" is the peak minus
the output image's own size (8-bit RGB), the figure the SR issue bounds (≤ 2 GB).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from percept.core.zoo import default_sr_model
from percept.train.checkpoint import describe, save_model
from percept.train.networks import SubPixelSR


def photo(megapixels: float, path: Path) -> tuple[int, int]:
    """A smooth synthetic 4:3 photo (gradients and noise) written as a JPEG; returns (width, height)."""
    h = int((megapixels * 1e6 * 3 / 4) ** 0.5)
    w = int(h * 4 / 3)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    rng = np.random.default_rng(0)
    base = np.stack([xx / w, yy / h, 0.5 + 0.5 * np.sin(xx / 37.0) * np.cos(yy / 23.0)], axis=-1)
    img = np.clip(base * 230 + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)
    Image.fromarray(img).save(path, quality=92)
    return w, h


def run_case(megapixels: float, scale: int, work: Path, backend: str, extra: list[str],
             random_weights: bool = False) -> dict:
    if random_weights:
        torch.manual_seed(0)
        net = SubPixelSR(scale)
        model = save_model(work / f"subpixel-x{scale}.safetensors", net, describe(net, f"bench-x{scale}"))
    else:
        model = default_sr_model(scale)
    src = work / f"photo_{megapixels:g}mp.jpg"
    w, h = photo(megapixels, src)
    out = work / f"out_{megapixels:g}x{scale}"
    cmd = [sys.executable, "-m", "percept.cli", "upscale", str(src), "--model", str(model), "--out", str(out),
           "--scale", str(scale), "--backend", backend, "--overwrite", *extra]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # KiB on Linux
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    if peak <= before * 1024:
        raise SystemExit("this child's peak did not exceed an earlier child's: run one case per process")
    output_bytes = w * scale * h * scale * 3
    return {"case": f"{w * h / 1e6:.1f} MP ×{scale}", "output": f"{w * scale}×{h * scale}",
            "output_mb": output_bytes / 1e6, "peak_mb": peak / 1e6, "over_mb": (peak - output_bytes) / 1e6,
            "seconds": seconds}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default="12x2,3x4", help="comma-separated MEGAPIXELSxSCALE")
    ap.add_argument("--backend", default="torch")
    ap.add_argument("--random", action="store_true", help="a random-weight SubPixelSR instead of the shipped default")
    ap.add_argument("--case-in-process", help=argparse.SUPPRESS)
    args, extra = ap.parse_known_args()
    if args.case_in_process:  # one case per interpreter, so ru_maxrss of the children is this case's own
        mp, scale = args.case_in_process.split("x")
        with tempfile.TemporaryDirectory() as tmp:
            row = run_case(float(mp), int(scale), Path(tmp), args.backend, extra, args.random)
        print("ROW", *(f"{k}={v}" for k, v in row.items()), sep="\t")
        return
    print(f"percept upscale, backend {args.backend}, {os.cpu_count()} CPUs; peak RSS of the upscale process")
    print(f"{'case':<14}{'output':>13}{'output MB':>11}{'peak MB':>9}{'over output MB':>16}{'s':>7}")
    for case in args.cases.split(","):
        proc = subprocess.run([sys.executable, __file__, "--case-in-process", case, "--backend", args.backend,
                               *(["--random"] if args.random else []), *extra], capture_output=True, text=True)
        line = next((x for x in proc.stdout.splitlines() if x.startswith("ROW")), None)
        if line is None:
            raise SystemExit(proc.stdout + proc.stderr)
        row = dict(kv.split("=", 1) for kv in line.split("\t")[1:])
        print(f"{row['case']:<14}{row['output']:>13}{float(row['output_mb']):>11.0f}{float(row['peak_mb']):>9.0f}"
              f"{float(row['over_mb']):>16.0f}{float(row['seconds']):>7.1f}")


if __name__ == "__main__":
    main()
