"""Padding to a network's size rule and cropping back: the caller's side of the tensor contract."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def padded_size(size: int, multiple: int) -> int:
    """Smallest multiple of ``multiple`` that is >= ``size``."""
    return -(-size // multiple) * multiple


def pad_to_multiple(x: torch.Tensor, multiple: int, min_size: int = 1) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflect-pad the bottom/right of an NCHW batch so H and W are multiples of ``multiple`` and at
    least ``min_size``; returns (padded, (h, w)). Reflection needs pad < size, so tiny inputs fall back
    to replicate padding.
    """
    h, w = x.shape[-2:]
    ph = padded_size(max(h, min_size), multiple) - h
    pw = padded_size(max(w, min_size), multiple) - w
    if ph == 0 and pw == 0:
        return x, (h, w)
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode), (h, w)


def run_padded(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Run ``net`` on any H×W: pad to its size rule, run, crop to exactly ``scale`` × the input size."""
    multiple = int(getattr(net, "size_rule", 1))
    scale = int(getattr(net, "scale", 1))
    padded, (h, w) = pad_to_multiple(x, multiple, int(getattr(net, "min_size", 1)))
    y = net(padded)
    return y[..., : h * scale, : w * scale]
