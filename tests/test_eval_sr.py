import json
import math
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from percept.cli.app import app, main
from percept.train.checkpoint import describe, save_model
from percept.train.evaluate_sr import (
    EvalDataError,
    Pair,
    dataset_name,
    evaluate,
    find_lr_file,
    load_pair,
    make_lr,
    results_json,
    save_png,
)
from percept.train.networks import SRNet

runner = CliRunner()
SIZES = {"alpha": (61, 50), "beta": (48, 64)}  # (W, H); alpha is cropped to 60x48


def smooth_image(w: int, h: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    small = Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    return small.resize((w, h), Image.BICUBIC)


@pytest.fixture
def hr_dir(tmp_path):
    folder = tmp_path / "Tiny" / "HR"
    folder.mkdir(parents=True)
    for i, (name, (w, h)) in enumerate(SIZES.items()):
        smooth_image(w, h, i).save(folder / f"{name}.png")
    return folder


@pytest.fixture
def model_file(tmp_path):
    torch.manual_seed(0)
    net = SRNet(scale=4, channels=8, blocks=1)
    return save_model(tmp_path / "tiny.safetensors", net, describe(net, "tiny"))


def run_main(monkeypatch, capsys, *args):
    monkeypatch.setattr(sys, "argv", ["percept", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code, capsys.readouterr().err


def test_lr_file_names_and_dataset_names(tmp_path):
    for name in ("baby.png", "birdx4.png", "head_x4.png", "woman_LRBI_x4.png"):
        Image.new("RGB", (4, 4)).save(tmp_path / name)
    for stem, expected in (("baby", "baby.png"), ("bird", "birdx4.png"), ("head", "head_x4.png"),
                           ("woman", "woman_LRBI_x4.png")):
        assert find_lr_file(tmp_path, stem, 4).name == expected
    with pytest.raises(EvalDataError, match="no LR image for zebra"):
        find_lr_file(tmp_path, "zebra", 4)
    assert dataset_name(tmp_path / "Set5" / "HR") == "Set5"
    assert dataset_name(tmp_path / "mine") == "mine"


def test_load_pair_crops_to_the_scale_and_checks_lr_sizes(hr_dir, tmp_path):
    pair = load_pair(hr_dir / "alpha.png", None, 4)
    assert pair.hr.shape == (3, 48, 60) and pair.lr.shape == (3, 12, 15)
    assert torch.equal(pair.lr, (pair.lr * 255).round() / 255)  # 8-bit levels, like an LR file
    wrong = tmp_path / "wrong.png"
    Image.new("RGB", (16, 12)).save(wrong)
    with pytest.raises(EvalDataError, match="wrong.png: size 16x12"):
        load_pair(hr_dir / "alpha.png", wrong, 4)


def test_identical_output_gives_infinite_psnr_and_valid_json():
    torch.manual_seed(0)
    hr = (torch.rand(3, 32, 32) * 255).round() / 255
    pairs = [Pair("same", hr, make_lr(hr, 4)), Pair("other", hr, make_lr(hr, 4))]
    outputs = iter([hr, (hr + 4 / 255).clamp(0, 1)])  # exact for "same", shifted for "other"
    scores = evaluate(pairs, {"oracle": lambda lr: next(outputs)[None]}, 4)["oracle"]
    assert math.isinf(scores.psnr["same"]) and scores.ssim["same"] == pytest.approx(1.0)
    assert math.isfinite(scores.psnr["other"]) and scores.mean_psnr == scores.psnr["other"]
    assert scores.infinite == 1
    record = json.loads(json.dumps(results_json({"oracle": scores}, 4, "t", "made"), allow_nan=False))
    entry = record["results"]["oracle"]
    assert entry["per_image"]["same"]["psnr"] is None and entry["psnr_infinite"] == ["same"]
    assert entry["psnr"] == pytest.approx(scores.psnr["other"])


def test_eval_sr_end_to_end(hr_dir, model_file, tmp_path):
    out_json, save = tmp_path / "r.json", tmp_path / "outputs"
    result = runner.invoke(app, ["eval-sr", str(hr_dir), "--scale", "4", "--model", str(model_file),
                                 "--histogram-match", "--json", str(out_json), "--save", str(save),
                                 "--backend", "torch", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "bicubic PSNR" in result.output and "tiny PSNR" in result.output and "mean" in result.output
    record = json.loads(out_json.read_text())
    assert record["scale"] == 4 and record["dataset"] == "Tiny"
    assert list(record["results"]) == ["bicubic", "tiny", "tiny+histmatch"]
    for entry in record["results"].values():
        assert set(entry["per_image"]) == set(SIZES)
        per = entry["per_image"].values()
        assert entry["psnr"] == pytest.approx(sum(v["psnr"] for v in per) / 2)
        assert entry["ssim"] == pytest.approx(sum(v["ssim"] for v in per) / 2)
        assert all(5 < v["psnr"] < 60 and -1 < v["ssim"] <= 1 for v in per)
    # Smooth images: bicubic is close; an untrained network is not.
    assert record["results"]["bicubic"]["psnr"] > record["results"]["tiny"]["psnr"]
    assert Image.open(save / "tiny" / "alpha.png").size == (60, 48)
    assert Image.open(save / "bicubic" / "beta.png").size == (48, 64)

    # The same LR inputs read from a folder (named STEMx4) give the same scores: exactly for bicubic; a network
    # may differ in the last float bit between two loads, which can move a pixel by one 8-bit level.
    lr_dir = tmp_path / "LR"
    for name in SIZES:
        save_png(lr_dir / f"{name}x4.png", load_pair(hr_dir / f"{name}.png", None, 4).lr)
    out2 = tmp_path / "r2.json"
    result = runner.invoke(app, ["eval-sr", str(hr_dir), "--scale", "4", "-m", str(model_file),
                                 "--lr-dir", str(lr_dir), "--json", str(out2)])
    assert result.exit_code == 0, result.output
    again = json.loads(out2.read_text())
    assert again["results"]["bicubic"] == record["results"]["bicubic"]
    assert again["results"]["tiny"]["psnr"] == pytest.approx(record["results"]["tiny"]["psnr"], abs=1e-3)


def test_eval_sr_bad_inputs_are_one_line_errors(hr_dir, model_file, monkeypatch, capsys):
    code, err = run_main(monkeypatch, capsys, "eval-sr", str(hr_dir), "--scale", "8", "-m", str(model_file))
    assert code == 2 and "x4 model, but --scale is 8" in err
    code, err = run_main(monkeypatch, capsys, "eval-sr", str(hr_dir), "--scale", "3")
    assert code == 2 and "--scale must be one of" in err
    (hr_dir / "broken.png").write_bytes(b"not an image")
    code, err = run_main(monkeypatch, capsys, "eval-sr", str(hr_dir), "--scale", "4")
    assert code == 2 and "broken.png: cannot read image" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    code, err = run_main(monkeypatch, capsys, "eval-sr", str(hr_dir.parent / "missing"), "--scale", "4")
    assert code == 2 and "not a folder" in err


def test_grey_images_are_upscaled_as_rgb_and_scored_as_grey(tmp_path):
    path = tmp_path / "grey.png"
    smooth_image(40, 44, 7).convert("L").save(path)
    pair = load_pair(path, None, 4)
    assert pair.grey and pair.hr.shape == (3, 44, 40) and pair.truth.shape == (1, 44, 40)
    scores = evaluate([pair], {"exact": lambda lr: pair.hr[None]}, 4)["exact"]
    assert math.isinf(scores.psnr["grey"]) and scores.ssim["grey"] == pytest.approx(1.0)


@pytest.mark.parametrize("scale, gain", [(2, 2.0), (4, 2.0), (8, 0.8)])
def test_shipped_default_upscalers_beat_bicubic_on_set5(shared_dir, scale, gain):
    """What `percept upscale --scale N` uses by default is a trained network: on Set5 (Y, border = scale) it
    beats MATLAB bicubic by the margin its card records, give or take 0.3 dB (CPU kernels may differ)."""
    from percept.core.zoo import default_sr_model
    from percept.train.checkpoint import load_model
    from percept.train.evaluate_sr import bicubic_upscaler, evaluate, iter_pairs, match_files

    net, info = load_model(default_sr_model(scale))
    net.eval()
    assert info.scale == scale

    def model(lr: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return net(lr)

    hr = shared_dir / "data" / "sr_bench" / "Set5" / "HR"
    lr_dir = hr.parent / f"LR_bicubic_x{scale}"
    files = match_files(hr, lr_dir if lr_dir.is_dir() else None, scale)
    results = evaluate(iter_pairs(files, scale), {"bicubic": bicubic_upscaler(scale), "model": model}, scale)
    assert results["model"].mean_psnr > results["bicubic"].mean_psnr + gain - 0.3, (
        results["model"].mean_psnr, results["bicubic"].mean_psnr)
