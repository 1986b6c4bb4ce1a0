"""PyTorch runtime: CPU fp32 or bf16 autocast; CUDA fp16 with channels_last."""

from __future__ import annotations

import torch
from torch import nn

from train.checkpoint import ModelInfo


class TorchRuntime:
    """Runs a percept network eagerly under inference mode."""

    name = "torch"

    def __init__(self, net: nn.Module, info: ModelInfo, device: str = "cpu", precision: str = "fp32"):
        if precision not in ("fp32", "bf16", "fp16"):
            raise ValueError(f"unknown precision {precision!r}")
        if precision == "fp16" and not device.startswith("cuda"):
            raise ValueError("fp16 needs a CUDA device; use bf16 or fp32 on the CPU")
        self.info, self.device, self.precision = info, device, precision
        self.scale, self.size_rule, self.min_size = int(info.scale), int(info.size_rule), int(info.min_size)
        self.net = net.to(device).eval()
        if device.startswith("cuda"):
            self.net = self.net.to(memory_format=torch.channels_last)
            if precision == "fp16":
                self.net = self.net.half()

    @torch.inference_mode()
    def run(self, batch: torch.Tensor) -> torch.Tensor:
        x = batch.to(self.device, non_blocking=True)
        if self.device.startswith("cuda"):
            x = x.contiguous(memory_format=torch.channels_last)
        if self.precision == "fp16":
            y = self.net(x.half())
        elif self.precision == "bf16":
            with torch.autocast(device_type=x.device.type, dtype=torch.bfloat16):
                y = self.net(x)
        else:
            y = self.net(x)
        return y.float().clamp_(0.0, 1.0).to("cpu").contiguous()
