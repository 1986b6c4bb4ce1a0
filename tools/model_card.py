"""Write docs/models/{name}.md (+ {name}.jpg preview) for a trained model: recipe, data, measured quality.

Usage:
    python tools/model_card.py core/zoo/starry-night.safetensors --run-dir /work/runs/starry-night
    python tools/model_card.py core/zoo/sr-x4-pixel.safetensors --run-dir /work/runs/sr-x4-pixel

Quality is measured here, not copied: SR models are scored with ``percept eval-sr`` on Set5/Set14/BSD100
(published MATLAB-bicubic LR files at ×4, MATLAB bicubic made on the fly at ×8); style models get the
training objective on held-out content photos next to the L-BFGS optimisation baseline (Gatys et al.)
under the same weights.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from percept.train.checkpoint import load_model, read_info  # noqa: E402
from percept.train.optimize import evaluate, optimize_style, style_targets  # noqa: E402
from percept.train.preview import tensor_to_image  # noqa: E402
from percept.train.sizing import run_padded  # noqa: E402
from percept.train.style_task import STYLE_LAYERS, StyleOptions, load_style_image  # noqa: E402
from percept.train.vgg import VGGLoss  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
SR_SETS = ("Set5", "Set14", "BSD100")
HELD_OUT = ("chicago.jpg",)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def wall_time(run_dir: Path) -> tuple[float, int]:
    """Seconds of training summed over resumed segments (elapsed restarts at each resume) and last step."""
    total, last, step = 0.0, 0.0, 0
    path = run_dir / "losses.csv"
    if not path.is_file():
        return 0.0, 0
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            e = float(row["elapsed_s"])
            if e < last:
                total += last
            last, step = e, int(row["step"])
    return total + last, step


def cli_flags(command: str) -> set[str]:
    """The options ``percept COMMAND`` takes today: a recorded setting that is not one (an internal default,
    such as SR's learning-rate warm-up) stays in the settings table but out of the copy-paste line."""
    import typer.main

    from percept.cli.app import app

    click_command = typer.main.get_command(app).commands[command]
    return {opt for param in click_command.params for opt in param.opts if opt.startswith("--")}


def repo_relative(value):
    """A recorded path as a card shows it: relative to the repository root (``../shared/data/train``,
    ``core/zoo/la-muse.safetensors``), so no card names the folders of the machine it was made on.
    Anything that is not an absolute path comes back unchanged."""
    if not isinstance(value, str) or not os.path.isabs(value):
        return value
    path = Path(os.path.normpath(value))
    for base, prefix in ((ROOT, ""), (ROOT.parent, "../")):
        if path.is_relative_to(base):
            return prefix + path.relative_to(base).as_posix()
    if "/core/zoo/" in value:  # a shipped model, recorded in another checkout
        return "core/zoo/" + value.rsplit("/core/zoo/", 1)[1]
    return value


def recipe_intro(info) -> str:
    """What the recipe line is: a from-scratch recipe, or the last stage of a warm-started training."""
    init = info.training.get("init")
    if not init:
        return "Reproduce from scratch with:"
    init = str(repo_relative(init))
    if "/zoo/" in init and Path(init).stem == info.name:
        return (f"The last training stage. It warm-starts from the shipped model itself (`--init {info.name}`), "
                f"so this command continues training the shipped {info.name}; it is not a from-scratch recipe:")
    if "/zoo/" in init:
        parent = Path(init).stem
        return (f"The last training stage, warm-started from the shipped {parent} (`--init {parent}`: whichever "
                f"{parent} is shipped when you run it); not a from-scratch recipe:")
    return f"The last training stage, warm-started from `{init}` (`--init`); not a from-scratch recipe:"


def recipe_command(info) -> str:
    t = info.training
    known = cli_flags("train-style" if info.kind == "style" else "train-sr")
    skip = {"task", "data", "name", "out", "run_dir", "style_image", "skipped", "resume", "vgg_weights", "amp",
            "device", "final_step", "final_losses", "processes", "skipped_files", "training_images", "wall_time_s",
            "checkpoint_every", "preview_every", "from_checkpoint", "lr_final_ratio"}
    flags = []
    for key, value in sorted(t.items()):
        if key in skip or value is None or isinstance(value, dict | list):
            continue
        flag = "--" + key.replace("_", "-")
        if flag not in known and key != "time_limit_s":
            continue
        value = repo_relative(value)
        if key == "init" and "/zoo/" in str(value):  # a shipped model: by name, as users type it
            value = Path(str(value)).stem
        if key == "degradation":  # recorded as a description; the CLI takes its name
            value = ("bicubic" if str(value).startswith("MATLAB") else
                     "real" if str(value).startswith("real") else
                     "photo" if str(value).startswith("photo") else "paper")
        if key == "time_limit_s":  # the CLI takes a duration
            if value:
                flags.append(f"--time-limit {value / 60:g}m")
            continue
        if isinstance(value, bool):
            flags.append(flag if value else "")
        else:
            flags.append(f"{flag} {value}")
    if info.kind == "style":
        head = f"percept train-style ../shared/data/styles/{(info.style_image or {}).get('name', 'STYLE')}"
    else:
        c = info.config
        arch = (f"--arch subpixel --channels {c['channels']} --convs {c['convs']}" if c.get("arch") == "SubPixelSR"
                else f"--arch paper --upsample {c.get('upsample')} --channels {c.get('channels')}"
                + ("" if c.get("global_skip", True) else " --no-global-skip"))
        head = f"percept train-sr {arch}"
    return " ".join([head, "--data ../shared/data/train", f"--name {info.name}", *[f for f in flags if f]])


def sr_quality(model: Path, scale: int) -> tuple[list[str], dict]:
    rows, raw = [], {}
    for name in SR_SETS:
        hr = SHARED / "sr_bench" / name / "HR"
        cmd = [sys.executable, "-m", "percept.cli", "eval-sr", str(hr), "--scale", str(scale), "-m", str(model),
               "--backend", "torch", "--no-lpips"]
        lr = SHARED / "sr_bench" / name / f"LR_bicubic_x{scale}"
        if lr.is_dir():
            cmd += ["--lr-dir", str(lr)]
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "r.json"
            subprocess.run([*cmd, "--json", str(out)], check=True, capture_output=True, cwd=ROOT)
            data = json.loads(out.read_text())
        raw[name] = data
        res = data["results"]
        model_key = next(k for k in res if k != "bicubic")
        b, m = res["bicubic"], res[model_key]
        rows.append(f"| {name} | {len(m['per_image'])} | {b['psnr']:.2f} / {b['ssim']:.4f} | "
                    f"{m['psnr']:.2f} / {m['ssim']:.4f} | {m['psnr'] - b['psnr']:+.2f} dB |")
    return rows, raw


def style_quality(model: Path, info, vgg: VGGLoss, lbfgs_iters: int) -> tuple[list[str], list[Image.Image]]:
    t = info.training
    style_path = SHARED / "styles" / info.style_image["name"]
    opts = StyleOptions(style_image=style_path, data=Path("."), name="card", style_size=t.get("style_size"),
                        content_weight=t["content_weight"], style_weight=t["style_weight"], tv_weight=t["tv_weight"],
                        style_layers=tuple(t.get("style_layers", STYLE_LAYERS)))
    net, _ = load_model(model)
    style = load_style_image(style_path, t.get("style_size"))
    targets = style_targets(vgg, style, opts.style_layers)
    rows, images = [], []
    for name in HELD_OUT:
        img = Image.open(SHARED / "content" / name).convert("RGB")
        s = 256 / max(img.size)
        img = img.resize((round(img.width * s), round(img.height * s)), Image.BICUBIC)
        x = torch.from_numpy(np.array(img)).permute(2, 0, 1)[None].float() / 255
        start = time.perf_counter()
        with torch.no_grad():
            y = run_padded(net, x).clamp(0, 1)
        net_s = time.perf_counter() - start
        ours = evaluate(vgg, y, x, targets, opts)
        start = time.perf_counter()
        opt_img, _ = optimize_style(vgg, x, style, opts, lbfgs_iters)
        opt_s = time.perf_counter() - start
        base = evaluate(vgg, opt_img, x, targets, opts)
        itself = evaluate(vgg, x, x, targets, opts)
        rows.append(f"| {name} ({x.shape[-1]}×{x.shape[-2]}) | {itself['total']:.3g} | {ours['total']:.3g} "
                    f"({net_s * 1000:.0f} ms) | {base['total']:.3g} ({opt_s:.0f} s) |")
        images += [img, tensor_to_image(y[0]), tensor_to_image(opt_img[0])]
    return rows, images


def strip(images: list[Image.Image], labels: list[str], height: int = 200, cols: int = 3) -> Image.Image:
    scaled = [im.resize((round(im.width * height / im.height), height), Image.LANCZOS) for im in images]
    rows = [scaled[i:i + cols] for i in range(0, len(scaled), cols)]
    width = max(sum(im.width for im in r) + 4 * (len(r) - 1) for r in rows)
    sheet = Image.new("RGB", (width, (height + 18) * len(rows)), "white")
    draw = ImageDraw.Draw(sheet)
    for r, row in enumerate(rows):
        x = 0
        for c, im in enumerate(row):
            y = r * (height + 18)
            draw.text((x + 2, y + 2), labels[(r * cols + c) % len(labels)], fill="black")
            sheet.paste(im, (x, y + 18))
            x += im.width + 4
    return sheet


def sr_preview(model: Path, scale: int) -> Image.Image:
    net, _ = load_model(model)
    hr = Image.open(SHARED / "sr_bench" / "Set14" / "HR" / "comic.png").convert("RGB")
    hr = hr.crop((0, 0, hr.width - hr.width % scale, hr.height - hr.height % scale))
    from percept.train.degradations import matlab_imresize

    x = torch.from_numpy(np.array(hr)).permute(2, 0, 1).float() / 255
    lr = matlab_imresize(x, 1 / scale).clamp(0, 1)
    with torch.no_grad():
        sr = run_padded(net, lr[None])[0].clamp(0, 1)
    bic = torch.nn.functional.interpolate(lr[None], scale_factor=scale, mode="bicubic", align_corners=False)[0]
    crop = (hr.width // 4, hr.height // 4, hr.width // 4 + 160, hr.height // 4 + 160)
    pics = [tensor_to_image(bic.clamp(0, 1)).crop(crop), tensor_to_image(sr).crop(crop), hr.crop(crop)]
    return strip(pics, ["bicubic", model.stem, "ground truth"], height=240)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", type=Path)
    ap.add_argument("--run-dir", type=Path, required=True)
    ap.add_argument("--out-dir", type=Path, default=ROOT / "docs" / "models")
    ap.add_argument("--lbfgs-iterations", type=int, default=100)
    ap.add_argument("--note", default="", help="Extra paragraph (e.g. why the recipe is reduced).")
    args = ap.parse_args()
    info = read_info(args.model)
    seconds, steps = wall_time(args.run_dir)
    seconds = float(info.training.get("wall_time_s", seconds))
    amp = str(info.training.get("amp", "off")).replace("torch.", "")
    threads = torch.get_num_threads()
    lines = [f"# {info.name}", "", f"{info.description}", "",
             f"- kind: {info.kind}" + (f", ×{info.scale}" if info.kind == "sr" else ""),
             f"- file: `core/zoo/{args.model.name}` ({args.model.stat().st_size / 1e6:.1f} MB, float16 "
             "weights, loaded as float32)",
             f"- architecture: `{json.dumps(info.config, sort_keys=True)}`; size rule: multiple of {info.size_rule}, "
             f"at least {info.min_size} px",
             f"- percept {info.percept_version}", ""]
    if info.style_image:
        lines.insert(5, f"- style image: `{info.style_image['name']}` (sha256 {info.style_image['sha256'][:16]}…)")
    lines += ["## Recipe", "", recipe_intro(info), "", "```", recipe_command(info), "```", "",
              f"Trained for {steps} iterations in {seconds / 60:.0f} min of wall time on {cpu_name()} "
              f"(CPU, {threads} threads; no GPU was available), autocast: {amp}.", ""]
    if args.note:
        lines += [args.note, ""]
    lines += ["| setting | value |", "|---|---|"]
    lines += [f"| {k} | `{repo_relative(v)}` |" for k, v in sorted(info.training.items()) if k not in ("skipped",)]
    lines += ["", "## Data", "",
              "`../shared/data/train`: 1,400 natural photos (1,000 ImageNet samples, 400 BSDS500 train/test; "
              "BSD100 is not among them), random crops as set above.", "", "## Measured quality", ""]
    args.out_dir.mkdir(parents=True, exist_ok=True)
    preview = args.out_dir / f"{info.name}.jpg"
    if info.kind == "sr":
        rows, raw = sr_quality(args.model, info.scale)
        lr_note = ("published MATLAB-bicubic LR files" if info.scale == 4
                   else f"MATLAB bicubic ×{info.scale} made by percept")
        lines += [f"PSNR (dB) / SSIM on the Y channel, border {info.scale} px cropped, 8-bit outputs; LR inputs: "
                  f"{lr_note}. Command: `percept eval-sr ../shared/data/sr_bench/SET/HR --scale {info.scale} "
                  f"-m {info.name}" + (f" --lr-dir ../shared/data/sr_bench/SET/LR_bicubic_x{info.scale}`"
                                       if info.scale == 4 else "`"), "",
                  "| set | images | bicubic | this model | gain |", "|---|---|---|---|---|", *rows, ""]
        (args.out_dir / f"{info.name}.eval.json").write_text(json.dumps(raw, indent=1))
        sr_preview(args.model, info.scale).save(preview, quality=90)
        lines += ["## Preview", "", f"Set14 `comic`, ×{info.scale} crop:", "", f"![{info.name}]({preview.name})", ""]
    else:
        vgg = VGGLoss(None)
        rows, images = style_quality(args.model, info, vgg, args.lbfgs_iterations)
        lines += ["The training objective (content + style + TV, the weights above) on held-out content photos "
                  "(long side 256, not in the training data). Lower is better. The network's one forward pass "
                  f"against {args.lbfgs_iterations} L-BFGS iterations of the optimisation method (Gatys et al.) "
                  "under the same loss network and weights (`percept optimize-style`); times on this CPU.", "",
                  "| content | content image itself | this network (time) | L-BFGS baseline (time) |",
                  "|---|---|---|---|", *rows, ""]
        strip(images, ["content", info.name, f"L-BFGS {args.lbfgs_iterations} it."]).save(preview, quality=90)
        lines += ["## Preview", "", f"![{info.name}]({preview.name})", ""]
    card = args.out_dir / f"{info.name}.md"
    card.write_text("\n".join(lines))
    print(f"wrote {card} and {preview}")


if __name__ == "__main__":
    main()
