"""What ``--ray local`` costs on one machine: marginal throughput against the local pipeline, and start-up.

Both modes run as a user runs them (``percept stylize`` in a fresh process) on a small and a large folder
of 512² JPEGs; marginal throughput = extra images / extra seconds between the two folders, so start-up
(Ray's, the model's) cancels. Also prints Ray's start-up and the largest pixel difference between the
two modes' outputs. Pause other work on the machine first.

    python benchmarks/ray_overhead.py --small 4 --large 20 --style starry-night
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

SHARED = Path(__file__).resolve().parents[2] / "shared"


def make_folder(folder: Path, count: int, side: int) -> None:
    folder.mkdir(parents=True)
    photos = sorted((SHARED / "data" / "train").glob("*.jpg"))
    for i in range(count):
        with Image.open(photos[i % len(photos)]) as im:
            ImageOps.fit(im.convert("RGB"), (side, side)).save(folder / f"p{i:03d}.jpg", quality=92)


def run(folder: Path, out: Path, style: str, backend: str, ray: bool) -> tuple[float, float | None]:
    """(wall seconds, Ray start-up seconds or None) of one ``percept stylize`` process."""
    cmd = [sys.executable, "-m", "percept.cli", "stylize", str(folder), "--style", style, "--out", str(out),
           "--backend", backend] + (["--ray", "local"] if ray else [])
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{res.stdout}\n{res.stderr}")
    m = re.search(r"start-up ([\d.]+) s", res.stdout + res.stderr)
    return wall, float(m.group(1)) if m else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=int, default=4)
    ap.add_argument("--large", type=int, default=20)
    ap.add_argument("--side", type=int, default=512)
    ap.add_argument("--style", default="starry-night")
    ap.add_argument("--backend", default="auto")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        make_folder(tmp / "small", args.small, args.side)
        make_folder(tmp / "large", args.large, args.side)
        run(tmp / "small", tmp / "warm-up", args.style, args.backend, False)  # fills the ONNX/OpenVINO cache
        rows = {}
        for mode in ("local", "ray"):
            t_small, _ = run(tmp / "small", tmp / f"{mode}-small", args.style, args.backend, mode == "ray")
            t_large, startup = run(tmp / "large", tmp / f"{mode}-large", args.style, args.backend, mode == "ray")
            rows[mode] = (t_small, t_large, (args.large - args.small) / (t_large - t_small), startup)
        worst = 0
        for f in sorted((tmp / "local-large").glob("*.jpg")):
            a = np.asarray(Image.open(f), np.int16)
            b = np.asarray(Image.open(tmp / "ray-large" / f.name), np.int16)
            worst = max(worst, int(np.abs(a - b).max()))
    print(f"{args.small} and {args.large} JPEGs of {args.side}², style {args.style}, backend {args.backend}")
    print(f"{'mode':<8} {'small (s)':>10} {'large (s)':>10} {'marginal img/s':>15} {'vs local':>9} "
          f"{'Ray start-up (s)':>17}")
    base = rows["local"][2]
    for mode, (ts, tl, marginal, startup) in rows.items():
        shown = f"{startup:.1f}" if startup is not None else "-"
        print(f"{mode:<8} {ts:>10.1f} {tl:>10.1f} {marginal:>15.3f} {marginal / base:>8.2f}x {shown:>17}")
    print(f"largest pixel difference, ray vs local outputs: {worst}/255")


if __name__ == "__main__":
    main()
