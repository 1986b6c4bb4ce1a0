"""Shared instance-norm statistics for the PyTorch runtime: forward hooks on the norm modules (the ONNX
runtimes use graph surgery, ``percept.engines.norm_stats``, which explains why tiles share statistics)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from percept.engines.norm_stats import Stats
from percept.train.networks import ImageMean


def torch_norm_layers(net: nn.Module) -> list[nn.Module]:
    """The layers whose statistics tiles share: instance norms, then whole-picture means (in module order)."""
    return ([m for m in net.modules() if isinstance(m, nn.InstanceNorm2d)]
            + [m for m in net.modules() if isinstance(m, ImageMean)])


def _moments(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.float()
    return x.mean(dim=(2, 3)), x.var(dim=(2, 3), unbiased=False)


@contextmanager
def _hooks(layers: Sequence[nn.Module], hook) -> Iterator[None]:
    handles = [m.register_forward_hook(hook) for m in layers]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def measure_torch(run: Callable[[torch.Tensor], object], layers: list[nn.Module], x: torch.Tensor) -> Stats:
    """Statistics of every layer while ``run`` processes the one-image batch ``x``."""
    found: dict[nn.Module, tuple[np.ndarray, np.ndarray]] = {}

    def record(module, inputs, output):
        mean, var = _moments(inputs[0])
        found[module] = (mean[0].cpu().numpy(), var[0].cpu().numpy())

    with _hooks(layers, record):
        run(x)
    return [found[m] for m in layers]


@contextmanager
def imposed_torch(layers: list[nn.Module], per_item: Sequence[Stats | None]) -> Iterator[None]:
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
                mean[n], var[n] = torch.as_tensor(np.asarray(m), device=mean.device), \
                    torch.as_tensor(np.asarray(v), device=var.device)
        if isinstance(module, ImageMean):
            return mean[:, :, None, None].to(output.dtype)
        y = (x.float() - mean[:, :, None, None]) * torch.rsqrt(var[:, :, None, None] + module.eps)
        if module.affine:
            y = y * module.weight.float()[None, :, None, None] + module.bias.float()[None, :, None, None]
        return y.to(output.dtype)

    with _hooks(layers, replace):
        yield
