"""How real photos are faked for training: Real-ESRGAN's high-order degradation, in torch.

Real photos reach percept blurred by a lens, resized by some app, noisy from a sensor and JPEG-compressed,
often twice. A network trained on clean bicubic input sharpens all of that; one trained on this pipeline
learns to remove it while it adds detail (Wang et al. 2021, "Real-ESRGAN"; BasicSR ``data/degradations.py``
and ``realesrgan/models/realesrgan_model.py`` are the reference):

  round 1: blur (isotropic / anisotropic / generalised-Gaussian / plateau kernels, or a sinc) → random
           resize (area / bilinear / bicubic, up or down) → Gaussian or Poisson noise (colour or grey) → JPEG
  round 2: the same with milder ranges, each step skippable
  finish:  resize to exactly 1/scale, a sinc filter (ringing, overshoot) and JPEG, in random order.

Blur, resize, noise and sinc are batched torch ops on any device. JPEG goes through Pillow's libjpeg at
4:2:0 chroma (the encoder users' photos went through, not a differentiable approximation); it runs on the
CPU, on LR-sized patches, which costs little (about 12 ms per 128² patch on one core).

The default ranges (``RealDegradation()``) are milder than Real-ESRGAN's (which trains a GAN for heavily
damaged web images): blur σ ≤ 2 px, noise σ ≤ 10/255 instead of 30, JPEG quality 50–95 instead of 30–95,
resize factors 0.6–1.3, a second round in 40 % of patches, and 15 % clean bicubic patches, so the same
network still upscales clean photos well.
All randomness comes from one ``torch.Generator``: the same seed gives the same degradation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from percept.core.colour import LUMA
from percept.train.photo_degradations import jpeg_roundtrip

KERNEL_TYPES = ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso")


@dataclass(frozen=True)
class BlurRange:
    """A random blur kernel: its type's probability, size and shape ranges (Real-ESRGAN's ``kernel_*``)."""

    type_probs: tuple[float, ...] = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)  # in KERNEL_TYPES order
    sizes: tuple[int, int] = (7, 21)  # odd sizes in this range
    sigma: tuple[float, float] = (0.2, 2.0)
    beta_gaussian: tuple[float, float] = (0.5, 4.0)
    beta_plateau: tuple[float, float] = (1.0, 2.0)
    sinc_prob: float = 0.1  # a sinc kernel instead (ringing at this stage)


@dataclass(frozen=True)
class RoundRange:
    """One round of damage: blur, resize, noise, JPEG, with the probabilities that each happens."""

    blur_prob: float = 1.0
    blur: BlurRange = BlurRange()
    resize_probs: tuple[float, float, float] = (0.2, 0.5, 0.3)  # up, down, keep
    resize_range: tuple[float, float] = (0.6, 1.3)
    gaussian_noise_prob: float = 0.5  # Poisson otherwise
    noise_sigma: tuple[float, float] = (1.0, 10.0)  # in 8-bit levels
    poisson_scale: tuple[float, float] = (0.05, 1.5)
    gray_noise_prob: float = 0.4
    noise_prob: float = 1.0
    jpeg_quality: tuple[int, int] = (50, 95)


@dataclass(frozen=True)
class RealDegradation:
    """The whole pipeline's ranges; ``RealDegradation()`` is what ``train-sr --degradation real`` uses."""

    first: RoundRange = RoundRange()
    second_prob: float = 0.4
    second: RoundRange = RoundRange(blur_prob=0.8, blur=BlurRange(sigma=(0.2, 1.0)), resize_range=(0.8, 1.2),
                                    noise_sigma=(1.0, 6.0), poisson_scale=(0.05, 1.0), noise_prob=0.7)
    final_sinc_prob: float = 0.3
    final_jpeg_prob: float = 0.9
    clean_prob: float = 0.15  # plain bicubic, so clean photos stay a case the network knows


# --- kernels (float64 math, returned as float32, sum 1) ---------------------------------------------------

def _grid(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    return torch.meshgrid(r, r, indexing="ij")  # (y, x)


def _inverse_covariance(sigma_x: float, sigma_y: float, theta: float) -> torch.Tensor:
    """Σ⁻¹ of a Gaussian with standard deviations ``sigma_x``/``sigma_y`` rotated by ``theta`` radians."""
    c, s = math.cos(theta), math.sin(theta)
    rot = torch.tensor([[c, -s], [s, c]], dtype=torch.float64)
    cov = rot @ torch.diag(torch.tensor([sigma_x ** 2, sigma_y ** 2], dtype=torch.float64)) @ rot.T
    return torch.linalg.inv(cov)


def _quadratic(size: int, sigma_x: float, sigma_y: float, theta: float) -> torch.Tensor:
    """xᵀ Σ⁻¹ x at every kernel tap."""
    yy, xx = _grid(size)
    inv = _inverse_covariance(sigma_x, sigma_y, theta)
    return inv[0, 0] * xx * xx + (inv[0, 1] + inv[1, 0]) * xx * yy + inv[1, 1] * yy * yy


def _normalised(k: torch.Tensor) -> torch.Tensor:
    return (k / k.sum()).float()


def gaussian_kernel(size: int, sigma_x: float, sigma_y: float | None = None, theta: float = 0.0) -> torch.Tensor:
    """An (an)isotropic Gaussian kernel: exp(-½ xᵀΣ⁻¹x)."""
    return _normalised(torch.exp(-0.5 * _quadratic(size, sigma_x, sigma_y or sigma_x, theta)))


def generalized_gaussian_kernel(size: int, sigma_x: float, sigma_y: float, theta: float, beta: float) -> torch.Tensor:
    """exp(-½ (xᵀΣ⁻¹x)^β): β < 1 a peaked, heavy-tailed blur, β > 1 a flatter disc (defocus)."""
    return _normalised(torch.exp(-0.5 * _quadratic(size, sigma_x, sigma_y, theta).pow(beta)))


def plateau_kernel(size: int, sigma_x: float, sigma_y: float, theta: float, beta: float) -> torch.Tensor:
    """1 / (1 + (xᵀΣ⁻¹x)^β): a flat top with slow tails (motion-free lens blur)."""
    return _normalised(1 / (1 + _quadratic(size, sigma_x, sigma_y, theta).pow(beta)))


def sinc_kernel(size: int, cutoff: float) -> torch.Tensor:
    """A circular low-pass (jinc) kernel with cutoff ``cutoff`` rad/px: ringing and overshoot at edges."""
    yy, xx = _grid(size)
    r = torch.sqrt(xx * xx + yy * yy)
    arg = cutoff * r
    safe = torch.where(r == 0, torch.ones_like(arg), arg)
    k = torch.where(r == 0, torch.full_like(r, cutoff ** 2 / (4 * math.pi)),
                    cutoff * torch.special.bessel_j1(safe) / (2 * math.pi * torch.where(r == 0, 1.0, r)))
    return _normalised(k)


# --- random choices ---------------------------------------------------------------------------------------

def _uniform(g: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=g, dtype=torch.float64))


def _chance(g: torch.Generator, p: float) -> bool:
    return p > 0 and float(torch.rand((), generator=g, dtype=torch.float64)) < p


def _choice(g: torch.Generator, probs: tuple[float, ...]) -> int:
    weights = torch.tensor(probs, dtype=torch.float64)
    return int(torch.multinomial(weights, 1, generator=g))


def _odd_size(g: torch.Generator, sizes: tuple[int, int]) -> int:
    low, high = sizes
    options = list(range(low | 1, high + 1, 2))
    return options[int(torch.randint(len(options), (), generator=g))]


def random_kernel(spec: BlurRange, g: torch.Generator) -> torch.Tensor:
    """One blur kernel drawn as Real-ESRGAN does (``random_mixed_kernels`` plus its sinc option)."""
    size = _odd_size(g, spec.sizes)
    if _chance(g, spec.sinc_prob):
        cutoff = _uniform(g, math.pi / 3, math.pi) if size < 13 else _uniform(g, math.pi / 5, math.pi)
        return sinc_kernel(size, cutoff)
    kind = KERNEL_TYPES[_choice(g, spec.type_probs)]
    sx = _uniform(g, *spec.sigma)
    sy, theta = (sx, 0.0) if kind.endswith("iso") and not kind.endswith("aniso") else (
        _uniform(g, *spec.sigma), _uniform(g, -math.pi, math.pi))
    if kind in ("iso", "aniso"):
        return gaussian_kernel(size, sx, sy, theta)
    if kind.startswith("generalized"):
        beta = _uniform(g, spec.beta_gaussian[0], 1) if _chance(g, 0.5) else _uniform(g, 1, spec.beta_gaussian[1])
        return generalized_gaussian_kernel(size, sx, sy, theta, beta)
    beta = _uniform(g, spec.beta_plateau[0], 1) if _chance(g, 0.5) else _uniform(g, 1, spec.beta_plateau[1])
    return plateau_kernel(size, sx, sy, theta, beta)


# --- operations on NCHW float batches in [0, 1] -----------------------------------------------------------

def filter2d(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Convolve every channel with ``kernel`` (reflected borders; replicated when the image is too small)."""
    n, c, h, w = x.shape
    pad = kernel.shape[-1] // 2
    mode = "reflect" if min(h, w) > pad else "replicate"
    y = F.pad(x.reshape(1, n * c, h, w), (pad, pad, pad, pad), mode=mode)
    k = kernel.to(device=x.device, dtype=x.dtype).view(1, 1, *kernel.shape).expand(n * c, 1, -1, -1)
    return F.conv2d(y, k, groups=n * c).reshape(n, c, h, w)


def resize(x: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    """``area``, ``bilinear`` or ``bicubic`` (antialiased when shrinking), as photo apps resize."""
    if mode == "area":
        return F.interpolate(x, size=size, mode="area")
    return F.interpolate(x, size=size, mode=mode, align_corners=False, antialias=True)


def add_gaussian_noise(x: torch.Tensor, sigma: float, gray: bool, g: torch.Generator) -> torch.Tensor:
    """Additive Gaussian noise of ``sigma`` 8-bit levels, the same on all channels when ``gray``."""
    shape = (x.shape[0], 1, *x.shape[2:]) if gray else x.shape
    noise = torch.randn(shape, generator=g).to(device=x.device, dtype=x.dtype) * (sigma / 255)
    return (x + noise).clamp(0, 1)


def add_poisson_noise(x: torch.Tensor, scale: float, gray: bool, g: torch.Generator) -> torch.Tensor:
    """Shot noise (BasicSR's ``add_poisson_noise``): counts ~ Poisson(x · vals), its deviation times ``scale``."""
    src = x.float().cpu()
    if gray:
        src = (LUMA[0] * src[:, 0:1] + LUMA[1] * src[:, 1:2] + LUMA[2] * src[:, 2:3])
    levels = (src * 255).round().clamp(0, 255)
    vals = 2 ** math.ceil(math.log2(max(len(torch.unique(levels)), 2)))
    counts = torch.poisson(src.clamp(0, 1) * vals, generator=g) / vals
    noise = ((counts - src) * scale).to(device=x.device, dtype=x.dtype)
    return (x + noise).clamp(0, 1)


def jpeg(x: torch.Tensor, quality: int) -> torch.Tensor:
    """Encode and decode each image with Pillow's JPEG at ``quality`` (4:2:0 chroma, as Pillow saves)."""
    out = [jpeg_roundtrip(img.detach().float().cpu(), int(quality)) for img in x]
    return torch.stack(out).to(device=x.device, dtype=x.dtype)


def _random_noise(x: torch.Tensor, spec: RoundRange, g: torch.Generator) -> torch.Tensor:
    gray = _chance(g, spec.gray_noise_prob)
    if _chance(g, spec.gaussian_noise_prob):
        return add_gaussian_noise(x, _uniform(g, *spec.noise_sigma), gray, g)
    return add_poisson_noise(x, _uniform(g, *spec.poisson_scale), gray, g)


def _random_resize(x: torch.Tensor, spec: RoundRange, base: tuple[int, int], g: torch.Generator) -> torch.Tensor:
    """Resize ``base`` (the round's reference size) by a random factor, at least 4 px a side."""
    direction = _choice(g, spec.resize_probs)
    factor = (_uniform(g, 1, spec.resize_range[1]) if direction == 0 else
              _uniform(g, spec.resize_range[0], 1) if direction == 1 else 1.0)
    mode = _resize_mode(g)
    size = (max(4, round(base[0] * factor)), max(4, round(base[1] * factor)))
    return resize(x, size, mode)


def _round(x: torch.Tensor, spec: RoundRange, base: tuple[int, int], g: torch.Generator,
           jpeg_too: bool = True) -> torch.Tensor:
    if _chance(g, spec.blur_prob):
        x = filter2d(x, random_kernel(spec.blur, g))
    x = _random_resize(x, spec, base, g)
    if _chance(g, spec.noise_prob):
        x = _random_noise(x, spec, g)
    return jpeg(x, _quality(spec, g)) if jpeg_too else x


def degrade(hr: torch.Tensor, scale: int, spec: RealDegradation, g: torch.Generator) -> torch.Tensor:
    """A realistic LR input for an NCHW batch of HR patches (H, W multiples of ``scale``); one draw per batch."""
    lr_size = _lr_size(hr, scale)
    if _chance(g, spec.clean_prob):
        return resize(hr, lr_size, "bicubic").clamp(0, 1)
    x = _round(hr, spec.first, tuple(hr.shape[-2:]), g)
    second = _chance(g, spec.second_prob)
    if second:
        x = _round(x, spec.second, lr_size, g, jpeg_too=False)  # its JPEG is the finish's
    sinc = (sinc_kernel(_odd_size(g, (7, 21)), _uniform(g, math.pi / 3, math.pi))
            if _chance(g, spec.final_sinc_prob) else None)
    mode = _resize_mode(g)

    def finish_size(t: torch.Tensor) -> torch.Tensor:
        t = resize(t, lr_size, mode)
        return filter2d(t, sinc) if sinc is not None else t

    if not _chance(g, spec.final_jpeg_prob):
        return finish_size(x).clamp(0, 1)
    # Real-ESRGAN: resize + sinc, then JPEG; or JPEG, then resize + sinc. The second order only after a
    # second round, whose size is already near the LR size: a JPEG at HR size would be shrunk away, and the
    # network would rarely see the 8×8 grid that users' photos carry.
    if not second or _chance(g, 0.5):
        return jpeg(finish_size(x).clamp(0, 1), _quality(spec.first, g))
    return finish_size(jpeg(x.clamp(0, 1), _quality(spec.first, g))).clamp(0, 1)


@dataclass(frozen=True)
class PhotoDegradation:
    """One pass of the damage a phone or web photo carries, all of it on the LR grid.

    Why apart from ``RealDegradation``: a photo users upscale *is* the LR picture, so its sensor noise and its
    JPEG grid sit at its own resolution, and most photos were saved once or twice, not through two rounds of
    heavy damage. A network trained on the high-order pipeline spends its capacity on damage photos rarely
    have and smooths the common case; this is the common case, with the ranges of phone cameras and the web.
    """

    clean_prob: float = 0.1  # plain bicubic
    blur_prob: float = 0.7  # lens or focus softness, at HR before the shrink
    blur: BlurRange = BlurRange(type_probs=(0.6, 0.3, 0.05, 0.0, 0.05, 0.0), sizes=(7, 15),
                                sigma=(0.1, 0.8), sinc_prob=0.0)  # σ in LR pixels: × scale at HR
    # (kernel sizes: the drawn odd size × scale/2 at HR; the widest Gaussians lose a little of their tails)
    noise_prob: float = 0.6
    noise: RoundRange = RoundRange(gaussian_noise_prob=0.7, noise_sigma=(1.0, 8.0), poisson_scale=(0.05, 1.0),
                                   gray_noise_prob=0.3)
    jpeg_prob: float = 0.9
    jpeg_quality: tuple[int, int] = (50, 95)
    resave_prob: float = 0.25  # saved again (a messenger, an editor) at a quality drawn again


def degrade_photo(hr: torch.Tensor, scale: int, spec: PhotoDegradation, g: torch.Generator) -> torch.Tensor:
    """A phone- or web-like LR input for an NCHW batch of HR patches; one draw per batch, seeds reproduce."""
    lr_size = _lr_size(hr, scale)
    if _chance(g, spec.clean_prob):
        return resize(hr, lr_size, "bicubic").clamp(0, 1)
    x = hr
    if _chance(g, spec.blur_prob):
        blur = spec.blur
        sizes = (blur.sizes[0] * scale // 2 | 1, blur.sizes[1] * scale // 2 | 1)
        hr_blur = BlurRange(type_probs=blur.type_probs, sizes=sizes, sinc_prob=0.0,
                            sigma=(blur.sigma[0] * scale, blur.sigma[1] * scale))
        x = filter2d(x, random_kernel(hr_blur, g))
    mode = _resize_mode(g)
    x = resize(x, lr_size, mode).clamp(0, 1)
    if _chance(g, spec.noise_prob):
        x = _random_noise(x, spec.noise, g)
    if _chance(g, spec.jpeg_prob):
        low, high = spec.jpeg_quality
        x = jpeg(x, _quality_in(g, low, high))
        if _chance(g, spec.resave_prob):
            x = jpeg(x, _quality_in(g, low, high))
    return x.clamp(0, 1)


def _quality(spec: RoundRange, g: torch.Generator) -> int:
    return _quality_in(g, *spec.jpeg_quality)


def _quality_in(g: torch.Generator, low: int, high: int) -> int:
    return int(torch.randint(low, high + 1, (), generator=g))


def _resize_mode(g: torch.Generator) -> str:
    return ("area", "bilinear", "bicubic")[int(torch.randint(3, (), generator=g))]


def _lr_size(hr: torch.Tensor, scale: int) -> tuple[int, int]:
    h, w = hr.shape[-2:]
    if h % scale or w % scale:
        raise ValueError(f"HR size {h}x{w} is not a multiple of the scale {scale}")
    return h // scale, w // scale
