"""eval-sr on photo-like inputs: the fixed damage, LPIPS without a download, the JPEG-grid figure, and
the JPEG detector that picks the default upscaler."""


import numpy as np
import pytest
import torch
from PIL import Image

from percept.pipeline.jpeg_traces import LOSSY_BELOW, ijg_table, jpeg_traces, quality_from_table
from percept.train.blockiness import blockiness, relative_blockiness
from percept.train.evaluate_sr import make_lr
from percept.train.photo_degradations import SETTINGS, damaged_lr, jpeg_roundtrip


def textured(h: int = 96, w: int = 128, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    small = Image.fromarray(rng.integers(0, 256, (h // 6, w // 6, 3), dtype=np.uint8)).resize((w, h), Image.BICUBIC)
    noise = rng.normal(0, 6, (h, w, 3))
    a = np.clip(np.asarray(small, dtype=np.float64) + noise, 0, 255).round().astype(np.uint8)
    return torch.from_numpy(a).permute(2, 0, 1).float() / 255


def test_eval_damage_is_fixed_and_as_documented():
    hr = textured()
    clean = damaged_lr(hr, 4, SETTINGS["clean"], "a")
    assert torch.equal(clean, make_lr(hr, 4))
    web = damaged_lr(hr, 4, SETTINGS["web"], "a")
    assert torch.equal(web, jpeg_roundtrip(clean, 70))
    phone_a = damaged_lr(hr, 4, SETTINGS["phone"], "a")
    assert torch.equal(phone_a, damaged_lr(hr, 4, SETTINGS["phone"], "a"))  # fixed seed
    assert not torch.equal(phone_a, damaged_lr(hr, 4, SETTINGS["phone"], "b"))  # noise seeded by the name
    assert phone_a.shape == web.shape == (3, 24, 32)


def test_blockiness_sees_a_block_grid_and_not_a_clean_picture():
    hr = textured(256, 256)
    grid = hr.clone()
    grid[:, :, 31::32] *= 0.8  # a line every 8 × 4 px, as an upscaled JPEG's block edges
    grid[:, 31::32, :] *= 0.8
    assert relative_blockiness(grid, hr, 4) > 1.3
    assert 0.9 < blockiness(hr, 4) < 1.1


def test_lpips_uses_the_local_vgg_and_ranks_damage(vgg_path):
    from percept.train.lpips_metric import load_lpips

    lpips = load_lpips(vgg_path)
    hr = textured(64, 64)
    assert lpips(hr, hr) == pytest.approx(0, abs=1e-6)
    mild = (hr + 0.02 * torch.randn(hr.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    heavy = torch.nn.functional.avg_pool2d(hr[None], 4).repeat_interleave(4, -1).repeat_interleave(4, -2)[0]
    assert 0 < lpips(mild, hr) < lpips(heavy, hr)


def save_jpeg(tmp_path, image: torch.Tensor, quality: int, name: str = "x.jpg"):
    path = tmp_path / name
    array = (image * 255).round().byte().permute(1, 2, 0).numpy()
    Image.fromarray(array).save(path, quality=quality)
    return path


@pytest.mark.parametrize("quality", [50, 75, 95])
def test_jpeg_file_quality_comes_from_its_tables(tmp_path, quality):
    assert quality_from_table(ijg_table(quality)) == quality
    traces = jpeg_traces(save_jpeg(tmp_path, textured(), quality))
    assert traces.quality == quality and traces.evidence == "file tables"
    assert traces.damaged == (quality < LOSSY_BELOW)


@pytest.mark.parametrize("quality", [60, 70, 85])
def test_a_png_saved_from_a_jpeg_is_found_by_its_pixels(tmp_path, quality):
    jpg = save_jpeg(tmp_path, textured(256, 320, seed=quality), quality)
    png = tmp_path / "saved.png"
    Image.open(jpg).save(png)
    traces = jpeg_traces(png)
    assert traces.evidence == "pixels" and traces.damaged
    assert abs(traces.quality - quality) <= 5


def test_a_clean_png_has_no_jpeg_traces(tmp_path):
    path = tmp_path / "clean.png"
    Image.fromarray((textured(256, 320).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(path)
    traces = jpeg_traces(path)
    assert traces.quality is None and not traces.damaged


def test_eval_sr_reports_lpips_and_grid_on_web_input(tmp_path, vgg_path, monkeypatch):
    from typer.testing import CliRunner

    from percept.cli.app import app

    hr_dir = tmp_path / "Tiny" / "HR"
    hr_dir.mkdir(parents=True)
    for i in range(2):
        Image.fromarray((textured(64, 96, i).permute(1, 2, 0).numpy() * 255).astype(np.uint8)).save(
            hr_dir / f"p{i}.png")
    monkeypatch.setenv("PERCEPT_VGG_WEIGHTS", str(vgg_path))
    report = tmp_path / "r.json"
    result = CliRunner().invoke(app, ["eval-sr", str(hr_dir), "--scale", "4", "--degradation", "web",
                                      "--json", str(report)])
    assert result.exit_code == 0, result.output
    assert "LPIPS" in result.output and "grid" in result.output and "JPEG q70" in result.output
    import json

    record = json.loads(report.read_text())["results"]["bicubic"]
    assert 0 < record["lpips"] < 1 and record["blockiness"] > 0
    bad = CliRunner().invoke(app, ["eval-sr", str(hr_dir), "--scale", "4", "--degradation", "fax"])
    assert bad.exit_code != 0 and "--degradation must be one of clean, web, phone" in bad.output
