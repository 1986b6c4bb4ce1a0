"""The one small interface every runtime (PyTorch, ONNX Runtime, TensorRT) implements.

``run`` takes a float32 NCHW RGB batch in [0, 1] on the CPU whose H and W already satisfy
``size_rule`` and ``min_size`` and returns float32 NCHW in [0, 1] on the CPU,
``scale`` × larger. Padding, tiling and
batching are the caller's job (see percept_cli), so every backend is interchangeable.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class Runtime(Protocol):
    name: str          # backend name, e.g. "torch", "onnxruntime", "tensorrt"
    precision: str     # "fp32", "bf16", "fp16"
    device: str        # "cpu", "cuda:0", ...
    scale: int
    size_rule: int     # H and W must be multiples of this
    min_size: int      # ... and at least this large

    def run(self, batch: torch.Tensor) -> torch.Tensor: ...
