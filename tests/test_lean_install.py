"""The base install runs the shipped models without PyTorch: the layers below the command line import no torch,
and ``stylize`` and ``upscale`` work end to end (tiles with shared statistics, the per-picture choice between a
JPEG-damaged and a clean photo, clips) in a process where ``import torch`` fails.

CI runs this file twice: in the full install (torch blocked by ``tests/without_torch.py``) and in a second venv
holding only the base install, so a torch import creeping back into the inference path fails either way.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from process_helpers import photo

REPO = Path(__file__).resolve().parents[1]
RUNNER = Path(__file__).with_name("without_torch.py")
# The modules of the layers below the CLI that may import torch: the torch and TensorRT runtimes, the exporter
# and what only they and the benchmarks use.
TORCH_MODULES = {"percept.engines.torch_runtime", "percept.engines.torch_stats", "percept.engines.trt_runtime",
                 "percept.engines.trt_build", "percept.engines.export"}
LEAN_PACKAGES = ("percept.core", "percept.engines", "percept.cli")


def run_without_torch(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    report = tmp_path / f"report-{len(list(tmp_path.glob('report-*')))}.json"
    env = {"PERCEPT_CACHE_DIR": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    res = subprocess.run([sys.executable, str(RUNNER), str(report), *args], capture_output=True, text=True,
                         env=env, cwd=tmp_path, timeout=600)
    assert report.is_file(), res.stderr[-3000:]
    return res, json.loads(report.read_text())


def test_no_module_below_the_command_line_imports_torch():
    code = f"""
import importlib, pkgutil, sys
sys.path.insert(0, {str(RUNNER.parent)!r})
from without_torch import BlockTorch
sys.meta_path.insert(0, BlockTorch())
failed = []
for package in {LEAN_PACKAGES!r}:
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, package + "."):
        if info.name in {sorted(TORCH_MODULES)!r} or info.name.endswith(".__main__"):
            continue
        try:
            importlib.import_module(info.name)
        except ImportError as exc:
            failed.append(f"{{info.name}}: {{exc}}")
print("\\n".join(failed))
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.strip() == "", "modules that need torch:\n" + res.stdout


def test_stylize_tiles_with_shared_statistics_without_torch(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(photo(160, 224, seed=1)).save(src / "p.png")
    whole, report = run_without_torch(tmp_path, "stylize", str(src), "--style", "wave", "--out", str(tmp_path / "a"),
                                      "--tile", "0", "--backend", "openvino", "--precision", "fp32")
    assert whole.returncode == 0 and report["exit"] == 0, whole.stderr[-3000:]
    assert not report["torch"] and report["loaded_by_command"] == []
    tiled, report = run_without_torch(tmp_path, "stylize", str(src), "--style", "wave", "--out",
                                      str(tmp_path / "b"), "--tile", "96", "--backend", "openvino",
                                      "--precision", "fp32")
    assert tiled.returncode == 0 and not report["torch"], tiled.stderr[-3000:]
    a = np.asarray(Image.open(tmp_path / "a" / "p_wave.png"), np.float32)
    b = np.asarray(Image.open(tmp_path / "b" / "p_wave.png"), np.float32)
    assert a.shape == b.shape == (160, 224, 3)
    assert np.abs(a - b).mean() < 2.0  # shared statistics: tiles agree with the whole picture to ~1 level


def test_int8_runs_with_the_shipped_forms_without_torch_or_nncf(tmp_path):
    """The shipped int8 forms need only OpenVINO: int8 with tiles sharing statistics stays within a few levels
    of fp32; making a form needs NNCF, and without it says so in one line."""
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(photo(160, 224, seed=1)).save(src / "p.png")
    for out, precision, tile in (("f", "fp32", "0"), ("i", "int8", "96")):
        res, report = run_without_torch(tmp_path, "stylize", str(src), "--style", "wave", "--out", str(tmp_path / out),
                                        "--tile", tile, "--precision", precision)
        assert res.returncode == 0 and report["exit"] == 0 and not report["torch"], res.stderr[-3000:]
    assert "openvino (int8" in res.stderr or "openvino/cpu/int8" in res.stderr, res.stderr[-2000:]
    a, b = (np.asarray(Image.open(tmp_path / d / "p_wave.png"), np.float32) for d in ("f", "i"))
    assert np.abs(a - b).mean() < 3.0
    if importlib.util.find_spec("nncf") is None:
        res, report = run_without_torch(tmp_path, "quantize", "wave", "--calibration", str(src))
        assert report["exit"] == 2 and "[int8]" in res.stderr and "Traceback" not in res.stderr, res.stderr[-2000:]


def test_stroke_scale_enlarges_with_the_shipped_sr_model_without_torch(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(photo(192, 256, seed=4)).save(src / "big.png")
    res, report = run_without_torch(tmp_path, "stylize", str(src), "--style", "wave", "--stroke-scale", "8",
                                    "--out", str(tmp_path / "o"))
    assert res.returncode == 0 and not report["torch"] and report["loaded_by_command"] == [], res.stderr[-3000:]
    with Image.open(tmp_path / "o" / "big_wave.png") as im:
        assert im.size == (256, 192)


def test_upscale_chooses_per_picture_without_torch(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(photo(48, 64, seed=2)).save(src / "clean.png")
    Image.fromarray(photo(48, 64, seed=3)).save(src / "web.jpg", quality=60)
    res, report = run_without_torch(tmp_path, "upscale", str(src), "--scale", "4", "--out", str(tmp_path / "hr"),
                                    "--json-report", str(tmp_path / "r.json"))
    assert res.returncode == 0 and report["exit"] == 0, res.stderr[-3000:]
    assert not report["torch"] and report["loaded_by_command"] == []
    for name in ("clean_x4.png", "web_x4.jpg"):
        with Image.open(tmp_path / "hr" / name) as im:
            assert im.size == (256, 192)
    used = {Path(f["input"]).name: f.get("model", "") for f in json.loads((tmp_path / "r.json").read_text())["files"]}
    assert "sr-x4-real" in used["web.jpg"] and "sr-x4-pixel" in used["clean.png"], used


@pytest.mark.skipif(importlib.util.find_spec("av") is None, reason="needs PyAV (percept[video])")
def test_a_clip_stylises_without_torch(tmp_path):
    from process_helpers import make_clip

    clip = make_clip(tmp_path / "c.mp4", frames=6, audio=False)
    res, report = run_without_torch(tmp_path, "stylize", str(clip), "--style", "wave", "--out", str(tmp_path / "v"))
    assert res.returncode == 0 and report["exit"] == 0, res.stderr[-3000:]
    assert not report["torch"] and (tmp_path / "v" / "c_wave.mp4").is_file()


def test_commands_that_need_torch_name_the_extra_in_one_line(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(photo(32, 32)).save(src / "p.png")
    for args in (["stylize", str(src), "--style", "wave", "--backend", "torch", "--out", str(tmp_path / "o")],
                 ["train-sr", "--data", str(src), "--iterations", "1", "--run-dir", str(tmp_path / "r")],
                 ["export", "wave", "--out", str(tmp_path / "w.onnx")]):
        res, report = run_without_torch(tmp_path, *args)
        assert report["exit"] != 0, args
        assert "[train]" in res.stderr and "Traceback" not in res.stderr, (args, res.stderr[-2000:])
