"""Every shipped style at 1 MP and at 12 MP, one row each: is the 12 MP picture the same painting?

    python tools/zoo_scale_figure.py SMALL BIG --out docs/img/zoo_1mp_12mp.jpg

SMALL is a ~1 MP photo and BIG the same photo at ~12 MP (the docs use ``tubingen.jpg`` and
``percept upscale tubingen.jpg --scale 4``). Both go through ``percept stylize`` with its defaults, as a
user runs it, so the 12 MP column shows the default ``--stroke-scale``. Columns: the 1 MP output, the 12 MP
output shrunk to the same width, and a 100 % crop of the 12 MP output (what a print or a zoom shows).
The stylised files are kept in ``--work`` so a rerun only composes.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from percept.core.zoo import list_models  # noqa: E402

CELL = 360


def _label(img: Image.Image, text: str) -> Image.Image:
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, 8 + 6 * len(text), 16), fill=(0, 0, 0))
    draw.text((4, 2), text, fill=(255, 255, 255))
    return img


def _fit(img: Image.Image, width: int = CELL) -> Image.Image:
    return img.resize((width, round(img.height * width / img.width)), Image.LANCZOS)


def stylise(photo: Path, style: str, out_dir: Path) -> Path:
    """The style's output for ``photo`` through the CLI (default settings). The CLI's output record skips an
    output made by the same model file and settings, and remakes it when the style was retrained."""
    subprocess.run([sys.executable, "-m", "percept.cli", "stylize", str(photo), "--style", style,
                    "--out", str(out_dir)], check=True)
    return out_dir / f"{photo.stem}_{style}{photo.suffix}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("small", type=Path, help="a ~1 MP photo")
    ap.add_argument("big", type=Path, help="the same photo at ~12 MP")
    ap.add_argument("--styles", help="comma-separated; default every shipped style")
    ap.add_argument("--work", type=Path, default=Path("runs/zoo_scale"))
    ap.add_argument("--crop-at", default="0.68,0.45", help="crop centre as fractions of width,height")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    styles = args.styles.split(",") if args.styles else [m.name for m in list_models() if m.info.kind == "style"]
    args.work.mkdir(parents=True, exist_ok=True)
    rows = []
    for style in styles:
        small = Image.open(stylise(args.small, style, args.work)).convert("RGB")
        big = Image.open(stylise(args.big, style, args.work)).convert("RGB")
        fx, fy = (float(v) for v in args.crop_at.split(","))
        cx, cy = int(big.width * fx), int(big.height * fy)
        ch = round(CELL * big.height / big.width)  # the crop has the picture's shape, so rows line up
        crop = big.crop((cx - CELL // 2, cy - ch // 2, cx - CELL // 2 + CELL, cy - ch // 2 + ch))
        mp = lambda im: f"{im.width * im.height / 1e6:.1f} MP"  # noqa: E731
        rows.append([_label(_fit(small), f"{style}, {mp(small)}"), _label(_fit(big), f"{style}, {mp(big)}"),
                     _label(crop, f"{style}, 12 MP, 100 % crop")])
        print(f"{style}: {args.small.name} {small.width}x{small.height}, {args.big.name} {big.width}x{big.height}",
              flush=True)
    heights = [max(c.height for c in row) for row in rows]
    sheet = Image.new("RGB", (3 * CELL + 8, sum(heights) + 4 * len(rows)), (255, 255, 255))
    y = 0
    for row, h in zip(rows, heights):
        for i, cell in enumerate(row):
            sheet.paste(cell, (i * (CELL + 4), y))
        y += h + 4
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, quality=85)
    print(f"wrote {args.out} ({sheet.width}x{sheet.height})")


if __name__ == "__main__":
    main()
