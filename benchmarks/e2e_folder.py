"""End to end over a folder: the plain way (pytorch/examples fast_neural_style) against percept's pipeline.

In one process, on the same files and the same model weights:
  (a) baseline, written the simple way, exactly like the stylize loop of pytorch/examples
      ``fast_neural_style``: for each file in turn, PIL open → convert("RGB") → ToTensor → the network in
      PyTorch FP32 eager under ``no_grad`` → clamp → uint8 → PIL save as JPEG;
  (b) percept's ``BatchProcessor`` pipeline, the code path of ``percept stylize`` (decoder threads → one
      inference worker on an opened runtime → encoder threads), for every backend × ``--threads`` setting.
Both write JPEGs with the same encoder settings (quality 95 without chroma subsampling, percept's
default; the example's PIL defaults would be cheaper and lossier) to a temporary folder; each side gets
one untimed warm-up image. Printed: images/s, × the baseline, percept's time split (busy ms per image in
decode / model / encode) and the mean difference of the first output from the baseline's (0–255 levels;
not 0: the example truncates to uint8 where percept rounds, and JPEG re-encoding spreads the difference).

    python benchmarks/e2e_folder.py                      # 16 generated 512×512 JPEGs, default settings
    python benchmarks/e2e_folder.py --folder DIR --model starry-night --threads 1:2:1,2:2:2 --backends auto,torch
    python benchmarks/e2e_folder.py --quick              # 3 images of 64×64: checks the script, not speed
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from percept.cli.commands.bench import default_model, run_pipeline  # noqa: E402
from percept.cli.commands.process import parse_threads  # noqa: E402
from percept.cli.errors import UserError  # noqa: E402
from percept.core.zoo import resolve_model  # noqa: E402
from percept.engines.select import open_runtime, resolve_device  # noqa: E402
from percept.engines.timing import machine_info, machine_line, save_random_model  # noqa: E402
from percept.pipeline.batch import DONE, plan_tasks  # noqa: E402
from percept.pipeline.inputs import discover  # noqa: E402
from percept.train.checkpoint import load_model  # noqa: E402
from percept.train.data import load_rgb, resize_center_crop, scan_images  # noqa: E402
from percept.train.sizing import run_padded  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"
QUALITY = 95


def make_folder(folder: Path, count: int, size: int) -> list[Path]:
    """``count`` size×size JPEGs centre-cropped from the photos in ../shared/data (content, train)."""
    photos: list[Path] = []
    for sub in ("content", "train"):
        if (SHARED / "data" / sub).is_dir():
            photos += scan_images(SHARED / "data" / sub).files
    if not photos:
        raise SystemExit(f"no photos under {SHARED / 'data'}; pass --folder DIR")
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(count):
        path = folder / f"img_{i:03d}.jpg"
        resize_center_crop(load_rgb(photos[i % len(photos)]), size).save(path, quality=QUALITY)
        out.append(path)
    return out


def baseline(model: Path, files: list[Path], out_dir: Path, device: str, warmup: bool = True) -> float:
    """The fast_neural_style ``stylize`` loop over the files, one at a time; returns images/s."""
    from torchvision import transforms

    net, _ = load_model(model)
    net.to(device).eval()
    content_transform = transforms.ToTensor()

    def stylize(path: Path) -> None:
        content_image = Image.open(path).convert("RGB")
        content_image = content_transform(content_image).unsqueeze(0).to(device)
        with torch.no_grad():
            output = run_padded(net, content_image).cpu()  # run_padded: the net's size rule (no-op at 512²)
        img = output[0].clone().clamp(0, 1).mul(255).numpy()
        img = img.transpose(1, 2, 0).astype("uint8")
        Image.fromarray(img).save(out_dir / f"{path.stem}.jpg", quality=QUALITY, subsampling=0)

    if warmup:
        stylize(files[0])  # warm-up, untimed
    start = time.perf_counter()
    for path in files:
        stylize(path)
    return len(files) / (time.perf_counter() - start)


def mean_diff(a: Path, b: Path) -> float:
    x = np.asarray(Image.open(a).convert("RGB"), np.float32)
    y = np.asarray(Image.open(b).convert("RGB"), np.float32)
    return float(np.abs(x - y).mean()) if x.shape == y.shape else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folder", type=Path, help="images to process (default: --count generated JPEGs)")
    ap.add_argument("--model", help="shipped model name or model file (default: a shipped style model, else a "
                    "seeded untrained TransformNet)")
    ap.add_argument("--count", type=int, default=16, help="generated images when --folder is not given")
    ap.add_argument("--size", type=int, default=512, help="side of the generated images")
    ap.add_argument("--threads", default=None, help="comma list of LOAD:PROC:SAVE settings for percept "
                    "(default: 1:C:1,2:C:2 and auto, C = cores)")
    ap.add_argument("--backends", default="auto,torch", help="comma list: auto, torch, onnxruntime, tensorrt")
    ap.add_argument("--precision", default=None, help="percept's precision (default: as percept stylize)")
    ap.add_argument("--batch", type=int, default=0, help="percept's --batch-size (0: auto, as percept stylize)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (inputs and outputs)")
    ap.add_argument("--quick", action="store_true", help="3 images of 64×64, one thread setting: a smoke test")
    ap.add_argument("--cold", action="store_true", help="also time both sides as fresh processes, start-up "
                    "included: the baseline loop, and `percept stylize` with its defaults")
    ap.add_argument("--cold-baseline", nargs=3, metavar=("MODEL", "FOLDER", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.cold_baseline:  # the child process of --cold: the loop alone, no warm-up
        model, folder, out = (Path(p) for p in args.cold_baseline)
        torch.set_num_threads(os.cpu_count() or 1)
        baseline(model, sorted(folder.glob("*.jpg")), out, "cpu", warmup=False)
        return

    cores = os.cpu_count() or 1
    if args.quick:
        args.count, args.size = 3, 64
        args.threads = args.threads or "1:1:1"
    settings = args.threads.split(",") if args.threads else [f"1:{cores}:1", f"2:{cores}:2", "auto"]
    try:
        threads = list(dict.fromkeys(parse_threads(t.strip()) for t in settings))
    except UserError as exc:
        ap.error(str(exc))
    device = resolve_device(args.device)
    work = Path(tempfile.mkdtemp(prefix="percept-e2e-"))
    if args.model:
        model = resolve_model(args.model)
    else:
        try:
            model = default_model()
        except UserError:
            model = save_random_model(work / "random-style.safetensors")
    if args.folder:
        files = [s.path for s in discover([str(args.folder)])]
        if not files:
            ap.error(f"--folder {args.folder}: no images found")
    else:
        files = make_folder(work / "in", args.count, args.size)
    sizes = {Image.open(f).size for f in files}

    base_dir = work / "baseline"
    base_dir.mkdir()
    torch.set_num_threads(cores)
    print(f"# {len(files)} images ({', '.join(f'{w}×{h}' for w, h in sorted(sizes)[:3])}"
          f"{', ...' if len(sizes) > 3 else ''}), model {model.name}, device {device}")
    print(f"# {machine_line(machine_info(device))}")
    print("| run | backend | precision | threads | images/s | × baseline | decode / model / encode ms per image "
          "| mean abs diff vs baseline (0-255) |")
    print("|---|---|---|---|---|---|---|---|")
    base = baseline(model, files, base_dir, device)
    print(f"| baseline (pytorch/examples loop) | torch eager | fp32 | {torch.get_num_threads()} torch threads | "
          f"{base:.2f} | 1.00× | - | - |", flush=True)

    out_dir = work / "percept"
    sources = discover([str(f) for f in files])
    tasks, _ = plan_tasks(sources, out_dir, "{stem}.{ext}", "", "jpg", overwrite=True)  # JPEG, as the baseline
    first_base = base_dir / f"{files[0].stem}.jpg"
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        for load, proc, save in threads:
            torch.set_num_threads(proc)  # before opening, as percept stylize does (ONNX Runtime's pool)
            try:
                runtime = open_runtime(model, backend=backend, device=device, precision=args.precision)
            except ValueError as exc:
                print(f"| percept | {backend} | - | {load}:{proc}:{save} | skipped: {exc} | | | |", flush=True)
                break
            summary, stages = run_pipeline(runtime, tasks, load_threads=load, save_threads=save,
                                           batch_size=args.batch)
            done = max(1, summary.count(DONE))
            split = " / ".join(f"{1000 * stages[s] / done:.0f}" for s in ("decode", "model", "encode"))
            label = f"{runtime.name} (auto)" if backend == "auto" else runtime.name
            failed = len(tasks) - summary.count(DONE)
            print(f"| percept pipeline{f' ({failed} failed)' if failed else ''} | {label} | {runtime.precision} | "
                  f"{load}:{proc}:{save} | {summary.images_per_s:.2f} | {summary.images_per_s / base:.2f}× | {split} | "
                  f"{mean_diff(first_base, tasks[0].output):.2f} |", flush=True)
    if args.cold:
        folder = files[0].parent
        cold = {}
        for side, cmd in (
                ("baseline", [sys.executable, __file__, "--cold-baseline", str(model), str(folder),
                              str(work / "cold-baseline")]),
                ("percept", [sys.executable, "-m", "percept.cli", "stylize", str(folder), "--style", str(model),
                             "--out", str(work / "cold-percept"), "--format", "jpg"])):
            (work / f"cold-{side}").mkdir(exist_ok=True)
            start = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            cold[side] = len(files) / (time.perf_counter() - start)
        print(f"| cold start, whole process: baseline loop | torch eager | fp32 | - | {cold['baseline']:.2f} | 1.00× "
              "| - | - |")
        print(f"| cold start, whole process: `percept stylize` defaults | auto | default | default | "
              f"{cold['percept']:.2f} | {cold['percept'] / cold['baseline']:.2f}× | - | - |", flush=True)
    if args.keep:
        print(f"(outputs kept in {work})")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
