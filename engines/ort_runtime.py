"""ONNX Runtime backend: a percept .onnx file on the CPU, or on CUDA when onnxruntime-gpu is installed.

Scale, size rule and min size come from the file's ``metadata_props`` (written by ``percept.engines.export``), so an
exported file runs without the model file it came from.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from percept.core.devices import cuda_index
from percept.core.devices import threads as default_threads
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


def session_options(threads: int | None = None):
    """Intra-op threads = percept's thread count (the cores it may use), one inter-op thread: the graph
    is a chain, so running nodes in parallel only makes the threads fight."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or default_threads()
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    return opts


class OrtRuntime:
    """Runs an exported percept ONNX file with ONNX Runtime."""

    name = "onnxruntime"
    note = ""
    limits = UNLIMITED

    def __init__(self, onnx_path: str | os.PathLike, device: str = "cpu", threads: int | None = None):
        import onnxruntime as ort

        if device.startswith("cuda"):
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise BackendUnavailable("onnxruntime has no CUDAExecutionProvider here: pip install onnxruntime-gpu "
                                         "(in place of onnxruntime), or use --device cpu")
            providers: list = [("CUDAExecutionProvider", {"device_id": cuda_index(device)}),
                               "CPUExecutionProvider"]
        else:
            providers = ["CPUExecutionProvider"]
        self.path, self.device, self.providers, self.threads = str(onnx_path), device, providers, threads
        try:
            self.session = ort.InferenceSession(self.path, session_options(threads), providers=providers)
        except Exception as exc:
            raise EngineError(f"{onnx_path}: onnxruntime cannot load it ({type(exc).__name__}: {exc})") from None
        meta = dict(self.session.get_modelmeta().custom_metadata_map)
        self.info, self.precision = graph_model(meta, str(onnx_path))
        self.metadata = meta
        self.scale, self.size_rule, self.min_size = self.info.scale, self.info.size_rule, self.info.min_size
        self.input_name = self.session.get_inputs()[0].name
        self._proto = None
        self._stats_sessions: dict[str, object] = {}
        # Shared statistics by graph surgery on the fp32 graph (an fp16 graph keeps per-tile statistics).
        self.shared_stats = (self.precision in BACKENDS["onnxruntime"].shares_statistics
                             and onnx_facts(self.path).instance_norms > 0)

    def _model(self):
        import onnx

        if self._proto is None:
            self._proto = onnx.load(self.path, load_external_data=False)
        return self._proto

    def _stats_session(self, which: str):
        """The measuring or the imposing variant of the graph, built on first use."""
        import onnxruntime as ort

        if not self.shared_stats:
            raise EngineError(f"{self.path}: this ONNX graph cannot take shared normalisation statistics "
                              f"({self.precision} graph or no instance norm)")
        if which not in self._stats_sessions:
            graph = (onnx_with_stats_outputs if which == "measure" else onnx_with_stats_inputs)(self._model())
            self._stats_sessions[which] = ort.InferenceSession(graph.SerializeToString(),
                                                               session_options(self.threads),
                                                               providers=self.providers)
        return self._stats_sessions[which]

    def measure_stats(self, image: np.ndarray) -> Stats:
        session = self._stats_session("measure")
        x = np.ascontiguousarray(image, dtype=np.float32)
        return stats_from_outputs(session.run([o.name for o in session.get_outputs()[1:]], {self.input_name: x}))

    def run_with_stats(self, batch: np.ndarray, stats: Sequence[Stats | None]) -> np.ndarray:
        return run_with_stats_or_own(batch, stats, self.run, self._run_imposed)

    def _run_imposed(self, batch: np.ndarray, stats: Sequence[Stats]) -> np.ndarray:
        session = self._stats_session("impose")
        feed = {self.input_name: np.ascontiguousarray(batch, dtype=np.float32)}
        feed.update(zip([i.name for i in session.get_inputs()[1:]], stats_inputs(stats)))
        y = session.run(None, feed)[0]
        return np.clip(np.asarray(y, dtype=np.float32), 0.0, 1.0)

    def run(self, batch: np.ndarray) -> np.ndarray:
        y = self.session.run(None, {self.input_name: np.ascontiguousarray(batch, dtype=np.float32)})[0]
        return np.clip(np.asarray(y, dtype=np.float32), 0.0, 1.0)
