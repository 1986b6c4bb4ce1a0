"""Shared instance-norm statistics for tiled style transfer.

Why: style networks normalise every feature map with its own mean and variance (instance norm). Cut a
photo into tiles and each tile gets different statistics, so neighbouring tiles disagree in contrast and
colour and the seams show even through a feathered blend. Here the statistics of every instance-norm layer
are measured once on a downscaled copy of the whole image (small enough to run in one piece) and then
imposed on every tile, so all tiles are normalised alike and agree where they overlap.

This needs the network's modules, so it works with the PyTorch runtime; other backends tile with
per-tile statistics (large tiles and a wide overlap keep seams faint there).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

Stats = list[tuple[torch.Tensor, torch.Tensor]]  # per layer: (mean, var), each C floats


def norm_layers(runtime: object) -> list[nn.InstanceNorm2d]:
    """Instance-norm layers of a runtime's network (empty when it has none or is not a torch runtime)."""
    net = getattr(runtime, "net", None)
    if not isinstance(net, nn.Module):
        return []
    return [m for m in net.modules() if isinstance(m, nn.InstanceNorm2d)]


def _moments(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.float()
    mean = x.mean(dim=(2, 3))
    var = x.var(dim=(2, 3), unbiased=False)
    return mean, var


@contextmanager
def _hooks(layers: Sequence[nn.Module], hook) -> Iterator[None]:
    handles = [m.register_forward_hook(hook) for m in layers]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def measure(runtime, layers: list[nn.InstanceNorm2d], image: torch.Tensor, max_side: int) -> Stats:
    """Statistics of every layer for ``image`` (3×H×W) downscaled so its longer side is at most ``max_side``."""
    from percept.train.sizing import pad_to_multiple

    h, w = image.shape[-2:]
    factor = min(1.0, max_side / max(h, w))
    x = image[None]
    if factor < 1.0:
        size = (max(1, round(h * factor)), max(1, round(w * factor)))
        x = F.interpolate(x, size=size, mode="area")
    x, _ = pad_to_multiple(x, int(runtime.size_rule), int(runtime.min_size))
    found: dict[nn.Module, tuple[torch.Tensor, torch.Tensor]] = {}

    def record(module, inputs, output):
        mean, var = _moments(inputs[0])
        found[module] = (mean[0].cpu(), var[0].cpu())

    with _hooks(layers, record):
        runtime.run(x)
    return [found[m] for m in layers]


@contextmanager
def imposed(layers: list[nn.InstanceNorm2d], per_item: Sequence[Stats | None]) -> Iterator[None]:
    """While active, batch item ``i`` is normalised with ``per_item[i]`` (None: its own statistics)."""
    if not layers or all(s is None for s in per_item):
        yield
        return
    index = {m: i for i, m in enumerate(layers)}

    def replace(module, inputs, output):
        x = inputs[0]
        mean, var = _moments(x)
        for n, stats in enumerate(per_item):
            if stats is not None:
                m, v = stats[index[module]]
                mean[n], var[n] = m.to(mean.device), v.to(var.device)
        y = (x.float() - mean[:, :, None, None]) * torch.rsqrt(var[:, :, None, None] + module.eps)
        if module.affine:
            y = y * module.weight.float()[None, :, None, None] + module.bias.float()[None, :, None, None]
        return y.to(output.dtype)

    with _hooks(layers, replace):
        yield
