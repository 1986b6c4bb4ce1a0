"""Print parameter counts and FLOPs of every network at 256² and 512² output (docs/NETWORKS.md)."""

from percept.train.flops import count_flops, count_parameters
from percept.train.networks import SRNet, TransformNet

ROWS = [
    ("TransformNet (style)", "instance norm, resize-conv", TransformNet()),
    ("TransformNet (style)", "transposed (paper's fractional stride)", TransformNet(upsample="transposed")),
    ("SRNet ×4", "pixel-shuffle", SRNet(4)),
    ("SRNet ×8", "pixel-shuffle", SRNet(8)),
]

if __name__ == "__main__":
    print("| network | options | parameters | GFLOPs @ 256² | GFLOPs @ 512² |")
    print("|---|---|---|---|---|")
    for name, opts, net in ROWS:
        s = int(net.scale)
        g = [count_flops(net, size // s, size // s) / 1e9 for size in (256, 512)]
        print(f"| {name} | {opts} | {count_parameters(net):,} | {g[0]:.2f} | {g[1]:.2f} |")
