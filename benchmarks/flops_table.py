"""Print parameter counts, convolutions and FLOPs of every network at 256² and 512² output (docs/NETWORKS.md)."""

from torch import nn

from percept.train.flops import count_flops, count_parameters
from percept.train.networks import SRNet, SubPixelSR, TransformNet

ROWS = [
    ("TransformNet (style)", "instance norm, resize-conv", "every style", TransformNet()),
    ("TransformNet (style)", "transposed (paper's fractional stride)", "–", TransformNet(upsample="transposed")),
    ("TransformNet (style)", "+ exposure path (`train-style`'s default)", "–", TransformNet(exposure_path=True)),
    ("SRNet ×4", "pixel-shuffle, 64 channels", "–", SRNet(4)),
    ("SRNet ×8", "pixel-shuffle, 64 channels", "sr-x8-pixel", SRNet(8)),
    ("SubPixelSR ×4", "64 channels, `--convs 8`", "sr-x4-pixel, sr-x4-feature, sr-x4-real", SubPixelSR(4, 64, 8)),
    ("SubPixelSR ×2", "48 channels, `--convs 6`", "sr-x2-pixel, sr-x2-real", SubPixelSR(2, 48, 6)),
]

if __name__ == "__main__":
    print("| network | options | shipped as | parameters | convolutions | GFLOPs @ 256² | GFLOPs @ 512² |")
    print("|---|---|---|---|---|---|---|")
    for name, opts, shipped, net in ROWS:
        s = int(net.scale)
        g = [count_flops(net, size // s, size // s) / 1e9 for size in (256, 512)]
        convs = sum(isinstance(m, nn.Conv2d | nn.ConvTranspose2d) for m in net.modules())
        if s > 1:
            opts += f" (input {256 // s}² / {512 // s}²)"
        print(f"| {name} | {opts} | {shipped} | {count_parameters(net):,} | {convs} | {g[0]:.2f} | {g[1]:.2f} |")
