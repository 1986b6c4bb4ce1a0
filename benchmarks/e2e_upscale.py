"""End to end ×4 over a folder of 512² photos: `percept upscale` against the paper's ×4 network in plain
PyTorch eager fp32, on the same files in the same run, with the peak resident memory of each.

Each side runs as a fresh process over the same generated JPEGs, timed from start to exit (start-up,
decode, model, encode and writing included), and its peak RSS is read from the kernel for that child
alone (``os.wait4``):
  (a) baseline: the paper's ×4 network (Johnson et al. 2016: ×2 stages by transposed convolution, 9×9
      tail at full resolution, no skip) with seeded random weights — speed does not depend on them — in a
      loop written the plain way: PIL open → ToTensor → network under ``no_grad`` → clamp → uint8 → JPEG;
  (b) ``percept upscale FOLDER --scale 4 --format jpg`` with its defaults (the shipped ×4 default model,
      ``--backend auto``, ``--tile auto``, ``--max-memory`` default), or ``--model`` to try another.
Both write JPEG quality 95 without chroma subsampling (percept's default).

    python benchmarks/e2e_upscale.py                    # 8 generated 512² JPEGs
    python benchmarks/e2e_upscale.py --count 16 --model runs/sr/sr-x4-pixel.safetensors
    python benchmarks/e2e_upscale.py --count 4 --repeats 3   # each side 3 times, the best reported
    python benchmarks/e2e_upscale.py --quick            # 2 images of 48²: checks the script, not speed
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

import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from e2e_folder import QUALITY, make_folder  # noqa: E402

from percept.train.flops import count_flops  # noqa: E402
from percept.train.networks import SRNet  # noqa: E402


def paper_net() -> torch.nn.Module:
    torch.manual_seed(0)
    return SRNet(4, upsample="transposed", global_skip=False).eval()


def baseline_loop(folder: Path, out: Path) -> None:
    """The plain loop over every JPEG of ``folder`` (runs in the child process)."""
    from torchvision import transforms

    torch.set_num_threads(os.cpu_count() or 1)
    net, to_tensor = paper_net(), transforms.ToTensor()
    for path in sorted(folder.glob("*.jpg")):
        x = to_tensor(Image.open(path).convert("RGB")).unsqueeze(0)
        with torch.no_grad():
            y = net(x)
        img = y[0].clamp(0, 1).mul(255).byte().permute(1, 2, 0).numpy()
        Image.fromarray(img).save(out / f"{path.stem}.jpg", quality=QUALITY, subsampling=0)


def timed_child(cmd: list[str]) -> tuple[float, float]:
    """Run ``cmd``; return (wall seconds, peak RSS in bytes of that process alone)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err[-2000:]}")
    return seconds, usage.ru_maxrss * 1024.0  # KiB on Linux


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=8)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--model", default=None, help="percept's ×4 model (default: the shipped ×4 default)")
    ap.add_argument("--repeats", type=int, default=1, help="runs of each side (fresh processes); the best is "
                    "reported, with the peak RSS of that run")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--baseline-child", nargs=2, metavar=("FOLDER", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.baseline_child:
        baseline_loop(*(Path(p) for p in args.baseline_child))
        return
    if args.quick:
        args.count, args.size = 2, 48
    work = Path(tempfile.mkdtemp(prefix="percept-e2e-sr-"))
    files = make_folder(work / "in", args.count, args.size)
    folder = files[0].parent
    model_args = ["--model", args.model] if args.model else []
    sides = {
        "paper's ×4 net, eager fp32 loop": [sys.executable, __file__, "--baseline-child", str(folder),
                                            str(work / "base")],
        "`percept upscale --scale 4` defaults": [sys.executable, "-m", "percept.cli", "upscale", str(folder),
                                                 "--scale", "4", "--format", "jpg", "--out", str(work / "percept"),
                                                 *model_args],
    }
    (work / "base").mkdir()
    flops = count_flops(paper_net(), args.size, args.size) / 1e9
    print(f"# {args.count} JPEGs of {args.size}², ×4 → {4 * args.size}²; {os.cpu_count()} CPUs; "
          f"paper's net {flops:.0f} GFLOP per image; percept model: {args.model or 'shipped default'}")
    print("| run | s total | images/s | × baseline | peak RSS (GB) |")
    print("|---|---|---|---|---|")
    base_rate = None
    for label, cmd in sides.items():
        runs = []
        for _ in range(max(1, args.repeats)):
            shutil.rmtree(work / "percept", ignore_errors=True)  # a rerun would skip the finished files
            runs.append(timed_child(cmd))
        seconds, peak = min(runs)
        rate = args.count / seconds
        base_rate = base_rate or rate
        print(f"| {label} | {seconds:.1f} | {rate:.3f} | {rate / base_rate:.2f}× | {peak / 1e9:.2f} |", flush=True)
    outs = sorted((work / "percept").glob("*.jpg"))
    if len(outs) != args.count or Image.open(outs[0]).size != (4 * args.size, 4 * args.size):
        raise SystemExit(f"percept wrote {len(outs)} outputs, expected {args.count} of {4 * args.size}²")
    if args.keep:
        print(f"(kept in {work})")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
