"""Is int8 close enough to fp32? Every shipped model's int8 form, as this CPU runs it, against fp32.

    python benchmarks/int8_accuracy.py styles [--photos 64]        # styles against PyTorch fp32
    python benchmarks/int8_accuracy.py sr [--sets Set5,Set14,BSD100]  # upscalers' PSNR, int8 − fp32

styles: 64 training photos the forms were neither calibrated nor checked on (the last 64 by name; the
forms leave them out), centre-cropped to 512², through PyTorch fp32 eager and through OpenVINO int8.
Printed: the mean and 99.9th percentile of |difference| of the 8-bit outputs, and the blob measure
``flipped_cells`` of each against the photo (percentage points). percept's bound: 1.5/255 mean, 16/255
at the 99.9th percentile, flipped cells no more than fp32's + 0.02 points.
sr: ``percept eval-sr`` in fp32 and int8 on each set and damage (clean, web, phone); printed is the PSNR
difference. percept's bound: within 0.05 dB.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from percept.core.zoo import list_models
from percept.engines.select import open_runtime
from percept.engines.timing import machine_info, machine_line
from percept.pipeline.calibration import held_out_pictures
from percept.train.checkpoint import load_model
from percept.train.style_metrics import flipped_cells

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def styles(count: int, only: set[str]) -> None:
    photos = held_out_pictures(SHARED / "data" / "train", count, 512)
    print(f"{count} held-out photos, 512²; int8 (OpenVINO, as this CPU runs it) against PyTorch fp32 eager, 8-bit")
    print(f"{'style':<15}{'mean/255':>9}{'p99.9':>7}{'max':>5}{'flipped fp32':>14}{'int8':>7}{'Δ points':>10}  bound")
    for m in list_models():
        if m.info.scale != 1 or (only and m.name not in only):
            continue
        net, _ = load_model(m.path)
        net.eval()
        int8 = open_runtime(m.path, backend="openvino", precision="int8")
        diffs, flips = [], []
        for x in photos:
            with torch.no_grad():
                ref = net(torch.from_numpy(x)).clamp(0, 1)
            got = torch.from_numpy(int8.run(x))
            diffs.append(np.abs(np.round(got.numpy() * 255) - np.round(ref.numpy() * 255)).ravel())
            content = torch.from_numpy(x)
            flips.append((flipped_cells(ref, content), flipped_cells(got, content)))
        d = np.concatenate(diffs)
        f32, f8 = (100 * float(np.mean([f[i] for f in flips])) for i in (0, 1))
        mean, p999 = float(d.mean()), float(np.percentile(d, 99.9))
        ok = mean <= 1.5 and p999 <= 16 and f8 - f32 <= 0.02
        print(f"{m.name:<15}{mean:>9.2f}{p999:>7.0f}{d.max():>5.0f}{f32:>14.2f}{f8:>7.2f}{f8 - f32:>+10.2f}  "
              f"{'within' if ok else 'NOT within'}", flush=True)


def eval_sr(hr: Path, scale: int, model: str, precision: str, damage: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.json"
        subprocess.run([sys.executable, "-m", "percept.cli", "eval-sr", str(hr), "--scale", str(scale), "-m", model,
                        "--precision", precision, "--degradation", damage, "--no-lpips", "--json", str(out)],
                       check=True, capture_output=True)
        return float(json.loads(out.read_text())["results"][model]["psnr"])


def sr(sets: list[str], damages: list[str]) -> None:
    print("PSNR (Y, dB) of int8 − fp32, percept eval-sr; bound: within 0.05 dB")
    print(f"{'model':<15}{'set':<8}" + "".join(f"{d:>16}" for d in damages))
    for m in list_models():
        if m.info.scale == 1:
            continue
        for name in sets:
            hr = SHARED / "data" / "sr_bench" / name / "HR"
            cells = []
            for damage in damages:
                fp32 = eval_sr(hr, int(m.info.scale), m.name, "fp32", damage)
                int8 = eval_sr(hr, int(m.info.scale), m.name, "int8", damage)
                cells.append(f"{fp32:.2f} {int8 - fp32:+.3f}")
            print(f"{m.name:<15}{name:<8}" + "".join(f"{c:>16}" for c in cells), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("part", choices=("styles", "sr"))
    ap.add_argument("--photos", type=int, default=64)
    ap.add_argument("--sets", default="Set5,Set14,BSD100")
    ap.add_argument("--damages", default="clean,web,phone")
    ap.add_argument("--models", default="", help="styles: a comma list of shipped styles (default: all)")
    args = ap.parse_args()
    print(machine_line(machine_info("cpu")))
    if args.part == "styles":
        styles(args.photos, set(filter(None, args.models.split(","))))
    else:
        sr(args.sets.split(","), args.damages.split(","))


if __name__ == "__main__":
    main()
