"""Super-resolution training (the paper's §5): an SRNet learns ×4/×8 under feature and/or pixel loss."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from percept.core.model_header import file_sha256
from percept.train.checkpoint import ModelInfo, describe
from percept.train.data import ImageFolderDataset, load_rgb, scan_images, to_tensor
from percept.train.degradations import matlab_imresize, random_patch_pair
from percept.train.discriminator import AdversarialSettings, Adversary
from percept.train.losses import (
    PIXEL_LOSSES,
    blur_loss,
    grid_loss,
    speckle_loss,
    squared_error,
    total_variation,
)
from percept.train.networks import SRNet, SubPixelSR
from percept.train.real_degradations import PhotoDegradation, RealDegradation, degrade, degrade_photo
from percept.train.vgg import LAYER_INDEX, VGGLoss
from percept.train.warm_start import warm_start_sr

LOSSES = ("feature", "pixel", "feature+pixel")
ARCHS = ("subpixel", "paper")  # subpixel: SubPixelSR at low resolution; paper: the paper's SRNet
DEGRADATIONS = ("paper", "bicubic", "real", "photo")  # real: Real-ESRGAN's high-order damage; photo: one pass


@dataclass
class SROptions:
    data: Path
    name: str
    scale: int = 4
    loss: str = "feature"
    patch: int = 288
    sigma: float = 1.0
    degradation: str = "paper"  # paper: blur σ + bicubic; bicubic: MATLAB imresize; real: real_degradations
    feature_layer: str = "relu2_2"
    grid_weight: float = 0.0  # losses.grid_loss: the error's sub-pixel phase pattern (cross-hatch)
    speckle_weight: float = 0.0  # losses.speckle_loss: fine detail beyond the truth's (feature-loss speckle)
    blur_weight: float = 0.0  # losses.blur_loss: fine detail the output lacks against the truth's
    grid_window: int = 4  # grid_loss's blocks, in LR pixels (0: the whole patch, so edges' errors average out)
    feature_jitter: int = 0  # shift the VGG input by up to this many pixels per step (see ``jittered``)
    feature_weight: float = 1.0
    pixel_weight: float = 1.0
    pixel_loss: str = "mse"  # mse | l1 | charbonnier
    clean_share: float | None = None  # photo damage: share of plain bicubic inputs (None: PhotoDegradation's)
    holdout: int = 0  # photos kept out of training to choose checkpoints on (the validation set)
    branches: bool = False  # SubPixelSR: re-parameterisable training branches, folded when saved
    gan_weight: float = 0.0  # adversarial fine-tuning (percept.train.discriminator): the generator's term weight
    gan_channels: int = 32  # the U-Net discriminator's width
    gan_lr: float = 1e-4
    gan_warmup: int = 0  # steps in which only the discriminator learns
    target_shrink: float = 1.0  # shrink training photos by this first (their own JPEG blocks and noise average out)
    max_colour_drift: float = 0.0  # stop when the held-out outputs' mean colour moves this many 8-bit levels (0: off)
    tv_weight: float = 0.0
    arch: str = "subpixel"
    channels: int | None = None  # None: the architecture's default
    convs: int = 6  # SubPixelSR convolutions between head and pixel head
    upsample: str = "pixel-shuffle"
    norm: str = "none"
    global_skip: bool = True
    init: Path | None = None  # warm start: a trained SR network with the same layers (e.g. the pixel-loss model)
    vgg_weights: str | None = None
    preview_count: int = 3
    description: str = ""
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def feature_layers(spec: str) -> dict[str, float]:
    """``relu2_2`` (the paper's SR loss) or ``relu1_2:0.1,relu2_2:0.1,relu3_3:1,relu4_3:1`` → layer → weight.

    Why several: one shallow layer asks for edges in place; deeper layers price texture that is right in kind
    but not pixel for pixel (Real-ESRGAN's perceptual loss weights five VGG layers so)."""
    out: dict[str, float] = {}
    for part in spec.split(","):
        name, _, weight = part.strip().partition(":")
        if name not in LAYER_INDEX:
            raise ValueError(f"unknown VGG layer {name!r} in --feature-layer {spec!r}; choose from {list(LAYER_INDEX)}")
        try:
            out[name] = float(weight) if weight else 1.0
        except ValueError:
            raise ValueError(f"--feature-layer {spec!r}: weight of {name} is not a number ({weight!r})") from None
    return out


def make_pair(img: torch.Tensor, patch: int, scale: int, sigma: float, degradation: str,
              generator: torch.Generator, clean_share: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """A random HR patch and its LR input under the chosen degradation."""
    hr, lr = random_patch_pair(img, patch, scale, sigma, generator=generator)
    return hr_to_lr(hr, lr, scale, degradation, generator, clean_share), hr


def hr_to_lr(hr: torch.Tensor, lr: torch.Tensor, scale: int, degradation: str, generator: torch.Generator,
             clean_share: float | None = None) -> torch.Tensor:
    """The LR input of one HR picture under ``degradation`` (``lr``: the paper's blur-and-bicubic one)."""
    if degradation == "bicubic":
        lr = matlab_imresize(hr, 1 / scale, antialias=True).clamp(0, 1)
    elif degradation == "real":
        lr = degrade(hr[None], scale, RealDegradation(), generator)[0]
    elif degradation == "photo":
        spec = PhotoDegradation() if clean_share is None else PhotoDegradation(clean_prob=clean_share)
        lr = degrade_photo(hr[None], scale, spec, generator)[0]
    return lr


def jittered(sr: torch.Tensor, hr: torch.Tensor, jitter: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The same random crop of ``sr`` and ``hr``, shifted by 0..``jitter`` pixels on each axis.

    Why: VGG pools with stride 2 before relu2_2, so a feature loss on a fixed pixel grid rewards a pattern
    locked to that grid, which the pixel shuffle paints as a cross-hatch. A new offset every step leaves
    no grid phase to lock onto."""
    if jitter <= 0:
        return sr, hr
    dy, dx = (int(v) for v in torch.randint(0, jitter + 1, (2,)))
    h, w = sr.shape[-2] - jitter, sr.shape[-1] - jitter
    return sr[..., dy:dy + h, dx:dx + w], hr[..., dy:dy + h, dx:dx + w]


def split_holdout(files: list[Path], count: int) -> tuple[list[Path], list[Path]]:
    """Every k-th photo (sorted order) held out, ``count`` in all, spread over the folder's sources."""
    if count <= 0:
        return files, []
    if count >= len(files):
        raise ValueError(f"--holdout {count} leaves no training photos (the folder has {len(files)})")
    step = len(files) / count
    held = {int(i * step) for i in range(count)}
    return [f for i, f in enumerate(files) if i not in held], [f for i, f in enumerate(files) if i in held]


VALIDATION_SIZE = 192  # HR centre crop of each held-out photo


def validation_pairs(files: list[Path], o: SROptions) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Fixed LR/HR pairs of the held-out photos: a centre crop, damaged under the run's degradation with one
    seed per photo, so every validation sees the same inputs."""
    pairs = []
    for i, path in enumerate(files):
        img = to_tensor(shrunk(load_rgb(path), o.target_shrink, o.patch))
        side = min(VALIDATION_SIZE, img.shape[1], img.shape[2]) // o.scale * o.scale
        top, left = (img.shape[1] - side) // 2, (img.shape[2] - side) // 2
        hr = img[:, top:top + side, left:left + side]
        g = torch.Generator().manual_seed(1000 + i)
        lr = matlab_imresize(hr, 1 / o.scale, antialias=True).clamp(0, 1)
        pairs.append((hr_to_lr(hr, lr, o.scale, o.degradation, g, o.clean_share), hr))
    return pairs


def shrunk(img: Image.Image, factor: float, patch: int) -> Image.Image:
    """``img`` made ``factor`` times smaller (antialiased), but never below one patch. Why: the training photos
    are small JPEGs; a discriminator learns their 8×8 blocks and noise as "real" unless they are averaged out."""
    if factor <= 1.0:
        return img
    w, h = img.size
    f = min(factor, min(w, h) / patch) if min(w, h) >= patch else 1.0
    if f <= 1.0:
        return img
    return img.resize((max(1, round(w / f)), max(1, round(h / f))), Image.Resampling.LANCZOS)


class PatchPair:
    """Picklable transform for loader workers: a random HR patch and its degraded LR input."""

    def __init__(self, patch: int, scale: int, sigma: float, degradation: str = "paper",
                 clean_share: float | None = None, shrink: float = 1.0):
        self.patch, self.scale, self.sigma, self.degradation = patch, scale, sigma, degradation
        self.clean_share, self.shrink = clean_share, shrink

    def __call__(self, img: Image.Image, rng) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(int(rng.integers(2**62)))
        return make_pair(to_tensor(shrunk(img, self.shrink, self.patch)), self.patch, self.scale, self.sigma,
                         self.degradation, g, self.clean_share)


class SRTask:
    quicker_options = "--time-limit 2h (stops and saves the model; the cosine schedule follows the clock)"

    def __init__(self, opts: SROptions):
        if opts.loss not in LOSSES:
            raise ValueError(f"unknown --loss {opts.loss!r}; choose from {', '.join(LOSSES)}")
        if opts.degradation not in DEGRADATIONS:
            raise ValueError(f"unknown --degradation {opts.degradation!r}; choose from {', '.join(DEGRADATIONS)}")
        self.feature_layers = feature_layers(opts.feature_layer)  # a bad spec fails before the data is read
        if opts.arch not in ARCHS:
            raise ValueError(f"unknown --arch {opts.arch!r}; choose from {', '.join(ARCHS)}")
        if opts.pixel_loss not in PIXEL_LOSSES:
            raise ValueError(f"unknown --pixel-loss {opts.pixel_loss!r}; choose from {', '.join(PIXEL_LOSSES)}")
        if opts.branches and opts.arch != "subpixel":
            raise ValueError("--branches needs --arch subpixel")
        if opts.patch % opts.scale:
            raise ValueError(f"--patch {opts.patch} must be a multiple of --scale {opts.scale}")
        self.o = opts
        min_size = self._network().min_size
        if opts.patch // opts.scale < min_size:
            lr_px, need = opts.patch // opts.scale, min_size
            raise ValueError(f"--patch {opts.patch} gives {lr_px}px inputs at ×{opts.scale}; "
                             f"the network needs at least {need}px (use --patch ≥ {need * opts.scale})")
        self.o = opts
        self.name = opts.name
        scan = scan_images(Path(opts.data))
        self.files, opts.skipped = scan.files, scan.skipped
        self.files, self.holdout_files = split_holdout(self.files, opts.holdout)
        self.preview_files = self.files[: opts.preview_count]
        self.vgg: VGGLoss | None = None
        self.adversary: Adversary | None = None  # made in setup, on the run's device

    @property
    def uses_features(self) -> bool:
        return "feature" in self.o.loss

    def _network(self) -> nn.Module:
        o = self.o
        if o.arch == "subpixel":
            return SubPixelSR(scale=o.scale, channels=o.channels or 48, convs=o.convs, branches=o.branches)
        return SRNet(scale=o.scale, upsample=o.upsample, norm=o.norm, channels=o.channels or 64,
                     global_skip=o.global_skip)

    def build_model(self) -> nn.Module:
        net = self._network()
        if self.o.init is not None:
            warm_start_sr(self.o.init, net)
        return net

    def dataset(self, seed: int) -> ImageFolderDataset:
        pairs = PatchPair(self.o.patch, self.o.scale, self.o.sigma, self.o.degradation, self.o.clean_share,
                          self.o.target_shrink)
        return ImageFolderDataset(self.files, pairs, seed)

    def setup(self, device: torch.device) -> None:
        if self.uses_features:
            self.vgg = VGGLoss(self.o.vgg_weights).to(device)
        g = torch.Generator().manual_seed(12345)  # fixed preview crops
        pairs = [make_pair(to_tensor(shrunk(load_rgb(p), self.o.target_shrink, self.o.patch)), self.o.patch,
                           self.o.scale, self.o.sigma, self.o.degradation, g, self.o.clean_share)
                 for p in self.preview_files]
        self.validation = validation_pairs(self.holdout_files, self.o) if self.holdout_files else []
        self.adversary = None
        if self.o.gan_weight > 0:
            with torch.random.fork_rng(devices=[]):  # its initial weights leave the run's random stream alone
                torch.manual_seed(20161008)
                self.adversary = Adversary(AdversarialSettings(self.o.gan_weight, self.o.gan_channels, self.o.gan_lr,
                                                               self.o.gan_warmup), device)
        self.preview_lr = torch.stack([lr for lr, _ in pairs]).to(device)
        self.preview_hr = torch.stack([hr for _, hr in pairs]).to(device)

    def losses(self, model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
        lr, hr = batch
        sr = model(lr)
        terms: dict[str, torch.Tensor] = {}
        if self.adversary is not None:
            terms["monitor_discriminator"] = self.adversary.train_discriminator(hr, sr)
            terms["adversarial"] = self.adversary.generator_term(sr)
        if self.uses_features:
            layers = self.feature_layers
            sr_in, hr_in = jittered(sr, hr, self.o.feature_jitter)
            f_sr = self.vgg(sr_in, layers)
            with torch.no_grad():
                f_hr = self.vgg(hr_in, layers)
            terms["feature"] = self.o.feature_weight * sum(w * squared_error(f_sr[n], f_hr[n])
                                                           for n, w in layers.items())
        if "pixel" in self.o.loss:
            terms["pixel"] = self.o.pixel_weight * PIXEL_LOSSES[self.o.pixel_loss](sr, hr)
        if self.o.grid_weight:
            terms["grid"] = self.o.grid_weight * grid_loss(sr, hr, self.o.scale, self.o.grid_window)
        if self.o.speckle_weight:
            terms["speckle"] = self.o.speckle_weight * speckle_loss(sr, hr)
        if self.o.blur_weight:
            terms["blur"] = self.o.blur_weight * blur_loss(sr, hr)
        if self.o.tv_weight:
            terms["tv"] = self.o.tv_weight * total_variation(sr)
        return terms

    def preview(self, model: nn.Module) -> tuple[list[list[torch.Tensor]], list[str]]:
        s = self.o.scale
        sr = model(self.preview_lr)
        near = F.interpolate(self.preview_lr, scale_factor=s, mode="nearest")
        bic = F.interpolate(self.preview_lr, scale_factor=s, mode="bicubic", align_corners=False).clamp(0, 1)
        rows = [[a, b, c, d] for a, b, c, d in zip(near, bic, sr, self.preview_hr)]
        return rows, ["LR (nearest)", "bicubic", "output", "ground truth"]

    def settings(self) -> dict[str, Any]:
        o = self.o
        degradation = {"paper": f"gaussian blur sigma={o.sigma} + bicubic /{o.scale}",
                       "bicubic": f"MATLAB bicubic /{o.scale} (antialiased)",
                       "real": f"real: high-order blur, resize, noise, JPEG /{o.scale} (RealDegradation defaults)",
                       "photo": f"photo: blur, resize /{o.scale}, noise, JPEG once or twice (PhotoDegradation defaults)"
                       }[o.degradation]
        return {"task": "sr", "data": str(o.data), "scale": o.scale, "loss": o.loss, "patch": o.patch,
                "sigma": o.sigma, "feature_layer": o.feature_layer, "feature_weight": o.feature_weight,
                "feature_jitter": o.feature_jitter, "grid_weight": o.grid_weight, "grid_window": o.grid_window,
                "speckle_weight": o.speckle_weight, "blur_weight": o.blur_weight,
                "pixel_weight": o.pixel_weight, "pixel_loss": o.pixel_loss, "clean_share": o.clean_share,
                "holdout": o.holdout, "branches": o.branches, "tv_weight": o.tv_weight, "gan_weight": o.gan_weight,
                "gan_channels": o.gan_channels, "gan_warmup": o.gan_warmup, "target_shrink": o.target_shrink,
                "training_images": len(self.files),
                "skipped_files": len(o.skipped), "degradation": degradation,
                "init": str(o.init) if o.init else None,
                "init_sha256": file_sha256(o.init)[:16] if o.init else None}

    def validate(self, model: nn.Module) -> dict[str, float]:
        """PSNR (RGB, border = scale) of ``model`` on the held-out photos, each damaged once with a fixed seed:
        what checkpoints are chosen on, never the benchmark sets."""
        if not self.validation:
            return {}
        device = next(model.parameters()).device
        total, colour = 0.0, torch.zeros(3)
        for lr, hr in self.validation:
            sr = model(lr[None].to(device)).float().clamp(0, 1)[0].cpu()
            b = self.o.scale
            mse = (sr - hr)[:, b:-b, b:-b].pow(2).mean().clamp_min(1e-10)
            total += float(-10 * torch.log10(mse))
            colour += (sr - hr).mean(dim=(1, 2))
        drift = float((colour / len(self.validation)).abs().max() * 255)
        if self.o.max_colour_drift and drift > self.o.max_colour_drift:
            from percept.train.trainer import TrainingError

            raise TrainingError(f"the held-out outputs' mean colour moved {drift:.2f} levels from the truth's "
                                f"(more than --max-colour-drift {self.o.max_colour_drift}); training stopped, "
                                "the last checkpoint and best.safetensors kept. Try a lower --gan-weight or --lr.")
        return {"val_psnr": total / len(self.validation), "colour_drift": drift}

    def checkpoint_state(self) -> dict[str, Any]:
        """What ``--resume`` needs beyond the generator: the discriminator and its optimiser."""
        return {"adversary": self.adversary.state_dict()} if self.adversary is not None else {}

    def load_checkpoint_state(self, state: dict[str, Any]) -> None:
        if self.adversary is not None and state.get("adversary"):
            self.adversary.load_state_dict(state["adversary"])

    def describe(self, model: nn.Module, training: dict[str, Any]) -> ModelInfo:
        text = self.o.description or f"×{self.o.scale} super-resolution, {self.o.loss} loss"
        return describe(model, self.name, text, training=training)

