"""Training steps/s: percept's trainer settings against a plain fp32 eager loop, same data and weights.

The plain loop is written the simple way (the reference implementation's loop): decode and crop each
image in the main process, fp32 eager forward/backward. percept's step uses the same model, losses and
optimiser with bf16 autocast where the CPU supports it (or the GPU's AMP) and loader worker processes.

Usage: python benchmarks/train_speed.py [--size 128] [--batch 4] [--steps 12] [--device cpu]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from train.data import PositionSampler, load_rgb, scan_images
from train.devices import autocast_dtype, resolve_device
from train.style_task import CenterCrop, StyleOptions, StyleTask

SHARED = Path(__file__).resolve().parents[2] / "shared"


def plain_loop(task: StyleTask, files, size: int, batch: int, steps: int, device) -> list[float]:
    torch.manual_seed(0)
    net = task.build_model().to(device).train()
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    crop = CenterCrop(size)
    times = []
    for step in range(steps):
        t0 = time.perf_counter()
        x = torch.stack([crop(load_rgb(files[(step * batch + i) % len(files)]), None) for i in range(batch)])
        terms = task.losses(net, x.to(device))
        loss = sum(terms.values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return times


def percept_loop(task: StyleTask, size: int, batch: int, steps: int, device, workers: int) -> list[float]:
    torch.manual_seed(0)
    net = task.build_model().to(device).train()
    channels_last = device.type == "cuda"
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    dtype = autocast_dtype("auto", device)
    ds = task.dataset(0)
    loader = DataLoader(ds, batch_size=batch, sampler=PositionSampler(len(ds), 0, total=steps * batch),
                        num_workers=workers, prefetch_factor=4 if workers else None)
    times = []
    t0 = time.perf_counter()
    for x in loader:
        x = x.to(device, non_blocking=True)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = sum(task.losses(net, x).values())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        now = time.perf_counter()
        times.append(now - t0)
        t0 = now
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--data", default=str(SHARED / "data" / "train"))
    args = ap.parse_args()
    device = resolve_device(args.device)
    opts = StyleOptions(style_image=SHARED / "data" / "styles" / "mosaic.jpg", data=Path(args.data), name="bench",
                        image_size=args.size, style_size=args.size * 3 // 2,
                        vgg_weights=os.environ.get("PERCEPT_VGG_WEIGHTS",
                                                   str(SHARED / "assets" / "vgg16_features.safetensors")))
    task = StyleTask(opts)
    task.setup(device)
    files = scan_images(Path(args.data)).files
    warm = 2
    plain = plain_loop(task, files, args.size, args.batch, args.steps + warm, device)[warm:]
    fast = percept_loop(task, args.size, args.batch, args.steps + warm, device, args.workers)[warm:]
    p, f = statistics.median(plain), statistics.median(fast)
    dtype = autocast_dtype("auto", device)
    print(f"style training, {args.size}² crops, batch {args.batch}, {args.steps} timed steps, device {device}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("| loop | precision | s/step (median) | images/s | ratio |")
    print("|---|---|---|---|---|")
    print(f"| plain eager (main-process loading) | fp32 | {p:.3f} | {args.batch / p:.2f} | 1.00× |")
    print(f"| percept trainer step ({args.workers} loader worker(s)) | {dtype or 'fp32'} | {f:.3f} | "
          f"{args.batch / f:.2f} | {p / f:.2f}× |")


if __name__ == "__main__":
    main()
