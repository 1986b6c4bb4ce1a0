"""The frozen VGG-16 loss network (ImageNet weights), cut after relu4_3.

Weights are resolved in this order: an explicit path; ``$PERCEPT_VGG_WEIGHTS``; torchvision's own
weights API (its cache, then its download on a connected machine). Both torchvision's full checkpoint
(``features.N.weight`` + classifier) and a features-only file (``N.weight``; safetensors or a
weights-only ``torch.save`` state dict) are accepted. Nothing is ever unpickled.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from percept.train.vgg_errors import VGGWeightsError

ENV_VAR = "PERCEPT_VGG_WEIGHTS"
LAYER_INDEX = {"relu1_2": 3, "relu2_2": 8, "relu3_3": 15, "relu4_3": 22}
LAST_INDEX = max(LAYER_INDEX.values())
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TORCHVISION_FILE = "vgg16-397923af.pth"

HOW_TO_PROVIDE = (
    "pass --vgg-weights FILE or set PERCEPT_VGG_WEIGHTS=FILE to a VGG-16 file (torchvision's "
    f"{TORCHVISION_FILE}, or a features-only .safetensors of its convolutional layers), "
    "or run once on a connected machine so torchvision caches its VGG16_Weights.IMAGENET1K_V1"
)


@dataclass(frozen=True)
class WeightsSource:
    path: Path | None
    origin: str  # "argument", "environment", "torchvision cache", "torchvision download"


def _config_vgg16_features() -> nn.Sequential:
    """torchvision's VGG-16 ``features`` up to and including relu4_3 (indices 0..22)."""
    layers: list[nn.Module] = []
    cin = 3
    for v in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512):
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, int(v), 3, padding=1), nn.ReLU(inplace=True)]
            cin = int(v)
    return nn.Sequential(*layers)


def torchvision_cache_path() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / TORCHVISION_FILE


def find_weights(path: str | os.PathLike | None = None) -> WeightsSource:
    """Locate weights without downloading; raises VGGWeightsError naming what was tried."""
    if path:
        p = Path(path).expanduser()
        if not p.is_file():
            raise VGGWeightsError(f"{p}: VGG-16 weights file not found")
        return WeightsSource(p, "argument")
    env = os.environ.get(ENV_VAR)
    if env:
        p = Path(env).expanduser()
        if not p.is_file():
            raise VGGWeightsError(f"{p}: file named by {ENV_VAR} not found")
        return WeightsSource(p, "environment")
    cached = torchvision_cache_path()
    if cached.is_file():
        return WeightsSource(cached, "torchvision cache")
    return WeightsSource(None, "torchvision download")


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt file, pickle with code, wrong format
        raise VGGWeightsError(f"{path}: cannot read VGG-16 weights ({type(exc).__name__}: {exc})") from None


def features_state_dict(state: dict[str, torch.Tensor], origin: str = "weights",
                        last: int = LAST_INDEX) -> dict[str, torch.Tensor]:
    """Normalise a full torchvision checkpoint or a features-only dict to keys ``N.weight``/``N.bias`` of the
    convolutions up to ``features[last]`` (relu4_3 for the losses; LPIPS needs relu5_3, 29)."""
    if any(k.startswith("features.") for k in state):
        state = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
    wanted = {f"{i}.{p}" for i in range(last + 1) for p in ("weight", "bias")
              if i in {0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28}}
    missing = sorted(wanted - state.keys(), key=lambda k: int(k.split(".")[0]))
    if missing:
        raise VGGWeightsError(f"{origin}: not VGG-16 weights (missing {', '.join(missing[:4])}...)")
    return {k: state[k].float() for k in wanted}


def load_vgg_state(path: str | os.PathLike | None = None,
                   last: int = LAST_INDEX) -> tuple[dict[str, torch.Tensor], WeightsSource]:
    """Resolve and read VGG-16 feature weights up to ``features[last]`` (see module docstring for the order)."""
    source = find_weights(path)
    if source.path is not None:
        return features_state_dict(_read_state_dict(source.path), str(source.path), last), source
    try:
        from torchvision.models import VGG16_Weights

        state = VGG16_Weights.IMAGENET1K_V1.get_state_dict(progress=False)
    except Exception as exc:
        raise VGGWeightsError(
            f"VGG-16 weights not found and torchvision could not download them ({type(exc).__name__}); "
            + HOW_TO_PROVIDE
        ) from None
    return features_state_dict(state, "torchvision", last), source


class VGGLoss(nn.Module):
    """Frozen VGG-16 returning named ReLU activations of [0, 1] RGB input (ImageNet normalisation inside)."""

    def __init__(self, weights: str | os.PathLike | None = None, pretrained: bool = True):
        super().__init__()
        self.features = _config_vgg16_features()
        self.source: WeightsSource | None = None
        if pretrained:
            state, self.source = load_vgg_state(weights)
            self.features.load_state_dict(state, strict=True)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> VGGLoss:
        return super().train(False)  # always frozen: no dropout/BN here, but keep the promise explicit

    def forward(self, x: torch.Tensor, layers: Iterable[str] = ("relu2_2",)) -> dict[str, torch.Tensor]:
        layers = list(layers)
        unknown = set(layers) - LAYER_INDEX.keys()
        if unknown or not layers:
            raise ValueError(f"unknown VGG layer(s) {sorted(unknown)}; choose from {list(LAYER_INDEX)}")
        by_index = {LAYER_INDEX[name]: name for name in layers}
        last = max(by_index)
        out: dict[str, torch.Tensor] = {}
        h = (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        for i, layer in enumerate(self.features):
            h = layer(h)
            if i in by_index:
                out[by_index[i]] = h
            if i == last:
                break
        return out
