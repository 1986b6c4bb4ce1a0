"""Super-resolution models trained by other projects (Real-ESRGAN, SwinIR, SPAN, ...), through spandrel.

Why: users bring ``.pth`` files from Real-ESRGAN, chaiNNer and ComfyUI model collections. spandrel detects
the architecture from the state dict and builds the network; percept then runs it through its own pipeline
(tiling, batching, every backend, export). Loading never unpickles arbitrary objects: ``.pth``/``.ckpt``
files go through ``torch.load(weights_only=True)``, ``.safetensors`` through safetensors; TorchScript
(code) is refused.

A foreign file has no percept metadata, so its ``ModelInfo`` is derived: scale and size rule from
spandrel's descriptor, and the tile overlap from the network's receptive field, measured once per file
(the reach of an output pixel's gradient on a probe input).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

PROBE_SIDE = 96  # input side of the receptive-field probe
MAX_OVERLAP = 64  # input pixels; wider reach (attention, very deep nets) is capped: its far tail is negligible
MIN_OVERLAP = 8
_CACHE: dict[tuple[str, int, int], tuple[nn.Module, Any]] = {}
_CONFIGS: dict[tuple[str, int, int], dict[str, Any]] = {}


class ForeignModelError(ValueError):
    """The file is not a model spandrel and percept can run (one line, naming the file)."""


def _state_dict(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix.lower() == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        first = str(exc).splitlines()[0][:160] if str(exc) else ""
        why = "it holds pickled objects other than weights" if "weights only" in first.lower() else (
            f"{type(exc).__name__}" + (f": {first}" if first and not first.strip("'").isdigit() else ""))
        raise ForeignModelError(f"{path}: not a PyTorch weights file percept can load ({why}); percept loads "
                                "weights only, never pickled code") from None
    if not isinstance(state, dict):
        raise ForeignModelError(f"{path}: holds a {type(state).__name__}, not a state dict of weights")
    return state


def receptive_radius(net: nn.Module, scale: int, multiple_of: int = 1) -> int:
    """How far (input pixels) the centre output pixel of ``net`` reaches: nonzero gradient on a probe."""
    side = max(PROBE_SIDE, multiple_of) // multiple_of * multiple_of
    x = torch.zeros(1, 3, side, side, requires_grad=True)
    with torch.enable_grad():
        y = net(x)
        c = (side // 2) * scale
        y[0, :, c, c].sum().backward()
    g = x.grad[0].abs().sum(0)
    rows = torch.nonzero(g.sum(1) > 0).flatten()
    cols = torch.nonzero(g.sum(0) > 0).flatten()
    if rows.numel() == 0:
        return MIN_OVERLAP
    reach = max(side // 2 - int(rows.min()), int(rows.max()) - side // 2,
                side // 2 - int(cols.min()), int(cols.max()) - side // 2)
    return int(reach)


def _key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return str(path.resolve()), st.st_mtime_ns, st.st_size


def load_descriptor(path: str | os.PathLike) -> tuple[nn.Module, Any]:
    """(network in eval mode, spandrel descriptor) of a foreign SR model file, cached per file version."""
    path = Path(path)
    key = _key(path)
    if key in _CACHE:
        return _CACHE[key]
    try:
        import spandrel
    except ImportError:
        raise ForeignModelError(f"{path}: not a percept model file; models of other projects load through "
                                "spandrel: pip install spandrel") from None
    if path.suffix.lower() == ".pt":
        try:  # a TorchScript archive is code, not weights
            import zipfile

            with zipfile.ZipFile(path) as z:
                if any(n.endswith("constants.pkl") or "/code/" in n for n in z.namelist()):
                    raise ForeignModelError(f"{path}: is a TorchScript file (code); percept loads weights only")
        except zipfile.BadZipFile:
            pass
    state = spandrel.canonicalize_state_dict(_state_dict(path))
    try:
        desc = spandrel.ModelLoader(device="cpu").load_from_state_dict(state)
    except spandrel.UnsupportedModelError:
        raise ForeignModelError(f"{path}: not a percept model (no percept metadata), and spandrel knows no "
                                "architecture with these weights") from None
    except Exception as exc:
        raise ForeignModelError(f"{path}: spandrel could not build the network ({type(exc).__name__}: "
                                f"{str(exc)[:120]})") from None
    if not isinstance(desc, spandrel.ImageModelDescriptor) or desc.purpose not in ("SR", "Restoration"):
        raise ForeignModelError(f"{path}: a {desc.architecture.name} {getattr(desc, 'purpose', '')} model; percept "
                                "runs image super-resolution models")
    if desc.input_channels != 3 or desc.output_channels != 3:
        raise ForeignModelError(f"{path}: {desc.architecture.name} with {desc.input_channels} input and "
                                f"{desc.output_channels} output channels; percept runs RGB models")
    if desc.size_requirements.square:
        raise ForeignModelError(f"{path}: {desc.architecture.name} needs square inputs, which percept's tiler "
                                "does not make")
    net = desc.model.float().eval()
    _CACHE[key] = (net, desc)
    return net, desc


def foreign_config(path: str | os.PathLike) -> dict[str, Any]:
    """The parts of a foreign model's ``ModelInfo``: kind, scale, size rule, config (with the tile overlap)."""
    key = _key(Path(path))
    if key in _CONFIGS:
        return dict(_CONFIGS[key])
    net, desc = load_descriptor(path)
    req = desc.size_requirements
    rule = max(1, int(req.multiple_of))
    radius = receptive_radius(net, int(desc.scale), rule)
    # Twice the reach: tile borders (wrong within ``radius`` of the edge) then get little of the blend ramp.
    overlap = max(MIN_OVERLAP, min(MAX_OVERLAP, 2 * radius))
    config = {"arch": "spandrel", "spandrel_arch": desc.architecture.id, "spandrel_name": desc.architecture.name,
              "tags": list(desc.tags), "receptive_radius": radius, "tile_overlap": overlap,
              "supports_half": bool(desc.supports_half), "supports_bfloat16": bool(desc.supports_bfloat16),
              "tiling": desc.tiling.name.lower()}
    _CONFIGS[key] = {"kind": "sr", "config": config, "scale": int(desc.scale), "size_rule": rule,
            "min_size": max(1, int(req.minimum)), "name": Path(path).stem,
            "description": f"{desc.architecture.name} ({', '.join(desc.tags) or 'default'}), loaded through spandrel"}
    return dict(_CONFIGS[key])
