"""The fidelity upscalers' trainer parts: folded training branches, growing a network, the weight average
(kept by --resume), Charbonnier/L1 pixel losses and checkpoints chosen on held-out photos."""

import csv

import pytest
import torch

from percept.train.checkpoint import describe, load_model, save_model
from percept.train.losses import PIXEL_LOSSES, charbonnier_loss
from percept.train.networks import SubPixelSR
from percept.train.reparam import RepConv3x3
from percept.train.sr_task import SROptions, SRTask, split_holdout
from percept.train.trainer import Trainer, TrainSettings
from percept.train.warm_start import warm_start_sr
from tests.test_train_style import make_photos


def _randomised(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)
    return module


def test_folded_kernel_equals_the_branches_computed_one_by_one():
    conv = _randomised(RepConv3x3(6, 5))
    x = torch.rand(2, 6, 9, 12)
    assert torch.allclose(conv(x), conv.branch_sum(x), atol=1e-5)
    # and the gradients reach every branch (the edge scales start at zero, but not their gradient)
    fresh = RepConv3x3(6, 5)
    fresh(x).square().mean().backward()
    assert fresh.edge_scale.grad.abs().sum() > 0 and fresh.point.weight.grad.abs().sum() > 0


def test_a_branched_network_saves_as_the_plain_one(tmp_path):
    net = _randomised(SubPixelSR(scale=2, channels=8, convs=2, branches=True)).eval()
    plain = net.plain()
    assert "branches" not in plain.config() and net.config()["branches"] is True
    x = torch.rand(1, 3, 10, 11)
    assert torch.allclose(net(x), plain(x), atol=1e-5)
    path = save_model(tmp_path / "m.safetensors", plain, describe(plain, "m"))
    loaded, _ = load_model(path)
    assert torch.allclose(loaded(x), net(x), atol=1e-5)


def test_a_grown_network_starts_as_its_parent(tmp_path):
    parent = _randomised(SubPixelSR(scale=4, channels=8, convs=2)).eval()
    path = save_model(tmp_path / "parent.safetensors", parent, describe(parent, "p"))
    for branches in (False, True):
        child = SubPixelSR(scale=4, channels=8, convs=5, branches=branches)
        warm_start_sr(path, child)
        x = torch.rand(1, 3, 12, 9)
        assert torch.allclose(child.eval()(x), parent(x), atol=1e-5), branches
    with pytest.raises(Exception, match="fewer of its convolutions"):
        warm_start_sr(path, SubPixelSR(scale=4, channels=16, convs=5))  # wider: not a growth


def test_charbonnier_is_smooth_l1():
    a, b = torch.zeros(4), torch.tensor([0.0, 0.5, -0.5, 1.0])
    assert abs(float(charbonnier_loss(a, b)) - float(PIXEL_LOSSES["l1"](a, b))) < 2e-3
    assert float(charbonnier_loss(a, a)) == pytest.approx(1e-3)  # ε at zero error: a gradient that is smooth


def test_holdout_is_spread_and_disjoint(tmp_path):
    files = [tmp_path / f"{i:03d}.jpg" for i in range(100)]
    train, held = split_holdout(files, 10)
    assert len(held) == 10 and not set(train) & set(held) and len(train) == 90
    assert held[0].name == "000.jpg" and held[-1].name == "090.jpg"


def _settings(tmp_path, **kw):
    base = dict(run_dir=tmp_path / "run", out=tmp_path / "sr.safetensors", batch_size=2, lr=1e-3, workers=0,
                device="cpu", amp="off", checkpoint_every=4, preview_every=0, log_every_s=0, ema=0.9)
    return TrainSettings(**{**base, **kw})


def test_weight_average_resumes_and_chooses_on_held_out_photos(tmp_path):
    photos = make_photos(tmp_path / "p", n=10, size=48)
    opts = dict(data=photos, name="sr", scale=2, loss="pixel", patch=16, arch="subpixel", channels=8, convs=2,
                branches=True, pixel_loss="charbonnier", holdout=3, degradation="photo", clean_share=0.5)
    whole = Trainer(SRTask(SROptions(**opts)), _settings(tmp_path, iterations=8), interactive=False).run()
    first = Trainer(SRTask(SROptions(**opts)), _settings(tmp_path / "b", iterations=4), interactive=False).run()
    assert first.step == 4
    resumed = Trainer(SRTask(SROptions(**opts)), _settings(tmp_path / "b", iterations=8, resume=True),
                      interactive=False).run()
    a, _ = load_model(whole.model_path)
    b, info = load_model(resumed.model_path)
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(va, vb), k  # the average went on where it stopped, bit for bit
    assert info.config == {"arch": "SubPixelSR", "scale": 2, "channels": 8, "convs": 2}
    ckpt = torch.load(tmp_path / "b" / "run" / "checkpoint.pt", weights_only=True)
    assert any(not torch.equal(ckpt["ema"][k], v) for k, v in ckpt["model"].items())  # the average is its own
    with open(tmp_path / "run" / "validation.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["step"] for r in rows] == ["4", "8"] and all(float(r["val_psnr"]) > 10 for r in rows)
    assert (tmp_path / "run" / "best.safetensors").is_file()


def test_adversarial_fine_tuning_resumes_with_its_discriminator_bit_for_bit(tmp_path):
    """The discriminator and its optimiser are in the checkpoint: a run stopped and resumed ends with the same
    generator as one that ran through; the adversarial term joins after the warm-up; the discriminator's own
    loss is logged, not minimised."""
    photos = make_photos(tmp_path / "p", n=8, size=48)
    opts = dict(data=photos, name="sr", scale=2, loss="pixel", patch=16, arch="subpixel", channels=8, convs=1,
                degradation="bicubic", gan_weight=0.1, gan_channels=4, gan_warmup=2, target_shrink=1.5)
    kw = dict(ema=0.0, preview_every=0, checkpoint_every=3)
    whole = Trainer(SRTask(SROptions(**opts)), _settings(tmp_path, iterations=6, **kw), interactive=False).run()
    Trainer(SRTask(SROptions(**opts)), _settings(tmp_path / "b", iterations=3, **kw), interactive=False).run()
    resumed = Trainer(SRTask(SROptions(**opts)), _settings(tmp_path / "b", iterations=6, resume=True, **kw),
                      interactive=False).run()
    a, _ = load_model(whole.model_path)
    b, _ = load_model(resumed.model_path)
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(va, vb), k
    ckpt = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert ckpt["task_state"]["adversary"]["steps"] == 6
    with open(tmp_path / "run" / "losses.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert float(rows[0]["adversarial"]) == 0 and float(rows[-1]["adversarial"]) > 0  # after the warm-up
    assert float(rows[-1]["total"]) == pytest.approx(float(rows[-1]["pixel"]) + float(rows[-1]["adversarial"]),
                                                     rel=1e-4)
    assert float(rows[-1]["monitor_discriminator"]) > 0


def test_colour_drift_stops_a_run(tmp_path):
    from percept.train.trainer import TrainingError

    photos = make_photos(tmp_path / "p", n=10, size=48)
    task = SRTask(SROptions(data=photos, name="sr", scale=2, loss="pixel", patch=16, arch="subpixel", channels=8,
                            convs=1, holdout=3, degradation="bicubic", max_colour_drift=1e-9))
    with pytest.raises(TrainingError, match="mean colour moved"):
        Trainer(task, _settings(tmp_path, iterations=4, ema=0.0, checkpoint_every=2), interactive=False).run()
