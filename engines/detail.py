"""``--detail T``: a fidelity upscaler and its perceptual partner blended when the model is opened.

Why weights and not outputs: the two models share their layers (the perceptual one is fine-tuned from the
fidelity one), so T × perceptual + (1 − T) × fidelity, weight by weight, is one network that runs at the
cost of one (Real-ESRGAN's ``-dn`` does the same); blending outputs would run both. Each model's header names
its partner and its role (``ModelInfo.detail``), so either file, or a shipped name, opens the pair.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from percept.core.model_header import ModelFileError, ModelInfo, file_sha256, read_info

ROLES = ("fidelity", "perceptual")


@dataclass(frozen=True)
class Blend:
    """The pair a ``--detail`` run blends: T × ``perceptual`` + (1 − T) × ``fidelity``."""

    fidelity: Path
    perceptual: Path
    t: float

    def key(self) -> str:
        """What the blended weights depend on, for cache names and the settings fingerprint."""
        return f"{file_sha256(self.fidelity)[:12]}-{file_sha256(self.perceptual)[:12]}-t{self.t:.3f}"


def detail_blend(path: str | os.PathLike, t: float, info: ModelInfo | None = None) -> Blend:
    """The pair of the model at ``path`` for ``--detail t``; one line (``ModelFileError``) when it has no
    partner (a user's or foreign model, the ×8) or the partner is missing or does not fit."""
    path = Path(path)
    if not 0.0 <= t <= 1.0:
        raise ModelFileError(f"--detail {t}: choose a value from 0 (fidelity) to 1 (perceptual)")
    info = info or read_info(path)
    detail = info.detail or {}
    role, partner_name = detail.get("role"), detail.get("partner")
    if role not in ROLES or not partner_name:
        raise ModelFileError(f"{path.name}: --detail needs a model whose header names a fidelity/perceptual "
                             "partner; this one has none")
    partner = path.with_name(f"{partner_name}.safetensors")
    if not partner.is_file():
        raise ModelFileError(f"{path.name}: its --detail partner {partner_name} is not beside it ({partner})")
    other = read_info(partner)
    if other.config != info.config or (other.detail or {}).get("role") == role:
        raise ModelFileError(f"{partner}: not the {ROLES[1 - ROLES.index(role)]} partner of {path.name} "
                             "(other layers, or the same role)")
    fidelity, perceptual = (path, partner) if role == "fidelity" else (partner, path)
    return Blend(fidelity, perceptual, float(t))


def blended_weights(blend: Blend) -> dict[str, np.ndarray]:
    """T × perceptual + (1 − T) × fidelity, tensor by tensor, as float32 numpy arrays."""
    from percept.engines.onnx_graph import read_weights

    a, b = read_weights(blend.fidelity), read_weights(blend.perceptual)
    if a.keys() != b.keys() or any(a[k].shape != b[k].shape for k in a):
        raise ModelFileError(f"{blend.perceptual}: its tensors do not match {blend.fidelity.name}'s")
    t = np.float32(blend.t)
    return {k: (np.float32(1) - t) * a[k] + t * b[k] for k in a}
