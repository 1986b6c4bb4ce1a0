"""Instance-norm spikes: the mechanism behind the blobs, and a penalty on it.

A network whose every layer is instance-normalised cannot pass on how strong or how bright a whole feature
map is: the normalisation divides it out. Karras et al. (StyleGAN2, 2020) found that generators recover
that freedom with a strong local spike, which dominates a layer's mean and variance and so scales the rest
of the map; the spike shows in the picture as a "droplet". percept's style networks do the same, even with
no style term at all (docs/research/training-log.md), and the spikes sit under the blobs. ``SpikeMonitor`` records the
input of each instance norm during a forward pass; ``spike_penalty`` charges z-scores beyond a threshold,
so a network cannot steer the statistics with a few pixels. It is not part of the paper's objective.
"""

from __future__ import annotations

import torch
from torch import nn

from percept.core.training_defaults import SPIKE_Z


class SpikeMonitor:
    """Collects the inputs of every ``nn.InstanceNorm2d`` of ``model`` while active (``with`` block)."""

    def __init__(self, model: nn.Module):
        self.norms = [m for m in model.modules() if isinstance(m, nn.InstanceNorm2d)]
        self.inputs: list[torch.Tensor] = []
        self._hooks: list = []

    def __enter__(self) -> SpikeMonitor:
        self.inputs.clear()
        self._hooks = [m.register_forward_pre_hook(lambda _m, args: self.inputs.append(args[0]))
                       for m in self.norms]
        return self

    def __exit__(self, *exc) -> None:
        for hook in self._hooks:
            hook.remove()
        self._hooks = []


def z_scores(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """The per-channel z-scores an instance norm computes from its input (N×C×H×W), in float32."""
    x = x.float()
    mean = x.mean(dim=(-2, -1), keepdim=True)
    var = x.var(dim=(-2, -1), keepdim=True, unbiased=False)
    return (x - mean) / torch.sqrt(var + eps)


def spike_penalty(inputs: list[torch.Tensor], threshold: float = SPIKE_Z) -> torch.Tensor:
    """Mean over layers of mean(relu(|z| − threshold)²)."""
    if not inputs:
        raise ValueError("no instance-norm inputs recorded: the spike penalty needs a network with instance norms")
    return torch.stack([torch.relu(z_scores(x).abs() - threshold).pow(2).mean() for x in inputs]).mean()


def largest_spike(inputs: list[torch.Tensor]) -> float:
    """The largest |z| of any recorded instance-norm input (a diagnostic; 0 for none)."""
    return max((float(z_scores(x).abs().max()) for x in inputs), default=0.0)
