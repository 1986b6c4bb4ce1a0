"""The floor on this machine: how fast each network could possibly run, from its FLOPs and memory traffic.

For every network of ``flops_table.py`` and output size: FLOPs per image (``percept.train.flops``), activation
traffic per image (each layer reading its input and writing its output once, plus the weights: what an
unfused eager pass moves when activations do not stay in cache), and two lower bounds on the time per
image — compute (FLOPs ÷ the measured peak of a large matrix product) and memory (traffic ÷ the measured
bandwidth of a large tensor copy). The larger bound is the floor; ``bound`` says which one. fp32 and bf16
(half the bytes, bf16 matmul peak) are both shown. ``--measure`` also times PyTorch FP32 eager and
prints how far above the floor it is (slow: SRNet ×8 at 1024² is ~9 TFLOP).

    python benchmarks/roofline.py [--sizes 256 512 1024] [--matmul-n 4096] [--copy-mib 1024] [--measure]
    python benchmarks/roofline.py --quick          # small matmul/copy, 64² and 128²: checks the script
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flops_table import ROWS  # noqa: E402

from percept.engines.select import resolve_device  # noqa: E402
from percept.engines.timing import (  # noqa: E402
    machine_info,
    machine_line,
    measure,
    memory_bandwidth_gbs,
    peak_matmul_gflops,
)
from percept.train.devices import cpu_supports_bf16  # noqa: E402
from percept.train.flops import network_cost  # noqa: E402
from percept.train.sizing import run_padded  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024], help="output sides in pixels")
    ap.add_argument("--matmul-n", type=int, default=4096, help="side of the matrices of the peak-FLOP/s product")
    ap.add_argument("--copy-mib", type=int, default=1024, help="size of the tensor copied for the bandwidth")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--device", default="cpu", help="cpu or cuda[:N] (the GPU's peaks and, with --measure, times)")
    ap.add_argument("--measure", action="store_true", help="also time PyTorch FP32 eager per network and size")
    ap.add_argument("--quick", action="store_true", help="64² and 128², 512² matmul, 64 MiB copy")
    args = ap.parse_args()
    if args.quick:
        args.sizes, args.matmul_n, args.copy_mib = [64, 128], 512, 64
    torch.set_num_threads(args.threads)

    device = resolve_device(args.device)
    fp32 = peak_matmul_gflops(torch.float32, args.matmul_n, device)
    bf16 = peak_matmul_gflops(torch.bfloat16, args.matmul_n, device)
    bw = memory_bandwidth_gbs(args.copy_mib, device)
    print(f"# {machine_line(machine_info(device))}, device {device}")
    print(f"# peak: fp32 matmul {fp32:.0f} GFLOP/s, bf16 matmul {bf16:.0f} GFLOP/s "
          f"(CPU native bf16: {'yes' if cpu_supports_bf16() else 'no'}; {args.matmul_n}² product), "
          f"copy bandwidth {bw:.1f} GB/s ({args.copy_mib} MiB, read + write)")
    head = ("| network | options | size | GFLOP/img | MB/img fp32 | compute ms fp32 | memory ms fp32 "
            "| floor img/s fp32 | compute ms bf16 | memory ms bf16 | floor img/s bf16 | bound fp32 |")
    sep = "|---" * 12 + "|"
    if args.measure:
        head += " eager fp32 ms | × floor |"
        sep += "---|---|"
    print(head)
    print(sep)
    for name, opts, net in ROWS:
        net.eval()
        scale = int(net.scale)
        for size in args.sizes:
            side = max(1, size // scale)
            cost = network_cost(net, side, side)
            gflop = cost.flops / 1e9
            mb32, mb16 = cost.activation_bytes(4) / 1e6, cost.activation_bytes(2) / 1e6
            c32, m32 = 1000 * gflop / fp32, mb32 / bw  # MB / (GB/s) = ms
            c16, m16 = 1000 * gflop / bf16, mb16 / bw
            floor32, floor16 = max(c32, m32), max(c16, m16)
            line = (f"| {name} | {opts} | {size}² | {gflop:.1f} | {mb32:.0f} | {c32:.1f} | {m32:.1f} | "
                    f"{1000 / floor32:.2f} | {c16:.1f} | {m16:.1f} | {1000 / floor16:.2f} | "
                    f"{'compute' if c32 >= m32 else 'memory'} |")
            if args.measure:
                x = torch.rand(1, 3, side, side, device=device)
                net.to(device)
                with torch.inference_mode():
                    timing, _ = measure(lambda net=net, x=x: run_padded(net, x), warmup=1,
                                        repeats=3 if size < 1024 else 1, device=device)
                ms = 1000 * timing.median
                line += f" {ms:.1f} | {ms / floor32:.1f}× |"
            print(line, flush=True)


if __name__ == "__main__":
    main()
