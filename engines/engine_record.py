"""The JSON record beside every engine (``<engine>.json``) and the check that it fits this machine.

Why: a serialized TensorRT engine is only valid for the TensorRT version (and flavour) that built it and,
for classic TensorRT, for the GPU model it was tuned on. Loading a mismatched engine fails deep inside
TensorRT or, worse, runs slowly; the record makes the refusal early and readable.

TensorRT-RTX engines are portable by design (built ahead of time, even without a GPU, and JIT-compiled on
the device), so for them the record lists the compute capabilities the engine targets instead of one GPU.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from percept.core.atomic import atomic_path
from percept.engines.errors import BackendUnavailable, EngineMismatch

FORMAT = "percept-engine/1"
CPU_BUILD = "cpu-build"  # the GPU name recorded for a TensorRT-RTX engine built on a machine without a GPU
FLAVOURS = {"tensorrt": "tensorrt", "tensorrt-rtx": "tensorrt_rtx"}  # flavour → Python module


def record_path(engine: str | os.PathLike) -> Path:
    return Path(f"{engine}.json")


def gpu_info(device: str | int = 0) -> dict[str, str] | None:
    """Name and compute capability of a CUDA device as torch sees it; None without CUDA (torch is imported
    only where CUDA can be there at all)."""
    from percept.core.devices import cuda_available, cuda_index

    if not cuda_available():
        return None
    import torch

    index = cuda_index(device) if isinstance(device, str) else int(device)
    props = torch.cuda.get_device_properties(index or 0)
    return {"name": props.name, "compute_capability": f"{props.major}.{props.minor}"}


def rtx_default_targets(trt: Any) -> list[str]:
    """Compute capabilities a TensorRT-RTX engine built with default settings runs on.

    Read from the module's ``ComputeCapability`` enum (e.g. SM80, SM86, SM89, SM120): TensorRT-RTX's
    default build is portable across all of them except Turing (SM75), which needs an explicit target.
    """
    out = []
    for name in dir(trt.ComputeCapability):
        if name.startswith("SM") and name[2:].isdigit() and name != "SM75":
            digits = name[2:]
            out.append(f"{digits[:-1]}.{digits[-1]}")
    return sorted(out, key=lambda v: tuple(int(p) for p in v.split(".")))


def write_record(engine: str | os.PathLike, record: dict[str, Any]) -> Path:
    path = record_path(engine)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps({"format": FORMAT, **record}, indent=2, sort_keys=True) + "\n")
    return path


def read_record(engine: str | os.PathLike) -> dict[str, Any]:
    path = record_path(engine)
    if not path.is_file():
        raise EngineMismatch(f"{engine}: no build record {path.name} beside the engine, so it cannot be checked "
                             "against this machine; rebuild it with `percept build-engine MODEL.onnx`")
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise EngineMismatch(f"{path}: unreadable build record ({exc}); rebuild the engine") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise EngineMismatch(f"{path}: not a percept engine record (format {record.get('format')!r})")
    return record


def machine(flavour: str, version: str, device: str | int = 0) -> dict[str, Any]:
    """What a record is compared with: the TensorRT flavour/version importable here and the GPU."""
    return {"flavour": flavour, "version": version, "gpu": gpu_info(device)}


def mismatches(record: dict[str, Any], here: dict[str, Any]) -> list[str]:
    """Every reason the engine described by ``record`` must not run ``here`` (empty: it may)."""
    trt_rec = record.get("tensorrt", {})
    problems = []
    if trt_rec.get("flavour") != here["flavour"]:
        problems.append(f"built with {trt_rec.get('flavour')}, loading with {here['flavour']}")
    elif trt_rec.get("version") != here["version"]:
        problems.append(f"built with {trt_rec.get('flavour')} {trt_rec.get('version')}, "
                        f"this machine has {here['version']}")
    gpu = here["gpu"]
    built_on = record.get("gpu") or {}
    if gpu is None:
        problems.append("no CUDA GPU is visible here (engines run on NVIDIA GPUs only)")
    elif here["flavour"] == "tensorrt-rtx":
        targets = record.get("targets") or []
        if gpu["compute_capability"] not in targets:
            problems.append(f"{gpu['name']} has compute capability {gpu['compute_capability']}, the engine targets "
                            f"{', '.join(targets) or 'none'}")
    elif (built_on.get("name"), built_on.get("compute_capability")) != (gpu["name"], gpu["compute_capability"]):
        problems.append(f"built on {built_on.get('name')} (sm {built_on.get('compute_capability')}), this GPU is "
                        f"{gpu['name']} (sm {gpu['compute_capability']})")
    return problems


def check_record(engine: str | os.PathLike, here: dict[str, Any]) -> dict[str, Any]:
    """The engine's record, or EngineMismatch naming every difference from this machine (BackendUnavailable
    when the only problem is that there is no GPU: rebuilding would not help)."""
    record = read_record(engine)
    problems = mismatches(record, here)
    if problems and (len(problems) > 1 or here["gpu"] is not None):
        raise EngineMismatch(f"{engine}: engine does not match this machine: {'; '.join(problems)}. "
                             f"Rebuild it: percept build-engine {record.get('onnx', {}).get('path', 'MODEL.onnx')}")
    if problems:
        raise BackendUnavailable(f"{engine}: {problems[0]}; use --backend onnxruntime or torch on this machine")
    return record
