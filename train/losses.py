"""The paper's loss functions (Johnson et al. 2016, §3.1–3.3), per image and averaged over the batch.

- feature reconstruction: ‖φ_j(ŷ) − φ_j(y)‖²₂ / (C_j H_j W_j)
- Gram matrix:            G_j(x) = ψ ψᵀ / (C_j H_j W_j), ψ the C_j × H_jW_j reshaped activations
- style reconstruction:   Σ_j ‖G_j(ŷ) − G_j(y)‖²_F over the style layers
- pixel:                  ‖ŷ − y‖²₂ / (C H W)
- total variation:        Σ (ŷ_{i,j+1} − ŷ_{i,j})² + (ŷ_{i+1,j} − ŷ_{i,j})²   (Mahendran & Vedaldi, β = 2)
- flat-region anchor (percept's, not the paper's): see ``flat_region_anchor``

The modules wrap them with a weight, BasicSR-style, so a trainer is a weighted sum of named terms.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from percept.core.colour import LUMA


def squared_error(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Squared L2 distance normalised by C·H·W, mean over the batch: the paper's feature loss on VGG activations
    and its pixel loss on images."""
    return (pred - target).float().pow(2).mean()


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """N×C×H×W → N×C×C Gram matrices normalised by C·H·W (computed in float32 for stability)."""
    n, c, h, w = features.shape
    psi = features.float().reshape(n, c, h * w)
    return psi @ psi.transpose(1, 2) / (c * h * w)


def tiled_gram_matrix(features: torch.Tensor, tiles: int) -> torch.Tensor:
    """N×C×H×W → (N·tiles²)×C×C Gram matrices of a tiles×tiles grid of equal regions (remainder dropped).

    Why: a global Gram can be matched by a network that leaves a sky flat (or paints a blob there) and
    puts extra texture elsewhere; matched per region, every part of the picture must carry the painting's
    statistics. With ``tiles`` 1 this is ``gram_matrix``."""
    if tiles <= 1:
        return gram_matrix(features)
    n, c, h, w = features.shape
    th, tw = h // tiles, w // tiles
    if th < 1 or tw < 1:
        raise ValueError(f"{tiles}×{tiles} style tiles need features of at least {tiles}² px, not {h}×{w}")
    x = features[..., : th * tiles, : tw * tiles].reshape(n, c, tiles, th, tiles, tw)
    x = x.permute(0, 2, 4, 1, 3, 5).reshape(n * tiles * tiles, c, th, tw)
    return gram_matrix(x)


def grid_loss(output: torch.Tensor, target: torch.Tensor, scale: int, window: int = 4) -> torch.Tensor:
    """Mean square of the error's sub-pixel phase pattern: the part of ``output − target`` that depends on
    the pixel's position modulo ``scale``, averaged over ``window``×``window`` blocks of ``scale``² pixels.

    Why: a pixel shuffle paints each of the ``scale``² phases with its own filter, and a feature loss hardly
    sees a faint pattern locked to them, so feature-loss SR nets learn a cross-hatch that pixel MSE is too
    weak to remove (a 3-level pattern costs ~1e-4). This term prices exactly that pattern and nothing else:
    an error that is the same on every phase of a block costs nothing. ``window`` 0 averages over the whole
    image: small blocks also price a sharp edge placed a pixel off (its error sits on a few phases), which
    pulls edges towards blur; a hatch repeats over the whole image, an edge's error does not."""
    err = (output - target).float()
    b, c, h, w = err.shape
    hb, wb = h // scale, w // scale
    err = err[..., : hb * scale, : wb * scale].reshape(b, c, hb, scale, wb, scale)
    err = err.permute(0, 1, 3, 5, 2, 4).reshape(b, c * scale * scale, hb, wb)
    k = min(hb, wb) if window <= 0 else max(1, min(window, hb, wb))
    local = nn.functional.avg_pool2d(err, k).reshape(b, c, scale * scale, hb // k, wb // k)
    return (local - local.mean(dim=2, keepdim=True)).pow(2).mean()


def laplacian(img: torch.Tensor, padding: int = 0) -> torch.Tensor:
    """Per-channel 4-neighbour Laplacian of an N×C×H×W image (float32): its finest detail."""
    c = img.shape[1]
    lap = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]], device=img.device)
    return nn.functional.conv2d(img.float(), lap.expand(c, 1, 3, 3), padding=padding, groups=c)


def local_detail_energy(img: torch.Tensor, window: int = 8) -> torch.Tensor:
    """Per-channel mean square of the image's Laplacian over ``window``² neighbourhoods (stride 1/2 window)."""
    return nn.functional.avg_pool2d(laplacian(img).pow(2), window, stride=max(1, window // 2))


def speckle_loss(output: torch.Tensor, target: torch.Tensor, window: int = 8, tolerance: float = 2.0) -> torch.Tensor:
    """Fine detail the output has beyond the ground truth's, neighbourhood by neighbourhood: mean of
    relu(E_out − tolerance · E_target), E the local energy of the Laplacian.

    Why: VGG's relu2_2 hardly tells fine noise from texture, so a feature-loss SR model sprinkles a 2–4 px
    speckle over flat areas (sky, skin) to raise its activations there. Where the truth is textured, the
    output may carry up to ``tolerance`` times its detail energy for free (texture of its own, not a copy),
    and a blurred output costs nothing, so the term removes speckle without pulling edges towards blur."""
    excess = local_detail_energy(output, window) - tolerance * local_detail_energy(target, window)
    return torch.relu(excess).mean()


def blur_loss(output: torch.Tensor, target: torch.Tensor, window: int = 8, floor: float = 0.5) -> torch.Tensor:
    """Fine detail the output lacks, neighbourhood by neighbourhood: mean of relu(floor · E_target − E_out),
    E the local energy of the Laplacian (the counterpart of ``speckle_loss``).

    Why: pixel MSE is minimised by the average of the plausible images, which has far less fine detail than
    any of them (a pixel-loss ×4 has ~0.6 of the truth's gradient energy), and relu2_2 pays little for it.
    This term asks for detail where the truth has some, in any place within the neighbourhood, so a
    model can draw texture without betting on its exact position."""
    deficit = floor * local_detail_energy(target, window) - local_detail_energy(output, window)
    return torch.relu(deficit).mean()


def palette_directions(count: int = 32, seed: int = 0) -> torch.Tensor:
    """3×count unit directions in RGB to project colours on: the three channel axes, luma, and seeded random
    ones (a sliced Wasserstein distance needs many slices to tell colour distributions apart)."""
    g = torch.Generator().manual_seed(seed)
    fixed = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], list(LUMA)])
    rand = torch.randn(max(0, count - len(fixed)), 3, generator=g)
    dirs = torch.cat([fixed, rand])[:count]
    return (dirs / dirs.norm(dim=1, keepdim=True)).T.contiguous()


def sorted_palette(image: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """The painting's colours projected on ``directions`` and sorted: N×K quantiles for ``palette_loss``."""
    pixels = image.float().reshape(3, -1).T if image.dim() == 3 else image.float()[0].reshape(3, -1).T
    return (pixels @ directions.to(pixels)).sort(dim=0).values


def palette_loss(output: torch.Tensor, palette: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """Sliced Wasserstein distance between each output's pixel colours and the painting's, mean over the batch.

    Why: Gram matrices constrain products of activations, not their distribution (Risser et al. 2017), so a
    network can meet them with a few extreme pixels — saturated white patches in colours the painting never
    uses. Matching the sorted projections (quantiles) of the colours makes an out-of-palette patch cost what
    it looks like."""
    b, c, h, w = output.shape
    proj = output.float().reshape(b, c, h * w).transpose(1, 2) @ directions.to(output.device, torch.float32)
    idx = torch.linspace(0, palette.shape[0] - 1, h * w, device=output.device).round().long()
    return (proj.sort(dim=1).values - palette.to(output.device)[idx]).pow(2).mean()


def style_loss(pred_grams: Mapping[str, torch.Tensor], target_grams: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Sum over layers of the squared Frobenius norm of Gram differences, mean over the batch.

    ``target_grams`` may hold a single style (batch 1): it is broadcast over the batch.
    """
    total = None
    for name, g in pred_grams.items():
        diff = (g - target_grams[name]).pow(2).sum(dim=(1, 2)).mean()
        total = diff if total is None else total + diff
    if total is None:
        raise ValueError("style_loss needs at least one layer")
    return total


def charbonnier_loss(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """√((x − y)² + ε²), mean: an L1 loss that stays smooth at zero. Why beside MSE: MSE spends the network on
    the few large errors (edges) and leaves texture smooth; L1-like losses give PSNR-oriented SR sharper
    detail at the same PSNR (EDSR, BasicSR's L1/Charbonnier)."""
    return torch.sqrt((pred - target).float().pow(2) + eps * eps).mean()


def l1_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (pred - target).float().abs().mean()


PIXEL_LOSSES = {"mse": squared_error, "l1": l1_loss, "charbonnier": charbonnier_loss}


def total_variation(img: torch.Tensor) -> torch.Tensor:
    """Sum of squared horizontal and vertical neighbour differences per image, mean over the batch."""
    img = img.float()
    dx = (img[..., :, 1:] - img[..., :, :-1]).pow(2).sum(dim=(1, 2, 3))
    dy = (img[..., 1:, :] - img[..., :-1, :]).pow(2).sum(dim=(1, 2, 3))
    return (dx + dy).mean()




def flat_region_anchor(output: torch.Tensor, content: torch.Tensor, pool: int = 8,
                       margin: float = 0.25, color: bool = False) -> torch.Tensor:
    """Penalty on large changes of local mean brightness: mean of relu(|ΔY| − margin)² over ``pool``² cells.

    Why: relu2_2 (the content layer) hardly responds to flat areas, and the Gram terms are global, so the
    paper's objective is nearly blind to what a network paints in a flat sky: early in training it paints
    saturated blobs there, free of cost. Changes of local brightness up to ``margin`` (a palette, strokes)
    cost nothing; a sky flipped to black or white does. With ``color`` each RGB channel is anchored, not only
    brightness: a network kept from brightness blobs (the spike penalty) can paint hue blobs instead (udnie's
    cyan patches on white snow keep nearly the same brightness)."""
    if color:
        y_out, y_in = output.float(), content.float()
    else:
        weights = torch.tensor(LUMA, dtype=torch.float32, device=output.device).view(1, 3, 1, 1)
        y_out = (output.float() * weights).sum(1, keepdim=True)
        y_in = (content.float() * weights).sum(1, keepdim=True)
    pool = max(1, min(pool, output.shape[-1], output.shape[-2]))
    diff = nn.functional.avg_pool2d(y_out - y_in, pool, ceil_mode=True)
    return torch.relu(diff.abs() - margin).pow(2).mean()
