"""percept bench: model-only rows per backend, the --folder time split, one-line errors; the shared timing."""

from __future__ import annotations

import json

import pytest
from PIL import Image
from process_helpers import photo, save_sr_model
from typer.testing import CliRunner

from percept.cli.app import app
from percept.engines.timing import measure, plan_configs
from percept.train.flops import count_flops, network_cost
from percept.train.networks import SRNet, TransformNet

runner = CliRunner()
QUIET = ["--threads", "1:1:1"]  # one inference thread: fast and steady on a busy 2-core machine


@pytest.fixture
def sr_model(tmp_path, monkeypatch):
    monkeypatch.setenv("PERCEPT_CACHE_DIR", str(tmp_path / "cache"))  # the ONNX export lands here
    return save_sr_model(tmp_path / "sr.safetensors")


def test_model_only_rows_per_backend(sr_model, tmp_path):
    out = tmp_path / "bench.json"
    r = runner.invoke(app, ["bench", "--model", str(sr_model), "--sizes", "32", "--repeats", "1", "--warmup", "0",
                            "--json", str(out), *QUIET], terminal_width=200)
    assert r.exit_code == 0, r.output
    data = json.loads(out.read_text())
    assert data["mode"] == "model" and data["sizes"] == [32]
    rows = data["rows"]
    assert {row["backend"] for row in rows} >= {"torch", "onnxruntime"}
    assert all(row["images_per_s"] > 0 and row["ms_per_image"] > 0 for row in rows)
    first = rows[0]
    assert (first["backend"], first["precision"], first["baseline"], first["ratio"]) == ("torch", "fp32", True, 1.0)
    assert first["input"] == 8 and first["gflop_per_image"] > 0 and first["gflops"] > 0
    ort = next(row for row in rows if row["backend"] == "onnxruntime")
    assert ort["max_abs_diff"] < 1e-3 and ort["ratio"] > 0
    assert "onnxruntime" in r.output and "baseline" in r.output and "GFLOP/s" in r.output


def test_folder_mode_reports_the_time_split(sr_model, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(photo(24, 32, seed=i)).save(folder / f"p{i}.jpg")
    out = tmp_path / "folder.json"
    r = runner.invoke(app, ["bench", "--model", str(sr_model), "--folder", str(folder), "--backend", "torch",
                            "--precision", "fp32", "--json", str(out), *QUIET], terminal_width=200)
    assert r.exit_code == 0, r.output
    data = json.loads(out.read_text())
    assert data["mode"] == "folder"
    (row,) = data["rows"]
    assert row["images"] == 3 and row["failed"] == 0 and row["images_per_s"] > 0
    assert row["model_ms"] > 0 and row["decode_ms"] > 0 and row["encode_ms"] > 0
    assert abs(sum(row["split"].values()) - 1) < 1e-3
    assert row["peak_rss_mb"] > 10 and "peak RSS MB" in r.output
    assert "decode ms/img" in r.output and not list(folder.glob("*_bench*"))  # outputs went to a temp folder


@pytest.mark.parametrize("args, words", [
    (["--sizes", "big"], "--sizes 'big'"),
    (["--sizes", "30"], "not a multiple of the model's scale 4"),
    (["--backend", "tensorrt"], "--backend tensorrt"),
    (["--precision", "fp8"], "--precision 'fp8'"),
])
def test_bad_options_are_one_line(sr_model, args, words):
    r = runner.invoke(app, ["bench", "--model", str(sr_model), *args])
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and words in lines[0], r.output


def test_no_model_shipped_asks_for_one(monkeypatch):
    import percept.core.zoo

    monkeypatch.setattr(percept.core.zoo, "list_models", lambda: [])
    r = runner.invoke(app, ["bench", "--sizes", "32"])
    assert r.exit_code == 2 and "--model" in r.output


def test_plan_baseline_first_and_skips():
    planned, skipped = plan_configs("model", "cpu", "all", ["fp32", "bf16"])
    assert (planned[0].backend, planned[0].precision) == ("torch", "fp32")
    assert ("torch", "bf16") in {(p.backend, p.precision) for p in planned}
    reasons = dict(skipped)
    assert "onnxruntime bf16" in reasons and "tensorrt" in reasons
    assert ("openvino", "bf16") in {(p.backend, p.precision) for p in planned}
    planned, _ = plan_configs("onnx", "cpu", "all")
    assert {p.backend for p in planned} == {"onnxruntime", "openvino"}  # TensorRT skipped: no GPU


def test_flop_count_scales_with_area_and_measure_counts_calls():
    net = SRNet(4, channels=8, blocks=1)
    assert count_flops(net, 32, 32) == 4 * count_flops(net, 16, 16) > 0
    cost = network_cost(TransformNet(), 16, 16)
    assert cost.flops == count_flops(TransformNet(), 16, 16) and cost.activation_bytes(2) < cost.activation_bytes(4)
    calls = []
    timing, result = measure(lambda: calls.append(1) or len(calls), warmup=2, repeats=3)
    assert len(calls) == 5 and result == 5 and len(timing.times) == 3
    # The timings are real: a call that sleeps 20 ms measures 20 ms, and the median is the middle one.
    import time

    timing, _ = measure(lambda: time.sleep(0.02), warmup=0, repeats=3)
    assert all(0.019 < t < 0.5 for t in timing.times)
    assert timing.median == sorted(timing.times)[1] and timing.best == min(timing.times)


def test_peak_memory_is_per_pass():
    """The folder benchmark's peak RSS is that pass's: a reset forgets an earlier, larger allocation."""
    import numpy as np

    from percept.pipeline.peak_memory import peak_rss_bytes, reset_peak

    if not reset_peak():
        pytest.skip("this kernel cannot reset the peak (no /proc/self/clear_refs)")
    before = peak_rss_bytes()
    big = np.ones(200_000_000 // 8)  # 200 MB, touched
    assert peak_rss_bytes() > before + 150e6
    del big
    reset_peak()
    assert peak_rss_bytes() < before + 50e6
