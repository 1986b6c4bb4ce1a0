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


def grown_weights(parent: dict[str, torch.Tensor], parent_convs: int, net: nn.Module) -> dict[str, torch.Tensor]:
    """A plain SubPixelSR's weights for ``net``, a deeper one of the same width: the parent's layers, then
    the added 3×3 convolutions as identities (Dirac weights, zero bias, PReLU slope 1) before the pixel head.

    Why: the grown network starts as exactly the trained one, so its extra capacity is learnt from there
    instead of from noise (a warm start that learns to grow a network)."""
    own = net.state_dict()
    weights = {k: v.float() for k, v in parent.items()}
    channels = own["body.0.1.weight"].shape[0]
    for conv in range(parent_convs, net.convs):
        i = 2 + 2 * conv
        weight = torch.zeros(channels, channels, 3, 3)
        nn.init.dirac_(weight)
        weights[f"body.{i}.1.weight"], weights[f"body.{i}.1.bias"] = weight, torch.zeros(channels)
        weights[f"body.{i + 1}.weight"] = torch.ones(channels)
    return weights


def warm_start_sr(path: Path, net: nn.Module) -> None:
    """Load ``net`` (an SR network, maybe with training branches) from the trained SR network at ``path``;
    a SubPixelSR may be deeper than its parent (``grown_weights``)."""
    from percept.train.networks import SubPixelSR

    if not isinstance(net, SubPixelSR):
        net.load_state_dict(warm_start_weights(path, net, "sr"))
        return
    plain = SubPixelSR(net.scale, net.channels, net.convs)
    try:
        source, info = load_model(path)
    except ModelFileError as exc:
        raise DataError(f"--init {exc}") from None
    cfg = info.config
    growable = (info.kind == "sr" and cfg.get("arch") == "SubPixelSR" and cfg.get("scale") == net.scale
                and cfg.get("channels") == net.channels and int(cfg.get("convs", -1)) <= net.convs)
    if not growable:
        raise DataError(f"--init {path}: a {info.kind} network {cfg}, not one with the layers of {plain.config()} "
                        "or fewer of its convolutions")
    plain.load_state_dict(grown_weights(source.state_dict(), int(cfg["convs"]), plain))
    net.load_plain(plain)
