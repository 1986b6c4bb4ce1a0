"""Devices, threads and memory for running models, decided without importing torch.

Why: ``--device auto`` is asked on every run, and importing torch to answer it costs ~2 s, more than a warm
run spends on a photo. Without an NVIDIA driver on the machine, or without torch installed, there is no CUDA
for percept, so the answer is the CPU at once; only where a driver is present is torch asked.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

_THREADS: int | None = None


def torch_installed() -> bool:
    return importlib.util.find_spec("torch") is not None


def nvidia_driver_present() -> bool:
    """An NVIDIA kernel driver is loaded (its /proc entry or a device node exists; /dev/dxg: WSL 2's GPU)."""
    return any(Path(p).exists() for p in ("/proc/driver/nvidia/version", "/dev/nvidia0", "/dev/dxg"))


def cuda_available() -> bool:
    """CUDA usable by percept: a driver and torch that sees a GPU (torch imported only then)."""
    if not (nvidia_driver_present() and torch_installed()):
        return False
    import torch

    return bool(torch.cuda.is_available())


def resolve_device(device: str = "auto") -> str:
    """``auto`` → ``cuda:0`` when CUDA is usable, else ``cpu``; ``cuda`` → ``cuda:0``; one clear line otherwise."""
    if device == "auto":
        return "cuda:0" if cuda_available() else "cpu"
    if device == "cuda":
        device = "cuda:0"
    if device.startswith("cuda"):
        index = device[5:]
        if device[4:5] != ":" or not index.isdigit():
            raise ValueError(f"unknown device {device!r} (auto, cpu, cuda or cuda:N)")
        if not cuda_available():
            raise ValueError(f"device {device}: no CUDA GPU is usable here (an NVIDIA driver and percept's GPU "
                             "extra with torch are needed; use --device cpu)")
        return device
    if device != "cpu":
        raise ValueError(f"unknown device {device!r} (auto, cpu, cuda or cuda:N)")
    return device


def cuda_index(device: str) -> int:
    """``cuda:3`` → 3, ``cuda`` → 0."""
    tail = device.partition(":")[2]
    return int(tail) if tail.isdigit() else 0


def cpu_count() -> int:
    """The cores this process may use (its affinity mask, e.g. a container's CPU set)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def set_threads(count: int) -> None:
    """The CPU threads runtimes opened from now on use (ONNX Runtime and OpenVINO size their pools from it;
    the torch runtime passes it to torch)."""
    global _THREADS
    _THREADS = max(1, int(count))


def threads() -> int:
    """Threads for one runtime: ``set_threads``'s value, else ``OMP_NUM_THREADS``, else every usable core."""
    if _THREADS:
        return _THREADS
    env = os.environ.get("OMP_NUM_THREADS", "")
    return int(env) if env.isdigit() and int(env) > 0 else cpu_count()


def cpu_flags() -> set[str]:
    """The CPU's feature flags (``/proc/cpuinfo``), empty where unknown."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.partition(":")[2].split())
    except OSError:
        pass
    return set()


def native_bf16_cpu() -> bool:
    """The CPU computes bf16 natively (AVX-512 BF16 or AMX), where bf16 pays off instead of being emulated."""
    return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})


def free_memory(device: str = "cpu") -> int:
    """Bytes free on ``device``: CUDA's own count, or MemAvailable (else free pages) for the CPU."""
    if device.startswith("cuda"):
        import torch

        free, _ = torch.cuda.mem_get_info(torch.device(device))
        return int(free)
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 2 << 30


def is_out_of_memory(exc: BaseException) -> bool:
    """Any runtime's out-of-memory error (torch's own class where torch is loaded, or the words)."""
    import sys

    torch = sys.modules.get("torch")
    oom = getattr(torch, "OutOfMemoryError", None) if torch is not None else None
    if oom is not None and isinstance(exc, oom):
        return True
    return isinstance(exc, (RuntimeError, MemoryError)) and (
        isinstance(exc, MemoryError) or "out of memory" in str(exc).lower() or "can't allocate" in str(exc).lower())
