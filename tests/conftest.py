"""Shared fixtures: the real VGG-16 weights from ../shared (or $PERCEPT_VGG_WEIGHTS), small images."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SHARED_VGG = SHARED / "assets" / "vgg16_features.safetensors"

try:  # the lean install's tests run without torch
    import torch
except ImportError:
    torch = None
else:  # keep the suite fast and deterministic on a 2-core machine
    torch.set_num_threads(min(2, os.cpu_count() or 1))


def vgg_weights_path() -> Path | None:
    env = os.environ.get("PERCEPT_VGG_WEIGHTS")
    if env and Path(env).is_file():
        return Path(env)
    return SHARED_VGG if SHARED_VGG.is_file() else None


@pytest.fixture(scope="session")
def vgg_path() -> Path:
    path = vgg_weights_path()
    if path is None:
        pytest.skip("no VGG-16 weights: set PERCEPT_VGG_WEIGHTS or put ../shared beside the repo")
    return path


@pytest.fixture(scope="session")
def vgg(vgg_path):
    from percept.train.vgg import VGGLoss

    return VGGLoss(vgg_path)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is not beside the repository")
    return SHARED


def devices() -> list[str]:
    """Every device a test body should run on (kornia-style): CPU always, CUDA when present."""
    out = ["cpu"]
    if torch is not None and torch.cuda.is_available():
        out.append("cuda")
    return out
