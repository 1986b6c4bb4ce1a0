"""The stroke-scale figure of docs/STYLES.md: a style at 1 MP beside the same style on a 12 MP picture with
native strokes and with ``--stroke-scale 1``; top row whole pictures (shown at the same width), bottom row
100 % crops of the 12 MP outputs.

    python tools/stroke_scale_figure.py SMALL_OUT NATIVE_OUT SCALED_OUT --out docs/img/stroke_scale_wave.jpg
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw

WIDTH = 640
CROP = 640


def _label(img: Image.Image, text: str) -> Image.Image:
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, 8 + 7 * len(text), 18), fill=(0, 0, 0))
    draw.text((4, 3), text, fill=(255, 255, 255))
    return img


def _fit(img: Image.Image) -> Image.Image:
    return img.resize((WIDTH, round(img.height * WIDTH / img.width)), Image.LANCZOS)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("small", type=Path, help="the style on the ~1 MP picture")
    ap.add_argument("native", type=Path, help="the style on the 12 MP picture, --stroke-scale native")
    ap.add_argument("scaled", type=Path, help="the style on the 12 MP picture, --stroke-scale 1 (default)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--crop-at", default="0.55,0.45", help="crop centre as fractions of width,height")
    args = ap.parse_args()
    small, native, scaled = (Image.open(p).convert("RGB") for p in (args.small, args.native, args.scaled))
    top = [_label(_fit(small), f"1 MP input ({small.width}x{small.height})"),
           _label(_fit(native), f"{native.width * native.height / 1e6:.0f} MP, --stroke-scale native"),
           _label(_fit(scaled), f"{scaled.width * scaled.height / 1e6:.0f} MP, --stroke-scale 1 (default)")]
    fx, fy = (float(v) for v in args.crop_at.split(","))
    cx, cy = int(native.width * fx), int(native.height * fy)
    box = (cx - CROP // 2, cy - CROP // 2, cx + CROP // 2, cy + CROP // 2)
    sx, sy = small.width / native.width, small.height / native.height
    small_box = tuple(round(v * s) for v, s in zip(box, (sx, sy, sx, sy)))
    bottom = [_label(small.crop(small_box).resize((CROP, CROP), Image.LANCZOS), "same region, 1 MP, enlarged"),
              _label(native.crop(box), "100 % crop, native"),
              _label(scaled.crop(box), "100 % crop, stroke scale 1")]
    h = max(t.height for t in top)
    sheet = Image.new("RGB", (3 * WIDTH, h + CROP), (255, 255, 255))
    for i, (t, b) in enumerate(zip(top, bottom)):
        sheet.paste(t, (i * WIDTH, 0))
        sheet.paste(b.resize((WIDTH, WIDTH)) if CROP != WIDTH else b, (i * WIDTH, h))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, quality=88)
    print(f"wrote {args.out} ({sheet.width}x{sheet.height})")


if __name__ == "__main__":
    main()
