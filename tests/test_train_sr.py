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


@pytest.fixture(autouse=True)
def _no_int8_form(request, monkeypatch):
    """Training tests run for seconds: the int8 form made at the end of training is tested once
    (test_corrupt_and_non_image_files_are_skipped_and_reported), not after every run."""
    if request.node.name != "test_corrupt_and_non_image_files_are_skipped_and_reported":
        monkeypatch.setattr("percept.cli.commands.train._int8_form", lambda model, data: None)



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
    task = SRTask(SROptions(data=photos, name="sr", scale=4, loss="pixel", patch=32, global_skip=False, arch="paper"))
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


def test_subpixel_net_starts_at_bicubic_and_learns_detail_beyond_it(shared_dir):
    """The ICNR head starts the sub-pixel net at bicubic (no checkerboard to unlearn), and the net can learn
    detail that bicubic lacks: fitted to a few real photo patches it ends below bicubic's error."""
    torch.manual_seed(0)
    task = SRTask(SROptions(data=shared_dir / "data" / "train", name="sr", scale=4, loss="pixel", patch=64,
                            arch="subpixel"))
    fixed = [task.dataset(0)[(i, i)] for i in range(4)]
    lr, hr = torch.stack([a for a, _ in fixed]), torch.stack([b for _, b in fixed])
    bicubic = torch.nn.functional.interpolate(lr, scale_factor=4, mode="bicubic", align_corners=False).clamp(0, 1)
    net = task.build_model()
    with torch.no_grad():
        start = (net.eval()(lr) - bicubic).abs()
        assert start.mean() < 0.004 and start.max() < 0.05
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    for _ in range(400):
        loss = ((net(lr) - hr) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        fitted, plain = ((net.eval()(lr) - hr) ** 2).mean(), ((bicubic - hr) ** 2).mean()
    assert fitted < 0.97 * plain, (float(fitted), float(plain))


def test_train_sr_cli_feature_loss(tmp_path, vgg_path):
    photos = make_photos(tmp_path / "p", n=4, size=56)
    out = tmp_path / "x8.safetensors"
    result = CliRunner().invoke(app, ["train-sr", "--scale", "8", "--data", str(photos), "--patch", "48",
                                      "--iterations", "3", "--batch-size", "2", "--workers", "0", "--device", "cpu",
                                      "--loss", "feature+pixel", "--run-dir", str(tmp_path / "r"), "--out", str(out),
                                      "--vgg-weights", str(vgg_path), "--speckle-weight", "1e4", "--blur-weight",
                                      "1e3", "--grid-weight", "1e4", "--grid-window", "0"])
    assert result.exit_code == 0, result.output
    _, info = load_model(out)
    assert info.scale == 8 and info.training["loss"] == "feature+pixel"
    assert info.training["blur_weight"] == 1e3 and info.training["grid_window"] == 0  # the card's recipe line
    assert info.name == "my-sr-x8-feature-pixel"  # never named like a shipped model (sr-x4-feature, ...)
    with open(tmp_path / "r" / "losses.csv", newline="") as f:
        assert {"feature", "pixel", "speckle", "blur", "grid", "total"} <= set(next(csv.DictReader(f)))
    bad = CliRunner().invoke(app, ["train-sr", "--scale", "4", "--data", str(photos), "--patch", "30"])
    assert bad.exit_code == 2 and "multiple of --scale" in bad.output
    tiny = CliRunner().invoke(app, ["train-sr", "--scale", "8", "--data", str(photos), "--patch", "32",
                                    "--arch", "paper"])
    assert tiny.exit_code == 2 and "needs at least 5px" in tiny.output
    tiny = CliRunner().invoke(app, ["train-sr", "--scale", "8", "--data", str(photos), "--patch", "8"])
    assert tiny.exit_code == 2 and "needs at least 2px" in tiny.output


def test_train_sr_init_starts_from_the_given_model(tmp_path):
    """``--init``: a feature-loss model starts where the pixel-loss one ended; a model of other layers is
    refused in one line before any training."""
    from percept.train.checkpoint import describe, save_model
    from percept.train.networks import SubPixelSR

    photos = make_photos(tmp_path / "p", n=4, size=56)
    torch.manual_seed(3)
    source = SubPixelSR(4, channels=8, convs=1)
    src = save_model(tmp_path / "pixel.safetensors", source, describe(source, "pixel"))
    task = SRTask(SROptions(data=photos, name="f", scale=4, loss="pixel", patch=32, channels=8, convs=1, init=src))
    started = task.build_model()
    assert all(torch.equal(a, b) for a, b in zip(started.state_dict().values(), source.state_dict().values()))
    other = CliRunner().invoke(app, ["train-sr", "--scale", "4", "--data", str(photos), "--patch", "32",
                                     "--channels", "16", "--convs", "1", "--init", str(src), "--iterations", "1",
                                     "--workers", "0", "--run-dir", str(tmp_path / "r")])
    assert other.exit_code == 2 and "--init" in other.output and "not one with the layers" in other.output
    assert not (tmp_path / "r" / "checkpoint.pt").exists()


def test_feature_jitter_crops_both_images_alike_and_moves_the_grid():
    from percept.train.sr_task import jittered

    sr, hr = torch.rand(2, 3, 20, 20), torch.rand(2, 3, 20, 20)
    assert jittered(sr, hr, 0) == (sr, hr)
    torch.manual_seed(0)
    offsets = set()
    for _ in range(30):
        a, b = jittered(sr, hr, 3)
        assert a.shape == b.shape == (2, 3, 17, 17)
        dy, dx = [(i, j) for i in range(4) for j in range(4) if torch.equal(a, sr[..., i:i + 17, j:j + 17])][0]
        assert torch.equal(b, hr[..., dy:dy + 17, dx:dx + 17])
        offsets.add((dy, dx))
    assert len(offsets) > 8  # the phase changes from step to step


def test_train_sr_time_limit_stops_and_saves_the_model(tmp_path):
    """``--time-limit`` (the option a long CPU run is pointed to) ends the run early with a finished model."""
    photos = make_photos(tmp_path / "p")
    out = tmp_path / "m.safetensors"
    result = CliRunner().invoke(app, ["train-sr", "--scale", "2", "--data", str(photos), "--patch", "32",
                                      "--channels", "8", "--convs", "1", "--loss", "pixel", "--iterations", "100000",
                                      "--batch-size", "2", "--workers", "0", "--device", "cpu", "--time-limit", "2s",
                                      "--run-dir", str(tmp_path / "r"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "time limit of 2 s reached" in result.output
    training = load_model(out)[1].training
    assert training["time_limit_s"] == 2.0 and 0 < training["final_step"] < 100000


def test_feature_loss_over_weighted_layers_is_their_weighted_sum(tmp_path, vgg_path):
    from percept.train.losses import squared_error
    from percept.train.networks import SubPixelSR
    from percept.train.vgg import VGGLoss

    photos = make_photos(tmp_path / "p", n=2, size=48)
    task = SRTask(SROptions(data=photos, name="sr", loss="feature", feature_layer="relu1_2:0.5, relu3_3:2"))
    task.vgg = VGGLoss(vgg_path)
    net = SubPixelSR(scale=4, channels=8, convs=2)
    lr, hr = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        got = task.losses(net, (lr, hr))["feature"]
        f_sr, f_hr = task.vgg(net(lr), ["relu1_2", "relu3_3"]), task.vgg(hr, ["relu1_2", "relu3_3"])
    want = 0.5 * squared_error(f_sr["relu1_2"], f_hr["relu1_2"]) + 2 * squared_error(f_sr["relu3_3"], f_hr["relu3_3"])
    assert torch.allclose(got, want)
    bad = CliRunner().invoke(app, ["train-sr", "--data", str(photos), "--feature-layer", "relu2_2:x"])
    assert bad.exit_code != 0 and "weight of relu2_2 is not a number" in bad.output
    assert len(bad.output.strip().splitlines()) == 1
