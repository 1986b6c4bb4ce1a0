"""How low-resolution inputs are made: MATLAB-compatible bicubic resizing and the paper's blur + downsample.

Two degradations matter and they differ:
  * ``matlab_imresize`` reproduces MATLAB's ``imresize(img, 1/s, 'bicubic')`` (Keys cubic a = -0.5,
    antialiased when shrinking, edge-clamped borders) — how the published LR_bicubic_x4 benchmark inputs
    were made (byte for byte on Set5/Set14/BSD100 with ``uint8_steps``), and the bicubic baseline every
    SR paper reports (upscaling with the same function);
  * ``paper_lr`` is Johnson et al.'s training input: Gaussian blur σ = 1.0, then bicubic downsampling.
All functions take NCHW (or CHW) float tensors in [0, 1] on any device and keep their dtype.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F

Border = Literal["replicate", "symmetric"]


def cubic(x: torch.Tensor, a: float = -0.5) -> torch.Tensor:
    """Keys' cubic convolution kernel; MATLAB's ``imresize`` uses a = -0.5 (PyTorch/PIL use -0.75)."""
    ax = x.abs()
    ax2, ax3 = ax * ax, ax * ax * ax
    near = (a + 2) * ax3 - (a + 3) * ax2 + 1
    far = a * ax3 - 5 * a * ax2 + 8 * a * ax - 4 * a
    return torch.where(ax <= 1, near, torch.where(ax < 2, far, torch.zeros_like(ax)))


def resize_matrix(in_len: int, out_len: int, scale: float, antialias: bool = True,
                  border: Border = "replicate") -> torch.Tensor:
    """The (out_len, in_len) float64 matrix of MATLAB's 1-D bicubic resampling along one axis.

    Follows MATLAB's ``contributions``: output pixel centres map back by u = x/scale + (1 - 1/scale)/2;
    when shrinking with antialiasing the kernel is stretched by 1/scale; rows are normalised to sum to 1.
    Out-of-range taps are folded into the matrix: ``replicate`` clamps them to the edge pixel (MATLAB before
    R2013-ish, and what the published Set5/Set14/BSD100 LR files match); ``symmetric`` mirrors them
    (current MATLAB and BasicSR). The two differ only in the outer ~2 output pixels.
    """
    shrink = scale < 1 and antialias
    width = 4.0 / scale if shrink else 4.0
    x = torch.arange(1, out_len + 1, dtype=torch.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = torch.floor(u - width / 2)
    taps = math.ceil(width) + 2
    idx = left[:, None] + torch.arange(taps, dtype=torch.float64)[None, :]  # 1-based input positions
    dist = u[:, None] - idx
    weights = scale * cubic(scale * dist) if shrink else cubic(dist)
    weights = weights / weights.sum(dim=1, keepdim=True)
    j = idx.long() - 1
    if border == "replicate":
        j = j.clamp(0, in_len - 1)
    elif border == "symmetric":
        period = 2 * in_len  # MATLAB: aux = [1:n, n:-1:1]
        j = j % period
        j = torch.where(j >= in_len, period - 1 - j, j)
    else:
        raise ValueError(f"unknown border {border!r} (replicate or symmetric)")
    return torch.zeros(out_len, in_len, dtype=torch.float64).scatter_add_(1, j, weights)


def _round_uint8(levels: torch.Tensor) -> torch.Tensor:
    """MATLAB's double → uint8: nearest level, ties away from zero (torch.round would go to even), saturated."""
    return torch.floor(levels + 0.5).clamp_(0, 255)


def matlab_imresize(x: torch.Tensor, scale: float, antialias: bool = True, uint8_steps: bool = False,
                    border: Border = "replicate") -> torch.Tensor:
    """MATLAB ``imresize(x, scale, 'bicubic')`` on a CHW/NCHW batch; output H, W = ceil(scale · H, W).

    Rows are resized first, then columns (MATLAB's order for equal factors). ``uint8_steps`` treats ``x``
    as an 8-bit image and does what MATLAB does with a uint8 array (how benchmark LR files and bicubic
    baselines were made): it works on levels 0–255 in float64 and rounds to a level after each pass.
    Upscaling weights are dyadic, so exact ties are common; this keeps them exact and rounds them as MATLAB.
    """
    h, w = x.shape[-2:]
    oh, ow = math.ceil(h * scale - 1e-9), math.ceil(w * scale - 1e-9)
    work = torch.float64 if uint8_steps else x.dtype
    mh = resize_matrix(h, oh, scale, antialias, border).to(device=x.device, dtype=work)
    mw = resize_matrix(w, ow, scale, antialias, border).to(device=x.device, dtype=work)
    if not uint8_steps:
        return (mh @ x) @ mw.T  # (oh, h) @ (..., h, w): broadcast over the batch
    levels = _round_uint8(x.to(torch.float64) * 255)
    levels = _round_uint8(_round_uint8(mh @ levels) @ mw.T)
    return (levels / 255).to(x.dtype)


def gaussian_blur(x: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    """Separable Gaussian blur (radius ceil(3σ), reflected borders) of a CHW/NCHW batch."""
    if sigma <= 0:
        return x
    radius = math.ceil(3 * sigma)
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-(t * t) / (2 * sigma * sigma))
    k = (k / k.sum()).to(device=x.device, dtype=x.dtype)
    squeeze = x.dim() == 3
    y = x[None] if squeeze else x
    c = y.shape[1]
    pad_mode = "reflect" if min(y.shape[-2:]) > radius else "replicate"
    y = F.pad(y, (radius, radius, radius, radius), mode=pad_mode)
    y = F.conv2d(y, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    y = F.conv2d(y, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
    return y[0] if squeeze else y


def paper_lr(hr: torch.Tensor, scale: int, sigma: float = 1.0, antialias: bool = False) -> torch.Tensor:
    """Johnson et al.'s low-resolution input: Gaussian blur σ = ``sigma``, then bicubic downsampling.

    The blur is the anti-aliasing filter, so the bicubic step defaults to plain interpolation (as Torch's
    ``image.scale`` did); ``antialias=True`` adds MATLAB's stretched kernel on top (a blurrier input, and
    closer to the benchmark LR files: 43.6 dB against Set5's published LR, 39.9 dB without).
    H and W must be multiples of ``scale``; the result is clamped to [0, 1].
    """
    h, w = hr.shape[-2:]
    if h % scale or w % scale:
        raise ValueError(f"HR size {h}x{w} is not a multiple of the scale {scale}")
    return matlab_imresize(gaussian_blur(hr, sigma), 1 / scale, antialias=antialias).clamp(0, 1)


def crop_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Crop the bottom/right so H and W are multiples of ``multiple`` (the usual "modcrop")."""
    h, w = x.shape[-2:]
    return x[..., : h - h % multiple, : w - w % multiple]


def random_patch_pair(hr_img: torch.Tensor, patch: int = 288, scale: int = 4, sigma: float = 1.0,
                      generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """A random ``patch``×``patch`` crop of a CHW image and its ``paper_lr`` input (the paper trains on 288²).

    Images smaller than the patch are first upscaled (bicubic) so the short side fits, which gives softer
    targets; filter such images out of a dataset if that matters.
    """
    if patch % scale:
        raise ValueError(f"patch {patch} is not a multiple of the scale {scale}")
    if hr_img.dim() != 3:
        raise ValueError(f"expected a CHW image, got shape {tuple(hr_img.shape)}")
    h, w = hr_img.shape[-2:]
    if min(h, w) < patch:
        f = patch / min(h, w)
        size = (max(patch, math.ceil(h * f)), max(patch, math.ceil(w * f)))
        hr_img = F.interpolate(hr_img[None], size=size, mode="bicubic", align_corners=False)[0].clamp(0, 1)
        h, w = size
    top = int(torch.randint(0, h - patch + 1, (1,), generator=generator))
    left = int(torch.randint(0, w - patch + 1, (1,), generator=generator))
    hr = hr_img[:, top: top + patch, left: left + patch]
    return hr, paper_lr(hr, scale, sigma)


def histogram_match(output: torch.Tensor, lr: torch.Tensor, scale: int | None = None) -> torch.Tensor:
    """The paper's post-processing: per image and channel, give ``output`` the value distribution (CDF) of
    the bicubic-upsampled ``lr`` — undoes colour/contrast drift of a network while keeping its detail.

    Each output value v maps to the reference quantile at v's own quantile (ties map together).
    ``scale`` defaults to output size / lr size.
    """
    squeeze = output.dim() == 3
    out = output[None] if squeeze else output
    low = lr[None] if lr.dim() == 3 else lr
    if scale is None:
        scale = out.shape[-1] // low.shape[-1]
    ref = matlab_imresize(low.to(out.dtype), scale, antialias=True).clamp(0, 1)
    ref = ref[..., : out.shape[-2], : out.shape[-1]]
    if ref.shape != out.shape:
        raise ValueError(f"output {tuple(out.shape)} is not {scale}x the low-resolution input {tuple(low.shape)}")
    n, c = out.shape[:2]
    src = out.reshape(n * c, -1)
    ref_sorted = ref.reshape(n * c, -1).sort(dim=1).values
    src_sorted = src.sort(dim=1).values
    rank = torch.searchsorted(src_sorted, src.contiguous(), right=True) - 1
    matched = torch.gather(ref_sorted, 1, rank).reshape(out.shape)
    return matched[0] if squeeze else matched
