"""TensorRT / TensorRT-RTX runtime: a serialized engine driven with torch CUDA tensors and a torch stream.

No pycuda: device buffers are torch tensors (``set_tensor_address(name, tensor.data_ptr())``) and
``execute_async_v3`` runs on a torch CUDA stream, so memory comes from torch's caching allocator and
nothing else initialises CUDA. The engine's JSON record is checked against this machine before
deserialising (``percept.engines.engine_record``). For TensorRT-RTX, JIT-compiled kernels are kept in a runtime
cache file beside the engine (``<engine>.rtxcache``) so the next start skips the compilation.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from percept.core.atomic import atomic_path
from percept.core.extras import install_hint
from percept.core.model_header import ModelInfo, file_sha256
from percept.engines.availability import tensorrt_module
from percept.engines.engine_record import FLAVOURS, check_record, machine, read_record
from percept.engines.errors import BackendUnavailable, EngineError
from percept.engines.norm_stats import Stats
from percept.engines.runtime import ShapeLimits
from percept.engines.trt_build import make_logger

TORCH_DTYPES = {"FLOAT": torch.float32, "HALF": torch.float16, "BF16": torch.bfloat16, "INT32": torch.int32}


def _torch_dtype(trt_dtype: Any) -> torch.dtype:
    return TORCH_DTYPES[str(trt_dtype).rsplit(".", 1)[-1]]


class TensorRTRuntime:
    """Runs a percept engine built by ``percept.engines.trt_build`` on one CUDA device."""

    note = ""
    shared_stats = False  # an engine's graph has no statistics inputs: tiles use their own

    def measure_stats(self, image: np.ndarray) -> Stats:
        raise EngineError("TensorRT engines cannot share normalisation statistics between tiles")

    def run_with_stats(self, batch: np.ndarray, stats: Sequence[Stats | None]) -> np.ndarray:
        raise EngineError("TensorRT engines cannot share normalisation statistics between tiles")

    def __init__(self, engine_path: str | os.PathLike, device: str = "cuda:0"):
        self.path = Path(engine_path)
        if not self.path.is_file():
            raise EngineError(f"{engine_path}: engine file not found")
        flavour = read_record(self.path).get("tensorrt", {}).get("flavour", "tensorrt")
        trt = tensorrt_module(FLAVOURS.get(flavour, "tensorrt"))
        if trt is None:
            raise BackendUnavailable(f"{engine_path} needs {flavour}, which is not installed: {install_hint(flavour)}")
        record = check_record(self.path, machine(flavour, trt.__version__, device))
        if record.get("engine_sha256") not in (None, file_sha256(self.path)):
            raise EngineError(f"{engine_path}: the engine file changed after its record was written; rebuild it")
        self.trt, self.record, self.flavour = trt, record, flavour
        self.name = "tensorrt-rtx" if flavour == "tensorrt-rtx" else "tensorrt"
        self.device = str(torch.device(device))
        meta = record.get("model", {})
        self.scale, self.size_rule = int(meta.get("scale", 1)), int(meta.get("size_rule", 1))
        self.min_size = int(meta.get("min_size", 1))
        self.info = ModelInfo.from_json(meta["percept"]) if "percept" in meta else None
        self.precision = record.get("precision", "fp32")

        self.logger = make_logger(trt, False, lambda msg: None)
        self.cache_path = Path(f"{self.path}.rtxcache")
        self.runtime_cache = None
        self.seen_shapes: set[tuple[int, ...]] = set()
        with torch.cuda.device(self.device):
            self.runtime = trt.Runtime(self.logger)
            self.engine = self.runtime.deserialize_cuda_engine(self.path.read_bytes())
            if self.engine is None:
                raise EngineError(f"{engine_path}: {trt.__name__} cannot deserialise it: "
                                  + "; ".join(self.logger.errors))
            self.context = self._context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        modes = {n: self.engine.get_tensor_mode(n) for n in names}
        self.input_name = next(n for n in names if modes[n] == trt.TensorIOMode.INPUT)
        self.output_name = next(n for n in names if modes[n] == trt.TensorIOMode.OUTPUT)
        self.input_dtype = _torch_dtype(self.engine.get_tensor_dtype(self.input_name))
        self.output_dtype = _torch_dtype(self.engine.get_tensor_dtype(self.output_name))
        self.min_shape, _, self.max_shape = (tuple(d) for d in
                                             self.engine.get_tensor_profile_shape(self.input_name, 0))
        self.limits = ShapeLimits(min_hw=(self.min_shape[2], self.min_shape[3]),
                                  max_hw=(self.max_shape[2], self.max_shape[3]), max_batch=self.max_shape[0])
        self.stream = torch.cuda.Stream(device=self.device)

    def _context(self) -> Any:
        """Execution context; on TensorRT-RTX with a runtime cache loaded from / saved beside the engine."""
        if self.flavour != "tensorrt-rtx" or not hasattr(self.engine, "create_runtime_config"):
            return self.engine.create_execution_context()
        config = self.engine.create_runtime_config()
        cache = config.create_runtime_cache()
        if self.cache_path.is_file():
            cache.deserialize(self.cache_path.read_bytes())
        config.set_runtime_cache(cache)
        if os.access(self.cache_path.parent, os.W_OK):
            self.runtime_cache = cache
        else:
            self.note = (f"{self.cache_path.parent} is not writable: the JIT-compiled kernels are not kept, so "
                         "TensorRT-RTX compiles them again next start")
        return self.engine.create_execution_context(config)

    def save_runtime_cache(self) -> None:
        """Keep the JIT-compiled kernels beside the engine; an engine in a read-only folder still runs (the
        kernels are then compiled again next start), with one note."""
        if self.runtime_cache is None:
            return
        try:
            with atomic_path(self.cache_path) as tmp:
                tmp.write_bytes(bytes(memoryview(self.runtime_cache.serialize())))
        except OSError as exc:
            self.runtime_cache = None  # stop trying: every later image would fail the same way
            self.note = (f"runtime cache not saved ({self.cache_path.parent} is not writable: "
                         f"{exc.strerror or exc}); TensorRT-RTX compiles its kernels again next start")

    def _check_shape(self, shape: tuple[int, ...]) -> None:
        lo, hi = self.min_shape, self.max_shape
        if any(s < a or s > b for s, a, b in zip(shape[1:], lo[1:], hi[1:], strict=True)):
            raise EngineError(f"{self.path.name}: input {'x'.join(map(str, shape))} is outside the engine's profile "
                              f"{'x'.join(map(str, lo))} .. {'x'.join(map(str, hi))}; rebuild with a wider "
                              "--min/--max or tile the image")

    def run(self, batch: np.ndarray) -> np.ndarray:
        return self.run_tensor(torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32))).numpy()

    @torch.inference_mode()
    def run_tensor(self, batch: torch.Tensor) -> torch.Tensor:
        """``run`` on a tensor (CPU or already on the GPU)."""
        self._check_shape(tuple(batch.shape))
        outputs = []
        with torch.cuda.device(self.device), torch.cuda.stream(self.stream):
            for chunk in batch.split(self.max_shape[0]):
                x = chunk.to(self.device, self.input_dtype, non_blocking=True).contiguous()
                if not self.context.set_input_shape(self.input_name, tuple(x.shape)):
                    raise EngineError(f"{self.path.name}: cannot set input shape {tuple(x.shape)}")
                y = torch.empty(tuple(self.context.get_tensor_shape(self.output_name)), dtype=self.output_dtype,
                                device=self.device)
                self.context.set_tensor_address(self.input_name, x.data_ptr())
                self.context.set_tensor_address(self.output_name, y.data_ptr())
                if not self.context.execute_async_v3(self.stream.cuda_stream):
                    raise EngineError(f"{self.path.name}: TensorRT execution failed: " + "; ".join(self.logger.errors))
                outputs.append(y.float().clamp_(0.0, 1.0).to("cpu", non_blocking=False))
        self.stream.synchronize()
        if tuple(batch.shape) not in self.seen_shapes:  # new shape: new JIT kernels worth keeping
            self.seen_shapes.add(tuple(batch.shape))
            self.save_runtime_cache()
        return torch.cat(outputs) if len(outputs) > 1 else outputs[0]
