"""Derived files (ONNX exports, TensorRT engines) cached by the hash of what they were made from.

Why: ``--backend onnxruntime|tensorrt`` on a ``.safetensors`` model must not re-export (seconds) or rebuild
(minutes) every run. Keys hold the source file's sha256, the options and percept's version, so a changed
model, option or exporter makes a new entry and never serves a stale one. ``$PERCEPT_CACHE_DIR`` overrides
``~/.cache/percept``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from percept.core.atomic import atomic_path, write_test
from percept.core.model_header import file_sha256
from percept.core.version import __version__
from percept.engines.detail import Blend
from percept.engines.engine_record import machine, mismatches, read_record
from percept.engines.errors import EngineError, EngineMismatch
from percept.engines.onnx_facts import ensure_facts, write_facts
from percept.engines.onnx_opset import DEFAULT_OPSET

FP32_TOLERANCE = 1e-3  # max |onnxruntime - PyTorch| accepted for a cached export (images are in [0, 1])


_FALLBACK: dict[str, Path] = {}


def cache_dir() -> Path:
    """``$PERCEPT_CACHE_DIR`` or ``~/.cache/percept``; where that cannot be written (a read-only file system,
    another user's folder) a private temporary folder for this process instead, said once on stderr: the run
    goes on without a lasting cache (each run prepares its models again)."""
    wanted = Path(os.environ.get("PERCEPT_CACHE_DIR") or Path.home() / ".cache" / "percept").expanduser()
    key = str(wanted)
    if key in _FALLBACK:
        return _FALLBACK[key]
    try:
        write_test(wanted)
        _FALLBACK[key] = wanted
    except OSError as exc:
        fallback = Path(tempfile.mkdtemp(prefix="percept-cache-"))
        atexit.register(shutil.rmtree, fallback, ignore_errors=True)
        print(f"warning: cache folder {wanted} cannot be written ({exc.strerror or exc}); running without a lasting "
              "cache (set PERCEPT_CACHE_DIR to a writable folder to keep prepared models)", file=sys.stderr)
        _FALLBACK[key] = fallback
    return _FALLBACK[key]


def cached_onnx(model_path: str | os.PathLike, fp16: bool = False, opset: int = DEFAULT_OPSET,
                log: Callable[[str], None] | None = None, blend: Blend | None = None) -> Path:
    """The ONNX graph of a percept model file, made on first use and cached by the file's hash.

    percept's own architectures are built from the weights (``percept.engines.onnx_graph``: no torch);
    anything else (a foreign model through spandrel) goes through the PyTorch exporter, checked against
    PyTorch. ``blend`` (``--detail``): the graph of the pair's blended weights, cached per blend."""
    from percept.core.model_header import read_info
    from percept.engines.onnx_graph import can_build

    sha = file_sha256(model_path)
    info = read_info(model_path)
    built = can_build(info)
    how = "built" if built else f"opset{opset}"
    if blend is not None:
        if not built:
            raise EngineError(f"{model_path}: --detail blends percept's own upscalers only")
        how = f"detail-{blend.key()}"
    path = cache_dir() / "onnx" / f"{sha[:24]}-{how}-{'fp16' if fp16 else 'fp32'}-v{__version__}.onnx"
    if path.is_file():
        ensure_facts(path)
        return path
    if log:
        log(f"preparing {Path(model_path).stem} (first use of this model here; later runs start at once): "
            f"ONNX graph ({'fp16' if fp16 else 'fp32'}) in {path.parent}")
    if built:
        weights = None
        if blend is not None:
            from percept.engines.detail import blended_weights

            weights = blended_weights(blend)
        write_built_graph(model_path, path, fp16=fp16, info=info, weights=weights)
    else:
        _export_checked(model_path, path, fp16, opset)
    write_facts(path)  # so the next run reads what it needs without importing onnx
    return path


def write_built_graph(model_path: str | os.PathLike, out: Path, fp16: bool = False, info=None,
                      weights=None) -> Path:
    """Build a percept model's graph from its weights (``weights`` may replace them) and save it atomically."""
    import onnx

    from percept.engines.onnx_graph import build_model_graph

    model = build_model_graph(model_path, weights=weights, info=info)
    if fp16:
        from percept.engines.fp16 import convert_to_fp16

        model = convert_to_fp16(model)
        for prop in model.metadata_props:
            if prop.key == "precision":
                prop.value = "fp16"
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        onnx.save_model(model, str(tmp), save_as_external_data=False)
    return out


def _export_checked(model_path: str | os.PathLike, path: Path, fp16: bool, opset: int) -> None:
    from percept.core.extras import install_hint

    try:
        from percept.engines.export import export_model
    except ImportError:
        raise EngineError(f"{model_path}: not one of percept's own architectures; running it needs PyTorch "
                          f"({install_hint('train')})") from None
    result = export_model(model_path, path, opset=opset, fp16=fp16)
    worst = max(c.max_abs for c in result.checks)
    if worst > FP32_TOLERANCE:
        path.unlink(missing_ok=True)
        raise EngineError(f"{model_path}: ONNX export differs from PyTorch by {worst:.2e} (> {FP32_TOLERANCE})")


def cached_engine(onnx_path: str | os.PathLike, precision: str = "fp16", flavour: str = "auto",
                  device: str = "cuda:0", log: Callable[[str], None] | None = None) -> Path:
    """A TensorRT engine for ``onnx_path`` that fits this machine: reused when its record matches, else built."""
    from percept.engines.trt_build import build_engine, load_tensorrt

    trt, flavour = load_tensorrt(flavour)
    here = machine(flavour, trt.__version__, device)
    gpu = (here["gpu"] or {}).get("compute_capability") or "cpu"
    sha = file_sha256(onnx_path)
    path = cache_dir() / "engines" / f"{sha[:24]}-{flavour}-{trt.__version__}-sm{gpu}-{precision}.engine"
    if path.is_file():
        try:
            if not mismatches(read_record(path), here):
                return path
        except EngineMismatch:
            pass
        if log:
            log(f"cached engine {path.name} does not fit this machine; rebuilding")
    if log:
        log(f"building a {flavour} {precision} engine for {Path(onnx_path).name} (first use; cached for later)")
    build_engine(onnx_path, out=path, precision=precision, flavour=flavour, log=log)
    return path


def rebuild_if_possible(engine: str | os.PathLike, device: str, log: Callable[[str], None] | None = None) -> Path:
    """For an engine whose record does not fit: rebuild it from its ONNX when that file is still at hand
    (same sha256) — into the cache, never over the user's file; otherwise re-raise the mismatch."""
    record = read_record(engine)
    onnx_info = record.get("onnx", {})
    source = Path(onnx_info.get("path", ""))
    if not source.is_file() or file_sha256(source) != onnx_info.get("sha256"):
        raise EngineMismatch(f"{engine}: engine does not match this machine and its ONNX "
                             f"({source or 'unknown'}) is not at hand to rebuild it")
    if log:
        log(f"{Path(engine).name} does not fit this machine; rebuilding from {source}")
    return cached_engine(source, precision=record.get("precision", "fp16"),
                         flavour="auto", device=device, log=log)
