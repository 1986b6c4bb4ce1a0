"""Style training: loss goes down, resume is bit-for-bit, bad data is handled, Ctrl-C and NaN are safe."""

import csv
import importlib.util
import math
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from percept.cli.app import app
from percept.train.checkpoint import describe, load_model, save_model
from percept.train.data import DataError
from percept.train.networks import TransformNet
from percept.train.style_task import StyleOptions, StyleTask
from percept.train.trainer import Trainer, TrainingError, TrainSettings

REPO = Path(__file__).resolve().parents[1]


PROBE = 2  # the speed probe computes the losses twice before the first step (Trainer._probe_seconds)

@pytest.fixture(autouse=True)
def _no_int8_form(request, monkeypatch):
    """Training tests run for seconds: the int8 form made at the end of training is tested once
    (test_corrupt_and_non_image_files_are_skipped_and_reported), not after every run."""
    if request.node.name != "test_corrupt_and_non_image_files_are_skipped_and_reported":
        monkeypatch.setattr("percept.cli.commands.train._int8_form", lambda model, data: None)



def make_photos(folder: Path, n: int = 6, size: int = 48) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        yy, xx = np.mgrid[0:size, 0:size]
        base = np.stack([(xx * (i + 1)) % 255, (yy * 3 + i * 40) % 255, ((xx + yy) * 2) % 255], -1)
        noise = rng.integers(0, 30, (size, size, 3))
        Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8)).save(folder / f"p{i}.jpg")
    return folder


@pytest.fixture()
def photos(tmp_path):
    return make_photos(tmp_path / "photos")


@pytest.fixture()
def style_image(shared_dir):
    return shared_dir / "data" / "styles" / "mosaic.jpg"


def options(style_image, photos, vgg_path, **kw):
    base = dict(style_image=style_image, data=photos, name="t", image_size=32, style_size=48,
                vgg_weights=str(vgg_path))
    base.update(kw)
    return StyleOptions(**base)


def settings(tmp_path, **kw):
    base = dict(run_dir=tmp_path / "run", out=tmp_path / "run" / "t.safetensors", iterations=6, batch_size=2,
                workers=0, checkpoint_every=3, preview_every=3, device="cpu", amp="off", seed=3, log_every_s=0)
    base.update(kw)
    return TrainSettings(**base)


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_tiny_run_lowers_loss_and_writes_everything(tmp_path, photos, style_image, vgg_path):
    task = StyleTask(options(style_image, photos, vgg_path, image_size=64, style_size=64))
    result = Trainer(task, settings(tmp_path, iterations=30, lr=1e-2, checkpoint_every=15, preview_every=15),
                     interactive=False).run()
    rows = read_csv(tmp_path / "run" / "losses.csv")
    totals = [float(r["total"]) for r in rows]
    assert len(rows) == 30 and {"content", "style", "tv", "images_per_s"} <= set(rows[0])
    assert np.mean(totals[-5:]) < 0.7 * np.mean(totals[:5])
    run = tmp_path / "run"
    for name in ("loss.png", "preview.png", "previews/step_0000015.png", "checkpoint.pt"):
        assert (run / name).is_file(), name
    assert Image.open(run / "preview.png").size[0] > 2 * 64
    net, info = load_model(result.model_path)
    assert info.kind == "style" and info.training["iterations"] == 30 and info.style_image["name"] == "mosaic.jpg"


def test_resume_matches_uninterrupted_run(tmp_path, photos, style_image, vgg_path):
    full = Trainer(StyleTask(options(style_image, photos, vgg_path)), settings(tmp_path / "a"),
                   interactive=False).run()
    Trainer(StyleTask(options(style_image, photos, vgg_path)), settings(tmp_path / "b", iterations=3),
            interactive=False).run()
    resumed = Trainer(StyleTask(options(style_image, photos, vgg_path)), settings(tmp_path / "b", resume=True),
                      interactive=False).run()
    a, b = read_csv(tmp_path / "a" / "run" / "losses.csv"), read_csv(tmp_path / "b" / "run" / "losses.csv")
    assert [r["total"] for r in a] == [r["total"] for r in b]
    assert resumed.step == full.step == 6
    na, _ = load_model(full.model_path)
    nb, _ = load_model(resumed.model_path)
    assert all(torch.equal(x, y) for x, y in zip(na.state_dict().values(), nb.state_dict().values()))


def test_corrupt_and_non_image_files_are_skipped_and_reported(tmp_path, photos, style_image, vgg_path):
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (photos / "notes.txt").write_text("hello")
    (photos / ".DS_Store").write_bytes(b"\x00")
    result = CliRunner().invoke(app, ["train-style", str(style_image), "--data", str(photos), "--image-size", "32",
                                      "--style-size", "32", "--iterations", "2", "--batch-size", "2",
                                      "--workers", "0", "--device", "cpu", "--run-dir", str(tmp_path / "r"),
                                      "--vgg-weights", str(vgg_path)])
    assert result.exit_code == 0, result.output
    assert "skipped 2 unreadable or non-image file(s)" in result.output
    assert (tmp_path / "r" / "mosaic.safetensors").is_file()
    if importlib.util.find_spec("nncf") is not None:  # the int8 form, from the same photos (broken ones skipped)
        assert "int8 form written to" in result.output, result.output
        assert (tmp_path / "r" / "mosaic.int8.xml").is_file() and (tmp_path / "r" / "mosaic.int8.json").is_file()


def test_clear_errors_for_bad_inputs(tmp_path, photos, style_image, vgg_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no readable images"):
        StyleTask(options(style_image, empty, vgg_path))
    bad_style = tmp_path / "style.jpg"
    bad_style.write_bytes(b"garbage")
    with pytest.raises(DataError, match="style.jpg: cannot read style image"):
        StyleTask(options(bad_style, photos, vgg_path))
    monkeypatch.delenv("PERCEPT_TRAIN_DATA", raising=False)
    result = CliRunner().invoke(app, ["train-style", str(style_image)])
    assert result.exit_code == 2 and "COCO" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(app, ["train-style", str(bad_style), "--data", str(photos)])
    assert result.exit_code == 2 and "cannot read style image" in result.output


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, photos, style_image, vgg_path):
    task = StyleTask(options(style_image, photos, vgg_path))
    real = task.losses
    calls = {"n": 0}

    def poisoned(model, batch):
        calls["n"] += 1
        terms = real(model, batch)
        if calls["n"] == PROBE + 5:
            terms["style"] = terms["style"] * float("nan")
        return terms

    task.losses = poisoned
    with pytest.raises(TrainingError, match=r"not finite at step 5 .*last good checkpoint kept"):
        Trainer(task, settings(tmp_path), interactive=False).run()
    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert state["step"] == 3
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())


def test_a_non_finite_gradient_skips_the_update_instead_of_poisoning_the_weights(tmp_path, photos, style_image,
                                                                                vgg_path):
    task = StyleTask(options(style_image, photos, vgg_path))
    real = task.losses
    calls = {"n": 0}

    def inf_gradient_at_3(model, batch):
        calls["n"] += 1
        terms = real(model, batch)
        if calls["n"] == PROBE + 3:  # a finite loss whose gradient overflows
            terms["style"].register_hook(lambda g: g * float("inf"))
        return terms

    task.losses = inf_gradient_at_3
    result = Trainer(task, settings(tmp_path), interactive=False).run()
    assert result.stopped == "finished" and result.step == 6
    net, _ = load_model(result.model_path)
    assert all(torch.isfinite(v).all() for v in net.state_dict().values() if v.is_floating_point())
    assert all(math.isfinite(v) for v in result.losses.values())


def test_ctrl_c_saves_checkpoint_and_resume_finishes(tmp_path, photos, style_image, vgg_path):
    task = StyleTask(options(style_image, photos, vgg_path))
    real = task.losses
    calls = {"n": 0}

    def interrupt_at_2(model, batch):
        calls["n"] += 1
        if calls["n"] == PROBE + 2:  # what Ctrl-C runs: the handler the trainer installed for SIGINT
            # (called directly: an OS-level SIGINT into the pytest process crashes it once OpenVINO's
            # thread pool is loaded by earlier tests; `percept train-style` never loads OpenVINO)
            signal.getsignal(signal.SIGINT)(signal.SIGINT, None)
        return real(model, batch)

    task.losses = interrupt_at_2
    result = Trainer(task, settings(tmp_path, checkpoint_every=100), interactive=False).run()
    assert result.stopped == "interrupted" and result.step == 2 and result.model_path is None
    assert torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["step"] == 2
    done = Trainer(StyleTask(options(style_image, photos, vgg_path)), settings(tmp_path, resume=True),
                   interactive=False).run()
    assert done.stopped == "finished" and done.step == 6 and done.model_path.is_file()


@pytest.mark.slow
def test_ddp_on_cpu_with_two_processes(tmp_path, photos, style_image, vgg_path):
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
    assert torchrun, "torchrun not found"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [torchrun, "--standalone", "--nproc_per_node", "2", "-m", "percept.cli", "train-style", str(style_image),
           "--data", str(photos), "--image-size", "32", "--style-size", "32", "--iterations", "4",
           "--batch-size", "4", "--workers", "0", "--device", "cpu", "--amp", "off",
           "--run-dir", str(tmp_path / "ddp"), "--vgg-weights", str(vgg_path), "--no-int8-form"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "2 process(es)" in out.stderr
    rows = read_csv(tmp_path / "ddp" / "losses.csv")
    assert len(rows) == 4
    net, info = load_model(tmp_path / "ddp" / "mosaic.safetensors")
    assert info.training["processes"] == 2


def test_amp_choices_mean_what_they_say():
    from percept.train.devices import autocast_dtype

    cpu = torch.device("cpu")
    assert autocast_dtype("off", cpu) is None
    assert autocast_dtype("bf16", cpu) is torch.bfloat16
    with pytest.raises(ValueError, match="fp16 needs a CUDA"):
        autocast_dtype("fp16", cpu)
    with pytest.raises(ValueError, match="unknown --amp"):
        autocast_dtype("fast", cpu)


def test_an_earlier_run_is_never_overwritten_silently_and_init_warm_starts(tmp_path, photos, style_image, vgg_path):
    """Rerunning without --resume refuses with a hint; --force starts over; --init starts from a trained net."""
    args = ["train-style", str(style_image), "--data", str(photos), "--image-size", "32", "--style-size", "32",
            "--iterations", "2", "--batch-size", "2", "--workers", "0", "--device", "cpu",
            "--run-dir", str(tmp_path / "r"), "--vgg-weights", str(vgg_path)]
    assert CliRunner().invoke(app, args).exit_code == 0
    model = tmp_path / "r" / "mosaic.safetensors"
    first = model.read_bytes()
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 2 and "--resume" in again.output and "--force" in again.output
    assert model.read_bytes() == first  # untouched
    forced = CliRunner().invoke(app, [*args, "--force", "--seed", "1"])
    assert forced.exit_code == 0 and model.read_bytes() != first

    # Warm start: the new run's first step starts from the given network, not from random weights.
    from percept.train.checkpoint import load_model

    trained, _ = load_model(model)
    task = StyleTask(options(style_image, photos, vgg_path, init=model, exposure_path=True))
    warm = task.build_model()
    assert all(torch.equal(a, b) for a, b in zip(warm.state_dict().values(), trained.state_dict().values()))
    # A parent without the exposure path (every shipped style): the child has the parent's layers and the path as
    # a new net starts it, so its output is the parent's shifted by the photo's mean colour (mean − ½).
    paper_net = TransformNet().eval()
    parent = tmp_path / "paper.safetensors"
    save_model(parent, paper_net, describe(paper_net, "paper"))
    child = StyleTask(options(style_image, photos, vgg_path, init=parent, exposure_path=True)).build_model().eval()
    x = torch.rand(1, 3, 32, 32) * 0.4  # a dark photo
    with torch.no_grad():
        shift = torch.atanh(child(x) * 2 - 1) - torch.atanh(paper_net(x) * 2 - 1)
        expected = (x.mean(dim=(2, 3)) - 0.5)[:, :, None, None].expand_as(shift)
        assert child.config()["exposure_path"] and torch.allclose(shift, expected, atol=2e-3)
    bad = CliRunner().invoke(app, [*args, "--force", "--init", str(tmp_path / "missing.safetensors")])
    assert bad.exit_code == 2 and "missing.safetensors" in bad.output


def test_random_crops_differ_per_epoch_and_flip(tmp_path):
    from PIL import Image

    from percept.train.data import RandomCropFlip

    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (60, 90, 3), dtype=np.uint8))
    crop = RandomCropFlip(32)
    crops = [crop(img, np.random.default_rng(k)) for k in range(8)]
    assert all(c.shape == (3, 32, 32) for c in crops)
    assert len({c.sum().item() for c in crops}) > 4  # new content each time, not one centre crop
    small = Image.fromarray(np.zeros((20, 24, 3), dtype=np.uint8))
    assert crop(small, np.random.default_rng(0)).shape == (3, 32, 32)  # upscaled only when too small


def test_a_time_limit_stops_training_saves_the_model_and_runs_the_schedule_on_the_clock(tmp_path, photos,
                                                                                        style_image, vgg_path):
    from percept.train.trainer import learning_rate

    s = settings(tmp_path, iterations=10_000, time_limit_s=2.0, lr_schedule="cosine", checkpoint_every=0)
    result = Trainer(StyleTask(options(style_image, photos, vgg_path)), s).run()
    assert result.stopped == "finished" and result.model_path.is_file()
    assert 1 <= result.step < 10_000 and result.seconds < 60
    # halfway through the time, the cosine schedule is halfway down, whatever the step
    assert learning_rate(s, 5, elapsed_s=1.0) == pytest.approx(s.lr * (0.1 + 0.9 * 0.5))
    assert learning_rate(s, 5, elapsed_s=2.5) == pytest.approx(s.lr * 0.1)


def test_quick_preset_warm_starts_from_the_closest_shipped_style_and_user_options_win(tmp_path, photos,
                                                                                      style_image, vgg_path):
    """--preset quick picks --init auto (the shipped style scoring best on the new painting), half-precision
    output, a time limit and the spike penalty; an option given on the command line beats the preset's."""
    out = tmp_path / "q.safetensors"
    args = ["train-style", str(style_image), "--data", str(photos), "--preset", "quick", "--image-size", "32",
            "--style-size", "48", "--iterations", "2", "--batch-size", "2", "--workers", "0", "--device", "cpu",
            "--run-dir", str(tmp_path / "q"), "--out", str(out), "--vgg-weights", str(vgg_path),
            "--style-weight", "0.7"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "--init auto: warm start from " in result.output
    chosen = result.output.split("warm start from ")[1].split(" ")[0]
    from percept.core.model_header import file_sha256
    from percept.core.zoo import resolve_model
    from percept.train.checkpoint import read_info

    training = read_info(out).training
    parent = resolve_model(chosen, kind="style")  # the header keeps its name and content hash, not its folder
    assert training["init"] == parent.name and training["init_sha256"] == file_sha256(parent)[:16]
    assert training["style_weight"] == 0.7 and training["anchor_weight"] == 300.0  # given beats preset
    assert training["spike_weight"] == 1e4  # the preset's guard against inherited blobs
    assert training["time_limit_s"] == 28 * 60 and training["iterations"] == 2 and training["half"] is True
    bad = CliRunner().invoke(app, [*args[:4], "--preset", "slow"])
    assert bad.exit_code == 2 and "--preset 'slow'" in bad.output


def plain_progress_line(total: int, done: int, seconds: float, **kwargs) -> str:
    """The line a non-terminal ProgressReporter logs after ``done`` steps at ``seconds`` on its clock."""
    import io

    from percept.core.progress import ProgressReporter

    now = [0.0]
    out = io.StringIO()
    reporter = ProgressReporter(total, "train x", interactive=False, stream=out, clock=lambda: now[0],
                                log_every=0, **kwargs)
    now[0] = seconds
    reporter.update(done)
    return out.getvalue().strip()


def test_a_time_limited_run_reports_the_time_left_not_the_iterations_left():
    assert plain_progress_line(2000, 10, 10.0, deadline_s=60.0).endswith("eta 50s")  # not 1990 s from the count


def test_a_resumed_run_times_only_the_steps_it_ran():
    """Resumed at step 250 of 500, 10 steps in 100 s: the 240 steps left take 2,400 s, not the 92 s that counting
    the first process's steps as this one's would promise."""
    assert plain_progress_line(500, 260, 100.0, initial=250).endswith("eta 2400s")


def test_palette_term_pulls_outputs_into_the_paintings_colours(tmp_path, photos, style_image, vgg_path):
    """``--palette-weight``: training logs the term and lowers it (outputs move into mosaic's colours)."""
    task = StyleTask(options(style_image, photos, vgg_path, image_size=48, style_size=64, palette_weight=50.0,
                             style_weight=0.0))
    Trainer(task, settings(tmp_path, iterations=25, lr=1e-2, checkpoint_every=25, preview_every=25),
            interactive=False).run()
    rows = read_csv(tmp_path / "run" / "losses.csv")
    palette = [float(r["palette"]) for r in rows]
    assert np.mean(palette[-5:]) < 0.5 * np.mean(palette[:5]), palette


def test_spike_penalty_needs_instance_norm(tmp_path, photos, style_image):
    """The spike penalty acts on instance norms: asking for it on a network without them is refused in one line."""
    result = CliRunner().invoke(app, ["train-style", str(style_image), "--data", str(photos), "--norm", "none",
                                      "--spike-weight", "10", "--iterations", "1", "--run-dir", str(tmp_path / "r")])
    assert result.exit_code != 0 and "--spike-weight" in result.output and "--norm instance" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "r").exists()


def _cli_run(tmp_path, style_image, photos, vgg_path, *extra):
    out = tmp_path / "m.safetensors"
    args = ["train-style", str(style_image), "--data", str(photos), "--image-size", "32", "--style-size", "48",
            "--iterations", "2", "--batch-size", "2", "--workers", "0", "--device", "cpu", "--amp", "off",
            "--run-dir", str(tmp_path / "r"), "--out", str(out), "--vgg-weights", str(vgg_path), *extra]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    from percept.train.checkpoint import read_info

    return result.output, read_info(out).training, read_csv(tmp_path / "r" / "losses.csv")[0]


def test_the_default_objective_has_the_blob_penalties_and_paper_turns_them_off(tmp_path, photos, style_image,
                                                                                vgg_path):
    """By default train-style trains with the zoo's anchor and spike penalty; --paper drops every added term;
    an option given on the command line beats --paper."""
    _, default, row = _cli_run(tmp_path / "a", style_image, photos, vgg_path)
    assert default["anchor_weight"] == 300.0 and default["spike_weight"] == 1e4 and default["exposure_path"]
    assert {"anchor", "spike"} <= set(row)
    _, paper, row = _cli_run(tmp_path / "b", style_image, photos, vgg_path, "--paper")
    assert paper["anchor_weight"] == paper["spike_weight"] == paper["palette_weight"] == 0.0
    assert paper["style_tiles"] == 1 and not paper["exposure_path"]  # the paper's network too
    assert set(row) == {"step", "total", "content", "style", "tv", "images_per_s", "elapsed_s"}
    _, mixed, _ = _cli_run(tmp_path / "c", style_image, photos, vgg_path, "--paper", "--anchor-weight", "5")
    assert mixed["anchor_weight"] == 5.0 and mixed["spike_weight"] == 0.0


def test_the_paper_option_reproduces_the_papers_objective(photos, style_image, vgg_path, shared_dir, monkeypatch):
    """With --paper's options the training objective is content_weight × the reference's content term +
    style_weight × its style term + the TV term, computed by the reference objective in ../shared."""
    import importlib.util

    from percept.cli.commands.train import PAPER_OBJECTIVE

    monkeypatch.setenv("PERCEPT_VGG_WEIGHTS", str(vgg_path))
    spec = importlib.util.spec_from_file_location("reference_objective",
                                                  shared_dir / "reference_nets" / "objective.py")
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    task = StyleTask(options(style_image, photos, vgg_path, style_size=64, content_weight=2.0, style_weight=3.0,
                             tv_weight=1e-4, **PAPER_OBJECTIVE))
    task.setup(torch.device("cpu"))
    torch.manual_seed(0)
    batch = torch.rand(1, 3, 32, 32)
    model = task.build_model().eval()
    with torch.no_grad():
        terms = task.losses(model, batch)
        y = model(batch)
    assert set(terms) == {"content", "style", "tv"}
    net = ref.vgg()
    with torch.no_grad():
        grams = {k: ref.gram(v) for k, v in ref.feats(net, ref.load(style_image, 64)).items()}
    content, style_term = ref.terms(net, y, batch, grams)
    assert terms["content"].item() == pytest.approx(2.0 * content, rel=1e-4)
    assert terms["style"].item() == pytest.approx(3.0 * style_term, rel=1e-3)
    tv = ((y[..., :, 1:] - y[..., :, :-1]) ** 2).sum() + ((y[..., 1:, :] - y[..., :-1, :]) ** 2).sum()
    assert terms["tv"].item() == pytest.approx(1e-4 * tv.item(), rel=1e-4)


def test_a_run_says_how_long_it_will_take_before_its_first_step(tmp_path, photos, style_image, vgg_path):
    output, _, _ = _cli_run(tmp_path, style_image, photos, vgg_path)
    lines = output.splitlines()
    speed = next(i for i, line in enumerate(lines) if line.startswith("speed here:"))
    first_step = next(i for i, line in enumerate(lines) if ": 1/2 " in line)
    assert speed < first_step and "iterations take about" in lines[speed]


def test_a_cpu_run_of_hours_names_the_quicker_options_and_the_probe_changes_nothing(tmp_path, photos, style_image,
                                                                                    vgg_path, monkeypatch):
    """A 2 h+ CPU estimate adds --preset quick and --time-limit; the timing probe leaves the run bit-for-bit."""
    lines: list[str] = []
    monkeypatch.setattr("percept.train.trainer._RunLog.say", lambda self, line: lines.append(line))
    task = StyleTask(options(style_image, photos, vgg_path))
    Trainer(task, settings(tmp_path / "a", iterations=3), interactive=False).run()
    probed = load_model(tmp_path / "a" / "run" / "t.safetensors")[0].state_dict()
    assert any(line.startswith("speed here:") for line in lines)
    assert not any("--preset quick" in line for line in lines)  # 3 tiny steps are not hours

    monkeypatch.setattr(Trainer, "_probe_seconds", lambda self, setup: 1.0)  # 10,000 steps at 1 s: 2.8 h
    lines.clear()
    task = StyleTask(options(style_image, photos, vgg_path))
    trainer = Trainer(task, settings(tmp_path / "b", iterations=3), interactive=False)
    trainer.s.iterations = 10_000
    setup = trainer._setup()
    trainer._announce_duration(setup, type("L", (), {"say": lambda self, line: lines.append(line)})())
    assert any("2.8 h" in line for line in lines) and any("--preset quick" in line for line in lines)

    monkeypatch.undo()
    monkeypatch.setattr(Trainer, "_announce_duration", lambda self, setup, log: None)
    task = StyleTask(options(style_image, photos, vgg_path))
    Trainer(task, settings(tmp_path / "c", iterations=3), interactive=False).run()
    plain = load_model(tmp_path / "c" / "run" / "t.safetensors")[0].state_dict()
    assert all(torch.equal(probed[k], plain[k]) for k in plain)
