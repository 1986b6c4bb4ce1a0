"""SR training: a tiny run lowers the loss; both degradations give the right shapes; CLI writes a model."""

import csv

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from percept.cli.app import app
from percept.train.checkpoint import load_model
from percept.train.sr_task import PatchPair, SROptions, SRTask
from percept.train.trainer import Trainer, TrainSettings
from tests.test_train_style import make_photos


@pytest.mark.parametrize("degradation", ["paper", "bicubic"])
def test_patch_pairs_have_matching_shapes(degradation):
    from PIL import Image

    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8))
    lr, hr = PatchPair(32, 4, 1.0, degradation)(img, np.random.default_rng(1))
    assert hr.shape == (3, 32, 32) and lr.shape == (3, 8, 8)
    again, _ = PatchPair(32, 4, 1.0, degradation)(img, np.random.default_rng(1))
    assert torch.equal(lr, again)  # the same sample position gives the same crop


def test_tiny_pixel_run_lowers_loss(tmp_path):
    photos = make_photos(tmp_path / "p", n=8, size=64)
    task = SRTask(SROptions(data=photos, name="sr", scale=4, loss="pixel", patch=32, global_skip=False))
    s = TrainSettings(run_dir=tmp_path / "run", out=tmp_path / "sr.safetensors", iterations=40, batch_size=4,
                      lr=2e-3, workers=0, device="cpu", amp="off", checkpoint_every=20, preview_every=20,
                      log_every_s=0)
    result = Trainer(task, s, interactive=False).run()
    with open(tmp_path / "run" / "losses.csv", newline="") as f:
        totals = [float(r["total"]) for r in csv.DictReader(f)]
    assert np.mean(totals[-5:]) < 0.8 * np.mean(totals[:5]), totals
    net, info = load_model(result.model_path)
    assert info.kind == "sr" and info.scale == 4 and net(torch.rand(1, 3, 6, 7)).shape == (1, 3, 24, 28)
    assert (tmp_path / "run" / "preview.png").is_file()


def test_train_sr_cli_feature_loss(tmp_path, vgg_path):
    photos = make_photos(tmp_path / "p", n=4, size=56)
    out = tmp_path / "x8.safetensors"
    result = CliRunner().invoke(app, ["train-sr", "--scale", "8", "--data", str(photos), "--patch", "48",
                                      "--iterations", "3", "--batch-size", "2", "--workers", "0", "--device", "cpu",
                                      "--loss", "feature+pixel", "--run-dir", str(tmp_path / "r"), "--out", str(out),
                                      "--vgg-weights", str(vgg_path)])
    assert result.exit_code == 0, result.output
    _, info = load_model(out)
    assert info.scale == 8 and info.training["loss"] == "feature+pixel"
    with open(tmp_path / "r" / "losses.csv", newline="") as f:
        assert {"feature", "pixel", "total"} <= set(next(csv.DictReader(f)))
    bad = CliRunner().invoke(app, ["train-sr", "--scale", "4", "--data", str(photos), "--patch", "30"])
    assert bad.exit_code == 2 and "multiple of --scale" in bad.output
    tiny = CliRunner().invoke(app, ["train-sr", "--scale", "8", "--data", str(photos), "--patch", "32"])
    assert tiny.exit_code == 2 and "needs at least 5px" in tiny.output
