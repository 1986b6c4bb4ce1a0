"""Model-only throughput of the style network per backend and precision on this machine (CPU).

Times ``Runtime.run`` on one batch (no image decoding or saving) after warm-up and reports the median of
repeats as images/s, ms/image and GFLOP/s (``train.flops.count_flops``), with the ratio to PyTorch FP32
eager. Reduced-precision outputs are compared with PyTorch FP32 (max/mean absolute difference, images in
[0, 1]). A full run (256², 512², 1024², batch 1) takes a few minutes on 2 cores.

    python benchmarks/backends.py [--sizes 256 512 1024] [--batch 1] [--threads N] [--model FILE]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engines.availability import cpu_supports_bf16  # noqa: E402
from engines.export import export_network  # noqa: E402
from engines.ort_runtime import OrtRuntime  # noqa: E402
from engines.torch_runtime import TorchRuntime  # noqa: E402
from train.checkpoint import describe, load_model  # noqa: E402
from train.flops import count_flops  # noqa: E402
from train.networks import TransformNet  # noqa: E402


def repeats_for(size: int) -> tuple[int, int]:
    """(warm-up runs, timed runs): fewer at 1024², where one image takes seconds on a small CPU."""
    return (1, 3) if size >= 1024 else (2, 5)


def time_runtime(rt, x: torch.Tensor, warmup: int, repeats: int) -> tuple[float, torch.Tensor]:
    for _ in range(warmup):
        out = rt.run(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = rt.run(x)
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--model", help="percept style model file (default: a seeded random TransformNet)")
    parser.add_argument("--no-ort-fp16", action="store_true", help="skip onnxruntime FP16")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    if args.model:
        net, info = load_model(args.model)
    else:
        torch.manual_seed(0)
        net = TransformNet().eval()
        info = describe(net, "random-style")
    tmp = Path(tempfile.mkdtemp(prefix="percept-bench-"))
    export_network(net, info, tmp / "fp32.onnx", check=False)
    runtimes = [("torch", "fp32", TorchRuntime(net, info, "cpu", "fp32"))]
    if cpu_supports_bf16():
        runtimes.append(("torch", "bf16 autocast", TorchRuntime(net, info, "cpu", "bf16")))
    runtimes.append(("onnxruntime", "fp32", OrtRuntime(tmp / "fp32.onnx", threads=args.threads)))
    if not args.no_ort_fp16:
        export_network(net, info, tmp / "fp16.onnx", fp16=True, check=False)
        runtimes.append(("onnxruntime", "fp16 graph", OrtRuntime(tmp / "fp16.onnx", threads=args.threads)))

    print(f"# style net (TransformNet), batch {args.batch}, {args.threads} threads, torch {torch.__version__}, "
          f"CPU bf16: {'yes' if cpu_supports_bf16() else 'no'}")
    print("| size | backend | precision | images/s | ms/image | GFLOP/s | × torch fp32 | max abs diff "
          "| mean abs diff |")
    print("|---|---|---|---|---|---|---|---|---|")
    gen = torch.Generator().manual_seed(0)
    for size in args.sizes:
        x = torch.rand(args.batch, 3, size, size, generator=gen)
        gflop = count_flops(net, size, size) / 1e9 * args.batch
        warmup, repeats = repeats_for(size)
        base_t, ref = None, None
        for backend, precision, rt in runtimes:
            t, out = time_runtime(rt, x, warmup, repeats)
            if base_t is None:
                base_t, ref = t, out
            diff = (out - ref).abs()
            print(f"| {size}² | {backend} | {precision} | {args.batch / t:.2f} | {1000 * t / args.batch:.0f} | "
                  f"{gflop / t:.0f} | {base_t / t:.2f} | {diff.max().item():.2e} | {diff.mean().item():.2e} |",
                  flush=True)


if __name__ == "__main__":
    main()
