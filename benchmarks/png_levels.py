"""PNG encoding cost of an upscaled photo at each zlib level (percept's --png-compression): time and size.

Usage: python benchmarks/png_levels.py [IMAGE] [--scale 4]
The input is upscaled ×scale with bicubic to the size percept's output would have (a 512² photo ×4 is 4 MP),
then written by ``percept.pipeline.imageio.write_image`` at each level; times are best of 3 in this process,
ratios against Pillow's default level 6.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from percept.engines.timing import cpu_name  # noqa: E402
from percept.pipeline.imageio import read_image, write_image  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("image", nargs="?", type=Path, default=ROOT / "examples" / "astronaut.png")
    ap.add_argument("--scale", type=int, default=4)
    args = ap.parse_args()
    pic = read_image(args.image)
    big = Image.fromarray(pic.rgb).resize((pic.width * args.scale, pic.height * args.scale), Image.BICUBIC)
    pic = pic.with_pixels(np.asarray(big), None)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for level in (1, 3, 6, 9):
            path = Path(tmp) / f"l{level}.png"
            best = float("inf")
            for _ in range(3):
                start = time.perf_counter()
                write_image(path, pic, "PNG", png_level=level)
                best = min(best, time.perf_counter() - start)
            rows[level] = (best, path.stat().st_size)
    print(f"CPU: {cpu_name()}; {args.image.name} ×{args.scale} = {pic.width}×{pic.height}")
    print(f"{'level':>5} {'seconds':>8} {'× level 6':>10} {'MB':>7} {'× level 6':>10}")
    base_t, base_b = rows[6]
    for level, (t, b) in rows.items():
        print(f"{level:>5} {t:8.3f} {t / base_t:10.2f} {b / 1e6:7.2f} {b / base_b:10.2f}")


if __name__ == "__main__":
    main()
