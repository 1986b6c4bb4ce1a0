"""Device and precision choices for training and inference, in one place."""

from __future__ import annotations

import torch


def cpu_supports_bf16() -> bool:
    """True when this CPU has native bf16 instructions (AVX512-BF16 / AMX), where bf16 autocast pays off."""
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except Exception:
        return False


def resolve_device(device: str = "auto") -> torch.device:
    """``percept.core.devices.resolve_device`` as a ``torch.device`` (the trainers' form): one rule for both."""
    from percept.core.devices import resolve_device as resolve

    return torch.device(resolve(device))


def autocast_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``--amp auto|bf16|fp16|off`` on ``device``; None means full fp32.

    ``auto``: bf16 on GPUs that support it (else fp16 with a grad scaler); on CPUs with native bf16
    (AVX512-BF16/AMX) bf16 too — measured ~1.6× faster per style-training step on the reference CPU
    (docs/research/benchmarks-log.md) with the same loss to ~1%; off on other CPUs, where bf16 is emulated and slow.
    """
    if amp == "off":
        return None
    if amp == "bf16":
        return torch.bfloat16
    if amp == "fp16":
        if device.type != "cuda":
            raise ValueError("--amp fp16 needs a CUDA device; use bf16 on the CPU")
        return torch.float16
    if amp != "auto":
        raise ValueError(f"unknown --amp {amp!r} (auto, bf16, fp16, off)")
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_supports_bf16() else None
