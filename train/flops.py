"""FLOP counts and activation traffic of percept's networks, by tracing layers at a given size.

The trace runs on a weight-free copy of the network on PyTorch's ``meta`` device (shapes only), so counting
a 1024² pass is instant; networks with a layer that has no meta kernel fall back to a real CPU pass.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class Cost:
    """One forward pass on a 1×3×H×W input.

    ``flops``: convolutions and transposed convolutions (multiply-adds × 2; norms, activations and
    resampling add < 1%). ``activation_elements``: what the leaf layers read and write, summed (each layer
    reads its input and writes its output once, as eager execution does); × bytes per element gives the
    minimum memory traffic of an unfused pass when activations do not stay in cache.
    """

    flops: int
    activation_elements: int
    parameters: int

    def activation_bytes(self, bytes_per_element: int = 4) -> int:
        return self.activation_elements * bytes_per_element + self.parameters * bytes_per_element


def _leaves(net: nn.Module) -> list[nn.Module]:
    return [m for m in net.modules() if not list(m.children())]


def _trace(net: nn.Module, height: int, width: int, device: str) -> tuple[int, int]:
    flops = elements = 0

    def hook(mod: nn.Module, inp, out) -> None:
        nonlocal flops, elements
        x = inp[0] if inp and isinstance(inp[0], torch.Tensor) else None
        if isinstance(out, torch.Tensor):
            elements += out.numel() + (x.numel() if x is not None else 0)
        if isinstance(mod, nn.ConvTranspose2d) and x is not None:
            n, cin, h, w = x.shape
            per_in = mod.out_channels // mod.groups * mod.kernel_size[0] * mod.kernel_size[1]
            flops += 2 * n * cin * h * w * per_in
        elif isinstance(mod, nn.Conv2d):
            n, cout, h, w = out.shape
            per_out = mod.in_channels // mod.groups * mod.kernel_size[0] * mod.kernel_size[1]
            flops += 2 * n * cout * h * w * per_out

    hooks = [m.register_forward_hook(hook) for m in _leaves(net)]
    try:
        with torch.no_grad():
            net(torch.zeros(1, 3, height, width, device=device))
    finally:
        for h in hooks:
            h.remove()
    return flops, elements


def network_cost(net: nn.Module, height: int, width: int) -> Cost:
    """FLOPs, activation elements and parameter count of one forward pass at H×W (input pixels)."""
    params = count_parameters(net)
    try:
        ghost = copy.deepcopy(net).to("meta").eval()
        flops, elements = _trace(ghost, height, width, "meta")
    except (NotImplementedError, RuntimeError):
        was_training = net.training
        try:
            net.eval()
            flops, elements = _trace(net, height, width, "cpu")
        finally:
            net.train(was_training)
    return Cost(int(flops), int(elements), params)


def count_flops(net: nn.Module, height: int, width: int) -> int:
    """FLOPs of one forward pass on a 1×3×H×W input: convolutions and transposed convolutions only
    (norms, activations and resampling add < 1%)."""
    return network_cost(net, height, width).flops


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())
