"""Whether int8 is the default for a model on this CPU: its form passed its check, and it is faster here.

Why measured: int8 pays on every CPU without native bf16 (about 1.9× fp32 with AVX2 kernels), and on AMX
(1.3× bf16), but how much depends on the model, the CPU and OpenVINO's kernels. The first default run of a
model on a CPU times its int8 form against the floating-point default on one small picture (about a second)
and keeps the verdict in the cache, keyed by the form, OpenVINO's version and the CPU; later runs read it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from percept.core.model_header import file_sha256, read_info
from percept.engines.int8 import Int8Form, bound_for, find_form

FASTER = 1.1  # int8 must beat the floating-point default by this much to replace it
TIMED_RUNS = 3


@dataclass(frozen=True)
class Int8Verdict:
    use: bool
    why: str


def _verdict_file() -> Path:
    from percept.engines.openvino_runtime import compiled_cache_dir, shared_core

    return compiled_cache_dir(shared_core()) / "int8-speed.json"


def _images_per_s(runtime, x: np.ndarray) -> float:
    runtime.run(x)  # compile for this shape
    start = time.perf_counter()
    for _ in range(TIMED_RUNS):
        runtime.run(x)
    return TIMED_RUNS / (time.perf_counter() - start)


def _time_both(onnx_path: Path, form: Int8Form, float_precision: str, scale: int) -> tuple[float, float]:
    from percept.engines.openvino_runtime import OpenVinoRuntime

    side = 256 if scale == 1 else 64
    x = np.random.default_rng(0).random((1, 3, side, side), dtype=np.float32)
    fast = _images_per_s(OpenVinoRuntime(onnx_path, precision="int8", int8_xml=form.xml), x)
    plain = _images_per_s(OpenVinoRuntime(onnx_path, precision=float_precision), x)
    return fast, plain


def int8_default(model_path: str | os.PathLike, onnx_path: Callable[[], Path], float_precision: str,
                 log: Callable[[str], None] | None = None) -> Int8Verdict:
    """Whether ``--precision`` left out should mean int8 for this model here, and why, in words."""
    sha = file_sha256(model_path)
    form = find_form(model_path, sha)
    if form is None:
        return Int8Verdict(False, "")  # nothing to say: int8 was never on offer
    info = read_info(model_path)
    if not form.within(bound_for(info)):
        return Int8Verdict(False, "its int8 form is not within percept's accuracy bound of fp32")
    key = f"{sha[:24]}-{form.identity()}-{float_precision}"
    store = _verdict_file()
    try:
        known = json.loads(store.read_text())
    except (OSError, ValueError):
        known = {}
    if key not in known:
        if log:
            log(f"timing {Path(model_path).stem}'s int8 form against {float_precision} on this CPU (once)")
        fast, plain = _time_both(onnx_path(), form, float_precision, int(info.scale))
        known[key] = {"int8": round(fast, 3), float_precision: round(plain, 3)}
        try:
            store.parent.mkdir(parents=True, exist_ok=True)
            part = store.with_suffix(f".{os.getpid()}.part")
            part.write_text(json.dumps(known, indent=1) + "\n")
            os.replace(part, store)
        except OSError:
            pass  # a read-only cache: decided again next time
    ratio = known[key]["int8"] / known[key][float_precision]
    if ratio < FASTER:
        return Int8Verdict(False, f"int8 is only {ratio:.2f}× {float_precision} here")
    return Int8Verdict(True, f"int8 is {ratio:.1f}× {float_precision} here and within {form.check.mean:.2f}/255 of "
                             "fp32 on its check photos")


_DECIDED: dict[tuple[str, ...], Int8Verdict] = {}  # one decision per model, backend, device and cache a process


def default_int8(model_path: str | os.PathLike, backend: str, device: str,
                 log: Callable[[str], None] | None = None) -> Int8Verdict:
    """``int8_default`` for a run whose precision was left out: only a percept model file on the CPU with the
    backend left to percept or OpenVINO can default to int8; the floating-point default is bf16 where OpenVINO
    computes it natively, else fp32. Decided once per process: the command line asks when it builds the job
    (the skip record keeps the precision), ``open_runtime`` again when it opens the model."""
    from percept.engines.cache import cache_dir

    key = (str(Path(model_path).resolve()), backend, device, str(cache_dir()))
    if key not in _DECIDED:
        _DECIDED[key] = _default_int8(model_path, backend, device, log)
    return _DECIDED[key]


def _default_int8(model_path: str | os.PathLike, backend: str, device: str,
                  log: Callable[[str], None] | None) -> Int8Verdict:
    from percept.core.devices import resolve_device
    from percept.engines.cache import cached_onnx
    from percept.engines.errors import EngineError
    from percept.engines.openvino_runtime import native_bf16, openvino_module
    from percept.engines.select import file_kind

    if backend not in ("auto", "openvino") or file_kind(model_path) != "model":
        return Int8Verdict(False, "")
    if resolve_device(device).startswith("cuda") or openvino_module() is None:
        return Int8Verdict(False, "")
    try:
        return int8_default(model_path, lambda: cached_onnx(model_path, log=log),
                            "bf16" if native_bf16() else "fp32", log)
    except (EngineError, OSError, RuntimeError) as exc:  # the form or its timing failed: the float default stands
        return Int8Verdict(False, str(exc).splitlines()[0])
