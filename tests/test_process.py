"""End-to-end tests of ``percept stylize`` / ``percept upscale``: through the CLI, asserting on the files written.

The SR model from ``save_sr_model(bicubic=True)`` outputs exactly the bicubic upsampling of its input, so the
colours every output must have are known (``bicubic`` below computes them the same way).
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import imagecodecs
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image, ImageCms, ImageOps
from process_helpers import listing, no_partial_files, photo, save_sr_model, save_style_model, visible
from typer.testing import CliRunner

import percept.cli.commands.process as process_cmd
from percept.cli.app import app
from percept.core.extras import install_hint
from percept.pipeline.imageio import encode_png16
from percept.pipeline.inference import Inferencer
from percept.pipeline.manifest import MANIFEST_NAME

runner = CliRunner()
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
ORIENTATION, MAKE = 0x0112, 0x010F


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    return SimpleNamespace(
        style=save_style_model(d / "style.safetensors"),          # name "Test Style": suffix _test-style
        sr=save_sr_model(d / "sr.safetensors", bicubic=True),      # ×4, output = bicubic
        sr_net=save_sr_model(d / "srnet.safetensors", seed=1),     # ×4, a real (untrained) network
    )


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    # ONNX exports go to a private cache; the --max-pixels option sets Pillow's global limit: restore it.
    monkeypatch.setenv("PERCEPT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)


# ------------------------------------------------------------------------------------------------ helpers

def cli(*args) -> SimpleNamespace:
    argv = [str(a) for a in args]
    if "--backend" not in argv:
        argv += ["--backend", "torch"]  # no ONNX export step; test_onnxruntime_matches_torch covers the other
    result = runner.invoke(app, argv)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # an unexpected exception: show its traceback
    assert "Traceback" not in result.output
    return result


def upscale(models, *args):
    return cli("upscale", *args, "--model", models.sr, "--scale", 4)


def stylize(models, *args):
    return cli("stylize", *args, "--style", models.style)


def save(path: Path, array: np.ndarray, **options) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **options)
    return path


def pixels(path: Path, mode: str = "RGB") -> np.ndarray:
    """A written file's pixels as floats in [0, 1]."""
    with Image.open(path) as im:
        return np.asarray(im.convert(mode), np.float32) / 255.0


def bicubic(a: np.ndarray, scale: int = 4) -> np.ndarray:
    """What the bicubic SR model gives: H×W[×C] floats in [0, 1] upsampled as the network's global skip does."""
    t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
    t = t[None, None] if t.ndim == 2 else t.permute(2, 0, 1)[None]
    y = F.interpolate(t, scale_factor=scale, mode="bicubic", align_corners=False).clamp(0, 1)[0]
    return (y[0] if a.ndim == 2 else y.permute(1, 2, 0)).numpy()


def failure_line(output: str, name: str) -> str:
    lines = [ln for ln in output.splitlines() if ln.startswith("failed:") and name in ln]
    assert len(lines) == 1, output
    return lines[0]


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def stray_files(folder: Path) -> list[Path]:
    """Temporary or hidden files the tool may have left behind (``.name.XXXX.part`` and the like); the record
    of settings (``MANIFEST_NAME``) is meant to be there."""
    return [p for p in folder.rglob("*") if p.name != MANIFEST_NAME
            and (p.name.startswith(".") or p.suffix in (".part", ".tmp"))]


def one_line_error(result, *words: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    for w in words:
        assert w in lines[0], result.output


# --------------------------------------------------------------------------------- 1. nothing lost

def test_bad_files_reported_hidden_ignored_good_written_inputs_untouched(tmp_path, models):
    src, out = tmp_path / "in", tmp_path / "out"
    save(src / "good1.jpg", photo(20, 24), quality=90)
    save(src / "good2.png", photo(16, 16, 1))
    jpeg = io.BytesIO()
    Image.fromarray(photo(48, 48, 2)).save(jpeg, "JPEG", quality=90)
    (src / "truncated.jpg").write_bytes(jpeg.getvalue()[: len(jpeg.getvalue()) // 2])
    (src / "empty.png").write_bytes(b"")
    (src / "notes.jpg").write_text("a text file with an image's name\n")
    # Hidden and system files, one of each kind; any of them processed would fail and be reported.
    (src / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + bytes(64))
    (src / "Thumbs.db").write_bytes(bytes(64))
    (src / "._good1.jpg").write_bytes(b"\x00\x05\x16\x07" + bytes(60))  # macOS AppleDouble
    before = snapshot(src)

    res = upscale(models, src, "-o", out)
    assert res.exit_code == 1, res.output
    assert sorted(listing(out)) == ["good1_x4.jpg", "good2_x4.png"]
    for name, size in [("good1_x4.jpg", (96, 80)), ("good2_x4.png", (64, 64))]:
        with Image.open(out / name) as im:
            im.load()
            assert im.size == size
    assert "truncated" in failure_line(res.output, "truncated.jpg")
    assert "empty file" in failure_line(res.output, "empty.png")
    assert "not an image" in failure_line(res.output, "notes.jpg")
    for hidden in (".DS_Store", "Thumbs.db", "._good1.jpg"):
        assert hidden not in res.output
    assert "done 2, skipped 0, failed 3" in res.output
    assert snapshot(src) == before  # inputs unchanged, byte for byte and mtime
    assert not stray_files(out) and no_partial_files(tmp_path)


def test_outputs_never_overwrite_inputs_or_each_other(tmp_path, models):
    src = tmp_path / "in"
    save(src / "a.png", photo(8, 8))
    save(src / "a.jpg", photo(8, 8, 1))
    save(src / "b.png", photo(8, 8, 2))
    before = snapshot(src)
    # Writing beside the inputs with the bare stem as name would replace a.png / b.png themselves.
    res = upscale(models, src / "a.png", src / "b.png", "-o", src, "--name", "{stem}.{ext}", "--format", "png")
    assert res.exit_code == 1 and "done 0, skipped 0, failed 2" in res.output
    assert "would overwrite an input" in failure_line(res.output, "b.png")
    assert snapshot(src) == before
    # Files named explicitly may have their outputs beside them (-o .); only a_x4.png is new.
    res = upscale(models, src / "a.png", "-o", src)
    assert res.exit_code == 0 and "done 1," in res.output
    assert sorted(listing(src)) == ["a.jpg", "a.png", "a_x4.png", "b.png"]
    (src / "a_x4.png").unlink()
    (src / MANIFEST_NAME).unlink()  # the hidden record of what made a_x4.png
    # A folder as its own output folder is refused: the outputs would be read back as inputs next time.
    one_line_error(upscale(models, src, "-o", src), "is the output folder")
    assert snapshot(src) == before
    # Two inputs, one output name: the second one fails with its reason, the first is written.
    res = upscale(models, src / "a.png", src / "a.jpg", "-o", tmp_path / "out", "--format", "png")
    assert res.exit_code == 1
    assert "also the output of" in failure_line(res.output, "a.jpg")
    assert listing(tmp_path / "out") == ["a_x4.png"]
    assert np.abs(pixels(tmp_path / "out" / "a_x4.png") - bicubic(photo(8, 8) / 255.0)).max() <= 1.01 / 255


# --------------------------------------------------------------------------------- 2. reruns

def test_rerun_skips_and_overwrite_redoes(tmp_path, models):
    src, out = tmp_path / "in", tmp_path / "out"
    save(src / "a.png", photo(12, 12))
    save(src / "b.jpg", photo(10, 14, 1))
    res = upscale(models, src, "-o", out)
    assert res.exit_code == 0 and "done 2, skipped 0, failed 0" in res.output
    ids = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in visible(out)}

    res = upscale(models, src, "-o", out)
    assert res.exit_code == 0 and "done 0, skipped 2, failed 0" in res.output
    assert {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in visible(out)} == ids

    (out / "a_x4.png").unlink()  # an interrupted batch: only the missing output is made
    res = upscale(models, src, "-o", out)
    assert res.exit_code == 0 and "done 1, skipped 1, failed 0" in res.output
    assert (out / "a_x4.png").stat().st_size > 0

    res = upscale(models, src, "-o", out, "--overwrite")
    assert res.exit_code == 0 and "done 2, skipped 0, failed 0" in res.output
    after = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in visible(out)}
    assert after["b_x4.jpg"] != ids["b_x4.jpg"]  # rewritten (atomically: a new file replaced the old)
    assert not stray_files(out)


def test_rerun_with_other_settings_redoes_only_what_they_change(tmp_path, models):
    """Skip-existing skips only outputs made with the same settings: another --strength redoes them, says so."""
    src, out = tmp_path / "in", tmp_path / "out"
    save(src / "a.png", photo(16, 16))
    save(src / "b.png", photo(16, 20, 1))
    assert "done 2, skipped 0" in stylize(models, src, "-o", out, "--strength", "1.0").output
    full = pixels(out / "a_test-style.png")
    res = stylize(models, src, "-o", out, "--strength", "1.0")
    assert res.exit_code == 0 and "done 0, skipped 2" in res.output
    res = stylize(models, src, "-o", out, "--strength", "0.3")
    assert res.exit_code == 0 and "done 2, skipped 0" in res.output, res.output
    assert "2 existing outputs made with other settings" in res.output
    weak = pixels(out / "a_test-style.png")
    assert np.abs(weak - full).mean() > 1 / 255  # the picture really changed
    res = stylize(models, src, "-o", out, "--strength", "0.3")
    assert "done 0, skipped 2" in res.output
    res = stylize(models, src, "-o", out, "--strength", "0.3", "--preserve-color")
    assert "done 2, skipped 0" in res.output


def test_tiny_tiles_are_refused_and_small_ones_shrink_the_overlap_with_a_note(tmp_path, models):
    src = save(tmp_path / "in" / "a.png", photo(24, 24))
    one_line_error(upscale(models, src, "-o", tmp_path / "o1", "--tile", "4"), "--tile 4", "smallest tile")
    assert not (tmp_path / "o1").exists()
    res = upscale(models, src, "-o", tmp_path / "o2", "--tile", "10")  # default overlap 16 > half the tile
    assert res.exit_code == 0 and "using overlap 2 px" in res.output, res.output
    diff = np.abs(pixels(tmp_path / "o2" / "a_x4.png") - bicubic(photo(24, 24) / 255.0))
    assert diff.mean() < 0.5 / 255 and diff.max() < 4 / 255  # a correct picture, not noise


def test_unwritable_output_folder_is_one_line_not_one_failure_per_file(tmp_path, models):
    src = tmp_path / "in"
    for i in range(4):
        save(src / f"p{i}.png", photo(8, 8, i))
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    res = upscale(models, src, "-o", blocker / "out")
    one_line_error(res, str(blocker / "out"), "cannot write")
    assert "failed" not in res.output


def test_exported_onnx_files_run_in_the_batch_commands_like_the_model_files(tmp_path, models):
    """export → stylize --style the.onnx / upscale --model the.onnx: the same pictures as the .safetensors."""
    src = save(tmp_path / "in" / "a.png", photo(40, 48))
    for model, command, option in ((models.style, "stylize", "--style"), (models.sr_net, "upscale", "--model")):
        onnx_file = tmp_path / f"{Path(model).stem}.onnx"
        exported = runner.invoke(app, ["export", str(model), "--out", str(onnx_file)])
        assert exported.exit_code == 0, exported.output
        extra = ["--scale", "4"] if command == "upscale" else []
        ref = cli(command, src, "-o", tmp_path / f"{command}-ref", option, model, *extra, "--backend", "torch")
        res = cli(command, src, "-o", tmp_path / f"{command}-onnx", option, onnx_file, *extra, "--backend", "auto")
        assert res.exit_code == 0 and ref.exit_code == 0, res.output
        assert "auto chose openvino" in res.output or "auto chose onnxruntime" in res.output  # the file's backends
        [a], [b] = visible(tmp_path / f"{command}-ref"), visible(tmp_path / f"{command}-onnx")
        assert a.name == b.name  # named by the model inside the file, not by the file's name
        assert np.abs(pixels(a) - pixels(b)).mean() < 2 / 255
    bogus = tmp_path / "fake.onnx"
    bogus.write_bytes(b"not a graph")
    one_line_error(cli("stylize", src, "-o", tmp_path / "x", "--style", bogus), "fake.onnx", "not an ONNX file")


class StageCrash(BaseException):
    """An error no per-file handler catches: it kills the stage's thread."""


@pytest.mark.parametrize("stage,target", [
    ("decode", "percept.pipeline.batch.read_image"),
    ("inference", "percept.pipeline.inference.Inferencer.run_pieces"),
    ("encode", "percept.pipeline.batch.write_image"),
])
def test_a_dying_stage_stops_the_run_with_its_reason_and_never_hangs(tmp_path, models, monkeypatch, stage, target):
    import threading

    src, out = tmp_path / "in", tmp_path / "out"
    for i in range(6):
        save(src / f"p{i}.png", photo(16, 16, i))

    def crash(*args, **kwargs):
        raise StageCrash(f"{stage} crashed")

    monkeypatch.setattr(target, crash)
    box = {}
    worker = threading.Thread(target=lambda: box.update(res=upscale(models, src, "-o", out, "--threads", "2:1:2")),
                              daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), f"the run hangs when the {stage} stage dies"
    res = box["res"]
    assert res.exit_code == 1, res.output
    assert f"the {stage} stage failed" in res.output and f"{stage} crashed" in res.output
    assert no_partial_files(tmp_path) and not stray_files(out)
    assert listing(out) == []  # nothing was written half-way


# --------------------------------------------------------------------------------- 3. folders and globs

def test_recursive_mirrors_tree_and_flat_run_does_not_descend(tmp_path, models):
    src = tmp_path / "in"
    save(src / "a.png", photo(8, 8))
    save(src / "sub" / "b.png", photo(8, 10, 1))
    save(src / "sub" / "deeper" / "c.jpg", photo(10, 8, 2))
    save(src / ".thumbnails" / "d.png", photo(8, 8, 3))  # hidden folder
    save(src / "__MACOSX" / "e.png", photo(8, 8, 4))     # archive junk folder

    res = upscale(models, src, "-o", tmp_path / "flat")
    assert res.exit_code == 0 and "done 1," in res.output
    assert "1 sub-folder not searched" in res.output and "sub" in res.output and "--recursive" in res.output
    assert listing(tmp_path / "flat") == ["a_x4.png"]

    res = upscale(models, src, "-o", tmp_path / "tree", "--recursive")
    assert res.exit_code == 0 and "done 3," in res.output
    written = sorted(p.relative_to(tmp_path / "tree").as_posix() for p in (tmp_path / "tree").rglob("*")
                     if p.is_file() and p.name != MANIFEST_NAME)
    assert written == ["a_x4.png", "sub/b_x4.png", "sub/deeper/c_x4.jpg"]
    with Image.open(tmp_path / "tree" / "sub" / "b_x4.png") as im:
        assert im.size == (40, 32)

    # --out inside the input tree: never read back as input, so a rerun only skips.
    inside = src / "results"
    for expected in ("done 3, skipped 0", "done 0, skipped 3"):
        res = upscale(models, src, "-o", inside, "-r")
        assert res.exit_code == 0 and expected in res.output, res.output
    assert not (inside / "results").exists()


def test_globs_select_files(tmp_path, models):
    src = tmp_path / "in"
    save(src / "a.png", photo(8, 8))
    save(src / "b.jpg", photo(8, 8, 1))
    save(src / "sub" / "c.png", photo(8, 8, 2))
    res = upscale(models, f"{src}/*.png", "-o", tmp_path / "o1")
    assert res.exit_code == 0 and listing(tmp_path / "o1") == ["a_x4.png"]
    res = upscale(models, f"{src}/**/*.png", "-o", tmp_path / "o2", "-r")
    assert res.exit_code == 0 and sorted(listing(tmp_path / "o2")) == ["a_x4.png", "c_x4.png"]
    one_line_error(upscale(models, f"{src}/*.gif", "-o", tmp_path / "o3"), "no file matches")
    assert not (tmp_path / "o3").exists()


# --------------------------------------------------------------------------------- 4. dry run and report

def test_dry_run_writes_nothing_and_json_report(tmp_path, models):
    src, out = tmp_path / "in", tmp_path / "out"
    save(src / "a.png", photo(8, 8))
    save(src / "b.jpg", photo(8, 12, 1))
    (src / "c.png").write_bytes(b"")
    before = snapshot(tmp_path)

    res = upscale(models, src, "-o", out, "--dry-run")
    assert res.exit_code == 0, res.output
    assert f"{src / 'a.png'} -> {out / 'a_x4.png'}" in res.output
    assert "dry run: 3 to process, 0 skipped, 0 failed" in res.output
    assert not out.exists() and snapshot(tmp_path) == before

    report = tmp_path / "report.json"
    res = upscale(models, src, "-o", out, "--json-report", report)
    assert res.exit_code == 1
    data = json.loads(report.read_text())
    files = {Path(f["input"]).name: f for f in data["files"]}
    assert [Path(f["input"]).name for f in data["files"]] == ["a.png", "b.jpg", "c.png"]
    assert files["a.png"]["status"] == "done" and files["a.png"]["output"] == str(out / "a_x4.png")
    assert files["b.jpg"]["status"] == "done" and Path(files["b.jpg"]["output"]).is_file()
    assert files["c.png"]["status"] == "failed" and "empty" in files["c.png"]["reason"]
    assert files["c.png"]["output"] is None
    totals = data["totals"]
    assert (totals["done"], totals["skipped"], totals["failed"], totals["interrupted"]) == (2, 0, 1, False)
    assert totals["seconds"] >= 0 and totals["images_per_s"] >= 0
    busy = totals["stage_busy_s"]  # how busy each stage was: decode and encode overlap the model
    assert set(busy) == {"decode", "model", "encode"} and all(v > 0 for v in busy.values())

    # A dry run over a half-done folder lists what is left; its report says planned/skipped, writes no image.
    (out / "a_x4.png").unlink()
    (src / "c.png").unlink()
    names_before = sorted(visible(out))
    res = upscale(models, src, "-o", out, "--dry-run", "--json-report", report)
    assert res.exit_code == 0 and "dry run: 1 to process, 1 skipped, 0 failed" in res.output
    assert sorted(visible(out)) == names_before
    data = json.loads(report.read_text())
    assert {Path(f["input"]).name: f["status"] for f in data["files"]} == {"a.png": "planned", "b.jpg": "skipped"}


# --------------------------------------------------------------------------------- 5. formats and names

@pytest.mark.parametrize("fmt,ext,pil_format,tolerance", [
    ("png", "png", "PNG", 1.01 / 255), ("jpg", "jpg", "JPEG", 3 / 255), ("webp", "webp", "WEBP", 4 / 255),
    ("tiff", "tif", "TIFF", 1.01 / 255)])
def test_output_formats(tmp_path, models, fmt, ext, pil_format, tolerance):
    a = photo(10, 12)
    src = save(tmp_path / "in" / "a.png", a)
    res = upscale(models, src, "-o", tmp_path / "out", "--format", fmt)
    assert res.exit_code == 0, res.output
    out = tmp_path / "out" / f"a_x4.{ext}"
    assert listing(tmp_path / "out") == [out.name]
    with Image.open(out) as im:
        assert im.format == pil_format and im.size == (48, 40)
    assert np.abs(pixels(out) - bicubic(a / 255.0)).mean() < tolerance


def test_keep_format_name_template_suffix_and_quality(tmp_path, models):
    src = tmp_path / "in"
    save(src / "p.jpeg", photo(16, 16), quality=95)
    save(src / "q.bmp", photo(8, 8, 1))
    save(src / "r.gif", photo(8, 8, 2))
    res = upscale(models, src, "-o", tmp_path / "keep")
    assert res.exit_code == 0, res.output
    # The source's spelling of its extension is kept; formats percept cannot write become PNG.
    assert sorted(listing(tmp_path / "keep")) == ["p_x4.jpeg", "q_x4.png", "r_x4.png"]

    res = upscale(models, src / "p.jpeg", "-o", tmp_path / "named", "--name", "{suffix}-{stem}.{ext}",
                  "--suffix", "big")
    assert res.exit_code == 0 and listing(tmp_path / "named") == ["big-p.jpeg"]
    res = stylize(models, src / "p.jpeg", "-o", tmp_path / "named", "--name", "{stem}{suffix}.{ext}",
                  "--format", "png")
    assert res.exit_code == 0 and (tmp_path / "named" / "p_test-style.png").is_file()

    sizes, errors = {}, {}
    for q in (20, 95):
        res = upscale(models, src / "p.jpeg", "-o", tmp_path / f"q{q}", "--quality", q, "--format", "jpg")
        assert res.exit_code == 0
        out = tmp_path / f"q{q}" / "p_x4.jpeg"  # JPEG kept: so is the source's spelling of the extension
        sizes[q] = out.stat().st_size
        errors[q] = np.abs(pixels(out) - bicubic(pixels(src / "p.jpeg"))).mean()
    assert sizes[20] < 0.7 * sizes[95] and errors[20] > 2 * errors[95]

    one_line_error(upscale(models, src, "-o", tmp_path / "bad", "--name", "{stem}{nope}.{ext}"), "--name")
    one_line_error(upscale(models, src, "-o", tmp_path / "bad", "--name", "sub/{stem}.{ext}"), "not a path")
    one_line_error(upscale(models, src, "-o", tmp_path / "bad", "--format", "gif"), "--format")
    assert not (tmp_path / "bad").exists()


# --------------------------------------------------------------------------------- 6. fidelity

def test_exif_rotated_jpeg_comes_out_upright(tmp_path, models):
    ex = Image.Exif()
    ex[ORIENTATION], ex[MAKE] = 6, "PerceptCam"
    src = save(tmp_path / "in" / "rot.jpg", photo(12, 20), quality=95, exif=ex.tobytes())
    with Image.open(src) as im:
        upright = np.asarray(ImageOps.exif_transpose(im), np.float32) / 255.0  # 20 tall, 12 wide
    res = upscale(models, src, "-o", tmp_path / "out", "--format", "png")
    assert res.exit_code == 0, res.output
    out = tmp_path / "out" / "rot_x4.png"
    with Image.open(out) as im:
        assert im.size == (48, 80)
        exif = im.getexif()
        assert exif.get(ORIENTATION, 1) == 1 and exif.get(MAKE) == "PerceptCam"
    got = pixels(out)
    assert np.abs(got - bicubic(upright)).max() <= 1.01 / 255
    assert np.abs(got - bicubic(upright[::-1, ::-1].copy())).mean() > 10 / 255  # not turned the other way


def test_iphone_heic_comes_out_upright_as_jpeg_with_its_exif_and_icc(tmp_path, models):
    """An iPhone photo: HEIC, rotated by the container (irot) and EXIF, with a colour profile."""
    pytest.importorskip("pillow_heif")
    ex = Image.Exif()
    ex[ORIENTATION], ex[MAKE] = 6, "PerceptCam"
    a = photo(12, 20)  # 12 tall, 20 wide as stored
    src = tmp_path / "in" / "IMG_0001.HEIC"
    src.parent.mkdir(parents=True)
    Image.fromarray(a).save(src, format="HEIF", quality=100, exif=ex.tobytes(), icc_profile=SRGB)
    with Image.open(src) as im:
        decoded = np.asarray(im.convert("RGB"), np.float32) / 255.0  # what a viewer shows: 20 tall, 12 wide
    assert decoded.shape == (20, 12, 3)
    res = upscale(models, src, "-o", tmp_path / "out")
    assert res.exit_code == 0, res.output
    out = tmp_path / "out" / "IMG_0001_x4.jpg"  # --format keep writes HEIC as JPEG, which every viewer opens
    assert listing(tmp_path / "out") == [out.name]
    with Image.open(out) as im:
        assert im.format == "JPEG" and im.size == (48, 80)
        assert im.getexif().get(ORIENTATION, 1) == 1 and im.getexif().get(MAKE) == "PerceptCam"
        assert im.info.get("icc_profile") == SRGB
    assert np.abs(pixels(out) - bicubic(decoded)).mean() < 4 / 255
    assert np.abs(pixels(out) - bicubic(decoded[::-1, ::-1].copy())).mean() > 10 / 255  # not turned around


@pytest.mark.parametrize("fmt,ext,pil_format", [("avif", "avif", "AVIF"), ("heic", "heic", "HEIF")])
def test_avif_and_heic_outputs_and_inputs(tmp_path, models, fmt, ext, pil_format):
    if fmt == "heic":
        pytest.importorskip("pillow_heif")
    a = photo(10, 12)
    src = save(tmp_path / "in" / "a.png", a)
    res = upscale(models, src, "-o", tmp_path / "out", "--format", fmt, "--quality", 95)
    assert res.exit_code == 0, res.output
    out = tmp_path / "out" / f"a_x4.{ext}"
    with Image.open(out) as im:
        assert im.format == pil_format and im.size == (48, 40)
    assert np.abs(pixels(out) - bicubic(a / 255.0)).mean() < 6 / 255
    again = upscale(models, out, "-o", tmp_path / "again")  # and read back as an input, format kept
    assert again.exit_code == 0, again.output
    kept = "a_x4_x4.jpg" if fmt == "heic" else f"a_x4_x4.{ext}"
    assert listing(tmp_path / "again") == [kept]


def test_heic_without_pillow_heif_is_one_line_naming_the_extra(tmp_path, models, monkeypatch):
    import percept.pipeline.imageio as imageio

    src = tmp_path / "in" / "IMG_0002.heic"
    src.parent.mkdir(parents=True)
    src.write_bytes(b"\x00\x00\x00\x18ftypheic" + bytes(64))
    monkeypatch.setattr(imageio, "HEIF_AVAILABLE", False)
    monkeypatch.setattr(Image, "ID", [name for name in Image.ID if name != "HEIF"])  # as if never installed
    res = upscale(models, src, "-o", tmp_path / "out")
    squeezed = "".join(res.output.split())  # the console wraps a long checkout path
    assert res.exit_code == 1 and "IMG_0002.heic" in res.output and "".join(install_hint("heif").split()) in squeezed
    one_line_error(upscale(models, src, "-o", tmp_path / "out2", "--format", "heic"), "pillow-heif")


def test_rgba_keeps_upscaled_alpha(tmp_path, models):
    rgb = photo(12, 16)
    alpha = np.tile(np.linspace(0, 255, 16).round().astype(np.uint8), (12, 1))
    alpha[:, :4] = 0
    src = save(tmp_path / "in" / "a.png", np.dstack([rgb, alpha]))
    res = upscale(models, src, "-o", tmp_path / "out")
    assert res.exit_code == 0, res.output
    with Image.open(tmp_path / "out" / "a_x4.png") as im:
        assert im.mode == "RGBA" and im.size == (64, 48)
        got = np.asarray(im, np.float32) / 255.0
    assert np.abs(got[..., 3] - bicubic(alpha / 255.0)).max() <= 1.01 / 255
    assert got[:, :12, 3].max() < 0.01 and got[:, -4:, 3].min() > 0.95
    # Colour under transparent pixels is the upscaled colour, not black.
    assert np.abs(got[..., :3] - bicubic(rgb / 255.0)).max() <= 1.01 / 255

    res = upscale(models, src, "-o", tmp_path / "jpg", "--format", "jpg")  # JPEG: flattened onto white
    assert res.exit_code == 0 and "flattened onto white" in res.output
    assert pixels(tmp_path / "jpg" / "a_x4.jpg")[:, :12].min() > 0.9


def test_grey_and_palette_colours(tmp_path, models):
    grey = photo(10, 14)[..., 1]
    pal_img = Image.fromarray(photo(10, 14, 1)).convert("P", palette=Image.Palette.ADAPTIVE, colors=32)
    src = tmp_path / "in"
    save(src / "g.png", grey)
    pal_img.save(src / "p.png")
    pal_rgb = np.asarray(pal_img.convert("RGB"), np.float32) / 255.0
    res = upscale(models, src, "-o", tmp_path / "out")
    assert res.exit_code == 0, res.output
    with Image.open(tmp_path / "out" / "g_x4.png") as im:
        assert im.mode == "L" and im.size == (56, 40)  # upscaled greyscale stays greyscale
        got = np.asarray(im, np.float32) / 255.0
    assert np.abs(got - bicubic(grey / 255.0)).max() <= 1.01 / 255
    assert np.abs(pixels(tmp_path / "out" / "p_x4.png") - bicubic(pal_rgb)).max() <= 1.01 / 255

    res = stylize(models, src / "g.png", "-o", tmp_path / "style")  # the style adds colour: RGB out
    assert res.exit_code == 0, res.output
    with Image.open(tmp_path / "style" / "g_test-style.png") as im:
        assert im.mode == "RGB" and im.size == (14, 10)


def test_16bit_png_stays_16bit(tmp_path, models):
    rng = np.random.default_rng(0)
    a16 = (photo(9, 11).astype(np.uint16) * 257 + rng.integers(0, 257, (9, 11, 3))).astype(np.uint16)
    g16 = a16[..., 0].copy()
    src = tmp_path / "in"
    src.mkdir()
    (src / "rgb16.png").write_bytes(encode_png16(a16, icc=SRGB))
    (src / "grey16.png").write_bytes(encode_png16(g16))
    res = upscale(models, src, "-o", tmp_path / "out")
    assert res.exit_code == 0, res.output
    for name, a in (("rgb16_x4.png", a16), ("grey16_x4.png", g16)):
        data = (tmp_path / "out" / name).read_bytes()
        back = imagecodecs.png_decode(data)
        assert back.dtype == np.uint16 and back.shape == (36, 44, *a.shape[2:])
        want = bicubic(a / 65535.0) * 65535.0
        assert np.abs(back - want).max() <= 1.5  # 16-bit steps, not 8-bit ones (257)
    with Image.open(tmp_path / "out" / "rgb16_x4.png") as im:
        assert im.info.get("icc_profile") == SRGB


@pytest.mark.parametrize("fmt", ["keep", "png", "webp", "tiff"])
def test_icc_profile_carried(tmp_path, models, fmt):
    ex = Image.Exif()
    ex[MAKE] = "PerceptCam"
    src = save(tmp_path / "in" / "a.jpg", photo(8, 8), quality=95, icc_profile=SRGB, exif=ex.tobytes())
    res = upscale(models, src, "-o", tmp_path / "out", "--format", fmt)
    assert res.exit_code == 0, res.output
    [out] = visible(tmp_path / "out")
    with Image.open(out) as im:
        assert im.info.get("icc_profile") == SRGB
        assert im.getexif().get(MAKE) == "PerceptCam"


def test_animated_gif_first_frame_with_warning(tmp_path, models):
    frames = [Image.new("RGB", (8, 6), c) for c in ((255, 0, 0), (0, 0, 255), (0, 255, 0))]
    src = tmp_path / "in" / "anim.gif"
    src.parent.mkdir()
    frames[0].save(src, save_all=True, append_images=frames[1:], duration=50)
    res = upscale(models, src, "-o", tmp_path / "out")
    assert res.exit_code == 0, res.output
    assert "anim.gif: animated (3 frames): only the first frame is processed" in res.output
    got = pixels(tmp_path / "out" / "anim_x4.png")
    assert got.shape == (24, 32, 3)
    assert got[..., 0].min() > 0.95 and got[..., 1:].max() < 0.05  # the red first frame


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_max_pixels_refuses_too_large_images_only(tmp_path, models):
    src = tmp_path / "in"
    save(src / "small.png", photo(20, 20))   # 400 pixels
    save(src / "large.png", photo(40, 40))   # 1,600: over the limit
    save(src / "huge.png", photo(64, 64))    # 4,096: over twice the limit (Pillow's own guard)
    res = upscale(models, src, "-o", tmp_path / "out", "--max-pixels", 1000)
    assert res.exit_code == 1
    assert listing(tmp_path / "out") == ["small_x4.png"]
    for name in ("large.png", "huge.png"):
        line = failure_line(res.output, name)
        assert "too large" in line and "--max-pixels" in line, line
    res = upscale(models, src, "-o", tmp_path / "out", "--max-pixels", 0)  # 0: no limit
    assert res.exit_code == 0 and "done 2, skipped 1" in res.output


# --------------------------------------------------------------------------------- 7. sizes and tiles

def test_exact_output_sizes_for_odd_and_tiny_images(tmp_path, models):
    sizes = [(3, 3), (1, 7), (7, 1), (13, 9), (5, 31)]
    src = tmp_path / "in"
    for h, w in sizes:
        save(src / f"i{h}x{w}.png", photo(h, w, h * 100 + w))
    res = upscale(models, src, "-o", tmp_path / "up")
    assert res.exit_code == 0, res.output
    res = stylize(models, src, "-o", tmp_path / "st")
    assert res.exit_code == 0, res.output
    for h, w in sizes:
        with Image.open(tmp_path / "up" / f"i{h}x{w}_x4.png") as im:
            assert im.size == (4 * w, 4 * h)
        with Image.open(tmp_path / "st" / f"i{h}x{w}_test-style.png") as im:
            assert im.size == (w, h)
    got = pixels(tmp_path / "up" / "i13x9_x4.png")
    assert np.abs(got - bicubic(photo(13, 9, 1309) / 255.0)).max() <= 1.01 / 255


def seam_jumps(img: np.ndarray, ref: np.ndarray, edges: list[int]) -> float:
    """How much more the image steps across the given columns/rows than ``ref`` does (1: no extra step)."""
    gx, rx = (np.abs(np.diff(a, axis=1)).mean(axis=(0, 2)) for a in (img, ref))
    gy, ry = (np.abs(np.diff(a, axis=0)).mean(axis=(1, 2)) for a in (img, ref))
    return max(max(gx[e - 1] / rx[e - 1], gy[e - 1] / ry[e - 1]) for e in edges)


def test_tiled_and_untiled_outputs_agree(tmp_path, models):
    src = save(tmp_path / "in" / "a.png", photo(64, 64))
    outs = {}
    for tile, extra in (("0", []), ("32", []), ("32-hard", ["--tile-overlap", 0])):
        res = stylize(models, src, "-o", tmp_path / f"st{tile}", "--tile", tile.split("-")[0], *extra)
        assert res.exit_code == 0 and f"tile {'off' if tile == '0' else 32}" in res.output, res.output
        outs[f"st{tile}"] = pixels(tmp_path / f"st{tile}" / "a_test-style.png")
    for tile in ("0", "16"):
        res = cli("upscale", src, "-m", models.sr_net, "-o", tmp_path / f"sr{tile}", "--tile", tile)
        assert res.exit_code == 0, res.output
        outs[f"sr{tile}"] = pixels(tmp_path / f"sr{tile}" / "a_x4.png")
    # Style, 32 px tiles (overlap 16, shared instance-norm statistics): the untrained test net sees far
    # more than 32 px around each pixel, so tiles lack context everywhere (measured mean 0.117, spread
    # evenly), but the feathered blend leaves no seam: no extra step across tile edges (measured 1.12).
    diff = np.abs(outs["st0"] - outs["st32"])
    assert diff.mean() < 0.15, diff.mean()
    assert seam_jumps(outs["st32"], outs["st0"], [16, 32, 48]) < 1.4
    assert seam_jumps(outs["st32-hard"], outs["st0"], [32]) > 2.0  # abutting tiles do show (measured 3.0)
    # SR: the network sees ~9 px around each pixel; 16 px tiles with 8 px overlap reproduce the whole image.
    diff = np.abs(outs["sr0"] - outs["sr16"])
    assert diff.mean() < 0.5 / 255 and diff.max() < 0.03, (diff.mean(), diff.max())


# --------------------------------------------------------------------------------- 8. strength and colour

def ycbcr(a: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray((a * 255 + 0.5).astype(np.uint8)).convert("YCbCr"), np.float32) / 255.0


def test_strength_and_preserve_color(tmp_path, models):
    a = photo(32, 40)
    src = save(tmp_path / "in" / "a.png", a)
    got = {}
    for label, extra in {"full": [], "zero": ["--strength", "0"], "half": ["--strength", "0.5"],
                         "colour": ["--preserve-color"]}.items():
        res = stylize(models, src, "-o", tmp_path / label, *extra)
        assert res.exit_code == 0, res.output
        got[label] = pixels(tmp_path / label / "a_test-style.png")
    x = a / 255.0
    assert np.abs(got["zero"] - x).max() <= 1.01 / 255  # strength 0 gives back the input
    assert np.abs(got["full"] - x).mean() > 0.05        # (the style does change it)
    assert np.abs(got["half"] - (got["full"] + x) / 2).max() <= 1.6 / 255
    yin, yfull, ycol = ycbcr(x), ycbcr(got["full"]), ycbcr(got["colour"])
    chroma_kept = np.abs(ycol[..., 1:] - yin[..., 1:]).mean()
    chroma_styled = np.abs(yfull[..., 1:] - yin[..., 1:]).mean()
    assert chroma_kept < 1.5 / 255 and chroma_styled > 10 * chroma_kept, (chroma_kept, chroma_styled)
    assert np.abs(ycol[..., 0] - yfull[..., 0]).mean() < 2 / 255  # the luminance is the style's


# --------------------------------------------------------------------------------- 9. backends

def test_onnxruntime_matches_torch(tmp_path, models):
    src = tmp_path / "in"
    save(src / "a.png", photo(40, 48))
    save(src / "b.png", photo(24, 20, 1))
    for backend in ("torch", "onnxruntime"):
        res = stylize(models, src, "-o", tmp_path / backend, "--backend", backend)
        assert res.exit_code == 0, res.output
        assert f"on {backend}/cpu/fp32" in res.output
    for name in ("a_test-style.png", "b_test-style.png"):
        d = np.abs(pixels(tmp_path / "torch" / name) - pixels(tmp_path / "onnxruntime" / name))
        assert d.mean() < 1 / 255 and d.max() <= 2 / 255, (name, d.mean(), d.max())


# --------------------------------------------------------------------------------- 10. Ctrl-C

def test_interrupt_stops_cleanly(tmp_path, models, monkeypatch):
    src, out = tmp_path / "in", tmp_path / "out"
    for i in range(12):
        save(src / f"img{i:02d}.png", photo(16, 16, i))
    before = snapshot(src)
    real_update, real_run = process_cmd.ProgressReporter.update, Inferencer.run_pieces

    def update(self, done, **fields):  # Ctrl-C arrives on the main thread after the first result
        real_update(self, done, **fields)
        raise KeyboardInterrupt

    def slow_run(self, pieces):  # keep the rest of the batch in flight when it comes
        import time
        time.sleep(0.05)
        return real_run(self, pieces)

    monkeypatch.setattr(process_cmd.ProgressReporter, "update", update)
    monkeypatch.setattr(Inferencer, "run_pieces", slow_run)
    report = tmp_path / "report.json"
    res = upscale(models, src, "-o", out, "-b", 1, "--threads", "1:1:1", "--json-report", report)
    assert res.exit_code == 130, res.output
    assert "interrupted: unfinished files were not written" in res.output
    assert "— interrupted" in res.output
    data = json.loads(report.read_text())
    assert data["totals"]["interrupted"] is True
    statuses = {Path(f["input"]).name: f["status"] for f in data["files"]}
    assert len(statuses) == 12 and set(statuses.values()) <= {"done", "not done"}  # unfinished is not "failed"
    done = sorted(n for n, s in statuses.items() if s == "done")
    assert 1 <= len(done) < 12
    assert all(f["reason"] == "interrupted" for f in data["files"] if f["status"] == "not done")
    assert data["totals"]["failed"] == 0 and data["totals"]["not_done"] == 12 - len(done)
    # Exactly the finished files exist, each complete; nothing partial or temporary is left.
    assert sorted(listing(out)) == sorted(n.replace(".png", "_x4.png") for n in done)
    for p in visible(out):
        with Image.open(p) as im:
            im.load()
            assert im.size == (64, 64)
    assert no_partial_files(tmp_path) and not stray_files(out)
    assert snapshot(src) == before

    monkeypatch.setattr(process_cmd.ProgressReporter, "update", real_update)  # run again: it resumes
    res = upscale(models, src, "-o", out)
    assert res.exit_code == 0 and f"done {12 - len(done)}, skipped {len(done)}, failed 0" in res.output


def test_real_sigint_stops_cleanly(tmp_path, models):
    """The same through a real process and a real SIGINT, as a terminal's Ctrl-C sends it."""
    src, out = tmp_path / "in", tmp_path / "out"
    for i in range(100):  # enough work that the signal lands mid-run even when the reader is slow to see line 1
        save(src / f"img{i:02d}.png", photo(96, 96, i))
    env = {**os.environ, "PERCEPT_CACHE_DIR": str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "percept.cli", "upscale", str(src), "-o", str(out), "-m", str(models.sr_net),
           "--scale", "4", "--backend", "torch", "--threads", "1:1:1", "-b", "1", "--tile", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        for line in proc.stderr:  # the first progress line comes with the first finished file
            if line.startswith("upscale: 1/100"):
                break
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, stdout + stderr
    assert "interrupted: unfinished files were not written" in stderr and "Traceback" not in stderr
    written = list(visible(out))
    assert 1 <= len(written) < 100 and f"done {len(written)}," in stdout
    assert no_partial_files(tmp_path) and not stray_files(out)
    for p in written:
        with Image.open(p) as im:
            im.load()
            assert im.size == (384, 384)


# --------------------------------------------------------------------------------- 11. bad options

@pytest.mark.parametrize("command,args,words", [
    ("upscale", ["--threads", "1:x"], ["--threads", "LOAD:PROC:SAVE"]),
    ("stylize", ["--threads", "2:2"], ["--threads"]),
    ("upscale", ["--tile", "-3"], ["--tile", "'-3'"]),
    ("stylize", ["--tile", "big"], ["--tile"]),
    ("upscale", ["--scale", "3"], ["--scale 3", "2, 4 or 8"]),
    ("upscale", ["--max-memory", "lots"], ["--max-memory", "2G"]),
    ("stylize", ["--cuda-graphs", "--backend", "onnxruntime"], ["--cuda-graphs", "--backend torch"]),
    ("stylize", ["--compile"], ["CUDA-only"]),
    ("stylize", ["--max-memory", "1k"], ["--max-memory", "at least 16M"]),
    ("upscale", ["--model", "{style}", "--scale", "4"], ["style model", "percept stylize"]),
    ("stylize", ["--style", "{sr}"], ["sr model", "percept upscale"]),
    ("upscale", ["--model", "{sr}", "--scale", "8"], ["×4 model", "--scale"]),
    ("upscale", ["--model", "{tmp}/nope.safetensors"], ["nope.safetensors", "not found"]),
    ("upscale", ["--backend", "cuda-magic"], ["unknown backend"]),
])
def test_bad_options_are_one_line_errors(tmp_path, models, command, args, words):
    src = save(tmp_path / "in" / "a.png", photo(8, 8))
    args = [a.format(style=models.style, sr=models.sr, tmp=tmp_path) for a in args]
    model = [] if any(a in args for a in ("--model", "--style")) else (
        ["--model", models.sr, "--scale", "4"] if command == "upscale" else ["--style", models.style])
    if "--scale" in args and "--model" not in args:
        model = ["--model", models.sr]
    res = cli(command, src, "-o", tmp_path / "out", *model, *args)
    one_line_error(res, *words)
    assert not (tmp_path / "out").exists()


def test_missing_input_is_a_one_line_error(tmp_path, models):
    save(tmp_path / "in" / "a.png", photo(8, 8))
    res = upscale(models, tmp_path / "in" / "a.png", tmp_path / "missing.jpg", "-o", tmp_path / "out")
    one_line_error(res, "missing.jpg", "no such file or folder")
    res = stylize(models, tmp_path / "empty-folder", "-o", tmp_path / "out")
    one_line_error(res, "no such file or folder")
    (tmp_path / "nothing").mkdir()
    res = stylize(models, tmp_path / "nothing", "-o", tmp_path / "out")
    one_line_error(res, "no images found", "--recursive")
    assert not (tmp_path / "out").exists()


def test_a_read_only_cache_runs_without_it_and_a_report_that_cannot_be_written_stops_first(tmp_path, models,
                                                                                          monkeypatch):
    """An unwritable cache folder means one warning and a run without a lasting cache; a --json-report that
    cannot be written stops the run before any work, in one line."""
    src = save(tmp_path / "in" / "a.png", photo(16, 16))
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    monkeypatch.setenv("PERCEPT_CACHE_DIR", str(blocker / "cache"))  # under a file: cannot be made
    res = upscale(models, src, "-o", tmp_path / "out", "--backend", "openvino", "--precision", "fp32")
    assert res.exit_code == 0, res.output
    assert "cannot be written" in res.output and "running without a lasting cache" in res.output
    assert (tmp_path / "out" / "a_x4.png").is_file()
    res = upscale(models, src, "-o", tmp_path / "out2", "--json-report", str(blocker / "r.json"))
    assert res.exit_code == 2 and "cannot write the --json-report" in res.output
    assert not (tmp_path / "out2" / "a_x4.png").exists() and "Traceback" not in res.output


def test_a_rerun_removes_what_a_killed_run_left_half_written(tmp_path, models):
    """SIGKILL leaves the atomic writes' temporary files (0-byte or partial) beside the outputs; the next run over
    the same outputs removes them, and touches no other file."""
    src = save(tmp_path / "in" / "a.png", photo(16, 16))
    out = tmp_path / "out"
    out.mkdir()
    left = [out / ".a_x4.png.k3j2h1g0.part", out / ".a_x4.png.zz9.part"]
    for p in left:
        p.write_bytes(b"")
    other = out / ".notes.txt.abc.part"
    other.write_bytes(b"keep")
    res = upscale(models, src, "-o", out)
    assert res.exit_code == 0, res.output
    assert not any(p.exists() for p in left) and other.read_bytes() == b"keep"
    assert (out / "a_x4.png").is_file()


def test_an_output_name_too_long_for_the_file_system_fails_alone_in_one_line(tmp_path, models):
    src = tmp_path / "in"
    save(src / ("a" * 240 + ".png"), photo(16, 16))  # its output, ..._x4.png, is 247 bytes: fits
    save(src / ("b" * 251 + ".png"), photo(16, 16))  # ..._x4.png is 258 bytes: does not
    save(src / "ok.png", photo(16, 16))
    res = upscale(models, src, "-o", tmp_path / "out")
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert "258 bytes, longer than this file system's 255" in res.output
    assert (tmp_path / "out" / ("a" * 240 + "_x4.png")).is_file() and (tmp_path / "out" / "ok_x4.png").is_file()


def test_a_file_name_that_is_not_utf8_is_read_written_and_reported(tmp_path, models):
    """A Latin-1 name from an old camera card: the output keeps the input's bytes and the JSON report escapes
    them (its text gives the bytes back through os.fsencode)."""
    src = tmp_path / "in"
    save(src / os.fsdecode(b"caf\xe9.png"), photo(16, 16))
    res = upscale(models, src, "-o", tmp_path / "out", "--json-report", str(tmp_path / "r.json"))
    assert res.exit_code == 0, res.output
    assert (tmp_path / "out" / os.fsdecode(b"caf\xe9_x4.png")).is_file()
    report = json.loads((tmp_path / "r.json").read_text(encoding="ascii"))
    assert os.fsencode(report["files"][0]["input"]).endswith(b"caf\xe9.png")
