"""PSNR and SSIM as SR papers report them, so our numbers compare with published tables.

The convention is BasicSR's ``metrics/psnr_ssim.py`` (itself matching the MATLAB evaluation scripts):
luma only (ITU-R BT.601 Y = 16 + 65.481 R + 128.553 G + 24.966 B, RGB in [0, 1], as MATLAB ``rgb2ycbcr``),
float64 values in [0, 255], ``crop_border`` pixels (= the scale) shaved off every side, SSIM with an
11×11 Gaussian window (σ = 1.5), K1 = 0.01, K2 = 0.03, over the "valid" region only.
Grey images (one channel) are scored on their grey values, as the MATLAB scripts do (they convert only
3-channel images): that is what makes Set14 (grey ``bridge``) agree with published tables.
Inputs are tensors shaped (..., 3 or 1, H, W) in [0, 1]; results have shape (...) and dtype float64.
Quantise network outputs to 8 bits first (``quantize_8bit``) — published numbers are on saved images.
"""

from __future__ import annotations

import math

import torch

_Y_WEIGHTS = (65.481, 128.553, 24.966)


def quantize_8bit(x: torch.Tensor) -> torch.Tensor:
    """Round [0, 1] values to the 256 levels an image file can hold."""
    return (x * 255).round().clamp(0, 255) / 255


def rgb_to_y(x: torch.Tensor) -> torch.Tensor:
    """BT.601 luma in [16, 235] (float64) from RGB (..., 3, H, W) in [0, 1]; result (..., H, W)."""
    if x.shape[-3] != 3:
        raise ValueError(f"expected 3 RGB channels in dim -3, got shape {tuple(x.shape)}")
    x = x.to(torch.float64)
    r, g, b = x.unbind(dim=-3)
    return 16.0 + _Y_WEIGHTS[0] * r + _Y_WEIGHTS[1] * g + _Y_WEIGHTS[2] * b


def grey_level(x: torch.Tensor) -> torch.Tensor:
    """Full-range luma in [0, 255] (float64) from (..., 1 or 3, H, W): a grey image's own values, or for
    RGB the same BT.601 weights without the 16–235 range, so an RGB output compares with a grey truth.
    """
    x = x.to(torch.float64)
    if x.shape[-3] == 1:
        return x[..., 0, :, :] * 255
    r, g, b = x.unbind(dim=-3)
    grey = (r == g) & (g == b)  # exactly its value, so a grey output of a grey truth can score +inf
    return torch.where(grey, r * 255, (rgb_to_y(x) - 16.0) * (255.0 / 219.0))


def _prepare(sr: torch.Tensor, hr: torch.Tensor, crop_border: int, y_channel: bool) -> tuple[torch.Tensor, ...]:
    same = sr.shape[-2:] == hr.shape[-2:] and (y_channel or sr.shape == hr.shape)
    if not same or sr.shape[:-3] != hr.shape[:-3]:
        raise ValueError(f"image shapes differ: {tuple(sr.shape)} vs {tuple(hr.shape)}")
    if y_channel and 1 in (sr.shape[-3], hr.shape[-3]):
        a, b = grey_level(sr), grey_level(hr)  # (..., H, W)
    elif y_channel:
        a, b = rgb_to_y(sr), rgb_to_y(hr)  # (..., H, W)
    else:
        a, b = sr.to(torch.float64) * 255, hr.to(torch.float64) * 255  # (..., C, H, W)
    if crop_border:
        a = a[..., crop_border:-crop_border, crop_border:-crop_border]
        b = b[..., crop_border:-crop_border, crop_border:-crop_border]
    if a.shape[-1] < 1 or a.shape[-2] < 1:
        raise ValueError(f"crop_border {crop_border} leaves nothing of a {tuple(sr.shape[-2:])} image")
    return a, b


def psnr(sr: torch.Tensor, hr: torch.Tensor, crop_border: int = 0, y_channel: bool = True) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB (peak 255); identical images give +inf, not an error."""
    a, b = _prepare(sr, hr, crop_border, y_channel)
    dims = (-2, -1) if y_channel else (-3, -2, -1)
    mse = ((a - b) ** 2).mean(dim=dims)
    return torch.where(mse == 0, torch.full_like(mse, math.inf), 10.0 * torch.log10(255.0**2 / mse))


def gaussian_kernel(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Normalised 1-D Gaussian (float64), the same as OpenCV's ``getGaussianKernel(size, sigma)``."""
    t = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(t * t) / (2 * sigma * sigma))
    return g / g.sum()


def _filter_valid(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian filtering of (..., H, W) keeping only the fully covered ("valid") region.

    Written as a sum of shifted slices: PyTorch's float64 conv2d is a slow reference path on the CPU.
    """
    k, (h, w) = g.numel(), x.shape[-2:]
    taps = g.tolist()
    rows = x[..., : h - k + 1, :] * taps[0]
    for i in range(1, k):
        rows.add_(x[..., i: h - k + 1 + i, :], alpha=taps[i])
    out = rows[..., : w - k + 1] * taps[0]
    for i in range(1, k):
        out.add_(rows[..., i: w - k + 1 + i], alpha=taps[i])
    return out


def ssim(sr: torch.Tensor, hr: torch.Tensor, crop_border: int = 0, y_channel: bool = True) -> torch.Tensor:
    """Structural similarity (Wang et al. 2004) with BasicSR's constants; 1.0 for identical images."""
    a, b = _prepare(sr, hr, crop_border, y_channel)
    h, w = a.shape[-2:]
    if h < 11 or w < 11:
        raise ValueError(f"SSIM needs at least 11x11 pixels after the border crop, got {h}x{w}")
    stats = _filter_valid(torch.stack([a, b, a * a, b * b, a * b]), gaussian_kernel().to(a.device))
    mu_a, mu_b, aa, bb, ab = stats.unbind(dim=0)
    var_a, var_b, cov = aa - mu_a**2, bb - mu_b**2, ab - mu_a * mu_b
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    values = ssim_map.mean(dim=(-2, -1))
    return values if y_channel else values.mean(dim=-1)  # per-channel SSIM, averaged


def mean_psnr(values: list[float]) -> tuple[float, int]:
    """Mean PSNR over the finite values and how many were infinite (identical images).

    Averaging an infinite PSNR would make every mean infinite and hide the other images, so such images
    are left out of the mean and counted; all-identical inputs give +inf.
    """
    finite = [v for v in values if math.isfinite(v)]
    infinite = len(values) - len(finite)
    if not finite:
        return (math.inf if values else math.nan), infinite
    return sum(finite) / len(finite), infinite
