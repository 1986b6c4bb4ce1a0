"""OpenVINO's compiled networks are kept under $PERCEPT_CACHE_DIR, so a model's second run does not compile."""

from __future__ import annotations

import numpy as np
import pytest
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
    x = np.random.default_rng(0).random((1, 3, 32, 32), dtype=np.float32)
    second = OpenVinoRuntime(onnx_path, "fp32", 1)
    assert sorted(p.name for p in folder.iterdir()) == blobs  # read back, not compiled anew
    assert np.array_equal(first.run(x), second.run(x))


def test_a_warm_run_opens_openvino_without_importing_onnx(tmp_path, monkeypatch):
    """The cached export's facts sidecar gives the metadata and the instance-norm count, so a second run never
    pays onnx's 1.3 s import; shared statistics for tiles still work (they load the graph when needed)."""
    import subprocess
    import sys

    monkeypatch.setenv("PERCEPT_CACHE_DIR", str(tmp_path / "cache"))
    from percept.engines.cache import cached_onnx

    model = save_style_model(tmp_path / "s.safetensors")
    cached_onnx(model)
    code = (f"import sys; from percept.engines.select import open_runtime; "
            f"rt = open_runtime({str(model)!r}, backend='openvino', device='cpu', precision='fp32'); "
            "assert 'onnx' not in sys.modules, 'onnx imported'; assert rt.shared_stats; "
            "import numpy as np; x = np.random.default_rng(0).random((1, 3, 32, 32), dtype=np.float32); "
            "stats = rt.measure_stats(x); y = rt.run_with_stats(x, [stats]); "
            "assert np.abs(y - rt.run(x)).max() < 1e-3; print('ok')")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr[-2000:]


def test_a_sidecar_that_does_not_match_its_onnx_file_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("PERCEPT_CACHE_DIR", str(tmp_path / "cache"))
    import json

    from percept.engines.cache import cached_onnx
    from percept.engines.onnx_facts import FACTS_SUFFIX, onnx_facts, read_facts_from_graph

    onnx_path = cached_onnx(save_style_model(tmp_path / "s.safetensors"))
    sidecar = onnx_path.with_name(onnx_path.name + FACTS_SUFFIX)
    true_facts = read_facts_from_graph(onnx_path)
    assert onnx_facts(onnx_path) == true_facts and true_facts.instance_norms > 0
    saved = json.loads(sidecar.read_text())
    saved["metadata"]["scale"], saved["stamp"][0] = "7", saved["stamp"][0] + 1  # a stale sidecar
    sidecar.write_text(json.dumps(saved))
    assert onnx_facts(onnx_path) == true_facts  # read from the graph, not the stale sidecar
    assert cached_onnx(tmp_path / "s.safetensors") == onnx_path and onnx_facts(onnx_path) == true_facts
    assert json.loads(sidecar.read_text())["stamp"] != saved["stamp"]  # the cache wrote a current one
