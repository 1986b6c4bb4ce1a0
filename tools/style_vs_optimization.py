"""The paper's Figure 5 comparison: objective of a trained style network's single forward pass against the
optimisation method (L-BFGS, Gatys et al.) after 50, 100 and 300 iterations, same loss network and weights.

Usage:
    python tools/style_vs_optimization.py starry-night --content ../shared/data/content/chicago.jpg \
        --size 256 --iterations 50,100,300 --out docs/img/figure5_starry-night

Writes OUT.json (objective and time per method) and OUT.jpg (the images side by side) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from percept.core.zoo import resolve_model  # noqa: E402
from percept.train.checkpoint import load_model  # noqa: E402
from percept.train.optimize import evaluate, optimize_style, style_targets  # noqa: E402
from percept.train.preview import tensor_to_image  # noqa: E402
from percept.train.sizing import run_padded  # noqa: E402
from percept.train.style_task import STYLE_LAYERS, StyleOptions, load_style_image  # noqa: E402
from percept.train.vgg import VGGLoss  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--content", type=Path, default=SHARED / "content" / "chicago.jpg")
    ap.add_argument("--size", type=int, default=256, help="Long side of the content image.")
    ap.add_argument("--iterations", default="50,100,300")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    checkpoints = sorted(int(i) for i in args.iterations.split(","))
    net, info = load_model(resolve_model(args.model, kind="style"))
    t = info.training
    style_path = SHARED / "styles" / info.style_image["name"]
    opts = StyleOptions(style_image=style_path, data=Path("."), name="fig5", style_size=t.get("style_size"),
                        content_weight=t["content_weight"], style_weight=t["style_weight"], tv_weight=t["tv_weight"],
                        style_layers=tuple(t.get("style_layers", STYLE_LAYERS)))
    img = Image.open(args.content).convert("RGB")
    s = args.size / max(img.size)
    img = img.resize((round(img.width * s), round(img.height * s)), Image.BICUBIC)
    x = torch.from_numpy(np.array(img)).permute(2, 0, 1)[None].float() / 255
    vgg = VGGLoss(None)
    style = load_style_image(style_path, t.get("style_size"))
    targets = style_targets(vgg, style, opts.style_layers)
    rows = {"content image itself": {**evaluate(vgg, x, x, targets, opts), "seconds": 0.0}}
    start = time.perf_counter()
    with torch.no_grad():
        y = run_padded(net, x).clamp(0, 1)
    rows[f"network ({info.name})"] = {**evaluate(vgg, y, x, targets, opts), "seconds": time.perf_counter() - start}
    images = [img, tensor_to_image(y[0])]
    start = time.perf_counter()
    result_images: dict[int, torch.Tensor] = {}

    def snapshot(i: int, image: torch.Tensor) -> None:
        if i in checkpoints:
            elapsed = time.perf_counter() - start
            result_images[i] = image.clone()
            rows[f"L-BFGS {i} iterations"] = {**evaluate(vgg, result_images[i], x, targets, opts), "seconds": elapsed}
            print(f"L-BFGS {i}: objective {rows[f'L-BFGS {i} iterations']['total']:.4g} after {elapsed:.0f} s",
                  flush=True)

    optimize_style(vgg, x, style, opts, checkpoints[-1], on_image=snapshot)
    images += [tensor_to_image(result_images[i][0]) for i in checkpoints]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    record = {"model": info.name, "content": args.content.name, "size": list(x.shape[-2:]), "weights": {
        "content": opts.content_weight, "style": opts.style_weight, "tv": opts.tv_weight}, "rows": rows,
        "cpu_threads": torch.get_num_threads()}
    args.out.with_suffix(".json").write_text(json.dumps(record, indent=1))
    sheet = Image.new("RGB", (sum(i.width for i in images) + 4 * (len(images) - 1), images[0].height), "white")
    xpos = 0
    for im in images:
        sheet.paste(im, (xpos, 0))
        xpos += im.width + 4
    sheet.save(args.out.with_suffix(".jpg"), quality=90)
    print("| result | content | style | tv | total | time |\n|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['content']:.4g} | {r['style']:.4g} | {r['tv']:.3g} | {r['total']:.4g} | "
              f"{r['seconds']:.2f} s |")


if __name__ == "__main__":
    main()
