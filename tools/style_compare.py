"""A before/after figure of style models: one row per photo, photo | model A | model B | ...

    python tools/style_compare.py runs/blob-anchor0/blob-anchor0.safetensors \
        runs/blob-anchor100/blob-anchor100.safetensors --labels "paper's objective,+ flat-region anchor" \
        --photos ../shared/data/sr_bench/BSD100/HR --pick blobs --rows 3 --out docs/img/blobs_anchor.jpg

Photos are stylised at 512 px on the long side by each model (PyTorch, eval mode, 8-bit output).
``--pick blobs`` shows the photos where the first model flips the most cells (its worst blobs), so the
figure shows the failure and whether the others fix it; ``--pick first`` the first photos in name order;
``--pick sky`` the photos whose top third is flattest (clear skies, where a network shows whether flat
regions take the painting's texture). ``--extra`` adds photos (e.g. tubingen.jpg) after the picked ones.
``--reference NAME`` adds a column from a 2016 reference net in ../shared/reference_nets (to compare
against, never shipped).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from percept.train.checkpoint import load_model
from percept.train.style_metrics import flipped_cells

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.style_vs_reference import shared_module  # noqa: E402  (the reference nets' own loader)

LABEL = 16


def load(path: Path, long_side: int = 512) -> torch.Tensor:
    im = Image.open(path).convert("RGB")
    s = long_side / max(im.size)
    im = im.resize((max(4, round(im.width * s) // 4 * 4), max(4, round(im.height * s) // 4 * 4)), Image.BICUBIC)
    return torch.from_numpy(np.asarray(im, np.float32) / 255).permute(2, 0, 1)[None]


def to_pil(x: torch.Tensor) -> Image.Image:
    return Image.fromarray((x[0].permute(1, 2, 0).clamp(0, 1) * 255).round().byte().numpy())


def flatness(path: Path) -> float:
    """Mean absolute gradient of the top third at 128²: low for a clear sky."""
    a = np.asarray(Image.open(path).convert("L").resize((128, 128)), np.float32)[:43]
    return float(np.abs(np.diff(a, axis=1)).mean() + np.abs(np.diff(a, axis=0)).mean())


def reference_column(name: str):
    """A callable x -> stylised x from the 2016 reference net ``name`` (its own loader; weights not shipped)."""
    mod = shared_module("reference_net")
    weights = mod.load_file(str(Path(mod.__file__).parent / f"{name}.safetensors"))
    return lambda x: (mod.stylize(weights, x * 255) / 255).clamp(0, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", type=Path)
    ap.add_argument("--labels", default="", help="comma-separated captions, one per model")
    ap.add_argument("--photos", type=Path, required=True)
    ap.add_argument("--images", type=int, default=20, help="photos to consider (first N by name)")
    ap.add_argument("--pick", choices=("blobs", "first", "sky"), default="blobs")
    ap.add_argument("--extra", type=Path, nargs="*", default=[], help="photos shown after the picked ones")
    ap.add_argument("--reference", help="2016 reference net to add as the last column (e.g. rain_princess)")
    ap.add_argument("--rows", type=int, default=3)
    ap.add_argument("--height", type=int, default=200)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    labels = [x.strip() for x in args.labels.split(",")] if args.labels else [m.stem for m in args.models]
    nets = [load_model(m)[0].eval() for m in args.models]
    if args.reference:
        nets.append(reference_column(args.reference))
        labels.append(f"2016 reference ({args.reference})")
    photos = sorted(p for p in args.photos.iterdir() if p.suffix.lower() in {".png", ".jpg", ".jpeg"})[: args.images]
    if args.pick == "sky":
        photos = sorted(photos, key=flatness)[: args.rows]

    def row(p: Path) -> tuple[float, Path, list[torch.Tensor]]:
        x = load(p)
        outs = [((net(x) * 255).round() / 255) for net in nets]
        return flipped_cells(outs[0], x), p, [x, *outs]

    with torch.no_grad():
        rows = [row(p) for p in photos]
        if args.pick == "blobs":
            rows.sort(key=lambda r: -r[0])
        rows = rows[: args.rows] + [row(p) for p in args.extra]
    captions = ["photo (held out)", *labels]
    cells = [[to_pil(t).resize((round(t.shape[-1] * args.height / t.shape[-2]), args.height), Image.BICUBIC)
              for t in tensors] for _, _, tensors in rows]
    width = max(sum(c.width for c in r) + 4 * (len(r) + 1) for r in cells)
    canvas = Image.new("RGB", (width, LABEL + len(cells) * (args.height + 4) + 4), "white")
    draw = ImageDraw.Draw(canvas)
    x = 4
    for caption, im in zip(captions, cells[0]):
        draw.text((x, 3), caption, fill="black")
        x += im.width + 4
    y = LABEL
    for r in cells:
        x = 4
        for im in r:
            canvas.paste(im, (x, y))
            x += im.width + 4
        y += args.height + 4
    args.out.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(args.out, quality=88)
    print(f"wrote {args.out}: " + ", ".join(f"{p.stem} ({100 * b:.1f}% cells flipped by {labels[0]})"
                                              for b, p, _ in rows))


if __name__ == "__main__":
    main()
