"""The backends percept can run a model on, one record each: what files and devices it takes, its precisions,
whether tiles can share statistics, how to tell it is installed and how to open it.

Auto-selection (``percept.engines.select``), ``percept bench``'s plan, the command line's choices and the
install hints are all read from these records, so a backend's rules live in one place.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

from percept.core.extras import install_hint

FILE_KINDS = ("model", "onnx", "engine")  # percept .safetensors (or a foreign .pth), .onnx, TensorRT engine
PRECISIONS = ("fp32", "bf16", "fp16", "int8")


@dataclass(frozen=True)
class Backend:
    name: str
    packages: tuple[str, ...]  # modules any one of which says it is installed
    extra: str  # percept's extra that installs it ("" when the base install has it)
    file_kinds: tuple[str, ...]
    devices: tuple[str, ...]  # "cpu", "cuda"
    precisions: dict[str, tuple[str, ...]]  # device type → precisions it runs there, the useful ones to time first
    shares_statistics: tuple[str, ...]  # precisions at which tiles share instance-norm statistics
    opener: str  # name of its open function in percept.engines.select

    def installed(self) -> bool:
        return any(importlib.util.find_spec(p) is not None for p in self.packages)

    def unavailable(self, device: str) -> str | None:
        """Why it cannot run on ``device`` at all (not installed, wrong device), or None."""
        kind = device_type(device)
        if kind not in self.devices:
            others = " or ".join(b.name for b in BACKENDS.values() if kind in b.devices)
            where = "NVIDIA GPUs" if self.devices == ("cuda",) else "the CPU"
            here = "no CUDA GPU is in use" if kind == "cpu" else "this is a GPU"
            return f"percept runs {self.name} on {where} only and {here}; use --backend {others}"
        if not self.installed():
            how = install_hint(self.extra) if self.extra else f"pip install {self.packages[0]}"
            return f"{self.name} is not installed ({how})"
        return None

    def unsupported(self, precision: str, device: str) -> str | None:
        """Why it cannot run ``precision`` on ``device``, or None."""
        allowed = self.precisions.get(device_type(device), ())
        if precision not in allowed:
            where = "a GPU" if device_type(device) == "cuda" else "the CPU"
            return f"{self.name} runs {' or '.join(allowed) or 'nothing'} on {where}, not {precision}"
        return None


def device_type(device: str) -> str:
    return "cuda" if device.startswith("cuda") else "cpu"


BACKENDS: dict[str, Backend] = {b.name: b for b in (
    Backend("openvino", ("openvino",), "", ("model", "onnx"), ("cpu",), {"cpu": ("fp32", "bf16", "int8")},
            ("fp32", "bf16", "int8"),
            "_open_openvino"),  # the CPU default: bf16 twice ONNX Runtime fp32 where native, 1.16× it in fp32
    Backend("onnxruntime", ("onnxruntime",), "onnxruntime", ("model", "onnx"), ("cpu", "cuda"),
            {"cpu": ("fp32", "fp16"), "cuda": ("fp32", "fp16")}, ("fp32",), "_open_onnxruntime"),
    Backend("torch", ("torch",), "train", ("model",), ("cpu", "cuda"),
            {"cpu": ("fp32", "bf16"), "cuda": ("fp32", "fp16", "bf16")}, ("fp32", "bf16", "fp16"), "_open_torch"),
    Backend("tensorrt", ("tensorrt", "tensorrt_rtx"), "tensorrt", ("model", "onnx", "engine"), ("cuda",),
            {"cuda": ("fp16", "fp32")}, (), "_open_tensorrt"),  # fused FP16 kernels: the CUDA default
)}
# --backend auto: the order tried on each device type (the first that opens wins).
AUTO_ORDER: dict[str, tuple[str, ...]] = {"cuda": ("tensorrt", "torch", "onnxruntime"),
                                          "cpu": ("openvino", "onnxruntime", "torch")}
BACKEND_CHOICES = ("auto", *BACKENDS)
BENCH_CHOICES = (*BACKEND_CHOICES, "all")  # percept bench: "all" times every backend that opens


def backend(name: str) -> Backend:
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose from {', '.join(BACKEND_CHOICES)}")
    return BACKENDS[name]


def for_file(kind: str) -> list[Backend]:
    """The backends that take a file of ``kind``, in registry order."""
    return [b for b in BACKENDS.values() if kind in b.file_kinds]


def auto_candidates(kind: str, device: str) -> list[Backend]:
    """``--backend auto``'s order for a file of ``kind`` on ``device``."""
    return [BACKENDS[n] for n in AUTO_ORDER[device_type(device)] if kind in BACKENDS[n].file_kinds]


def opener(b: Backend) -> Callable:
    from percept.engines import select

    return getattr(select, b.opener)
