"""How visible a JPEG block grid is in an image: the jump across the grid's lines against the jumps elsewhere.

An upscaler fed a JPEG sees 8×8 blocks; a network that sharpens them draws their edges as a grid every
8 × scale output pixels. LPIPS can miss a faint regular grid, so ``eval-sr`` also reports this figure:
the mean absolute luma step across grid lines (both directions) divided by the mean step at the other
block-internal positions with the same sub-pixel phase (between LR pixels: every ``scale`` px), so the
interpolation's own period-``scale`` pattern cancels out. A photo without a grid scores about 1;
``relative_blockiness`` divides an output's score by its ground truth's: 1.00 is "no more grid than the truth".
"""

from __future__ import annotations

import torch

from percept.train.metrics import rgb_to_y


def _steps_by_phase(y: torch.Tensor, period: int, dim: int) -> torch.Tensor:
    """Mean |step| between neighbours along ``dim`` for each phase 0..period-1 (phase p: between p and p+1)."""
    steps = (y.narrow(dim, 1, y.shape[dim] - 1) - y.narrow(dim, 0, y.shape[dim] - 1)).abs()
    per_position = steps.mean(dim=-1 if dim == -2 else -2)
    phases = torch.arange(per_position.shape[-1], device=y.device) % period
    return torch.zeros(period, dtype=per_position.dtype, device=y.device).index_add_(0, phases, per_position) / \
        torch.bincount(phases, minlength=period).clamp(min=1).to(per_position.dtype)


def blockiness(image: torch.Tensor, scale: int = 1, block: int = 8) -> float:
    """Step across the grid lines of ``block``-px LR blocks (every ``block × scale`` output px from the
    top-left) over the mean step between the other LR pixels inside the blocks."""
    period = block * scale
    if image.shape[-3] == 3:
        y = rgb_to_y(image)
    else:
        y = image[..., 0, :, :].double() * 255
    ratios = []
    for dim in (-1, -2):
        if y.shape[dim] <= 2 * period:
            continue
        phases = _steps_by_phase(y, period, dim)
        inside = phases[scale - 1: period - 1: scale]  # between LR pixels, not across a block edge
        ratios.append(float(phases[period - 1] / inside.mean().clamp(min=1e-6)))
    return sum(ratios) / len(ratios) if ratios else 1.0


def relative_blockiness(output: torch.Tensor, truth: torch.Tensor, scale: int) -> float:
    """``blockiness(output) / blockiness(truth)``: 1.00 is no more grid than the ground truth has."""
    return blockiness(output, scale) / max(blockiness(truth, scale), 1e-6)
