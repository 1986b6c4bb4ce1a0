"""percept's model file: safetensors weights + JSON metadata. Loading never unpickles anything.

A model file carries everything needed to run it (a spandrel-style descriptor): architecture and its
options, kind (style|sr), scale, size rule, value range, name, training settings, the style image's name
and hash, and the percept version. ``load_model`` rebuilds the right network with no extra flags.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from percept.train.atomic import atomic_path
from percept.train.foreign import FOREIGN_SUFFIXES, ForeignModelError, foreign_config, load_descriptor
from percept.train.networks import build_network
from percept.train.version import __version__

FORMAT = "percept-model/1"
METADATA_KEY = "percept"


class ModelFileError(ValueError):
    """A model file is missing, unreadable, or does not match its architecture."""


@dataclass
class ModelInfo:
    kind: str
    config: dict[str, Any]
    scale: int
    size_rule: int
    name: str
    min_size: int = 1
    description: str = ""
    value_range: tuple[float, float] = (0.0, 1.0)
    training: dict[str, Any] = field(default_factory=dict)
    style_image: dict[str, str] | None = None
    percept_version: str = __version__
    format: str = FORMAT

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelInfo:
        data = json.loads(text)
        data["value_range"] = tuple(data.get("value_range", (0.0, 1.0)))
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def describe(net: nn.Module, name: str, description: str = "", training: dict[str, Any] | None = None,
             style_image: str | os.PathLike | None = None) -> ModelInfo:
    """Build the metadata record of ``net``; ``style_image`` is hashed so the style is traceable."""
    style = None
    if style_image is not None:
        style = {"name": Path(style_image).name, "sha256": file_sha256(style_image)}
    return ModelInfo(kind=net.kind, config=net.config(), scale=int(net.scale), size_rule=int(net.size_rule),
                     min_size=int(getattr(net, "min_size", 1)), name=name, description=description,
                     training=dict(training or {}), style_image=style)


def save_model(path: str | os.PathLike, net: nn.Module, info: ModelInfo, half: bool = False) -> Path:
    """Write weights + metadata atomically; ``half`` stores floating tensors as float16 (half the size)."""
    state = {}
    for k, v in net.state_dict().items():
        v = v.detach().to("cpu").contiguous()
        if half and v.is_floating_point():
            v = v.half()
        state[k] = v
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata={METADATA_KEY: info.to_json(), "format": FORMAT})
    return Path(path)


def _percept_metadata(path: Path) -> dict[str, str] | None:
    """The safetensors metadata of a percept file; None for a file of another project (``.pth``, or
    safetensors without percept's key), which ``percept.train.foreign`` loads through spandrel."""
    if path.suffix.lower() in FOREIGN_SUFFIXES and path.suffix.lower() != ".safetensors":
        return None
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as exc:
        raise ModelFileError(f"{path}: not a percept model file ({type(exc).__name__}: {exc})") from None
    return meta if METADATA_KEY in meta else None


def _foreign_info(path: Path) -> ModelInfo:
    try:
        return ModelInfo(**foreign_config(path))
    except ForeignModelError as exc:
        raise ModelFileError(str(exc)) from None


def read_info(path: str | os.PathLike) -> ModelInfo:
    """Read only the metadata (cheap for percept files: no weights are loaded; a foreign file is loaded
    through spandrel to learn what it is)."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: model file not found")
    meta = _percept_metadata(path)
    if meta is None:
        return _foreign_info(path)
    try:
        return ModelInfo.from_json(meta[METADATA_KEY])
    except (ValueError, TypeError) as exc:
        raise ModelFileError(f"{path}: corrupt percept metadata ({exc})") from None


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[nn.Module, ModelInfo]:
    """Rebuild the network described in the file and load its weights (as float32), in eval mode."""
    info = read_info(path)
    if info.config.get("arch") == "spandrel":
        net, _ = load_descriptor(path)
        return net.to(device).eval(), info
    try:
        net = build_network(info.config)
    except ValueError as exc:
        raise ModelFileError(f"{path}: {exc}") from None
    try:
        state = load_file(str(path))
    except Exception as exc:
        raise ModelFileError(f"{path}: cannot read weights ({type(exc).__name__}: {exc})") from None
    expected = net.state_dict()
    missing = sorted(expected.keys() - state.keys())
    unexpected = sorted(state.keys() - expected.keys())
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing weights {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}")
        if unexpected:
            parts.append(f"unexpected weights {', '.join(unexpected[:3])}{' ...' if len(unexpected) > 3 else ''}")
        raise ModelFileError(f"{path}: does not match {info.config.get('arch')}: {'; '.join(parts)}")
    for k, v in expected.items():
        if state[k].shape != v.shape:
            raise ModelFileError(f"{path}: weight {k} has shape {tuple(state[k].shape)}, expected {tuple(v.shape)}")
        if v.is_floating_point():
            state[k] = state[k].to(v.dtype)
    net.load_state_dict(state, strict=True)
    return net.to(device).eval(), info
