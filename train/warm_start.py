"""Warm starts: begin training from a trained network's weights instead of from noise."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from percept.train.checkpoint import ModelFileError, load_model
from percept.train.data import DataError

ADDED_AT_ZERO = ("exposure.",)  # parameter names of optional layers whose zero start leaves the output unchanged


def warm_start_weights(path: Path, net: nn.Module, kind: str) -> dict[str, torch.Tensor]:
    """The weights of a trained ``kind`` network to start ``net`` from; refused with one line if they do not fit.

    A trained network already does most of the job (a style net reconstructs photos, a pixel-loss SR net
    restores edges), so only what differs is left to learn. Only the layers must match: options that add
    no weights (a style net's output mapping) may differ and are relearnt; layers that start at zero (the
    exposure path) may be added."""
    try:
        source, info = load_model(path)
    except ModelFileError as exc:
        raise DataError(f"--init {exc}") from None
    theirs = {k: v.shape for k, v in source.state_dict().items()}
    own = net.state_dict()
    # Layers that start at zero (a style net's exposure path) may be new: the parent behaves as if it had them.
    added = {k for k in own if k not in theirs and k.startswith(ADDED_AT_ZERO)}
    same_layers = theirs == {k: v.shape for k, v in own.items() if k not in added}
    if info.kind != kind or not same_layers:
        raise DataError(f"--init {path}: a {info.kind} network {info.config}, not one with the layers of "
                        f"{net.config()}")
    weights = {k: v.float() for k, v in source.state_dict().items()}
    return weights | {k: torch.zeros_like(own[k]) for k in added}
