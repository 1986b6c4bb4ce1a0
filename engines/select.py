"""Backend selection: open a model on the best available runtime, or on the one asked for.

``--backend auto`` tries, in order, and takes the first that opens (each failure is recorded in ``.note``):
  * CUDA: ``tensorrt`` (fused FP16 kernels; the engine is built once and cached), then ``torch`` FP16
    channels_last (cuDNN; no export step) — ONNX Runtime's CUDA provider runs the same cuDNN convolutions
    with extra copies, so it is never preferred.
  * CPU: ``openvino`` bf16 where the CPU computes bf16 natively (AVX-512 BF16 / AMX) and no precision was
    asked for — 2.2× ONNX Runtime fp32's speed at 512², within 0.4/255 of fp32 on every shipped model
    (``benchmarks/backends.py``, ``benchmarks/cpu_precision.py``, docs/RESULTS.md); else fp32 on
    ``openvino`` (1.16× ONNX Runtime), ``onnxruntime`` (faster than PyTorch eager fp32, equal to it to
    ~1e-6), then ``torch``. The ONNX file is exported once into the cache (``percept.engines.cache``).
A model file (``.safetensors``) works with every backend; an ``.onnx`` file with onnxruntime/openvino/tensorrt; an
engine (a file with a ``<engine>.json`` record) with tensorrt only. FP16/BF16 runtimes are probed on a
small batch when opened and replaced by FP32 if their output is not finite.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from percept.core.devices import resolve_device
from percept.engines.errors import BackendUnavailable, EngineError, EngineMismatch
from percept.engines.registry import (
    AUTO_ORDER,
    BACKEND_CHOICES,
    BACKENDS,
    PRECISIONS,
    auto_candidates,
    for_file,
    opener,
)

if TYPE_CHECKING:
    from percept.engines.detail import Blend
    from percept.engines.runtime import Runtime

__all__ = ["AUTO_ORDER", "BACKEND_CHOICES", "BACKENDS", "PRECISIONS", "file_kind", "open_runtime", "resolve_device"]
ENGINE_SUFFIXES = (".engine", ".plan", ".trt")


def file_kind(path: str | os.PathLike) -> str:
    """``model`` (percept .safetensors), ``onnx`` or ``engine``."""
    path = Path(path)
    if path.suffix == ".onnx":
        return "onnx"
    if path.suffix in ENGINE_SUFFIXES or Path(f"{path}.json").is_file():
        return "engine"
    return "model"


def default_precision(device: str) -> str:
    """FP16 on CUDA (tensor cores); FP32 on the CPU, where bf16 autocast changes outputs (opt-in)."""
    return "fp16" if device.startswith("cuda") else "fp32"


@dataclass(frozen=True)
class Opening:
    """One attempt to open a model: the file, on which device and precision, and what else shapes it."""

    path: Path
    kind: str  # file_kind: model, onnx or engine
    device: str
    precision: str
    log: Callable[[str], None] | None = None
    blend: Blend | None = None  # --detail: the pair's weights blended when opened
    torch_options: dict = field(default_factory=dict)  # compile, cuda_graphs (CUDA only)

    def at(self, precision: str) -> Opening:
        return replace(self, precision=precision)


def _open_torch(o: Opening) -> Runtime:
    from percept.engines.torch_runtime import TorchRuntime
    from percept.train.checkpoint import load_model

    net, info = load_model(o.path)
    if o.blend is not None:
        import torch

        from percept.engines.detail import blended_weights

        net.load_state_dict({k: torch.from_numpy(v) for k, v in blended_weights(o.blend).items()})
    return TorchRuntime(net, info, device=o.device, precision=o.precision, **o.torch_options)


def _graph(o: Opening, fp16: bool = False) -> Path:
    """The ONNX graph an ONNX-reading runtime opens: the file itself, or a percept model's cached graph."""
    from percept.engines.cache import cached_onnx

    return cached_onnx(o.path, fp16=fp16, log=o.log, blend=o.blend) if o.kind == "model" else o.path


def _open_onnxruntime(o: Opening) -> Runtime:
    from percept.engines.ort_runtime import OrtRuntime

    runtime = OrtRuntime(_graph(o, fp16=o.precision == "fp16"), device=o.device)
    if o.kind == "onnx" and runtime.precision != o.precision:
        runtime.note = f"{o.path.name} is an {runtime.precision} graph; running it as such"
    return runtime


def _open_openvino(o: Opening) -> Runtime:
    from percept.engines.openvino_runtime import OpenVinoRuntime

    if o.precision != "int8":
        return OpenVinoRuntime(_graph(o), precision=o.precision)
    form = _int8_form(o)
    runtime = OpenVinoRuntime(_graph(o), precision="int8", int8_xml=form.xml)
    if form.check is not None:
        runtime.note = f"int8 form within {form.check.mean:.2f}/255 of fp32 on average on its check photos"
    return runtime


def _int8_form(o: Opening):
    """The model's int8 form (shipped beside it, or made earlier into the cache), or why there is none."""
    from percept.engines.int8 import find_form

    if o.kind != "model":
        raise BackendUnavailable(f"{o.path.name}: int8 runs percept model files (.safetensors), which carry or can "
                                 "be given an int8 form")
    if o.blend is not None:
        raise BackendUnavailable(f"{o.path.name}: --detail blends have no int8 form; use --precision fp32 or bf16")
    form = find_form(o.path)
    if form is None:
        raise BackendUnavailable(f"{o.path.name} has no int8 form here; make one with: percept quantize {o.path} "
                                 "--calibration PHOTO_FOLDER")
    return form


def _open_tensorrt(o: Opening) -> Runtime:
    from percept.engines.cache import cached_engine, rebuild_if_possible
    from percept.engines.trt_build import load_tensorrt
    from percept.engines.trt_runtime import TensorRTRuntime

    if o.kind == "engine":
        try:
            return TensorRTRuntime(o.path, o.device)
        except EngineMismatch:
            return TensorRTRuntime(rebuild_if_possible(o.path, o.device, o.log), o.device)
    load_tensorrt("auto")  # the one-line "not installed" message before any export work
    engine = cached_engine(_graph(o), precision=o.precision, device=o.device, log=o.log)
    return TensorRTRuntime(engine, o.device)


def auto_order(kind: str, device: str, precision: str | None) -> list[tuple[str, str]]:
    """(backend, precision) pairs ``--backend auto`` tries in turn (``percept.engines.registry``); ``precision``
    None means "the default": on a CPU with native bf16, OpenVINO bf16 first."""
    prec = precision or default_precision(device)
    candidates = auto_candidates(kind, device)
    if not candidates:  # none for this device (an engine on a CPU): opening the file's backend says why
        return [(b.name, prec) for b in for_file(kind)]
    order: list[tuple[str, str]] = []
    if not device.startswith("cuda") and precision in (None, "bf16") and "openvino" in {b.name for b in candidates}:
        from percept.engines.openvino_runtime import native_bf16

        if native_bf16():
            order.append(("openvino", "bf16"))
    return order + [(b.name, prec) for b in candidates if not b.unsupported(prec, device)
                    and (b.name, prec) not in order]


def _probe(runtime: Runtime) -> bool:
    """True when the runtime's output on a small deterministic batch is finite everywhere."""
    import numpy as np

    rule, low = max(1, runtime.size_rule), max(1, runtime.min_size)
    side = -(-max(low, 64 // max(1, runtime.scale)) // rule) * rule
    low_h, low_w = runtime.limits.min_hw  # a TensorRT engine's profile minimum
    h, w = max(side, low_h), max(side, low_w)
    x = np.random.default_rng(0).random((1, 3, h, w), dtype=np.float32)
    return bool(np.isfinite(runtime.run(x)).all())


def _open(backend: str, o: Opening) -> Runtime:
    record = BACKENDS[backend]
    if o.kind not in record.file_kinds:
        takes = " or ".join({"model": "percept model files (.safetensors)", "onnx": ".onnx files",
                             "engine": "TensorRT engines"}[k] for k in record.file_kinds)
        raise BackendUnavailable(f"{o.path.name}: the {backend} backend runs {takes}, not {o.kind} files")
    why = record.unavailable(o.device) or record.unsupported(o.precision, o.device)
    if why:
        raise BackendUnavailable(why)
    return opener(record)(o)


def _open_checked(backend: str, o: Opening) -> Runtime:
    runtime = _open(backend, o)
    if runtime.precision == "fp32" or _probe(runtime):
        return runtime
    note = f"{runtime.precision} gave non-finite outputs on a probe batch; using fp32"
    if o.kind != "model":
        raise EngineError(f"{o.path.name}: {runtime.precision} {backend} output is not finite on a probe batch; "
                          "use an fp32 export/engine or the .safetensors model")
    runtime = _open(backend, o.at("fp32"))
    runtime.note = note
    return runtime


def open_runtime(model_path: str | os.PathLike, backend: str = "auto", device: str = "auto",
                 precision: str | None = None, *, log: Callable[[str], None] | None = None,
                 torch_options: dict | None = None, blend: Blend | None = None) -> Runtime:
    """A ready Runtime for a percept model file, ONNX export or engine; ``.name`` says which backend runs it.

    ``torch_options`` (``compile``, ``cuda_graphs``) are passed to the torch runtime (CUDA only, opt-in);
    ``blend`` (``--detail``) opens the model's fidelity/perceptual pair with blended weights.
    """
    if backend not in BACKEND_CHOICES:
        raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKEND_CHOICES)}")
    if precision is not None and precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose from {', '.join(PRECISIONS)}")
    path = Path(model_path)
    if not path.is_file():
        raise EngineError(f"{model_path}: file not found")
    dev = resolve_device(device)
    kind = file_kind(path)
    request = Opening(path, kind, dev, precision or default_precision(dev), log, blend, dict(torch_options or {}))
    if backend != "auto":
        return _open_checked(backend, request)
    order = auto_order(kind, dev, precision)
    int8_why = ""
    if precision is None and blend is None and order and order[0][0] == "openvino":
        from percept.engines.int8_choice import default_int8

        verdict = default_int8(path, "auto", device, log)
        order = [("openvino", "int8"), *order] if verdict.use else order
        int8_why = verdict.why
    skipped = []
    for i, (name, prec) in enumerate(order):
        try:
            runtime = _open_checked(name, request.at(prec))
        except EngineError as exc:  # includes BackendUnavailable: try the next backend
            if i == len(order) - 1:
                raise
            skipped.append(f"{name}: {exc}")
            continue
        reason = f"auto chose {runtime.name} ({runtime.precision}, {runtime.device})"
        if int8_why:
            reason += f": {int8_why}" if runtime.precision == "int8" else f"; not int8: {int8_why}"
        if skipped:
            reason += "; skipped " + "; ".join(skipped)
        runtime.note = f"{reason}. {runtime.note}".strip() if runtime.note else reason
        return runtime
    raise EngineError("no backend could open the model")  # unreachable: the last failure re-raises
