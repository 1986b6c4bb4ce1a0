"""PyTorch runtime: CPU fp32 or bf16 autocast; CUDA fp16 with channels_last.

Opt-in CUDA extras, both off by default because they only pay off in some cases and cannot be measured on
a CPU-only machine:
  * ``compile``: ``torch.compile`` (Inductor, no CUDA graphs) — fuses norm+ReLU+residual; costs a compile
    per new input shape, so worth it for long runs of same-size images.
  * ``cuda_graphs``: one captured CUDA graph per input shape, replayed — removes per-kernel launch overhead,
    which matters for small images and batches; memory for each captured shape stays allocated.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from percept.core.devices import threads
from percept.core.model_header import ModelInfo
from percept.engines.errors import EngineError
from percept.engines.norm_stats import Stats
from percept.engines.runtime import UNLIMITED
from percept.engines.torch_stats import imposed_torch, measure_torch, torch_norm_layers


class TorchRuntime:
    """Runs a percept network eagerly under inference mode."""

    name = "torch"
    note = ""
    limits = UNLIMITED

    def __init__(self, net: nn.Module, info: ModelInfo, device: str = "cpu", precision: str = "fp32",
                 compile: bool = False, cuda_graphs: bool = False):
        if precision not in ("fp32", "bf16", "fp16"):
            raise ValueError(f"unknown precision {precision!r}")
        if precision == "fp16" and not device.startswith("cuda"):
            raise ValueError("fp16 needs a CUDA device; use bf16 or fp32 on the CPU")
        if (compile or cuda_graphs) and not device.startswith("cuda"):
            raise ValueError("torch.compile / CUDA graphs are CUDA-only options in percept")
        self.info, self.device, self.precision = info, device, precision
        torch.set_num_threads(threads())
        self.scale, self.size_rule, self.min_size = int(info.scale), int(info.size_rule), int(info.min_size)
        self.net = net.to(device).eval()
        if device.startswith("cuda"):
            self.net = self.net.to(memory_format=torch.channels_last)
            if precision == "fp16":
                self.net = self.net.half()
        self.forward = self.net
        self.norms = torch_norm_layers(self.net)
        # Hooks do not run on CUDA-graph replay, and compiled graphs bake them in or out: shared statistics
        # need the eager module.
        self.shared_stats = bool(self.norms) and not (compile or cuda_graphs)
        if compile:
            self.forward = torch.compile(self.net, mode="max-autotune-no-cudagraphs", dynamic=False)
        self.cuda_graphs = cuda_graphs
        self.graphs: dict[tuple[int, ...], tuple[torch.cuda.CUDAGraph, torch.Tensor, torch.Tensor]] = {}

    def _compute(self, x: torch.Tensor) -> torch.Tensor:
        if self.precision == "fp16":
            return self.forward(x.half())
        if self.precision == "bf16":
            with torch.autocast(device_type=x.device.type, dtype=torch.bfloat16):
                return self.forward(x)
        return self.forward(x)

    def _replay(self, x: torch.Tensor) -> torch.Tensor:
        """Run through a CUDA graph captured for this input shape (captured on first sight)."""
        key = tuple(x.shape)
        if key not in self.graphs:
            static_in = x.clone()
            side = torch.cuda.Stream(device=x.device)
            side.wait_stream(torch.cuda.current_stream(x.device))
            with torch.cuda.stream(side):
                for _ in range(2):  # warm-up outside the graph (cuDNN autotuning, lazy init)
                    self._compute(static_in)
            torch.cuda.current_stream(x.device).wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                static_out = self._compute(static_in)
            self.graphs[key] = (graph, static_in, static_out)
        graph, static_in, static_out = self.graphs[key]
        static_in.copy_(x)
        graph.replay()
        return static_out.clone()

    def measure_stats(self, image: np.ndarray) -> Stats:
        if not self.shared_stats:
            raise EngineError("this torch runtime cannot share normalisation statistics (no instance norm, "
                              "or compiled / CUDA graphs)")
        return measure_torch(self.run_tensor, self.norms, torch.from_numpy(np.ascontiguousarray(image)))

    def run_with_stats(self, batch: np.ndarray, stats: Sequence[Stats | None]) -> np.ndarray:
        if not self.shared_stats:
            raise EngineError("this torch runtime cannot share normalisation statistics")
        with imposed_torch(self.norms, stats):
            return self.run(batch)

    def run(self, batch: np.ndarray) -> np.ndarray:
        return self.run_tensor(torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32))).numpy()

    @torch.inference_mode()
    def run_tensor(self, batch: torch.Tensor) -> torch.Tensor:
        """``run`` on a tensor (what the benchmarks and the CUDA path use without copies)."""
        x = batch.to(self.device, non_blocking=True)
        if self.device.startswith("cuda"):
            x = x.contiguous(memory_format=torch.channels_last)
        y = self._replay(x) if self.cuda_graphs else self._compute(x)
        return y.float().clamp_(0.0, 1.0).to("cpu").contiguous()
