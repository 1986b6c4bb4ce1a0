"""How often a stylised picture paints blobs: the share of cells whose brightness flipped.

A blob is a patch where the network replaced the photo's brightness with something unrelated (a white
disc in a blue sky, a black hole in snow). Strokes and a new palette move a cell's mean brightness a
little; a blob moves it a lot. So: cut both images into ``cell``² squares and count the squares whose mean
BT.601 luma differs by more than ``threshold`` (on 0..1). The paper's objective cannot see this failure
(see ``losses.flat_region_anchor``), so the style benchmarks report it beside the objective's two terms.
It is a before/after measure for one style: a network whose style legitimately repaints brightness (the
2016 wave reference) scores high without painting blobs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from percept.core.colour import LUMA


def flipped_cells(output: torch.Tensor, content: torch.Tensor, cell: int = 16, threshold: float = 0.4) -> float:
    """Fraction (0..1) of ``cell``² squares of N×3×H×W ``output`` whose mean luma is more than
    ``threshold`` away from ``content``'s."""
    weights = torch.tensor(LUMA, dtype=torch.float32, device=output.device).view(1, 3, 1, 1)
    diff = ((output.float() - content.float()) * weights).sum(1, keepdim=True)
    cells = F.avg_pool2d(diff, cell, ceil_mode=True)
    return float((cells.abs() > threshold).float().mean())


def near_white_share(image: torch.Tensor, threshold: float = 0.94) -> float:
    """Share of pixels whose three channels all exceed ``threshold``: the saturated white patches. Compared
    with the painting's own share it tells a white in the painting's palette from a white the network adds."""
    return float((image.float().amin(dim=-3) > threshold).float().mean())
