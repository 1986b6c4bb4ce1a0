"""Re-parameterisable convolutions: several branches while training, one plain 3×3 convolution when saved.

Why: a deeper or wider body costs inference time on every photo; extra *linear* branches beside a 3×3
convolution change how training moves the weights (products of parameters, edge detectors learnt as scales)
and then fold into that one convolution exactly, so the shipped network is as cheap as before (ECBSR, Zhang
et al. 2021). Branches here: the 3×3 itself, a 1×1, and three "1×1, then a fixed edge filter scaled per
channel" branches (Sobel x, Sobel y, Laplacian). The input is reflection-padded once; a 1×1 convolution
commutes with that padding, so the folded 3×3 on the padded input is the sum of the branches to rounding.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

EDGE_FILTERS = torch.tensor([
    [[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]],  # Sobel x
    [[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -1.0]],  # Sobel y
    [[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]],  # Laplacian
])


class RepConv3x3(nn.Module):
    """A reflection-padded 3×3 convolution trained as a sum of branches; ``fold()`` gives its plain weights.

    Every branch but the 3×3 starts at zero, so a network whose 3×3 weights come from a trained plain network
    computes exactly what that network did at its first step."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.pad = nn.ReflectionPad2d(1)
        self.conv = nn.Conv2d(cin, cout, 3)
        self.point = nn.Conv2d(cin, cout, 1)
        self.edge_in = nn.Conv2d(cin, cout * len(EDGE_FILTERS), 1)
        self.edge_scale = nn.Parameter(torch.zeros(len(EDGE_FILTERS), cout))
        self.edge_bias = nn.Parameter(torch.zeros(len(EDGE_FILTERS), cout))
        self.register_buffer("filters", EDGE_FILTERS.clone(), persistent=False)
        # The point branch and the edge scales start at zero; the edge 1×1s start random, or scale and 1×1 would
        # sit at a saddle (each one's gradient is the other's value) and the edge branches would never learn.
        nn.init.zeros_(self.point.weight)
        nn.init.zeros_(self.point.bias)
        nn.init.zeros_(self.edge_in.bias)

    def _edge_kernels(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The edge branches as one 3×3 kernel and bias: scale_e[c] · filter_e ⊗ W_e[c, :], summed over e."""
        cout, cin = self.conv.out_channels, self.conv.in_channels
        e = len(EDGE_FILTERS)
        w = self.edge_in.weight.view(e, cout, cin)
        b = self.edge_in.bias.view(e, cout)
        kernel = torch.einsum("ec,eci,ekl->cikl", self.edge_scale, w, self.filters)
        # the 1×1's bias is constant over the padded window: the filter sums it (Sobel and Laplacian sum to 0)
        bias = (self.edge_scale * (b * self.filters.sum(dim=(1, 2))[:, None] + self.edge_bias)).sum(0)
        return kernel, bias

    def fold(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The one 3×3 weight and bias that compute what all branches compute together."""
        kernel, bias = self._edge_kernels()
        kernel = kernel + self.conv.weight + F.pad(self.point.weight, (1, 1, 1, 1))
        return kernel, bias + self.conv.bias + self.point.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The branches are linear in the input, so their sum is the folded kernel's convolution: computing it
        # so gives the same output and the same gradients for every branch's parameters at one 3×3's cost.
        weight, bias = self.fold()
        return F.conv2d(self.pad(x), weight, bias)

    def branch_sum(self, x: torch.Tensor) -> torch.Tensor:
        """The branches computed one by one (what ``fold`` must equal; the tests compare them)."""
        padded = self.pad(x)
        y = self.conv(padded) + self.point(x)
        e, cout = len(EDGE_FILTERS), self.conv.out_channels
        z = self.edge_in(padded)  # 1×1 on the padded input, then each channel's fixed filter
        filters = self.filters.repeat_interleave(cout, dim=0)[:, None]  # (e·cout, 1, 3, 3)
        edges = F.conv2d(z, filters, groups=e * cout).view(x.shape[0], e, cout, *y.shape[-2:])
        scale = self.edge_scale.view(1, e, cout, 1, 1)
        return y + (scale * (edges + self.edge_bias.view(1, e, cout, 1, 1))).sum(1)
