"""Style training (the paper's §4): a TransformNet learns one painting's style under VGG-16 losses."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image, UnidentifiedImageError
from torch import nn

from percept.core.model_header import file_sha256
from percept.core.training_defaults import SPIKE_Z, STYLE_LAYERS
from percept.train.checkpoint import ModelInfo, describe
from percept.train.data import (
    DataError,
    ImageFolderDataset,
    RandomCropFlip,
    load_rgb,
    resize_center_crop,
    scan_images,
    to_tensor,
)
from percept.train.losses import (
    flat_region_anchor,
    gram_matrix,
    palette_directions,
    palette_loss,
    sorted_palette,
    squared_error,
    style_loss,
    tiled_gram_matrix,
    total_variation,
)
from percept.train.networks import TransformNet
from percept.train.norm_spikes import SpikeMonitor, spike_penalty
from percept.train.vgg import VGGLoss
from percept.train.warm_start import warm_start_weights


@dataclass
class StyleOptions:
    style_image: Path
    data: Path
    name: str
    image_size: int = 256
    style_size: int | None = 512  # long side of the style image; None keeps its size
    crops: str = "random"  # random crops + flips at the photo's own scale, or "center" (one fixed crop per photo)
    init: Path | None = None  # warm start: a trained style network with the same architecture
    content_weight: float = 1.0
    style_weight: float = 1.5
    tv_weight: float = 1e-6
    anchor_weight: float = 0.0  # flat-region anchor (losses.flat_region_anchor); 0 is the paper's objective
    anchor_color: bool = False  # anchor each RGB channel, not only brightness (catches hue blobs)
    palette_weight: float = 0.0  # painting's colour distribution (losses.palette_loss); 0 is the paper's objective
    spike_weight: float = 0.0  # instance-norm spikes (norm_spikes.spike_penalty); 0 is the paper's objective
    spike_z: float = SPIKE_Z  # |z| beyond which the penalty charges; sparse texture features need room above 6
    style_tiles: int = 1  # Gram matrices per region of a tiles×tiles grid (losses.tiled_gram_matrix); 1: the paper's
    content_layer: str = "relu2_2"
    style_layers: Sequence[str] = STYLE_LAYERS
    norm: str = "instance"
    upsample: str = "resize-conv"
    output: str = "tanh"
    exposure_path: bool = False  # the photo's mean colour shifts the output (networks.TransformNet)
    vgg_weights: str | None = None
    preview_count: int = 4
    description: str = ""
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def load_style_image(path: Path, long_side: int | None) -> torch.Tensor:
    """The style image as a 1×3×H×W tensor, long side resized to ``long_side``; clear error if unreadable."""
    try:
        img = load_rgb(Path(path))
    except FileNotFoundError:
        raise DataError(f"{path}: style image not found") from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read style image ({type(exc).__name__}: {exc})") from None
    if long_side:
        s = long_side / max(img.size)
        img = img.resize((max(1, round(img.width * s)), max(1, round(img.height * s))), Image.BICUBIC)
    return to_tensor(img)[None]


class CenterCrop:
    """Picklable transform for loader workers: resize short side and centre-crop to a square."""

    def __init__(self, size: int):
        self.size = size

    def __call__(self, img: Image.Image, rng) -> torch.Tensor:
        return to_tensor(resize_center_crop(img, self.size))


class StyleTask:
    quicker_options = ("--preset quick (a style in about 30 minutes, warm-started from a shipped style) or "
                       "--time-limit 2h (stops and saves the model when the time is up)")

    def __init__(self, opts: StyleOptions):
        self.o = opts
        self.name = opts.name
        unknown = set(opts.style_layers) - set(STYLE_LAYERS) | ({opts.content_layer} - set(STYLE_LAYERS))
        if unknown:
            raise ValueError(f"unknown VGG layer(s) {sorted(unknown)}; choose from {', '.join(STYLE_LAYERS)}")
        self.style = load_style_image(opts.style_image, opts.style_size)  # fail early, before any work
        scan = scan_images(Path(opts.data))
        self.files, opts.skipped = scan.files, scan.skipped
        self.preview_files = self.files[: opts.preview_count]
        self.vgg: VGGLoss | None = None
        self.targets: dict[str, torch.Tensor] = {}
        self.palette: Palette | None = None

    def build_model(self) -> nn.Module:
        net = TransformNet(norm=self.o.norm, upsample=self.o.upsample, output=self.o.output,
                           exposure_path=self.o.exposure_path)
        if self.o.init is not None:
            net.load_state_dict(warm_start_weights(self.o.init, net, "style"))
        return net

    def dataset(self, seed: int) -> ImageFolderDataset:
        if self.o.crops == "center":
            return ImageFolderDataset(self.files, CenterCrop(self.o.image_size), seed)
        return ImageFolderDataset(self.files, RandomCropFlip(self.o.image_size), seed)

    def setup(self, device: torch.device) -> None:
        self.vgg = VGGLoss(self.o.vgg_weights).to(device)
        with torch.no_grad():
            feats = self.vgg(self.style.to(device), self.o.style_layers)
            self.targets = {k: gram_matrix(v) for k, v in feats.items()}
        if self.o.palette_weight:
            self.palette = Palette.of(self.style, device)
        self.preview_batch = torch.stack([CenterCrop(max(256, self.o.image_size))(load_rgb(p), None)
                                          for p in self.preview_files]).to(device)

    def losses(self, model: nn.Module, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        monitor = SpikeMonitor(model) if self.o.spike_weight else None
        with monitor or nullcontext():
            output = model(batch)
        terms = objective(self.vgg, output, batch, self.targets, self.o, self.palette)
        if monitor is not None:
            terms["spike"] = self.o.spike_weight * spike_penalty(monitor.inputs, self.o.spike_z)
        return terms

    def preview(self, model: nn.Module) -> tuple[list[list[torch.Tensor]], list[str]]:
        out = model(self.preview_batch)
        return [[x, y] for x, y in zip(self.preview_batch, out)], ["content", f"{self.name}, this step"]

    def settings(self) -> dict[str, Any]:
        o = self.o
        return {"task": "style", "style_image": str(o.style_image), "data": str(o.data),
                "image_size": o.image_size, "style_size": o.style_size, "content_weight": o.content_weight,
                "style_weight": o.style_weight, "tv_weight": o.tv_weight, "anchor_weight": o.anchor_weight,
                "anchor_color": o.anchor_color,
                "palette_weight": o.palette_weight, "spike_weight": o.spike_weight, "spike_z": o.spike_z,
                "style_tiles": o.style_tiles, "content_layer": o.content_layer,
                "style_layers": list(o.style_layers), "training_images": len(self.files),
                "skipped_files": len(o.skipped), "crops": o.crops, "init": str(o.init) if o.init else None,
                "init_sha256": file_sha256(o.init)[:16] if o.init else None,
                "exposure_path": o.exposure_path}

    def describe(self, model: nn.Module, training: dict[str, Any]) -> ModelInfo:
        return describe(model, self.name, self.o.description or f"style of {Path(self.o.style_image).name}",
                        training=training, style_image=self.o.style_image)


@dataclass
class Palette:
    """The painting's colours as sorted projections, the target of ``palette_loss``."""

    directions: torch.Tensor
    quantiles: torch.Tensor

    @classmethod
    def of(cls, style: torch.Tensor, device: torch.device) -> Palette:
        directions = palette_directions()
        return cls(directions.to(device), sorted_palette(style, directions).to(device))


def objective(vgg: VGGLoss, output: torch.Tensor, content: torch.Tensor, style_grams: dict[str, torch.Tensor],
              opts: StyleOptions, palette: Palette | None = None) -> dict[str, torch.Tensor]:
    """The paper's weighted objective of a stylised ``output`` for ``content`` (shared with
    ``optimize-style`` and ``style-loss`` so every method is scored on equal terms), plus percept's optional
    terms (anchor; palette, when ``palette`` is given)."""
    layers = list(dict.fromkeys([*opts.style_layers, opts.content_layer]))
    feats = vgg(output, layers)
    with torch.no_grad():
        target = vgg(content, [opts.content_layer])[opts.content_layer]
    grams = {k: tiled_gram_matrix(feats[k], opts.style_tiles) for k in opts.style_layers}
    return {
        "content": opts.content_weight * squared_error(feats[opts.content_layer], target),
        "style": opts.style_weight * style_loss(grams, style_grams),
        "tv": opts.tv_weight * total_variation(output),
        **({"anchor": opts.anchor_weight * flat_region_anchor(output, content, color=opts.anchor_color)}
           if opts.anchor_weight else {}),
        **({"palette": opts.palette_weight * palette_loss(output, palette.quantiles, palette.directions)}
           if opts.palette_weight and palette is not None else {}),
    }


def closest_init(opts: StyleOptions, candidates: dict[str, Path], photos: int = 4) -> tuple[str, dict[str, float]]:
    """The trained network (of ``candidates``, name → file) that already scores best on the new painting's
    weighted objective, on ``photos`` training photos: the warm start with the least left to learn.

    Returns its name and every candidate's score. Candidates that cannot be a warm start are left out."""
    vgg = VGGLoss(opts.vgg_weights)
    style = load_style_image(opts.style_image, opts.style_size)
    files = scan_images(Path(opts.data)).files[:photos]
    if not files:
        raise DataError(f"{opts.data}: no training photos to choose a warm start with")
    batch = torch.stack([CenterCrop(opts.image_size)(load_rgb(p), None) for p in files])
    scores: dict[str, float] = {}
    with torch.no_grad():
        targets = {k: gram_matrix(v) for k, v in vgg(style, opts.style_layers).items()}
        for name, path in candidates.items():
            net = TransformNet(norm=opts.norm, upsample=opts.upsample, output=opts.output,
                               exposure_path=opts.exposure_path)
            try:
                net.load_state_dict(warm_start_weights(path, net, "style"))
            except DataError:
                continue
            terms = objective(vgg, net.eval()(batch), batch, targets, opts)
            scores[name] = float(terms["content"] + terms["style"])
    if not scores:
        raise DataError("--init auto: no shipped style network has the layers to warm-start from")
    return min(scores, key=scores.get), scores
