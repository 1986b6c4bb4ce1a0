"""OpenVINO backend: a percept .onnx file on the CPU, in fp32 or bf16.

Why a third CPU runtime: on CPUs with native bf16 (AVX-512 BF16, AMX) OpenVINO runs the style network in
bf16 about twice as fast as ONNX Runtime fp32 (benchmarks/backends.py, docs/RESULTS.md), within
0.3/255 of fp32. Its fp32 speed equals ONNX Runtime's, so on CPUs without native bf16 it brings nothing.
Shape handling: the exported graph has dynamic H×W and OpenVINO compiles kernels per new shape on first
use; tiles come in a few shapes, so that cost is paid once or twice per run. Shared normalisation
statistics use the same graph surgery as ONNX Runtime (``percept.engines.norm_stats``).
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from percept.core.devices import threads as default_threads
from percept.engines.cache import cache_dir
from percept.engines.errors import BackendUnavailable, EngineError
from percept.engines.norm_stats import (
    Stats,
    onnx_with_stats_inputs,
    onnx_with_stats_outputs,
    run_with_stats_or_own,
    stats_from_outputs,
    stats_inputs,
)
from percept.engines.onnx_facts import graph_model, onnx_facts
from percept.engines.registry import BACKENDS
from percept.engines.runtime import UNLIMITED

if TYPE_CHECKING:
    import onnx

OV_PRECISION = {"fp32": "f32", "bf16": "bf16", "int8": "f32"}  # int8: what the layers left unquantised run in


def openvino_module():
    """``openvino``, or None where it is not installed.

    Its package imports the model converter (``openvino.tools.ovc``, argparse and telemetry: ~50 ms, an eighth of
    a one-photo run) inside ``try/except ImportError``; percept never converts models, so the converter is
    hidden while openvino loads and put back for anyone who imports it later."""
    if "openvino" not in sys.modules:
        hidden = "openvino.tools.ovc" not in sys.modules
        if hidden:
            sys.modules["openvino.tools.ovc"] = None  # type: ignore[assignment]  (an ImportError for openvino)
        try:
            import openvino  # noqa: F401
        except ImportError:
            return None
        finally:
            if hidden and sys.modules.get("openvino.tools.ovc", 0) is None:
                del sys.modules["openvino.tools.ovc"]
    return sys.modules["openvino"]


def compiled_cache_dir(core) -> Path:
    """Where OpenVINO keeps compiled networks, so a model's second run starts without compiling.

    OpenVINO keys each blob by the graph, the device and the compile options; the folder adds its own version
    and this CPU's capabilities, so a cache carried to another machine or kept across an upgrade is never read.
    """
    ov = openvino_module()
    caps = ",".join(sorted(core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")))
    key = hashlib.sha256(f"{ov.__version__}|{core.get_property('CPU', 'FULL_DEVICE_NAME')}|{caps}".encode())
    return cache_dir() / "openvino" / f"{ov.__version__}-{key.hexdigest()[:16]}"


@functools.cache
def shared_core():
    """One OpenVINO Core per process: creating one reads the plugin registry, which every command would
    otherwise pay twice (the bf16 check, then the runtime)."""
    return openvino_module().Core()


@functools.cache
def native_bf16() -> bool:
    """True when OpenVINO's CPU plugin computes bf16 natively on this machine (else it would emulate it)."""
    ov = openvino_module()
    return ov is not None and "BF16" in shared_core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


class OpenVinoRuntime:
    """Runs an exported percept ONNX file with OpenVINO on the CPU."""

    name = "openvino"
    note = ""
    limits = UNLIMITED
    device = "cpu"

    def __init__(self, onnx_path: str | os.PathLike, precision: str = "fp32", threads: int | None = None,
                 int8_xml: str | os.PathLike | None = None, fp32_between: bool = False):
        """``int8_xml``: the model's int8 form (``percept.engines.int8``), run when ``precision`` is int8;
        ``onnx_path`` still describes the model. The form's floating-point layers run in bf16 where the CPU has
        it natively (1.3× the speed on AMX), in fp32 elsewhere or with ``fp32_between`` (its check)."""
        ov = openvino_module()
        if ov is None:
            raise BackendUnavailable("OpenVINO is not installed: pip install openvino")
        if precision not in OV_PRECISION:
            raise BackendUnavailable(f"percept runs OpenVINO in fp32, bf16 or int8, not {precision}")
        if (precision == "int8") != (int8_xml is not None):
            raise ValueError("an int8 OpenVINO runtime runs the model's int8 form, and only it")
        if precision == "bf16" and not native_bf16():
            raise BackendUnavailable("this CPU has no native bf16 (AVX-512 BF16 / AMX): OpenVINO would run bf16 "
                                     "slower than fp32; use --precision fp32")
        self.path, self.precision = str(onnx_path), precision
        try:
            facts = onnx_facts(self.path)
        except Exception as exc:
            raise EngineError(f"{onnx_path}: not an ONNX file ({type(exc).__name__}: {exc})") from None
        meta = facts.metadata
        self.info, graph_precision = graph_model(meta, str(onnx_path))
        if graph_precision != "fp32":
            raise BackendUnavailable(f"{onnx_path}: an {graph_precision} graph; OpenVINO takes the fp32 export "
                                     "and lowers precision itself")
        self.metadata = meta
        self.scale, self.size_rule, self.min_size = self.info.scale, self.info.size_rule, self.info.min_size
        self.core = shared_core()
        hint = "bf16" if precision == "int8" and native_bf16() and not fp32_between else OV_PRECISION[precision]
        self.config = {"INFERENCE_PRECISION_HINT": hint, "PERFORMANCE_HINT": "LATENCY",
                       "INFERENCE_NUM_THREADS": int(threads or default_threads()),
                       "CACHE_DIR": str(compiled_cache_dir(self.core))}
        self.int8_xml = None if int8_xml is None else str(int8_xml)
        self.request = self._compile(self.int8_xml or self.path).create_infer_request()
        self._stats_requests: dict[str, object] = {}
        self._impose_inputs: list[str] = []  # the statistics graph's input names, in feeding order
        self.shared_stats = precision in BACKENDS["openvino"].shares_statistics and facts.instance_norms > 0

    def _compile(self, model):
        """Compile a file by its path (with a warm CACHE_DIR, OpenVINO then loads the compiled blob without
        reading the model at all), an ONNX graph made in memory or an OpenVINO model (the statistics variants)."""
        try:
            if isinstance(model, str):
                return self.core.compile_model(model, "CPU", self.config)
            if hasattr(model, "SerializeToString"):
                model = self.core.read_model(model.SerializeToString())
            return self.core.compile_model(model, "CPU", self.config)
        except Exception as exc:
            raise EngineError(f"{self.path}: OpenVINO cannot compile it ({type(exc).__name__}: {exc})") from None

    @functools.cached_property
    def _proto(self) -> onnx.ModelProto:
        """The graph, loaded only when tiles need the statistics variants (onnx is slow to import)."""
        import onnx

        return onnx.load(self.path, load_external_data=False)

    def _stats_request(self, which: str):
        if not self.shared_stats:
            raise EngineError(f"{self.path}: this graph has no instance norm to share statistics of")
        if which not in self._stats_requests:
            graph = self._int8_stats_variant(which) if self.int8_xml else self._onnx_stats_variant(which)
            self._stats_requests[which] = self._compile(graph).create_infer_request()
        return self._stats_requests[which]

    def _onnx_stats_variant(self, which: str):
        graph = (onnx_with_stats_outputs if which == "measure" else onnx_with_stats_inputs)(self._proto)
        if which == "impose":
            self._impose_inputs = [i.name for i in graph.graph.input]
        return graph

    def _int8_stats_variant(self, which: str):
        """The int8 form with statistics outputs or inputs (``percept.engines.ov_norm_stats``)."""
        from percept.engines.ov_norm_stats import ov_with_stats_inputs, ov_with_stats_outputs

        model = self.core.read_model(self.int8_xml)
        if which == "measure":
            return ov_with_stats_outputs(model)
        graph = ov_with_stats_inputs(model)
        self._impose_inputs = [p.output(0).get_any_name() for p in graph.get_parameters()]
        return graph

    @staticmethod
    def _array(batch: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(batch, dtype=np.float32)

    def run(self, batch: np.ndarray) -> np.ndarray:
        y = self.request.infer({0: self._array(batch)})[0]
        return np.clip(np.array(y, dtype=np.float32), 0.0, 1.0)

    def measure_stats(self, image: np.ndarray) -> Stats:
        outputs = self._stats_request("measure").infer({0: self._array(image)})
        return stats_from_outputs([outputs[i] for i in range(1, len(outputs))])

    def run_with_stats(self, batch: np.ndarray, stats: Sequence[Stats | None]) -> np.ndarray:
        return run_with_stats_or_own(batch, stats, self.run, self._run_imposed)

    def _run_imposed(self, batch: np.ndarray, stats: Sequence[Stats]) -> np.ndarray:
        request = self._stats_request("impose")
        # By name: OpenVINO drops graph inputs nothing reads (the unused variance of an exposure path's mean).
        values = dict(zip(self._impose_inputs, [self._array(batch), *stats_inputs(stats)]))
        y = request.infer({port.get_any_name(): values[port.get_any_name()] for port in request.model_inputs})[0]
        return np.clip(np.array(y, dtype=np.float32), 0.0, 1.0)
