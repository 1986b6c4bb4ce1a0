"""Backend selection: open a model file on the best available runtime, or the one asked for."""

from __future__ import annotations

import os

import torch

from engines.runtime import Runtime
from engines.torch_runtime import TorchRuntime
from train.checkpoint import load_model

BACKENDS = ("auto", "torch", "onnxruntime", "tensorrt")


def resolve_device(device: str = "auto") -> str:
    if device == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        device = "cuda:0"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device}: no CUDA GPU is visible to torch")
    return device


def open_runtime(model_path: str | os.PathLike, backend: str = "auto", device: str = "auto",
                 precision: str | None = None) -> Runtime:
    """A ready Runtime for a percept model file."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    dev = resolve_device(device)
    if backend in ("auto", "torch"):
        net, info = load_model(model_path)
        prec = precision or ("fp16" if dev.startswith("cuda") else "fp32")
        return TorchRuntime(net, info, device=dev, precision=prec)
    raise ValueError(f"backend {backend} is not available in this build")
