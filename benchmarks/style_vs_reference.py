"""percept's style networks against the 2016 reference networks, on the paper's own objective.

The reference networks (lengstrom/fast-style-transfer, trained on a GPU) and the objective's two
unweighted terms come from ``../shared/reference_nets`` (never shipped). Both networks stylise the
same held-out photos (BSD100, never in the training data) at 512 px on the long side; both outputs are
rounded to 8 bits, as a saved file would be; the painting is at 512 px. Lower in both terms is better.

    python benchmarks/style_vs_reference.py                        # the five shipped styles, 100 photos
    python benchmarks/style_vs_reference.py --styles wave --images 20 --model wave=runs/wave/wave.safetensors
    python benchmarks/style_vs_reference.py --styles wave --grid docs/img/style_vs_reference_wave.jpg --json wave.json

Reference outputs and terms are cached in ``--cache`` (they never change), so a rerun scores only percept.
A style without a reference net (starry-night, candy, ...) is scored alone. Beside the objective, "flips"
is the share of 16² cells whose mean brightness moved by more than 0.4 (``percept.train.style_metrics.
flipped_cells``). It catches blobs in a before/after comparison of one style, but it is not a blob detector
across networks: a strong style that legitimately repaints brightness scores high too (the 2016 wave
reference: 5.7 % on 20 BSD100 photos, with no blobs by eye).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from percept.train.style_metrics import flipped_cells

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
REFS = SHARED / "reference_nets"
STYLES = SHARED / "data" / "styles"
# percept name -> (reference net name, painting file)
PAIRS = {
    "wave": ("wave", "wave.jpg"),
    "udnie": ("udnie", "udnie.jpg"),
    "la-muse": ("la_muse", "la_muse.jpg"),
    "the-scream": ("scream", "the_scream.jpg"),
    "rain-princess": ("rain_princess", "rain_princess.jpg"),
}


def shared_module(name: str):
    """A module from ../shared/reference_nets (the reference nets' loader, the objective), loaded from its file."""
    spec = importlib.util.spec_from_file_location(f"shared_{name}", REFS / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _quantise(x: torch.Tensor) -> torch.Tensor:
    return (x.clamp(0, 1) * 255).round() / 255


def _to_pil(x: torch.Tensor) -> Image.Image:
    return Image.fromarray((x[0].permute(1, 2, 0).clamp(0, 1) * 255).round().byte().numpy())


def painting(style: str) -> Path:
    return STYLES / (PAIRS[style][1] if style in PAIRS else f"{style.replace('-', '_')}.jpg")


def reference_terms(objective, reference, style: str, photos: list[Path], vgg, grams, cache: Path) -> list[tuple]:
    """(content, style, blobs) per photo for the reference net, cached with its outputs."""
    ref_name = PAIRS[style][0]
    out_dir = cache / ref_name
    record = cache / f"{ref_name}.json"
    known = json.loads(record.read_text()) if record.is_file() else {}
    weights = None
    for p in photos:
        if p.stem in known:
            continue
        out_path = out_dir / f"{p.stem}.png"
        if not out_path.is_file():
            weights = weights or reference.load_file(str(REFS / f"{ref_name}.safetensors"))
            x = objective.load(p, 512)
            y = _quantise(reference.stylize(weights, x * 255) / 255)
            out_dir.mkdir(parents=True, exist_ok=True)
            _to_pil(y).save(out_path)
        y, x = objective.load(out_path), objective.load(p, 512)
        known[p.stem] = [*objective.terms(vgg, y, x, grams), flipped_cells(y, x)]
        record.write_text(json.dumps(known))
    return [tuple(known[p.stem]) for p in photos]


def load_net(path: Path) -> torch.nn.Module:
    """A model file, or a training checkpoint (``RUN_DIR/checkpoint.pt``) to score a run while it trains."""
    from percept.train.checkpoint import load_model
    from percept.train.networks import build_network

    if path.suffix == ".pt":
        state = torch.load(path, map_location="cpu", weights_only=True)
        net = build_network(state["model_config"])
        net.load_state_dict(state["model"])
        print(f"  {path}: training checkpoint at step {state['step']}")
        return net.eval()
    return load_model(path)[0]


def percept_outputs(model_path: Path, photos: list[Path], objective) -> list[torch.Tensor]:
    net = load_net(model_path)
    outs = []
    with torch.no_grad():
        for p in photos:
            outs.append(_quantise(net(objective.load(p, 512))))
    return outs


def resolve(style: str, overrides: dict[str, str]) -> Path:
    if style in overrides:
        return Path(overrides[style])
    from percept.core.zoo import resolve_model

    return resolve_model(style, kind="style")


def make_grid(rows: list[tuple[str, Image.Image, Image.Image, Image.Image]], path: Path, height: int = 220) -> None:
    """One row per style: photo | percept | reference."""
    from PIL import ImageDraw

    def fit(im: Image.Image) -> Image.Image:
        return im.resize((round(im.width * height / im.height), height), Image.BICUBIC)

    cells = [[fit(a), fit(b), fit(c)] for _, a, b, c in rows]
    width = sum(c.width for c in cells[0]) + 4 * 10
    header = 24
    canvas = Image.new("RGB", (width, header + len(cells) * (height + 24) + 10), "white")
    draw = ImageDraw.Draw(canvas)
    x = 10
    for label, im in zip(("photo (BSD100, held out)", "percept", "2016 reference net"), cells[0]):
        draw.text((x, 6), label, fill="black")
        x += im.width + 10
    y = header
    for (name, *_), row in zip(rows, cells):
        draw.text((10, y), name, fill="black")
        x = 10
        for im in row:
            canvas.paste(im, (x, y + 14))
            x += im.width + 10
        y += height + 24
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path, quality=90)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--styles", default=",".join(PAIRS), help="comma-separated percept style names")
    ap.add_argument("--model", action="append", default=[], help="STYLE=FILE: score this file for STYLE")
    ap.add_argument("--photos", type=Path, default=SHARED / "data" / "sr_bench" / "BSD100" / "HR")
    ap.add_argument("--images", type=int, default=0, help="first N photos only (0: all)")
    ap.add_argument("--cache", type=Path, default=ROOT / "runs" / "reference_cache")
    ap.add_argument("--grid", type=Path, help="write a photo | percept | reference image grid here")
    ap.add_argument("--grid-photo", default="", help="stem of the photo shown in the grid [the first]")
    ap.add_argument("--json", type=Path, help="write the table as JSON here")
    args = ap.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    objective, reference = shared_module("objective"), shared_module("reference_net")
    vgg = objective.vgg()
    photos = sorted(p for p in args.photos.iterdir() if p.suffix.lower() in {".png", ".jpg", ".jpeg"})
    if args.images:
        photos = photos[: args.images]
    overrides = dict(item.split("=", 1) for item in args.model)
    results, grid_rows = [], []
    print(f"{len(photos)} held-out photos from {args.photos} at 512 px; painting at 512 px")
    print(f"{'style':<14}{'content':>9}{'ref':>9}{'ratio':>7}{'style':>10}{'ref':>10}{'ratio':>7}"
          f"{'flips %':>9}{'ref':>7}  both lower")
    for style in [s.strip() for s in args.styles.split(",") if s.strip()]:
        if not painting(style).is_file():
            print(f"{style}: no painting {painting(style)}", file=sys.stderr)
            return 2
        t0 = time.perf_counter()
        with torch.no_grad():
            feats = objective.feats(vgg, objective.load(painting(style), 512))
            grams = {k: objective.gram(v) for k, v in feats.items()}
        has_ref = style in PAIRS
        ref = reference_terms(objective, reference, style, photos, vgg, grams, args.cache) if has_ref else []
        model = resolve(style, overrides)
        outs = percept_outputs(model, photos, objective)
        ours = []
        for p, y in zip(photos, outs):
            x = objective.load(p, 512)
            ours.append((*objective.terms(vgg, y, x, grams), flipped_cells(y, x)))
        c, s, b = (float(np.mean([t[k] for t in ours])) for k in range(3))
        if has_ref:
            rc, rs, rb = (float(np.mean([t[k] for t in ref])) for k in range(3))
            both = c < rc and s < rs
            print(f"{style:<14}{c:>9.4f}{rc:>9.4f}{c / rc:>7.2f}{s:>10.5f}{rs:>10.5f}{s / rs:>7.2f}{100 * b:>9.2f}"
                  f"{100 * rb:>7.2f}  {'yes' if both else 'no'}   ({time.perf_counter() - t0:.0f} s, {model})")
        else:
            rc = rs = rb = both = None
            print(f"{style:<14}{c:>9.4f}{'—':>9}{'':>7}{s:>10.5f}{'—':>10}{'':>7}{100 * b:>9.2f}{'—':>7}  "
                  f"(no reference net; {time.perf_counter() - t0:.0f} s, {model})")
        results.append({"style": style, "model": str(model), "content": c, "style_term": s, "blobs": b,
                        "ref_content": rc, "ref_style": rs, "ref_blobs": rb, "both_lower": both,
                        "images": len(photos)})
        if args.grid and has_ref:
            i = next((k for k, p in enumerate(photos) if p.stem == args.grid_photo), 0)
            ref_png = args.cache / PAIRS[style][0] / f"{photos[i].stem}.png"
            grid_rows.append((style, _to_pil(objective.load(photos[i], 512)), _to_pil(outs[i]), Image.open(ref_png)))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    if args.grid and grid_rows:
        make_grid(grid_rows, args.grid)
        print(f"grid written to {args.grid}")
    return 0 if all(r["both_lower"] is not False for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
