"""`percept upscale` without --model: each picture gets the shipped model for its kind, says which and why,
and the skip record, the models table and --model agree with that choice."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from process_helpers import photo
from typer.testing import CliRunner

from percept.cli.app import app
from percept.core.zoo import DEFAULT_SR, REAL_PHOTO_SR, real_photo_sr_model

pytestmark = pytest.mark.skipif(real_photo_sr_model(4) is None, reason="no real-photo ×4 model shipped")


def textured(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = photo(h, w, seed).astype(np.float64)
    return np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)


@pytest.fixture
def photos(tmp_path):
    """A lossless PNG, a PNG saved from a JPEG at quality 70 (the extension hides it) and a JPEG at 75."""
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(textured(96, 128, 0)).save(src / "clean.png")
    buf = io.BytesIO()
    Image.fromarray(textured(96, 128, 1)).save(buf, format="JPEG", quality=70)
    Image.open(io.BytesIO(buf.getvalue())).save(src / "was_jpeg.png")
    Image.fromarray(textured(96, 128, 2)).save(src / "camera.jpg", quality=75)
    return src


def test_each_picture_gets_the_model_for_its_kind_and_the_rerun_skips_them(photos, tmp_path):
    out = tmp_path / "hr"
    result = CliRunner().invoke(app, ["upscale", str(photos), "--scale", "4", "--out", str(out),
                                      "--threads", "1:1:1", "--json-report", str(tmp_path / "report.json")])
    assert result.exit_code == 0, result.output
    assert f"using model {REAL_PHOTO_SR[4]} for 2 files" in result.output
    assert f"using model {DEFAULT_SR[4]} for 1 file" in result.output
    assert "JPEG quality ~" in result.output and "no JPEG traces" in result.output
    import json

    record = json.loads((out / ".percept-outputs.json").read_text())
    models = {entry["source"].rsplit("/", 1)[-1]: entry["model"] for entry in record["outputs"].values()}
    assert models == {"clean.png": f"{DEFAULT_SR[4]}.safetensors", "was_jpeg.png": f"{REAL_PHOTO_SR[4]}.safetensors",
                      "camera.jpg": f"{REAL_PHOTO_SR[4]}.safetensors"}
    report = json.loads((tmp_path / "report.json").read_text())["files"]
    assert {f["input"].rsplit("/", 1)[-1]: f["model"] for f in report} == {
        "clean.png": DEFAULT_SR[4], "was_jpeg.png": REAL_PHOTO_SR[4], "camera.jpg": REAL_PHOTO_SR[4]}
    assert all(f["model_reason"] for f in report)  # the per-picture choice says why in the report too
    rerun = CliRunner().invoke(app, ["upscale", str(photos), "--scale", "4", "--out", str(out)])
    assert rerun.exit_code == 0 and "skipped 3" in rerun.output  # the per-picture choice is the record's
    named = CliRunner().invoke(app, ["upscale", str(photos), "--model", DEFAULT_SR[4], "--out", str(out)])
    assert named.exit_code == 0 and "done 2, skipped 1" in named.output  # --model wins: the others are redone


def test_models_table_marks_both_defaults():
    result = CliRunner().invoke(app, ["models", "--json"])
    import json

    marks = {e["name"]: e["default"] for e in json.loads(result.output)}
    assert marks[REAL_PHOTO_SR[4]] == "default: JPEG photos" and marks[DEFAULT_SR[4]] == "default: clean pictures"
    assert marks[DEFAULT_SR[8]] == "default"
