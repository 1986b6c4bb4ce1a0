"""percept's model file: safetensors weights + JSON metadata. Loading never unpickles anything.

A model file carries everything needed to run it (a spandrel-style descriptor): architecture and its
options, kind (style|sr), scale, size rule, value range, name, training settings, the style image's name
and hash, and the percept version. ``load_model`` rebuilds the right network with no extra flags. The metadata
(``ModelInfo``, ``read_info``) lives in ``percept.core.model_header``, which reads it without torch.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from percept.core.atomic import atomic_path
from percept.core.model_header import FORMAT, METADATA_KEY, ModelFileError, ModelInfo, file_sha256, read_info
from percept.train.foreign import load_descriptor
from percept.train.networks import build_network


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


MAX_PARAMETERS = 50_000_000  # percept's largest network has 1.7 M; a header asking for more is not believed


def check_tensors_fit(path: str | os.PathLike, info: ModelInfo) -> None:
    """The network the header describes, laid out without memory (PyTorch's meta device), against the tensors
    the file holds: names and shapes must match exactly, and its size is bounded, before anything is allocated.
    One ``ModelFileError`` line otherwise (a header that lies would otherwise build a network of gigabytes)."""
    from safetensors import safe_open

    try:
        with torch.device("meta"):
            layout = build_network(info.config).state_dict()
    except (ValueError, TypeError, RuntimeError) as exc:
        raise ModelFileError(f"{path}: config {str(info.config)[:80]} does not describe a network ({exc})") from None
    count = sum(v.numel() for v in layout.values())
    if count > MAX_PARAMETERS:
        raise ModelFileError(f"{path}: its header describes {count:,} parameters (at most {MAX_PARAMETERS:,})")
    try:
        with safe_open(str(path), framework="numpy") as f:
            shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except Exception as exc:
        raise ModelFileError(f"{path}: cannot read its tensors ({type(exc).__name__}: {exc})") from None
    missing, extra = sorted(layout.keys() - shapes.keys()), sorted(shapes.keys() - layout.keys())
    if missing or extra:
        parts = [f"{what} weights {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}"
                 for what, keys in (("missing", missing), ("unexpected", extra)) if keys]
        raise ModelFileError(f"{path}: does not match {info.config.get('arch')}: {'; '.join(parts)}")
    for key, tensor in layout.items():
        if shapes[key] != tuple(tensor.shape):
            raise ModelFileError(f"{path}: weight {key} has shape {shapes[key]}, expected {tuple(tensor.shape)}")


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[nn.Module, ModelInfo]:
    """Rebuild the network described in the file and load its weights (as float32), in eval mode."""
    info = read_info(path)
    if info.config.get("arch") == "spandrel":
        net, _ = load_descriptor(path)
        return net.to(device).eval(), info
    check_tensors_fit(path, info)
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
