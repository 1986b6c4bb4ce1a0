"""Style-training speed: percept's trainer step against a plain fp32 eager loop, same data and weights.

* plain: the pytorch/examples ``fast_neural_style`` way — images decoded and cropped in the main process,
  fp32 eager forward/backward, ``Adam``; no autocast, no channels_last, no loader workers.
* percept: the step of ``percept.train.trainer.Trainer.run`` with its defaults — ``--amp auto`` (bf16 autocast on
  CPUs with native bf16 and on GPUs; fp16 + GradScaler on GPUs without bf16), channels_last on CUDA,
  loader worker processes (one per spare core, up to 4) with pinned memory on CUDA, and the per-step loss
  read-back the trainer does. Also timed with channels_last flipped (on for the CPU, off for CUDA), to show
  whether the trainer's choice is the faster one here.
Every loop starts from the same seeded weights and sees the same images in the same order (the trainer's
``PositionSampler``), so the losses after the last step are comparable too. The first ``--warmup`` steps
are dropped; the median step time is reported.

    python benchmarks/train_speed.py [--size 256] [--batch 4] [--steps 20] [--device auto] [--workers -1]
    python benchmarks/train_speed.py --quick        # 64² crops, 3 steps: checks the script, not speed
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from percept.engines.timing import Timing, machine_info, machine_line, sync  # noqa: E402
from percept.train.data import PositionSampler  # noqa: E402
from percept.train.devices import autocast_dtype, resolve_device  # noqa: E402
from percept.train.style_task import StyleOptions, StyleTask  # noqa: E402
from percept.train.trainer import _to_device, optimizer_step  # noqa: E402  (the trainer's own steps)

SHARED = Path(__file__).resolve().parents[2] / "shared"


def positions(n: int, count: int) -> list[tuple[int, int]]:
    """The (file, position) keys the trainer's sampler yields for the first ``count`` samples (seed 0)."""
    return list(PositionSampler(n, 0, total=count))


def plain_loop(task: StyleTask, batch: int, steps: int, device: torch.device) -> tuple[list[float], float]:
    """fp32 eager, data in the main process. Returns per-step seconds and the last loss."""
    torch.manual_seed(0)
    net = task.build_model().to(device).train()
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    ds = task.dataset(0)
    keys = positions(len(ds), steps * batch)
    times, loss = [], None
    for step in range(steps):
        t0 = time.perf_counter()
        x = torch.stack([ds[k] for k in keys[step * batch:(step + 1) * batch]]).to(device)
        opt.zero_grad()
        loss = sum(task.losses(net, x).values())
        loss.backward()
        opt.step()
        sync(device)
        times.append(time.perf_counter() - t0)
    return times, loss.item()


def trainer_workers(requested: int) -> int:
    """``Trainer._workers`` for one process: -1 means one per spare core, up to 4."""
    return requested if requested >= 0 else max(1, min(4, (os.cpu_count() or 2) - 1))


def percept_loop(task: StyleTask, batch: int, steps: int, device: torch.device, workers: int,
                 channels_last: bool) -> tuple[list[float], float]:
    """The trainer's step (``Trainer.run``), timed between iterations (so loader waits count)."""
    torch.manual_seed(0)
    model = task.build_model().to(device)
    dtype = autocast_dtype("auto", device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    ds = task.dataset(0)
    loader = DataLoader(ds, batch_size=batch, sampler=PositionSampler(len(ds), 0, total=steps * batch),
                        num_workers=workers, pin_memory=torch.cuda.is_available(), drop_last=True,
                        prefetch_factor=4 if workers else None)
    model.train()
    times, last = [], float("nan")
    t0 = time.perf_counter()
    for x in loader:
        x = _to_device(x, device, channels_last)
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            terms = task.losses(model, x)
        total = sum(terms.values())
        values = torch.stack([t.detach().float() for t in [total, *terms.values()]]).tolist()
        optimizer_step(opt, total, scaler)
        sync(device)
        last = values[0]
        now = time.perf_counter()
        times.append(now - t0)
        t0 = now
    return times, last


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256, help="training crop side (the paper's 256)")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--steps", type=int, default=20, help="timed steps per loop")
    ap.add_argument("--warmup", type=int, default=2, help="steps run first and not timed")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--workers", type=int, default=-1, help="percept's loader workers (-1: the trainer's default)")
    ap.add_argument("--data", default=str(SHARED / "data" / "train"))
    ap.add_argument("--style", default=str(SHARED / "data" / "styles" / "mosaic.jpg"))
    ap.add_argument("--no-flip", action="store_true", help="skip the flipped-channels_last variant")
    ap.add_argument("--quick", action="store_true", help="64² crops, batch 2, 3 timed steps after 1 warm-up")
    args = ap.parse_args()
    if args.quick:
        args.size, args.batch, args.steps, args.warmup = 64, 2, 3, 1
    device = resolve_device(args.device)
    opts = StyleOptions(style_image=Path(args.style), data=Path(args.data), name="bench",
                        image_size=args.size, style_size=args.size * 3 // 2,
                        vgg_weights=os.environ.get("PERCEPT_VGG_WEIGHTS",
                                                   str(SHARED / "assets" / "vgg16_features.safetensors")))
    task = StyleTask(opts)
    task.setup(device)
    n = args.steps + args.warmup
    workers = trainer_workers(args.workers)
    dtype = autocast_dtype("auto", device)
    trainer_cl = device.type == "cuda"

    runs = [("plain eager (pytorch/examples loop)", "fp32", "no", "main process",
             *plain_loop(task, args.batch, n, device))]
    variants = [trainer_cl] + ([] if args.no_flip else [not trainer_cl])
    for cl in variants:
        label = "percept trainer step" + ("" if cl == trainer_cl else " (channels_last flipped)")
        runs.append((label, str(dtype or "fp32").replace("torch.", ""), "yes" if cl else "no",
                     f"{workers} worker(s)", *percept_loop(task, args.batch, n, device, workers, cl)))

    print(f"# style training, {args.size}² crops, batch {args.batch}, {args.steps} timed steps after "
          f"{args.warmup} warm-up, device {device}")
    print(f"# {machine_line(machine_info(str(device)))}")
    print("| loop | precision | channels_last | data loading | s/step (median) | images/s | × plain | "
          "loss after last step |")
    print("|---|---|---|---|---|---|---|---|")
    base = None
    for label, precision, cl, loading, times, loss in runs:
        t = Timing(times[args.warmup:] or times).median
        base = base or t
        print(f"| {label} | {precision} | {cl} | {loading} | {t:.3f} | {args.batch / t:.2f} | {base / t:.2f}× | "
              f"{loss:.4g} |")


if __name__ == "__main__":
    main()
