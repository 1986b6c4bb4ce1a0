"""OpenVINO's compiled networks are kept under $PERCEPT_CACHE_DIR, so a model's second run does not compile."""

from __future__ import annotations

import pytest
import torch
from process_helpers import save_style_model

pytest.importorskip("openvino")


def test_a_second_open_reads_the_compiled_network_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PERCEPT_CACHE_DIR", str(tmp_path / "cache"))
    from percept.engines.cache import cached_onnx
    from percept.engines.openvino_runtime import OpenVinoRuntime, compiled_cache_dir

    onnx_path = cached_onnx(save_style_model(tmp_path / "s.safetensors"))
    first = OpenVinoRuntime(onnx_path, "fp32", 1)
    folder = compiled_cache_dir(first.core)
    assert folder.is_relative_to(tmp_path / "cache")
    blobs = sorted(p.name for p in folder.iterdir())
    assert blobs  # the compiled network was written
    x = torch.rand(1, 3, 32, 32)
    second = OpenVinoRuntime(onnx_path, "fp32", 1)
    assert sorted(p.name for p in folder.iterdir()) == blobs  # read back, not compiled anew
    assert torch.equal(first.run(x), second.run(x))
