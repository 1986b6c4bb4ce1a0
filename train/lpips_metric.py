"""LPIPS (Zhang et al. 2018), VGG variant, with percept's VGG-16 weights: no download.

The ``lpips`` package (``pip install 'percept[eval]'``) ships its learned linear heads; its VGG backbone
would come from torchvision's download, so the backbone is built empty and filled from the same VGG-16
file the losses use (``--vgg-weights`` / ``$PERCEPT_VGG_WEIGHTS`` / torchvision's cache). Lower is better:
0 for identical pictures, about 0.1 for a good ×4 result on a clean photo.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable

import torch

from percept.core.extras import install_hint
from percept.train.vgg import load_vgg_state

LPIPSFn = Callable[[torch.Tensor, torch.Tensor], float]
SLICES = ((0, 4), (4, 9), (9, 16), (16, 23), (23, 30))  # lpips.pretrained_networks.vgg16's slice1..5


class LPIPSUnavailable(RuntimeError):
    """The ``lpips`` package is not installed."""


def load_lpips(vgg_weights: str | os.PathLike | None = None, device: str | torch.device = "cpu") -> LPIPSFn:
    """A function ``(output, truth) -> LPIPS`` on CHW [0, 1] images."""
    try:
        import lpips
    except ImportError:
        raise LPIPSUnavailable(f"LPIPS needs the lpips package: {install_hint('eval')}") from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchvision's deprecated ``pretrained`` argument
        model = lpips.LPIPS(net="vgg", pnet_rand=True, verbose=False)
    state, _ = load_vgg_state(vgg_weights, last=29)
    net = model.net
    for n, (start, stop) in enumerate(SLICES, 1):
        part = getattr(net, f"slice{n}")
        wanted = {k: v for k, v in state.items() if start <= int(k.split(".")[0]) < stop}
        part.load_state_dict(wanted, strict=True)
    model = model.to(device).eval()

    @torch.no_grad()
    def distance(output: torch.Tensor, truth: torch.Tensor) -> float:
        a = output[None].to(device) * 2 - 1
        b = truth[None].to(device) * 2 - 1
        return float(model(a, b).flatten()[0])

    return distance
