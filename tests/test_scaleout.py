"""``--ray``: the batch job as Ray Data stages on a local Ray instance (started once for this module).

What a user relies on: the same files as a local run (names, pixels, EXIF/ICC, alpha, 16-bit), bad files
failing alone, skip-existing on rerun, the JSON report and exit code, two actors both doing work, file://
URIs through pyarrow's file system, and no lost file when a worker is killed mid-job.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import imagecodecs
import numpy as np
import pytest
from PIL import Image, ImageCms
from process_helpers import no_partial_files, photo, save_style_model
from typer.testing import CliRunner

from percept.cli.app import app
from percept.pipeline.imageio import encode_png16
from percept.pipeline.manifest import MANIFEST_NAME

ray = pytest.importorskip("ray")
runner = CliRunner()
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
ORIENTATION, MAKE = 0x0112, 0x010F


@pytest.fixture(scope="module")
def cluster():
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def style(tmp_path_factory):
    return save_style_model(tmp_path_factory.mktemp("models") / "style.safetensors")


def folder(root: Path) -> Path:
    """Photos a user brings: a rotated JPEG with EXIF and ICC, a 16-bit PNG, an RGBA PNG, a corrupt file."""
    d = root / "in"
    (d / "sub").mkdir(parents=True)
    ex = Image.Exif()
    ex[ORIENTATION], ex[MAKE] = 6, "PerceptCam"
    Image.fromarray(photo(24, 40, 1)).save(d / "rotated.jpg", quality=95, exif=ex.tobytes(), icc_profile=SRGB)
    deep = (photo(20, 28, 2).astype(np.uint16) * 257 + np.arange(28, dtype=np.uint16)[None, :, None])
    (d / "deep.png").write_bytes(encode_png16(deep))
    rgba = np.concatenate([photo(16, 20, 3), np.full((16, 20, 1), 128, np.uint8)], axis=2)
    Image.fromarray(rgba).save(d / "sub" / "alpha.png")
    (d / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    for i in range(6):  # big enough that the model, not decoding, is the slow stage: both actors get work
        Image.fromarray(photo(96, 96, 10 + i)).save(d / f"p{i}.png")
    return d


def stylize(style: Path, src, out, *extra) -> tuple[int, str]:
    res = runner.invoke(app, ["stylize", str(src), "--style", str(style), "--out", str(out), "--backend", "torch",
                              "-r", *map(str, extra)])
    return res.exit_code, res.output


def listing(root: Path) -> list[str]:
    """Every output file under ``root`` (relative, sub-folders included; the hidden record left out)."""
    return sorted(p.relative_to(root).as_posix() for p in Path(root).rglob("*")
                  if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts))


def pixels(path: Path) -> np.ndarray:
    """Samples in the file's own depth (Pillow would read a 16-bit RGB PNG as 8-bit)."""
    if path.suffix == ".png":
        return imagecodecs.png_decode(path.read_bytes()).astype(np.int64)
    with Image.open(path) as im:
        return np.asarray(im).astype(np.int64)


def test_ray_job_writes_what_a_local_run_writes_through_read_decode_actor_pool_and_write_stages(
        tmp_path, cluster, style):
    src = folder(tmp_path)
    code_local, out_local = stylize(style, src, tmp_path / "local")
    report = tmp_path / "report.json"
    code, output = stylize(style, src, tmp_path / "ray", "--ray", "local", "--ray-actors", 2,
                           "--ray-cpus-per-actor", 0.5, "--ray-stats", "--json-report", report)
    assert code_local == 1 and code == 1, output  # the corrupt file fails, alone, in both
    assert "failed: " in output and "broken.jpg: cannot open" in output, output
    names = listing(tmp_path / "local")
    assert names == listing(tmp_path / "ray") and len(names) == 9
    for rel in ["rotated_test-style.jpg", "deep_test-style.png", "sub/alpha_test-style.png",
                *[f"p{i}_test-style.png" for i in range(6)]]:
        a, b = tmp_path / "local" / rel, tmp_path / "ray" / rel
        assert np.abs(pixels(a) - pixels(b)).max() <= (257 if "deep" in rel else 1), rel
        with Image.open(a) as ia, Image.open(b) as ib:
            assert (ia.size, ia.mode, ia.info.get("icc_profile")) == (ib.size, ib.mode, ib.info.get("icc_profile"))
            assert ia.getexif().get(MAKE) == ib.getexif().get(MAKE)
    with Image.open(tmp_path / "ray" / "rotated_test-style.jpg") as im:
        assert im.size == (24, 40) and im.getexif().get(MAKE) == "PerceptCam"  # upright, EXIF kept
    assert imagecodecs.png_decode((tmp_path / "ray" / "deep_test-style.png").read_bytes()).dtype == np.uint16
    with Image.open(tmp_path / "ray" / "sub" / "alpha_test-style.png") as im:
        assert im.mode == "RGBA" and np.asarray(im)[..., 3].max() == 128
    assert no_partial_files(tmp_path / "ray")
    data = json.loads(report.read_text())
    assert data["totals"]["done"] == 9 and data["totals"]["failed"] == 1
    ops = [p["operator"] for p in data["ray"]["plan"]]
    assert any("read_row" in o and "decode_row" in o for o in ops), ops
    assert any("MapBatches(InferenceActor)" in o for o in ops) and any("write_row" in o for o in ops), ops
    model_stage = next(p for p in data["ray"]["plan"] if "InferenceActor" in p["operator"])
    assert model_stage["rows"] == 10  # every file travels to the end, the failed one with its reason
    # Two actors, and both run files: the inputs are cut into a block per file (one block of nine files once
    # ran on one actor while the other idled).
    assert data["ray"]["actors"] == 2 and len(data["ray"]["files_per_actor"]) == 2, data["ray"]
    assert sum(data["ray"]["files_per_actor"].values()) == 9
    assert "MapBatches(InferenceActor)" in output  # --ray-stats prints the plan

    again_code, again = stylize(style, src, tmp_path / "ray", "--ray", "local")
    assert again_code == 1 and "skipped 9" in again  # a rerun skips what was made with the same settings
    strong_code, strong = stylize(style, src, tmp_path / "ray", "--ray", "local", "--strength", 0.5)
    assert "made with other settings" in strong and "done 9" in strong


def test_file_uris_go_through_pyarrow_file_systems(tmp_path, cluster, style):
    src = tmp_path / "in"
    (src / "a").mkdir(parents=True)
    Image.fromarray(photo(16, 24, 5)).save(src / "a" / "x.png")
    Image.fromarray(photo(20, 20, 6)).save(src / "y.jpg", quality=95)
    (src / ".hidden.png").write_bytes(b"junk")
    out = tmp_path / "bucket" / "styled"
    code, output = stylize(style, f"file://{src}", f"file://{out}", "--ray", "local")
    assert code == 0, output
    assert listing(out) == ["a/x_test-style.png", "y_test-style.jpg"]
    assert (out / MANIFEST_NAME).is_file() and no_partial_files(out)
    code, output = stylize(style, f"file://{src}", f"file://{out}", "--ray", "local")
    assert code == 0 and "skipped 2" in output, output


def test_uris_without_ray_and_ray_options_without_ray_are_one_line(tmp_path, style):
    code, output = stylize(style, "s3://bucket/photos", tmp_path / "out")
    assert code == 2 and "need --ray" in output
    code, output = stylize(style, tmp_path, tmp_path / "out", "--ray-stats")
    assert code == 2 and "need --ray" in output


KILLER = """
import os, signal, sys, time
from pathlib import Path
out, deadline = Path(sys.argv[1]), time.time() + 240
while time.time() < deadline:
    done = [p for p in out.glob("*.png")] if out.is_dir() else []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if cmdline.startswith("ray::") and "InferenceActor" in cmdline and len(done) >= 2:  # mid-job
            os.kill(int(proc.name), signal.SIGKILL)
            print("killed", proc.name, "after", len(done), "files", flush=True)
            sys.exit(0)
    time.sleep(0.2)
sys.exit(1)
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="finds the Ray worker through /proc")
def test_killing_a_worker_mid_job_loses_no_file(tmp_path, style):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(12):
        Image.fromarray(photo(96, 96, 20 + i)).save(src / f"p{i:02d}.png")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "percept.cli", "stylize", str(src), "--style", str(style), "--out", str(out),
           "--backend", "torch", "--ray", "local"]
    env = {**os.environ, "RAY_ADDRESS": ""}
    job = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    killer = subprocess.run([sys.executable, "-c", KILLER, str(out)], capture_output=True, text=True, timeout=300)
    output, _ = job.communicate(timeout=400)
    assert killer.returncode == 0, killer.stdout + killer.stderr  # an inference actor was killed mid-job
    time.sleep(1)
    assert no_partial_files(out)
    if job.returncode != 0:  # Ray could not retry in time: the rerun completes it
        rerun = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=400)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert listing(out) == [f"p{i:02d}_test-style.png" for i in range(12)], output
    for i in range(12):
        with Image.open(out / f"p{i:02d}_test-style.png") as im:
            im.load()  # complete, readable files
