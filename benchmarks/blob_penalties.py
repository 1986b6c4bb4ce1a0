"""Does a style network paint blobs on photos it never saw? The default objective against ``--paper``.

Each model stylises the same held-out photos (BSD100, never in the training data) at 512 px on the long side,
rounded to 8 bits as a saved file would be. "flipped" is ``percept.train.style_metrics.flipped_cells``: the
share of 16² cells whose mean brightness moved by more than 0.4, the signature of a white disc in a sky or a
dark hole in snow. A before/after measure for one painting: train the same painting both ways, with the
same budget, and compare.

    percept train-style PAINTING --data PHOTOS --time-limit 28m --name a --run-dir runs/a
    percept train-style PAINTING --data PHOTOS --time-limit 28m --name b --run-dir runs/b --paper
    python benchmarks/blob_penalties.py runs/a/a.safetensors runs/b/b.safetensors --labels default,paper \
        --painting PAINTING

With ``--painting``, the table adds the paper's two terms on held-out photos (every tenth photo at 384 px, the
painting at 512 px, content weight 1, style weight 1.5; lower is better), so fewer blobs are seen next to what
they cost in style and content.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from percept.engines.timing import cpu_name
from percept.train.checkpoint import load_model
from percept.train.style_metrics import flipped_cells

SHARED = Path(__file__).resolve().parents[2] / "shared"


def load(path: Path, long_side: int = 512) -> torch.Tensor:
    im = Image.open(path).convert("RGB")
    s = long_side / max(im.size)
    im = im.resize((max(4, round(im.width * s) // 4 * 4), max(4, round(im.height * s) // 4 * 4)), Image.BICUBIC)
    return torch.from_numpy(np.asarray(im, np.float32) / 255).permute(2, 0, 1)[None]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", type=Path)
    ap.add_argument("--labels", default="", help="comma-separated names for the table (default: file stems)")
    ap.add_argument("--photos", type=Path, default=SHARED / "data" / "sr_bench" / "BSD100" / "HR")
    ap.add_argument("--images", type=int, default=0, help="first N photos only (0: all)")
    ap.add_argument("--painting", type=Path, help="the style image: adds the held-out content and style terms")
    args = ap.parse_args()
    labels = args.labels.split(",") if args.labels else [m.stem for m in args.models]
    photos = sorted(p for p in args.photos.iterdir() if p.suffix.lower() in {".png", ".jpg", ".jpeg"})
    photos = photos[: args.images or None]
    print(f"CPU: {cpu_name()} ({os.cpu_count()} cores); {len(photos)} photos from {args.photos}")
    terms = HeldOutTerms(args.painting, photos[::10]) if args.painting else None
    print(f"{'model':<12} {'steps':>6} {'mean flipped %':>15} {'worst photo %':>14} {'photos > 0.1 %':>15}"
          + (f" {'content':>8} {'style':>7}" if terms else ""))
    for label, path in zip(labels, args.models):
        net, info = load_model(path)
        net.eval()
        flips = []
        with torch.inference_mode():
            for p in photos:
                x = load(p)
                y = (net(x).clamp(0, 1) * 255).round() / 255
                flips.append(100 * flipped_cells(y, x))
        flips = np.array(flips)
        steps = (info.training or {}).get("final_step", "?")
        row = (f"{label:<12} {steps:>6} {flips.mean():15.3f} {flips.max():14.2f} "
               f"{int((flips > 0.1).sum()):>8} of {len(flips)}")
        if terms:
            content, style = terms(net)
            row += f" {content:8.2f} {style:7.2f}"
        print(row)


class HeldOutTerms:
    """The paper's content and style terms of a style network on held-out photos, averaged."""

    def __init__(self, painting: Path, photos: list[Path]):
        from percept.core.training_defaults import STYLE_LAYERS
        from percept.train.losses import gram_matrix
        from percept.train.style_task import StyleOptions, load_style_image
        from percept.train.vgg import VGGLoss

        self.photos = photos
        self.options = StyleOptions(style_image=painting, data=Path("."), name="benchmark")
        self.vgg = VGGLoss(None)
        with torch.no_grad():
            self.grams = {k: gram_matrix(v)
                          for k, v in self.vgg(load_style_image(painting, 512), STYLE_LAYERS).items()}

    def __call__(self, net: torch.nn.Module) -> tuple[float, float]:
        from percept.train.style_task import objective

        content = style = 0.0
        with torch.no_grad():
            for p in self.photos:
                x = load(p, 384)
                t = objective(self.vgg, net(x).clamp(0, 1), x, self.grams, self.options)
                content, style = content + float(t["content"]), style + float(t["style"])
        return content / len(self.photos), style / len(self.photos)


if __name__ == "__main__":
    main()
