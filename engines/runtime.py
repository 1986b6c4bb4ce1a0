"""The one small interface every runtime (PyTorch, ONNX Runtime, TensorRT) implements.

``run`` takes a float32 NCHW RGB numpy batch in [0, 1] whose H and W already satisfy
``size_rule`` and ``min_size`` and returns a float32 NCHW numpy batch in [0, 1], ``scale`` × larger.
Numpy, not torch tensors: the ONNX Runtime and OpenVINO runtimes need no torch at all. Padding, tiling and
batching are the caller's job (see percept_cli), so every backend is interchangeable.

Shared normalisation statistics (``percept.engines.norm_stats``): a runtime whose ``shared_stats`` is True
can measure every instance-norm layer's statistics on one image (``measure_stats``) and run a batch with
given statistics per item (``run_with_stats``), so tiles of one picture are normalised alike. A runtime
that cannot (``shared_stats`` False) raises ``EngineError`` from both; the caller tells the user.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from percept.core.model_header import ModelInfo
from percept.engines.norm_stats import Stats


@dataclass(frozen=True)
class ShapeLimits:
    """The input shapes a runtime takes (an engine's optimisation profile); None means no limit.

    Callers (the tile planner) size tiles and batches to fit, and pad inputs up to ``min_hw``."""

    min_hw: tuple[int, int] = (1, 1)
    max_hw: tuple[int, int] | None = None
    max_batch: int | None = None


UNLIMITED = ShapeLimits()


@runtime_checkable
class Runtime(Protocol):
    name: str          # backend name, e.g. "torch", "onnxruntime", "tensorrt"
    precision: str     # "fp32", "bf16", "fp16"
    device: str        # "cpu", "cuda:0", ...
    scale: int
    size_rule: int     # H and W must be multiples of this
    min_size: int      # ... and at least this large

    shared_stats: bool  # measure_stats / run_with_stats work
    limits: ShapeLimits  # input shapes it accepts
    info: ModelInfo | None  # the model's own description (architecture, for memory estimates); None if unknown
    note: str           # what the user should hear about how it was opened ("" when nothing)

    def run(self, batch: np.ndarray) -> np.ndarray: ...
    def measure_stats(self, image: np.ndarray) -> Stats: ...
    def run_with_stats(self, batch: np.ndarray, stats: Sequence[Stats | None]) -> np.ndarray: ...
