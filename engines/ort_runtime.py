"""ONNX Runtime backend: a percept .onnx file on the CPU, or on CUDA when onnxruntime-gpu is installed.

Scale, size rule and min size come from the file's ``metadata_props`` (written by ``percept.engines.export``), so an
exported file runs without the model file it came from.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from percept.engines.errors import BackendUnavailable, EngineError
from percept.engines.export import info_from_metadata


def session_options(threads: int | None = None):
    """Intra-op threads = torch's thread count (the cores percept may use), one inter-op thread: the graph
    is a chain, so running nodes in parallel only makes the threads fight."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or torch.get_num_threads()
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    return opts


class OrtRuntime:
    """Runs an exported percept ONNX file with ONNX Runtime."""

    name = "onnxruntime"
    note = ""

    def __init__(self, onnx_path: str | os.PathLike, device: str = "cpu", threads: int | None = None):
        import onnxruntime as ort

        if device.startswith("cuda"):
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise BackendUnavailable("onnxruntime has no CUDAExecutionProvider here: pip install onnxruntime-gpu "
                                         "(in place of onnxruntime), or use --device cpu")
            providers: list = [("CUDAExecutionProvider", {"device_id": torch.device(device).index or 0}),
                               "CPUExecutionProvider"]
        else:
            providers = ["CPUExecutionProvider"]
        self.path, self.device = str(onnx_path), device
        try:
            self.session = ort.InferenceSession(self.path, session_options(threads), providers=providers)
        except Exception as exc:
            raise EngineError(f"{onnx_path}: onnxruntime cannot load it ({type(exc).__name__}: {exc})") from None
        meta = dict(self.session.get_modelmeta().custom_metadata_map)
        if "scale" not in meta or "size_rule" not in meta:
            raise EngineError(f"{onnx_path}: ONNX file without percept metadata; export it with `percept export`")
        self.metadata, self.info = meta, info_from_metadata(meta)
        self.scale, self.size_rule = int(meta["scale"]), int(meta["size_rule"])
        self.min_size = int(meta.get("min_size", 1))
        self.precision = meta.get("precision", "fp32")
        self.input_name = self.session.get_inputs()[0].name

    def run(self, batch: torch.Tensor) -> torch.Tensor:
        x = np.ascontiguousarray(batch.detach().to("cpu", torch.float32).numpy())
        y = self.session.run(None, {self.input_name: x})[0]
        return torch.from_numpy(np.asarray(y, dtype=np.float32)).clamp_(0.0, 1.0)
