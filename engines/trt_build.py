"""Build TensorRT / TensorRT-RTX engines from percept ONNX files, with a JSON record beside each engine.

One build path for every version: the network is **strongly typed**, so the precision is the ONNX graph's.
For FP16 the FP32 ONNX is converted with ``percept.engines.fp16`` (FP32 inputs/outputs, instance norm kept in
FP32) unless it already computes in FP16. This is what TensorRT ≥ 11 and TensorRT-RTX require and what
TensorRT 10 recommends (``BuilderFlag.FP16``, weakly typed, is deprecated since 10.12), and it is the path CI
exercises with TensorRT-RTX. The record's layer precisions come from the engine inspector where the engine
can be deserialised here (a GPU); otherwise from the strongly typed network, whose types the engine keeps.
TensorRT-RTX builds ahead of time on the CPU (no GPU needed) and JIT-compiles kernels on the user's GPU;
its timing-cache calls are no-ops (deprecated in TensorRT-RTX 1.2), so ``--timing-cache`` applies to
classic TensorRT only.
"""

from __future__ import annotations

import collections
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import onnx
import torch

from percept.core.atomic import atomic_path
from percept.core.extras import install_hint
from percept.core.model_header import file_sha256
from percept.core.version import __version__
from percept.engines.availability import tensorrt_module
from percept.engines.engine_record import CPU_BUILD, FLAVOURS, gpu_info, rtx_default_targets, write_record
from percept.engines.errors import BackendUnavailable, EngineError
from percept.engines.export import read_metadata
from percept.engines.fp16 import convert_to_fp16, is_fp16_graph

Dims = tuple[int, int, int, int]
BASE_PROFILE = ((1, 3, 64, 64), (4, 3, 512, 512), (8, 3, 1024, 1024))  # output sizes for SR (÷ scale)


@dataclass(frozen=True)
class Profile:
    min: Dims
    opt: Dims
    max: Dims

    def as_dict(self) -> dict[str, list[int]]:
        return {"min": list(self.min), "opt": list(self.opt), "max": list(self.max)}


@dataclass
class BuildResult:
    engine: Path
    record: dict[str, Any]


def parse_dims(text: str) -> Dims:
    """``"4x3x512x512"`` → (4, 3, 512, 512)."""
    try:
        dims = tuple(int(v) for v in text.lower().split("x"))
    except ValueError:
        dims = ()
    if len(dims) != 4 or min(dims) < 1:
        raise EngineError(f"shape {text!r}: expected NxCxHxW with positive numbers, e.g. 4x3x512x512")
    return dims  # type: ignore[return-value]


def default_profile(meta: dict[str, str]) -> Profile:
    """min 1×64², opt 4×512², max 8×1024² for style nets; SR nets get the same *output* sizes (input ÷ scale)."""
    scale, rule = int(meta.get("scale", 1)), int(meta.get("size_rule", 1))
    low = int(meta.get("min_size", 1))

    def fit(d: Dims) -> Dims:
        side = max(-(-max(d[2] // scale, low) // rule) * rule, low)
        return (d[0], 3, side, side)

    return Profile(*(fit(d) for d in BASE_PROFILE))


def check_profile(profile: Profile, input_shape: tuple[int, ...], meta: dict[str, str]) -> None:
    """Profile must be ordered min ≤ opt ≤ max, keep static ONNX dims, and respect the model's min size."""
    names = ("batch", "channels", "height", "width")
    for i, name in enumerate(names):
        lo, mid, hi = profile.min[i], profile.opt[i], profile.max[i]
        if not lo <= mid <= hi:
            raise EngineError(f"profile {name}: need min <= opt <= max, got {lo}, {mid}, {hi}")
        fixed = input_shape[i] if i < len(input_shape) else -1
        if fixed > 0 and not lo == mid == hi == fixed:
            raise EngineError(f"profile {name}: the ONNX input has a fixed {name} of {fixed}, the profile asks "
                              f"{lo}..{hi}")
    low = int(meta.get("min_size", 1))
    if min(profile.min[2], profile.min[3]) < low:
        raise EngineError(f"profile min {profile.min}: this model needs H and W of at least {low}")


def load_tensorrt(flavour: str = "auto") -> tuple[Any, str]:
    """The TensorRT module for ``flavour`` (auto|tensorrt|tensorrt-rtx) and its name, or one clear line."""
    if flavour not in ("auto", *FLAVOURS):
        raise EngineError(f"unknown TensorRT flavour {flavour!r}; choose auto, tensorrt or tensorrt-rtx")
    has_gpu = torch.cuda.is_available()
    if flavour == "auto":
        if has_gpu and tensorrt_module("tensorrt") is not None:
            return load_tensorrt("tensorrt")
        if tensorrt_module("tensorrt_rtx") is not None:
            return load_tensorrt("tensorrt-rtx")
        if tensorrt_module("tensorrt") is not None:
            return load_tensorrt("tensorrt")  # gives the no-GPU message
        raise BackendUnavailable(f"TensorRT is not installed: {install_hint('tensorrt')} (needs an NVIDIA GPU) "
                                 f"or {install_hint('tensorrt-rtx')} (RTX GPUs; builds without a GPU)")
    module = tensorrt_module(FLAVOURS[flavour])
    if module is None:
        raise BackendUnavailable(f"{flavour} is not installed (or does not load): {install_hint(flavour)}")
    if flavour == "tensorrt" and not has_gpu:
        raise BackendUnavailable("TensorRT needs a CUDA GPU to build engines and torch sees none; without a GPU use "
                                 f"--flavour tensorrt-rtx ({install_hint('tensorrt-rtx')})")
    return module, flavour


def make_logger(trt: Any, verbose: bool, log: Callable[[str], None]) -> Any:
    class Collecting(trt.ILogger):
        """Keeps errors for the exception message; prints warnings (and everything when verbose)."""

        def __init__(self) -> None:
            trt.ILogger.__init__(self)
            self.errors: list[str] = []

        def log(self, severity: Any, msg: str) -> None:
            level = int(severity)
            if level <= int(trt.ILogger.Severity.ERROR):
                self.errors.append(msg)
            if verbose or level <= int(trt.ILogger.Severity.WARNING):
                log(f"[{trt.__name__}] {msg}")

    return Collecting()


def _parser_errors(parser: Any) -> list[str]:
    lines = []
    for i in range(parser.num_errors):
        err = parser.get_error(i)
        where = err.node_name() or (f"node {err.node()}" if err.node() >= 0 else "model")
        op = f" ({err.node_operator()})" if err.node_operator() else ""
        lines.append(f"{where}{op}: {err.desc()}")
    return lines


COMPUTE_LAYERS = ("CONVOLUTION", "DECONVOLUTION", "NORMALIZATION", "ACTIVATION", "ELEMENTWISE", "RESIZE", "UNARY",
                  "REDUCE", "MATRIX_MULTIPLY")


def _layer_precisions(network: Any, trt: Any) -> dict[str, dict[str, int]]:
    """Compute layers by type and output precision, e.g. {"CONVOLUTION": {"fp16": 16}, "NORMALIZATION":
    {"fp32": 15}}: in a strongly typed network this is what the engine computes in."""
    names = {trt.DataType.HALF: "fp16", trt.DataType.FLOAT: "fp32", trt.DataType.BF16: "bf16"}
    wanted = {getattr(trt.LayerType, t): t for t in COMPUTE_LAYERS if hasattr(trt.LayerType, t)}
    counts: dict[str, collections.Counter[str]] = {}
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        dtype = names.get(layer.get_output(0).dtype)  # None: integer shape arithmetic
        if layer.type in wanted and dtype:
            counts.setdefault(wanted[layer.type], collections.Counter())[dtype] += 1
    return {t: dict(c) for t, c in sorted(counts.items())}


DATATYPE_WORDS = (("BF16", "bf16"), ("FP16", "fp16"), ("HALF", "fp16"), ("FP32", "fp32"), ("FLOAT", "fp32"),
                  ("INT8", "int8"), ("FP8", "fp8"))


def _datatype(text: str) -> str | None:
    """The precision named in an inspector ``Format/Datatype`` string, e.g. "Channel major FP16 format"."""
    upper = text.upper()
    return next((name for word, name in DATATYPE_WORDS if word in upper), None)


def inspector_precisions(info_json: str) -> dict[str, dict[str, int]]:
    """Engine layers by type and output precision, from ``IEngineInspector`` JSON (detailed verbosity).

    These are the engine's real kernels after fusion (e.g. a convolution fused with its activation)."""
    counts: dict[str, collections.Counter[str]] = {}
    for layer in json.loads(info_json).get("Layers", []):
        if not isinstance(layer, dict):
            continue  # "LAYER_NAMES_ONLY" verbosity gives bare names
        outputs = layer.get("Outputs") or [{}]
        dtype = _datatype(str(outputs[0].get("Format/Datatype", "")))
        if dtype:
            counts.setdefault(str(layer.get("LayerType", "Unknown")), collections.Counter())[dtype] += 1
    return {t: dict(c) for t, c in sorted(counts.items())}


def _inspect_engine(trt: Any, logger: Any, serialized: Any) -> dict[str, dict[str, int]] | None:
    """The built engine's layer precisions by its inspector; None where it cannot be deserialised here
    (TensorRT-RTX builds on a CPU) or the TensorRT has no inspector."""
    if not torch.cuda.is_available():
        return None
    engine = trt.Runtime(logger).deserialize_cuda_engine(serialized)
    if engine is None or not hasattr(engine, "create_engine_inspector"):
        return None
    found = inspector_precisions(engine.create_engine_inspector().get_engine_information(
        trt.LayerInformationFormat.JSON))
    return found or None


def _plan(precision: str, fp16_graph: bool) -> bool:
    """Whether the ONNX must be converted to FP16 first (the network is always strongly typed)."""
    if precision == "fp32" and fp16_graph:
        raise EngineError("this ONNX file computes in FP16; export without --fp16 for an FP32 engine")
    return precision == "fp16" and not fp16_graph


def _read_timing_cache(config: Any, path: Path | None, log: Callable[[str], None]) -> Any:
    """Load ``path`` into the builder's timing cache; a cache that does not fit this TensorRT or GPU is
    replaced by an empty one (``set_timing_cache`` says so by returning False), with a note."""
    data = b""
    if path is not None and path.is_file():
        data = path.read_bytes()
    cache = config.create_timing_cache(data)
    if cache is not None and config.set_timing_cache(cache, False):
        if data:
            log(f"timing cache: loaded {path} ({len(data)} bytes)")
        return cache
    log(f"timing cache {path} does not fit this TensorRT or GPU; starting an empty one")
    cache = config.create_timing_cache(b"")
    if not config.set_timing_cache(cache, True):
        raise EngineError("TensorRT cannot start an empty timing cache")
    return cache


def _save_timing_cache(config: Any, path: Path, log: Callable[[str], None]) -> bool:
    """Write the timing cache where the folder is writable; elsewhere a note, not a failed build."""
    if not os.access(path.parent if path.parent.exists() else Path.cwd(), os.W_OK):
        log(f"timing cache: {path.parent} is not writable; the cache is not saved")
        return False
    try:
        with atomic_path(path) as tmp:
            tmp.write_bytes(bytes(memoryview(config.get_timing_cache().serialize())))
    except OSError as exc:
        log(f"timing cache: cannot write {path} ({exc.strerror or exc}); the cache is not saved")
        return False
    log(f"timing cache: saved {path}")
    return True


def build_engine(onnx_path: str | Path, out: str | Path | None = None, precision: str = "fp16",
                 profile: Profile | None = None, workspace_gb: float | None = None,
                 timing_cache: str | Path | None = None, flavour: str = "auto", verbose: bool = False,
                 log: Callable[[str], None] | None = None) -> BuildResult:
    """Parse ``onnx_path``, build a serialized engine for one optimisation profile, write it and its record."""
    log = log or (lambda msg: print(msg, file=sys.stderr))
    if precision not in ("fp16", "fp32"):
        raise EngineError(f"unknown engine precision {precision!r} (fp16 or fp32)")
    onnx_path = Path(onnx_path)
    if not onnx_path.is_file():
        raise EngineError(f"{onnx_path}: ONNX file not found")
    trt, flavour = load_tensorrt(flavour)
    payload, meta, convert = _typed_onnx(onnx_path, precision, log)

    logger = make_logger(trt, verbose, log)
    builder = trt.Builder(logger)
    network, _parser = _parse_network(trt, builder, logger, payload, onnx_path)  # _parser owns the weights
    inp = network.get_input(0)
    profile = profile or default_profile(meta)
    check_profile(profile, tuple(inp.shape), meta)
    cache_path = Path(timing_cache) if timing_cache else None
    if cache_path and flavour == "tensorrt-rtx":
        log("note: TensorRT-RTX ignores timing caches (no-ops since 1.2); it JIT-compiles kernels on the GPU")
        cache_path = None
    config = _builder_config(trt, builder, inp.name, profile, workspace_gb, cache_path, log)

    started = time.perf_counter()
    serialized = builder.build_serialized_network(network, config)
    seconds = time.perf_counter() - started
    if serialized is None:
        detail = "\n  ".join(logger.errors) or "no error message from TensorRT"
        raise EngineError(f"{onnx_path}: {trt.__name__} could not build the engine:\n  {detail}")

    out = Path(out) if out else onnx_path.with_name(f"{onnx_path.stem}.{flavour}.{precision}.engine")
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as f:
            f.write(serialized)
    cache_saved = _save_timing_cache(config, cache_path, log) if cache_path else False

    inspected = _inspect_engine(trt, logger, serialized)
    layers = inspected or _layer_precisions(network, trt)
    built = "fp16" if any("fp16" in c for c in layers.values()) else "fp32"
    record: dict[str, Any] = {
        "onnx": {"path": str(onnx_path.resolve()), "sha256": file_sha256(onnx_path),
                 "converted_to_fp16": convert},
        "engine_sha256": file_sha256(out),
        "precision": built,
        "fp16_method": None if built == "fp32" else "strongly typed FP16 ONNX",
        "layer_precisions": layers,
        "layer_precisions_from": "engine inspector" if inspected else "strongly typed network definition",
        "strongly_typed": True,
        "profile": {"input": inp.name, **profile.as_dict()},
        "workspace_bytes": int(workspace_gb * 2**30) if workspace_gb is not None else None,
        "timing_cache": str(cache_path.resolve()) if cache_saved else None,
        "tensorrt": {"flavour": flavour, "module": trt.__name__, "version": trt.__version__},
        "gpu": gpu_info() or {"name": CPU_BUILD, "compute_capability": None},
        "build_seconds": round(seconds, 3),
        "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "percept_version": __version__,
        "model": meta,
    }
    if flavour == "tensorrt-rtx":
        record["targets"] = rtx_default_targets(trt)
    write_record(out, record)
    return BuildResult(out, record)


def _typed_onnx(onnx_path: Path, precision: str, log: Callable[[str], None]) -> tuple[bytes, dict, bool]:
    """The ONNX bytes to parse (converted to FP16 when an FP16 engine is asked of an FP32 graph), the model's
    percept metadata, and whether it was converted."""
    try:
        model = onnx.load(str(onnx_path))
    except Exception as exc:
        raise EngineError(f"{onnx_path}: not an ONNX file ({type(exc).__name__}: {exc})") from None
    meta = read_metadata(model)
    convert = _plan(precision, is_fp16_graph(model))
    if convert:
        log("converting the ONNX to FP16 for a strongly typed engine (FP32 inputs/outputs, instance norm in FP32)")
        model = convert_to_fp16(model)
    return model.SerializeToString(), meta, convert


def _parse_network(trt: Any, builder: Any, logger: Any, payload: bytes, onnx_path: Path) -> tuple[Any, Any]:
    """A strongly typed network definition of the ONNX (one input), and its parser, which owns the weights the
    network refers to and must live until the engine is built."""
    flags = 0  # TensorRT ≥ 11 and TensorRT-RTX are strongly typed without the flag (it is gone there)
    if hasattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED"):
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(payload, str(onnx_path)):
        raise EngineError(f"{onnx_path}: {trt.__name__} cannot parse it:\n  " + "\n  ".join(_parser_errors(parser)))
    if network.num_inputs != 1:
        raise EngineError(f"{onnx_path}: expected one input, found {network.num_inputs}")
    return network, parser


def _builder_config(trt: Any, builder: Any, input_name: str, profile: Profile, workspace_gb: float | None,
                    cache_path: Path | None, log: Callable[[str], None]) -> Any:
    """One optimisation profile, the workspace limit, detailed profiling (for the inspector), the timing cache."""
    config = builder.create_builder_config()
    opt_profile = builder.create_optimization_profile()
    opt_profile.set_shape(input_name, profile.min, profile.opt, profile.max)
    config.add_optimization_profile(opt_profile)
    if workspace_gb is not None:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gb * 2**30))
    if hasattr(trt, "ProfilingVerbosity"):  # the inspector reports per-layer formats only at DETAILED
        config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED
    if cache_path:
        _read_timing_cache(config, cache_path, log)
    return config
