"""Model-only speed of the SR networks against the paper's ×4 network, PyTorch eager fp32, same process.

    python benchmarks/sr_networks.py [--size 256] [--repeats 3]

The paper's network (×2 stages by transposed convolution, 9×9 tail at full resolution, no skip) is the
baseline; random weights, since speed does not depend on them.
"""

from __future__ import annotations

import argparse
import time

import torch

from percept.train.flops import count_flops
from percept.train.networks import SRNet, SubPixelSR


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=256, help="input side (output is scale × larger)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    nets = [("paper's ×4 (SRNet, transposed, no skip)", SRNet(4, upsample="transposed", global_skip=False)),
            ("SRNet ×4 (pixel shuffle, skip)", SRNet(4)), ("SubPixelSR ×4 (48 ch, 6 convs)", SubPixelSR(4)),
            ("SubPixelSR ×2", SubPixelSR(2)), ("SubPixelSR ×8", SubPixelSR(8))]
    x = torch.rand(1, 3, args.size, args.size)
    print(f"{args.size}² input, {torch.get_num_threads()} threads, mean of {args.repeats} after 1 warm-up")
    print(f"{'network':<42}{'ms':>8}{'GFLOP':>8}{'× paper':>9}")
    base = None
    for name, net in nets:
        net.eval()
        with torch.inference_mode():
            net(x)
            t0 = time.perf_counter()
            for _ in range(args.repeats):
                net(x)
            ms = (time.perf_counter() - t0) / args.repeats * 1000
        base = base or ms
        print(f"{name:<42}{ms:>8.0f}{count_flops(net, args.size, args.size) / 1e9:>8.1f}{base / ms:>8.1f}×")


if __name__ == "__main__":
    main()
