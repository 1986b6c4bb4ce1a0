"""FLOP counts of percept's networks (multiply-adds × 2) by tracing conv layers at a given size."""

from __future__ import annotations

import torch
from torch import nn


def count_flops(net: nn.Module, height: int, width: int) -> int:
    """FLOPs of one forward pass on a 1×3×H×W input: convolutions and transposed convolutions only
    (norms, activations and resampling add < 1%)."""
    total = 0

    def conv_hook(mod: nn.Module, inp, out) -> None:
        nonlocal total
        if isinstance(mod, nn.ConvTranspose2d):
            n, cin, h, w = inp[0].shape
            per_in = mod.out_channels // mod.groups * mod.kernel_size[0] * mod.kernel_size[1]
            total += 2 * n * cin * h * w * per_in
        else:
            n, cout, h, w = out.shape
            per_out = mod.in_channels // mod.groups * mod.kernel_size[0] * mod.kernel_size[1]
            total += 2 * n * cout * h * w * per_out

    hooks = [m.register_forward_hook(conv_hook) for m in net.modules()
             if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    was_training = net.training
    try:
        net.eval()
        with torch.no_grad():
            net(torch.zeros(1, 3, height, width))
    finally:
        for h in hooks:
            h.remove()
        net.train(was_training)
    return total


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())
