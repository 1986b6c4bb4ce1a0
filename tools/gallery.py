"""Make docs/gallery.jpg for the README with percept itself: every shipped style on a sample photo, and ×4
crops of the shipped upscalers beside bicubic.

Usage: python tools/gallery.py [--photo examples/chelsea.png] [--out docs/gallery.jpg]

The images come from ``percept stylize`` / ``percept upscale`` runs (the same code path users get), so
the gallery shows what the CLI produces.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from percept.core.zoo import list_models  # noqa: E402

LABEL = 18


def percept(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "percept.cli", *args], check=True, cwd=ROOT)


def labelled(img: Image.Image, text: str) -> Image.Image:
    out = Image.new("RGB", (img.width, img.height + LABEL), "white")
    out.paste(img, (0, LABEL))
    ImageDraw.Draw(out).text((3, 3), text, fill="black")
    return out


def row(images: list[Image.Image], gap: int = 4) -> Image.Image:
    width = sum(i.width for i in images) + gap * (len(images) - 1)
    out = Image.new("RGB", (width, max(i.height for i in images)), "white")
    x = 0
    for im in images:
        out.paste(im, (x, 0))
        x += im.width + gap
    return out


def column(images: list[Image.Image], gap: int = 6) -> Image.Image:
    width = max(i.width for i in images)
    out = Image.new("RGB", (width, sum(i.height for i in images) + gap * (len(images) - 1)), "white")
    y = 0
    for im in images:
        out.paste(im, (0, y))
        y += im.height + gap
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photo", type=Path, default=ROOT / "examples" / "chelsea.png")
    ap.add_argument("--sr-photo", type=Path, default=ROOT / "examples" / "astronaut.png")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "gallery.jpg")
    ap.add_argument("--thumb", type=int, default=200, help="Height of each stylised thumbnail.")
    args = ap.parse_args()
    models = list_models()
    styles = [m for m in models if m.info.kind == "style"]
    srs = [m for m in models if m.info.kind == "sr" and m.info.scale == 4]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        src = Image.open(args.photo).convert("RGB")
        small = src.resize((round(src.width * 384 / src.height), 384), Image.LANCZOS)
        small.save(tmp / "photo.png")
        tiles = [labelled(small.resize((round(small.width * args.thumb / small.height), args.thumb)), "photo")]
        for m in styles:
            percept("stylize", str(tmp / "photo.png"), "--style", m.name, "--out", str(tmp / "styled"),
                    "--suffix", f"_{m.name}", "--backend", "torch")
            out = Image.open(tmp / "styled" / f"photo_{m.name}.png").convert("RGB")
            tiles.append(labelled(out.resize((round(out.width * args.thumb / out.height), args.thumb)), m.name))
        per_row = 4
        style_rows = [row(tiles[i:i + per_row]) for i in range(0, len(tiles), per_row)]

        hr = Image.open(args.sr_photo).convert("RGB")
        box = (hr.width // 2 - 64, hr.height // 5, hr.width // 2 + 64, hr.height // 5 + 128)
        hr_crop = hr.crop(box)
        lr = hr_crop.resize((32, 32), Image.BICUBIC)
        lr.save(tmp / "lr.png")
        crops = [labelled(lr.resize((256, 256), Image.BICUBIC), "bicubic x4")]
        for m in srs:
            percept("upscale", str(tmp / "lr.png"), "--scale", "4", "--model", m.name, "--out", str(tmp / "hr"),
                    "--suffix", f"_{m.name}", "--backend", "torch")
            crops.append(labelled(Image.open(tmp / "hr" / f"lr_{m.name}.png").convert("RGB").resize((256, 256)),
                                  m.name))
        crops.append(labelled(hr_crop.resize((256, 256), Image.LANCZOS), "original"))
        sheet = column([*style_rows, row(crops)])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, quality=88)
    print(f"wrote {args.out} ({sheet.width}×{sheet.height})")


if __name__ == "__main__":
    main()
