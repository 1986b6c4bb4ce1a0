"""ONNX export of percept models: one self-contained file, dynamic shapes, metadata, checked against PyTorch.

Exporter choice: ``dynamo=True`` (torch.export + onnxscript). On percept's networks it gives a clean graph
— ``Pad(mode=reflect)`` with constant pads, one ``InstanceNormalization`` per norm, ``Resize`` with
constant scales, ``DepthToSpace`` — with symbolic batch/height/width, whereas the TorchScript exporter
wraps every reflection pad in ~8 shape-arithmetic nodes (Slice/Concat/Reshape/Transpose/Cast). The model is
saved with ``onnx.save`` from the in-memory proto, never with external data, so the .onnx is the only file.
"""

from __future__ import annotations

import importlib.util
import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from percept.core.atomic import atomic_path
from percept.core.model_header import ModelInfo
from percept.engines.errors import EngineError
from percept.engines.fp16 import convert_to_fp16
from percept.engines.onnx_graph import onnx_metadata
from percept.engines.onnx_opset import DEFAULT_OPSET, MIN_OPSET
from percept.train.checkpoint import load_model

INPUT_NAME, OUTPUT_NAME = "input", "output"


@dataclass
class CheckResult:
    shape: tuple[int, ...]
    max_abs: float
    mean_abs: float


@dataclass
class ExportResult:
    path: Path
    precision: str
    dynamic: bool
    opset: int
    checks: list[CheckResult] = field(default_factory=list)        # onnxruntime vs PyTorch
    fp16_checks: list[CheckResult] = field(default_factory=list)   # FP16 graph vs FP32 graph


def read_metadata(model: onnx.ModelProto | str | os.PathLike) -> dict[str, str]:
    """The ``metadata_props`` of an ONNX model (loads only the proto, not a session)."""
    if not isinstance(model, onnx.ModelProto):
        model = onnx.load(str(model), load_external_data=False)
    return {p.key: p.value for p in model.metadata_props}


def parse_hw(text: str) -> tuple[int, int]:
    """``"512x768"`` → (512, 768)."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise EngineError(f"--static {text!r}: expected HxW, e.g. 512x512") from None
    return h, w


def _check_size(info: ModelInfo, h: int, w: int) -> None:
    rule, low = info.size_rule, info.min_size
    if h % rule or w % rule or min(h, w) < low:
        raise EngineError(f"static size {h}x{w} does not fit the model: H and W must be multiples of {rule} "
                          f"and at least {low}")


def check_sizes(info: ModelInfo, static: tuple[int, int] | None) -> list[tuple[int, int, int]]:
    """Two (batch, H, W) inputs of different sizes for the parity check (a static graph has one H×W)."""
    if static:
        return [(1, *static), (2, *static)]
    rule = info.size_rule
    base = max(48 // info.scale, info.min_size)
    a = -(-base // rule) * rule
    return [(2, a, a + 2 * rule), (1, a + 4 * rule, a)]


def _export_proto(net: nn.Module, info: ModelInfo, opset: int, static: tuple[int, int] | None) -> onnx.ModelProto:
    from torch.export import Dim

    h, w = static or (max(64, info.min_size),) * 2
    sample = torch.rand(2, 3, h, w)  # batch 2: torch.export specialises dimensions of size 1
    dims: dict[int, Dim] = {0: Dim("batch", min=1, max=4096)}
    if not static:
        dims[2], dims[3] = Dim("height", min=info.min_size), Dim("width", min=info.min_size)
    if importlib.util.find_spec("onnxscript") is None:
        raise EngineError("ONNX export needs onnxscript (torch's dynamo exporter): pip install onnxscript")
    if opset < MIN_OPSET:
        raise EngineError(f"--opset {opset}: percept exports opset {MIN_OPSET} or newer (TensorRT 10+ and "
                          "onnxruntime read it)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(net, (sample,), dynamo=True, opset_version=opset, input_names=[INPUT_NAME],
                                        output_names=[OUTPUT_NAME], dynamic_shapes=(dims,), external_data=False,
                                        optimize=True, verbose=False)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise EngineError(f"torch.onnx.export failed (opset {opset}): {type(exc).__name__}: {first}") from exc
    if program is None:
        raise EngineError("torch.onnx.export returned no program")
    return program.model_proto


def run_onnx(model: onnx.ModelProto | str | os.PathLike, x: np.ndarray, threads: int | None = None) -> np.ndarray:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or torch.get_num_threads()
    opts.log_severity_level = 3
    source = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    session = ort.InferenceSession(source, opts, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def _compare(a: np.ndarray, b: np.ndarray) -> CheckResult:
    diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
    return CheckResult(tuple(a.shape), float(diff.max()), float(diff.mean()))


def export_network(net: nn.Module, info: ModelInfo, out: str | os.PathLike, opset: int = DEFAULT_OPSET,
                   fp16: bool = False, static: tuple[int, int] | None = None, check: bool = True) -> ExportResult:
    """Export ``net`` to ``out``; check onnxruntime against PyTorch (and FP16 against FP32) at two sizes."""
    if static:
        _check_size(info, *static)
    net = net.float().eval().cpu()
    proto32 = _export_proto(net, info, opset, static)
    proto = convert_to_fp16(proto32) if fp16 else proto32
    precision = "fp16" if fp16 else "fp32"
    for key, value in onnx_metadata(info, precision, static is None).items():
        proto.metadata_props.add(key=key, value=value)
    proto.doc_string = f"percept {info.kind} model {info.name!r} ({json.dumps(info.config, sort_keys=True)})"
    onnx.checker.check_model(proto)
    with atomic_path(out) as tmp:
        onnx.save_model(proto, str(tmp), save_as_external_data=False)
    opset_found = next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    result = ExportResult(Path(out), precision, static is None, opset_found)
    if check:
        gen = torch.Generator().manual_seed(0)
        for n, h, w in check_sizes(info, static):
            x = torch.rand(n, 3, h, w, generator=gen)
            with torch.inference_mode():
                ref = net(x).numpy()
            y32 = run_onnx(proto32, x.numpy())
            result.checks.append(_compare(y32, ref))
            if fp16:
                result.fp16_checks.append(_compare(run_onnx(result.path, x.numpy()), y32))
    return result


def export_model(model_path: str | os.PathLike, out: str | os.PathLike, opset: int = DEFAULT_OPSET,
                 fp16: bool = False, static: tuple[int, int] | None = None, check: bool = True) -> ExportResult:
    """Export a percept model file (``.safetensors``) to a single ``.onnx`` file."""
    net, info = load_model(model_path)
    return export_network(net, info, out, opset=opset, fp16=fp16, static=static, check=check)
