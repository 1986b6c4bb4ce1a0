"""Side-by-side crops of the ×4 upscalers on photos as users have them (docs/SUPER_RESOLUTION.md).

Two sheets:
  * ``--bench``: BSD100 crops under eval-sr's ``web`` or ``phone`` damage: LR | bicubic | models | truth;
  * ``--photos``: the sample photos saved as JPEG (``--jpeg-quality``) and as HEIC, at 100 % crops of the
    ×4 output: input (nearest) | bicubic | models. No ground truth exists above the photos' own size.

Usage:
  python tools/sr_real_photos_figure.py --bench web --out docs/img/sr_x4_web.jpg
  python tools/sr_real_photos_figure.py --photos examples --out docs/img/sr_x4_examples.jpg
  (add --model NAME=FILE to show a candidate file under a name)
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from model_card import SHARED, strip  # noqa: E402

from percept.core.zoo import resolve_model  # noqa: E402
from percept.train.checkpoint import load_model  # noqa: E402
from percept.train.data import to_tensor  # noqa: E402
from percept.train.evaluate_sr import bicubic_upscaler  # noqa: E402
from percept.train.photo_degradations import SETTINGS, damaged_lr  # noqa: E402
from percept.train.preview import tensor_to_image  # noqa: E402
from percept.train.sizing import run_padded  # noqa: E402

BENCH_CROPS = [("img_005.png", (120, 40)), ("img_017.png", (180, 100)), ("img_062.png", (60, 120)),
               ("img_093.png", (200, 60))]
PHOTO_STEMS = ("astronaut", "chelsea", "coffee", "rocket")


def busiest_box(image: torch.Tensor, size: int) -> tuple[int, int, int, int]:
    """The ``size``² window (in ×4 output pixels) with the most detail: where upscalers differ."""
    lr_size = size // 4
    grey = image.mean(0)
    detail = (grey[1:, 1:] - grey[:-1, 1:]).abs() + (grey[1:, 1:] - grey[1:, :-1]).abs()
    best, where = -1.0, (0, 0)
    for y in range(0, detail.shape[0] - lr_size, lr_size // 4):
        for x in range(0, detail.shape[1] - lr_size, lr_size // 4):
            value = float(detail[y:y + lr_size, x:x + lr_size].mean())
            if value > best:
                best, where = value, (x * 4, y * 4)
    return (*where, where[0] + size, where[1] + size)


def upscale_all(lr: torch.Tensor, nets: dict[str, torch.nn.Module]) -> list[Image.Image]:
    out = [tensor_to_image(bicubic_upscaler(4)(lr[None])[0].clamp(0, 1))]
    with torch.no_grad():
        out += [tensor_to_image(run_padded(net, lr[None])[0].clamp(0, 1)) for net in nets.values()]
    return out


def bench_sheet(setting: str, nets: dict[str, torch.nn.Module], size: int) -> tuple[list[Image.Image], list[str]]:
    images = []
    for name, (x0, y0) in BENCH_CROPS:
        hr = to_tensor(Image.open(SHARED / "sr_bench" / "BSD100" / "HR" / name).convert("RGB"))
        hr = hr[:, : hr.shape[1] // 4 * 4, : hr.shape[2] // 4 * 4]
        lr = damaged_lr(hr, 4, SETTINGS[setting], Path(name).stem)
        box = (x0, y0, x0 + size, y0 + size)
        near = lr[None].repeat_interleave(4, -1).repeat_interleave(4, -2)[0]
        images += [im.crop(box) for im in [tensor_to_image(near), *upscale_all(lr, nets), tensor_to_image(hr)]]
    return images, [f"LR ({setting}, nearest)", "bicubic", *nets, "ground truth"]


def saved_as(img: Image.Image, fmt: str, quality: int) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, format=fmt, quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def photo_sheet(folder: Path, quality: int, nets: dict[str, torch.nn.Module],
                size: int) -> tuple[list[Image.Image], list[str]]:
    import pillow_heif

    pillow_heif.register_heif_opener()
    images = []
    files = sorted(p for p in folder.iterdir() if p.stem in PHOTO_STEMS)
    for i, path in enumerate(files):
        original = Image.open(path).convert("RGB")
        fmt = "HEIF" if i == len(files) - 1 else "JPEG"  # the last photo as an iPhone would save it
        lr = to_tensor(saved_as(original, fmt, quality))
        box = busiest_box(lr, size)
        near = lr[None].repeat_interleave(4, -1).repeat_interleave(4, -2)[0]
        images += [im.crop(box) for im in [tensor_to_image(near), *upscale_all(lr, nets)]]
        print(f"{path.name}: saved as {fmt} q{quality}")
    return images, ["input (nearest)", "bicubic", *nets]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", choices=sorted(SETTINGS), help="BSD100 crops under this eval-sr damage.")
    ap.add_argument("--photos", type=Path, help="A folder with the sample photos (examples/).")
    ap.add_argument("--jpeg-quality", type=int, default=75)
    ap.add_argument("--model", action="append", default=[], metavar="NAME=FILE",
                    help="Models to show (default: sr-x4-pixel and sr-x4-real).")
    ap.add_argument("--size", type=int, default=160, help="Crop size in output pixels (100 %% crops).")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    specs = args.model or ["sr-x4-pixel=sr-x4-pixel", "sr-x4-real=sr-x4-real"]
    nets = {}
    for spec in specs:
        name, _, file = spec.partition("=")
        nets[name] = load_model(resolve_model(file or name, kind="sr"))[0].eval()
    if (args.bench is None) == (args.photos is None):
        ap.error("pass one of --bench or --photos")
    images, labels = (bench_sheet(args.bench, nets, args.size) if args.bench
                      else photo_sheet(args.photos, args.jpeg_quality, nets, args.size))
    sheet = strip(images, labels, height=args.size, cols=len(labels))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, quality=92)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
