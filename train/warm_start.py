"""Warm starts: begin training from a trained network's weights instead of from noise."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from percept.train.checkpoint import ModelFileError, load_model
from percept.train.data import DataError

# Parameter names of optional layers a parent may lack (a style net's exposure path). They keep the new net's
# own start: from zero the path hardly grew in a quick-preset run (weights ~0.01 after 250 steps) and dark
# photos stayed lifted; from its usual start it keeps them dark, at the same objective (training log).
ADDED_FRESH = ("exposure.",)


def warm_start_weights(path: Path, net: nn.Module, kind: str) -> dict[str, torch.Tensor]:
    """The weights of a trained ``kind`` network to start ``net`` from; refused with one line if they do not fit.

    A trained network already does most of the job (a style net reconstructs photos, a pixel-loss SR net
    restores edges), so only what differs is left to learn. Only the layers must match: options that add
    no weights (a style net's output mapping) may differ and are relearnt; an exposure path may be added,
    with the new net's own start."""
    try:
        source, info = load_model(path)
    except ModelFileError as exc:
        raise DataError(f"--init {exc}") from None
    theirs = {k: v.shape for k, v in source.state_dict().items()}
    own = net.state_dict()
    added = {k for k in own if k not in theirs and k.startswith(ADDED_FRESH)}
    same_layers = theirs == {k: v.shape for k, v in own.items() if k not in added}
    if info.kind != kind or not same_layers:
        raise DataError(f"--init {path}: a {info.kind} network {info.config}, not one with the layers of "
                        f"{net.config()}")
    weights = {k: v.float() for k, v in source.state_dict().items()}
    return weights | {k: own[k].clone() for k in added}
