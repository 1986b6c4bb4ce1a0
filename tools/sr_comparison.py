"""One comparison image of the shipped ×4 upscalers: bicubic | each model | ground truth, on crops of
benchmark images (MATLAB-bicubic LR, as in eval-sr).

Usage: python tools/sr_comparison.py [--out docs/img/sr_x4_comparison.jpg] [--model sr-x4-feature=CANDIDATE]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from model_card import SHARED, strip  # noqa: E402

from percept.core.zoo import list_models  # noqa: E402
from percept.train.checkpoint import load_model  # noqa: E402
from percept.train.degradations import matlab_imresize  # noqa: E402
from percept.train.preview import tensor_to_image  # noqa: E402
from percept.train.sizing import run_padded  # noqa: E402

CROPS = [("Set14", "comic.png", (60, 40)), ("Set5", "butterfly.png", (60, 60)), ("Set14", "zebra.png", (120, 80))]
SIZE = 128


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "sr_x4_comparison.jpg")
    ap.add_argument("--size", type=int, default=SIZE, help="Crop size in output pixels.")
    ap.add_argument("--height", type=int, default=220, help="Height of each tile in the sheet (zoom = height/size).")
    ap.add_argument("--model", action="append", default=[], metavar="NAME=FILE",
                    help="Show this model file (a candidate) instead of the shipped model NAME, or beside them.")
    args = ap.parse_args()
    models = sorted((m for m in list_models() if m.info.kind == "sr" and m.info.scale == 4), key=lambda m: m.name)
    paths = {m.name: m.path for m in models}
    for spec in args.model:
        name, sep, file = spec.partition("=")
        if not sep:
            ap.error(f"--model {spec}: expected NAME=FILE")
        paths[name] = Path(file)
    nets = [(name, load_model(path)[0]) for name, path in paths.items()]
    images, labels = [], ["bicubic", *[n for n, _ in nets], "ground truth"]
    for dataset, name, (x0, y0) in CROPS:
        hr = Image.open(SHARED / "sr_bench" / dataset / "HR" / name).convert("RGB")
        hr = hr.crop((0, 0, hr.width - hr.width % 4, hr.height - hr.height % 4))
        x = torch.from_numpy(np.array(hr)).permute(2, 0, 1).float() / 255
        lr = matlab_imresize(x, 1 / 4).clamp(0, 1)[None]
        box = (x0, y0, x0 + args.size, y0 + args.size)
        bic = torch.nn.functional.interpolate(lr, scale_factor=4, mode="bicubic", align_corners=False)[0]
        images.append(tensor_to_image(bic.clamp(0, 1)).crop(box))
        for _, net in nets:
            with torch.no_grad():
                images.append(tensor_to_image(run_padded(net, lr)[0].clamp(0, 1)).crop(box))
        images.append(hr.crop(box))
    sheet = strip(images, labels, height=args.height, cols=len(labels))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, quality=92)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
