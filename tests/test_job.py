"""The one job description: its fingerprint is the skip record's, and every path runs the same job."""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path

import pytest
from PIL import Image
from process_helpers import make_clip, photo, save_sr_model, save_style_model
from typer.testing import CliRunner

from percept.cli.app import app
from percept.pipeline.job import Job, ModelRun, OutputSettings, PictureSettings
from percept.pipeline.manifest import fingerprint, model_identity


@pytest.fixture(scope="module")
def style_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    return save_style_model(folder / "a.safetensors", seed=0), save_style_model(folder / "b.safetensors", seed=1)


def base_job(model: Path) -> Job:
    return Job(ModelRun(model, "style", 1), PictureSettings(stroke_scale=1.0, temporal=True), OutputSettings())


def test_the_fingerprint_is_the_one_earlier_versions_recorded(style_files):
    job = base_job(style_files[0])
    legacy = {"model": model_identity(style_files[0]), "strength": 1.0, "preserve_color": False, "tile": "auto",
              "overlap": None, "precision": "default", "quality": 95, "crf": 18, "temporal": True,
              "stroke_scale": 1.0}
    assert job.fingerprint() == fingerprint(legacy)  # folders made before the job object are not redone


PIXEL_DECIDING = {
    ("model", "precision"): "bf16", ("picture", "tile"): "512", ("picture", "overlap"): 32,
    ("picture", "strength"): 0.5, ("picture", "preserve_color"): True, ("picture", "stroke_scale"): 2.0,
    ("picture", "temporal"): False, ("output", "quality"): 80, ("output", "crf"): 23,
}
NOT_PIXEL_DECIDING = {
    ("model", "backend"): "onnxruntime", ("model", "device"): "cuda:1", ("model", "threads"): 7,
    ("model", "batch_size"): 4, ("model", "max_memory"): 1 << 30, ("model", "compile"): True,
    ("model", "cuda_graphs"): True,
    ("output", "fmt"): "png",  # another format is another output file (its extension), not a rerun of this one
    ("output", "name"): "{stem}.{ext}", ("output", "suffix"): "_x", ("output", "skip_existing"): False,
    ("output", "max_pixels"): 10,
    ("output", "png_compression"): 9,  # lossless at every level: the same pixels
}


def changed(job: Job, part: str, name: str, value) -> Job:
    return replace(job, **{part: replace(getattr(job, part), **{name: value})})


def test_every_pixel_deciding_field_changes_the_fingerprint_and_nothing_else_does(style_files):
    job = base_job(style_files[0])
    for (part, name), value in PIXEL_DECIDING.items():
        assert changed(job, part, name, value).fingerprint() != job.fingerprint(), name
    for (part, name), value in NOT_PIXEL_DECIDING.items():
        assert changed(job, part, name, value).fingerprint() == job.fingerprint(), name
    assert replace(job, model=replace(job.model, path=style_files[1])).fingerprint() != job.fingerprint()
    every = {(p, f.name) for p in ("model", "picture", "output") for f in fields(getattr(job, p))}
    # path: above; kind and scale follow the model file; detail needs a model with a partner
    # (tests/test_detail.py::test_upscale_detail_end_to_end_and_in_the_settings)
    assert every - set(PIXEL_DECIDING) - set(NOT_PIXEL_DECIDING) == {("model", "path"), ("model", "kind"),
                                                                     ("model", "scale"), ("model", "detail")}


def test_local_video_and_ray_paths_get_the_same_job(tmp_path, style_files, monkeypatch):
    pytest.importorskip("av")
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(photo(40, 48)).save(src / "a.png")
    make_clip(src / "c.mp4", frames=4, audio=False)
    seen: list[Job] = []
    real = Job.inferencer

    def spy(self, runtime, log=None):
        seen.append(self)
        return real(self, runtime, log)

    monkeypatch.setattr(Job, "inferencer", spy)
    args = ["stylize", str(src), "--style", str(style_files[0]), "--strength", "0.6", "--tile", "0",
            "--stroke-scale", "2", "--threads", "1:1:1"]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "local")])
    assert result.exit_code == 0, result.output
    local, clips = seen
    assert clips == local.for_clips()  # video: the same job, its stroke scale switched off
    assert local.picture.strength == 0.6 and local.picture.stroke_scale == 2.0

    import percept.pipeline.scaleout as scaleout

    captured = {}
    monkeypatch.setattr(scaleout, "ray_job", lambda job: job)
    monkeypatch.setattr(scaleout, "connect", lambda address: (0.0, None))

    def fake_run_on_ray(tasks, job, options, in_store, out_store, *, run, on_result=None):
        captured["job"] = job
        from percept.pipeline.batch import Summary

        return Summary([], 0.0)

    monkeypatch.setattr(scaleout, "run_on_ray", fake_run_on_ray)
    (src / "c.mp4").unlink()
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "ray"), "--ray", "local"])
    assert result.exit_code == 0, result.output
    ray_job = captured["job"]
    assert ray_job.picture == local.picture and ray_job.output == local.output
    assert ray_job.model == replace(local.model, batch_size=1)  # Ray resolves the automatic batch per actor
    assert ray_job.fingerprint() == local.fingerprint()


def test_an_upscale_job_with_a_named_model_keeps_its_own_scale(tmp_path):
    model = save_sr_model(tmp_path / "m.safetensors", scale=2)
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(photo(20, 24)).save(src / "a.png")
    result = CliRunner().invoke(app, ["upscale", str(src), "--model", str(model), "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "o" / "a_x2.png").size == (48, 40)
    bad = CliRunner().invoke(app, ["upscale", str(src), "--model", str(model), "--scale", "4",
                                   "--out", str(tmp_path / "o")])
    assert bad.exit_code != 0 and "is a ×2 model but --scale is 4" in bad.output


def test_png_compression_is_lossless_and_level_9_is_smaller(tmp_path, style_files):
    import numpy as np

    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(photo(48, 64)).save(src / "a.png")
    model = save_sr_model(tmp_path / "m.safetensors", scale=2)
    outs = {}
    for level in ("1", "9"):
        out = tmp_path / f"o{level}"
        result = CliRunner().invoke(app, ["upscale", str(src), "--model", str(model), "--png-compression", level,
                                          "--threads", "1:1:1", "--out", str(out)])
        assert result.exit_code == 0, result.output
        outs[level] = out / "a_x2.png"
    assert np.array_equal(np.asarray(Image.open(outs["1"])), np.asarray(Image.open(outs["9"])))
    assert outs["9"].stat().st_size < outs["1"].stat().st_size
    bad = CliRunner().invoke(app, ["upscale", str(src), "--model", str(model), "--png-compression", "10",
                                   "--out", str(tmp_path / "o")])
    assert bad.exit_code != 0
