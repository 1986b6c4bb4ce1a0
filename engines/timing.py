"""Timing shared by ``percept bench`` and ``benchmarks/*.py``: one way to time things, one model benchmark.

* ``measure``: warm-up calls, then the median of timed repeats (CUDA is synchronised around each call).
* ``plan_configs`` / ``open_configs`` / ``bench_model``: model-only throughput of a percept model on every
  backend and precision asked for, with PyTorch FP32 eager as the first (baseline) row: images/s,
  ms/image, achieved GFLOP/s (``percept.train.flops``), ratio to the baseline and the largest output difference.
* ``machine_info``, ``peak_matmul_gflops``, ``memory_bandwidth_gbs``: what this machine can do at best,
  for the roofline (``benchmarks/roofline.py``).

Engines never import percept.cli: problems are ``ValueError``/``EngineError`` for the CLI to map.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from percept.core.devices import native_bf16_cpu as cpu_supports_bf16
from percept.core.devices import threads, torch_installed
from percept.engines.errors import EngineError
from percept.engines.registry import BENCH_CHOICES, PRECISIONS

Log = Callable[[str], None]


# ------------------------------------------------------------------------------------------ basic timing
def sync(device: str | None) -> None:
    """Wait for queued GPU work (no-op on the CPU), so a timer measures the work and not its launch."""
    if device is not None and str(device).startswith("cuda"):
        import torch

        torch.cuda.synchronize(torch.device(device))


@dataclass
class Timing:
    times: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def best(self) -> float:
        return min(self.times)


def measure(fn: Callable[[], object], warmup: int = 1, repeats: int = 3,
            device: str | None = None) -> tuple[Timing, object]:
    """Call ``fn`` ``warmup`` times untimed, then ``repeats`` times timed; returns the timings and the last
    result. ``device``: a CUDA device is synchronised before and after each timed call."""
    result = None
    for _ in range(max(0, warmup)):
        result = fn()
    sync(device)
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        result = fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return Timing(times), result


def default_repeats(side: int) -> tuple[int, int]:
    """(warm-up runs, timed runs) for a square image side: fewer at 1024², where one image takes seconds
    on a small CPU."""
    return (1, 3) if side >= 1024 else (2, 5)


# ------------------------------------------------------------------------------------------ the machine
def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(device: str = "cpu") -> dict[str, object]:
    """What a benchmark result depends on, for its header and JSON record."""
    torch_version = None
    if torch_installed():
        import torch

        torch_version = torch.__version__
    info: dict[str, object] = {"cpu": cpu_name(), "cores": os.cpu_count(), "threads": threads(),
                               "torch": torch_version, "cpu_bf16": cpu_supports_bf16(),
                               "python": platform.python_version()}
    try:
        import onnxruntime as ort

        info["onnxruntime"] = ort.__version__
    except Exception:
        info["onnxruntime"] = None
    if str(device).startswith("cuda"):
        import torch

        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info


def machine_line(info: dict[str, object]) -> str:
    text = (f"{info['cpu']}, {info['cores']} cores, {info['threads']} threads, "
            f"torch {info['torch'] or 'not installed'}, "
            f"onnxruntime {info.get('onnxruntime') or 'missing'}, CPU bf16 {'yes' if info['cpu_bf16'] else 'no'}")
    return text + (f", GPU {info['gpu']}" if info.get("gpu") else "")


def peak_matmul_gflops(dtype=None, n: int = 2048, device: str = "cpu", repeats: int = 3) -> float:
    """Achieved GFLOP/s of an n×n by n×n matrix product (torch): a practical compute ceiling for ``dtype``."""
    import torch

    dtype = dtype or torch.float32
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    timing, _ = measure(lambda: torch.mm(a, b), warmup=1, repeats=repeats, device=device)
    return 2 * n ** 3 / timing.median / 1e9


def memory_bandwidth_gbs(mib: int = 512, device: str = "cpu", repeats: int = 5) -> float:
    """Achieved GB/s of copying a large float32 tensor (bytes read + bytes written per second)."""
    import torch

    n = mib * (1 << 20) // 4
    src = torch.rand(n, device=device)
    dst = torch.empty_like(src)
    timing, _ = measure(lambda: dst.copy_(src), warmup=1, repeats=repeats, device=device)
    return 2 * n * 4 / timing.median / 1e9


# ------------------------------------------------------------------------------------------ model benchmark
BASELINE = ("torch", "fp32")


def auto_precisions(backend: str, device: str) -> list[str]:
    """The precisions worth timing for a backend on a device when none is asked for: its registry record's,
    without bf16 where the CPU would emulate it."""
    from percept.engines.registry import BACKENDS, device_type

    precisions = list(BACKENDS[backend].precisions.get(device_type(device), ()))
    if device_type(device) == "cpu" and not cpu_supports_bf16():
        precisions = [p for p in precisions if p != "bf16"]
    if backend == "torch" and device_type(device) == "cuda":
        import torch

        precisions = [p for p in precisions if p != "bf16" or torch.cuda.is_bf16_supported()]
    return precisions


def unsupported(backend: str, precision: str, device: str) -> str | None:
    """Why a backend/precision pair cannot run on ``device``, or None (the registry's rule)."""
    from percept.engines.registry import BACKENDS

    return BACKENDS[backend].unsupported(precision, device)


def backend_unavailable(backend: str, device: str) -> str | None:
    """Why ``backend`` cannot run on ``device`` at any precision (wrong device, not installed), or None."""
    from percept.engines.registry import BACKENDS

    return BACKENDS[backend].unavailable(device)


@dataclass
class Planned:
    backend: str
    precision: str


@dataclass
class Opened:
    backend: str              # the backend asked for ("auto" stays "auto"; runtime.name says what ran)
    precision: str
    runtime: object

    @property
    def label(self) -> str:
        rt = self.runtime
        name = f"{rt.name} (auto)" if self.backend == "auto" else rt.name
        return f"{name} {rt.precision}"


def plan_configs(file_kind: str, device: str, backend: str = "all",
                 precisions: list[str] | None = None) -> tuple[list[Planned], list[tuple[str, str]]]:
    """The (backend, precision) pairs to time, baseline first, and the pairs skipped with the reason.

    ``file_kind``: ``model`` (percept .safetensors: every backend, baseline PyTorch FP32 eager), ``onnx``
    (onnxruntime, tensorrt) or ``engine`` (tensorrt). ``backend``: one of ``BACKEND_CHOICES``.
    ``precisions``: None for each backend's useful precisions on this device (``auto_precisions``).
    """
    if backend not in BENCH_CHOICES:
        raise ValueError(f"--backend {backend!r}: choose {', '.join(BENCH_CHOICES)}")
    for p in precisions or []:
        if p not in PRECISIONS:
            raise ValueError(f"--precision {p!r}: choose auto or a comma list of {', '.join(PRECISIONS)}")
    from percept.engines.registry import for_file

    usable = [b.name for b in for_file(file_kind)]
    planned: list[Planned] = []
    skipped: list[tuple[str, str]] = []
    if file_kind == "model" and torch_installed():
        planned.append(Planned(*BASELINE))
    elif file_kind == "model":
        skipped.append(("torch", "not installed (the baseline is the first backend that runs)"))
    if backend == "all":
        names = usable
    elif backend == "auto":
        names = ["auto"]
    else:
        if backend not in usable:
            raise ValueError(f"--backend {backend}: a {file_kind} file runs with {' or '.join(usable)}")
        names = [backend]
    for name in names:
        why = backend_unavailable(name, device)
        if why:
            skipped.append((name, why))
            continue
        if precisions:
            wanted: list[str | None] = list(precisions)
        else:  # auto: the precision `percept stylize` would use; a named backend: each useful one
            wanted = [None] if name == "auto" else list(auto_precisions(name, device))
        for prec in wanted:
            why = unsupported(name, prec, device) if prec and name != "auto" else None
            if why:
                skipped.append((f"{name} {prec}", why))
            elif not any(p.backend == name and p.precision == prec for p in planned):
                planned.append(Planned(name, prec))
    return planned, skipped


def open_configs(model_path: str | os.PathLike, planned: list[Planned], device: str,
                 log: Log | None = None) -> tuple[list[Opened], list[tuple[str, str]]]:
    """Open each planned runtime (exports/builds are cached); failures are returned with their reason.
    Two plans that end up on the same runtime and precision (``auto`` picking the baseline) run once."""
    from percept.engines.select import open_runtime

    opened: list[Opened] = []
    failed: list[tuple[str, str]] = []
    for plan in planned:
        try:
            rt = open_runtime(model_path, backend=plan.backend, device=device, precision=plan.precision, log=log)
        except (EngineError, ValueError, ImportError, OSError, RuntimeError) as exc:
            failed.append((f"{plan.backend} {plan.precision or 'default'}", str(exc).splitlines()[0]))
            continue
        if any(o.runtime.name == rt.name and o.runtime.precision == rt.precision for o in opened):
            continue
        opened.append(Opened(plan.backend, plan.precision or rt.precision, rt))
    return opened, failed


def network_of(model_path: str | os.PathLike):
    """An nn.Module of the model's architecture (for FLOP counts), or None when the file does not say or
    PyTorch is not installed (the rows then leave GFLOP/s out)."""
    if not torch_installed():
        return None
    from percept.engines.select import file_kind
    from percept.train.checkpoint import load_model
    from percept.train.networks import build_network

    kind = file_kind(model_path)
    try:
        if kind == "model":
            return load_model(model_path)[0]
        if kind == "onnx":
            from percept.engines.onnx_facts import info_from_metadata, onnx_facts

            info = info_from_metadata(onnx_facts(model_path).metadata)
            return build_network(info.config) if info is not None else None
    except Exception:
        return None
    return None


def input_side(size: int, scale: int, size_rule: int, min_size: int) -> int:
    """The input side for an output of ``size`` px (input = output / scale), rounded up to the size rule."""
    if size % scale:
        raise ValueError(f"size {size} is not a multiple of the model's scale {scale}")
    multiple = max(1, size_rule)
    return -(-max(size // scale, min_size, 1) // multiple) * multiple


@dataclass
class ModelRow:
    size: int                 # output side in pixels (square)
    input: int                # input side in pixels
    backend: str
    precision: str
    device: str
    batch: int
    seconds: float            # median seconds per batch
    images_per_s: float
    ms_per_image: float
    gflop_per_image: float | None
    gflops: float | None      # achieved GFLOP/s
    ratio: float | None       # × the baseline (first row) at this size
    max_abs_diff: float | None    # output vs the baseline's (images in [0, 1])
    mean_abs_diff: float | None
    warmup: int
    repeats: int
    baseline: bool = False
    note: str = ""
    times: list[float] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("seconds", "images_per_s", "ms_per_image", "gflop_per_image", "gflops", "ratio"):
            if d[k] is not None:
                d[k] = round(d[k], 6)
        d["times"] = [round(t, 6) for t in self.times]
        return d


def bench_model(opened: list[Opened], sizes: list[int], batch: int = 1, warmup: int | None = None,
                repeats: int | None = None, net=None, log: Log | None = None,
                on_row: Callable[[ModelRow], None] | None = None) -> tuple[list[ModelRow], list[tuple[str, str]]]:
    """Time ``Runtime.run`` on a random batch per size for each opened runtime (model only: no decoding or
    encoding). Returns rows (a size's first row is its baseline) and (what, error) for runs that failed."""
    rows: list[ModelRow] = []
    errors: list[tuple[str, str]] = []
    if not opened:
        return rows, errors
    first = opened[0].runtime
    scale, rule, low = int(first.scale), int(first.size_rule), int(first.min_size)
    gen = np.random.default_rng(0)
    for size in sizes:
        side = input_side(size, scale, rule, low)
        x = gen.random((batch, 3, side, side), dtype=np.float32)
        gflop = None
        if net is not None:
            from percept.train.flops import count_flops

            gflop = count_flops(net, side, side) / 1e9
        w_default, r_default = default_repeats(side * scale)
        w = w_default if warmup is None else warmup
        r = r_default if repeats is None else repeats
        base_t = ref = None
        for item in opened:  # the first runtime that runs at this size is the reference
            rt = item.runtime
            if log:
                log(f"timing {item.label} at {side * scale}² (batch {batch}, {w} warm-up, {r} timed)")
            try:
                timing, out = measure(lambda rt=rt, x=x: rt.run(x), w, r)
            except Exception as exc:
                errors.append((f"{item.label} at {side * scale}²", f"{type(exc).__name__}: {exc}".splitlines()[0]))
                continue
            t = timing.median
            first_row = base_t is None
            if first_row:
                base_t, ref = t, out
            diff = np.abs(out - ref) if out.shape == ref.shape else None
            row = ModelRow(size=side * scale, input=side, backend=rt.name, precision=rt.precision,
                           device=rt.device, batch=batch, seconds=t, images_per_s=batch / t,
                           ms_per_image=1000 * t / batch, gflop_per_image=gflop,
                           gflops=gflop * batch / t if gflop is not None else None, ratio=base_t / t,
                           max_abs_diff=None if diff is None else float(diff.max()),
                           mean_abs_diff=None if diff is None else float(diff.mean()), warmup=w, repeats=r,
                           baseline=first_row,
                           note=getattr(rt, "note", "") or "", times=timing.times)
            rows.append(row)
            if on_row:
                on_row(row)
            del out, diff
    return rows, errors


def save_random_model(path: str | os.PathLike, scale: int = 1, seed: int = 0) -> Path:
    """A seeded untrained network (style for ``scale`` 1, else SR ×scale) saved as a percept model file, for
    benchmarks without a trained model: speed does not depend on the weights."""
    import torch

    from percept.train.checkpoint import describe, save_model
    from percept.train.networks import SRNet, TransformNet

    torch.manual_seed(seed)
    net = TransformNet() if scale == 1 else SRNet(scale)
    return save_model(path, net.eval(), describe(net, "random-style" if scale == 1 else f"random-sr-x{scale}"))
