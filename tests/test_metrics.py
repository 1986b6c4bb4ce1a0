import math

import pytest
import torch
import torch.nn.functional as F

from percept.train.evaluate_sr import bicubic_upscaler, evaluate, iter_pairs, match_files
from percept.train.metrics import gaussian_kernel, mean_psnr, psnr, quantize_8bit, rgb_to_y, ssim


def grey(value: float, size: int = 32) -> torch.Tensor:
    return torch.full((3, size, size), value, dtype=torch.float64)


def test_y_channel_is_bt601_as_matlab_rgb2ycbcr():
    assert rgb_to_y(grey(0.0)).unique().item() == pytest.approx(16.0)
    assert rgb_to_y(grey(1.0)).unique().item() == pytest.approx(235.0)
    red = torch.zeros(3, 2, 2)
    red[0] = 1.0
    assert rgb_to_y(red)[0, 0].item() == pytest.approx(16.0 + 65.481)


def test_psnr_of_a_known_error():
    a, b = grey(0.4), grey(0.5)
    dy = 219.0 * 0.1  # Y = 16 + 219·v for grey images
    assert psnr(a, b).item() == pytest.approx(10 * math.log10(255**2 / dy**2))


def test_psnr_of_identical_images_is_infinite_and_means_skip_it():
    x = torch.rand(2, 3, 20, 20)
    assert torch.isinf(psnr(x, x)).all() and torch.isinf(psnr(x, x, y_channel=False)).all()
    assert mean_psnr([math.inf, 30.0, 32.0]) == (31.0, 1)
    assert mean_psnr([math.inf, math.inf]) == (math.inf, 2)


def test_crop_border_ignores_the_frame():
    x = torch.rand(3, 40, 40)
    y = x.clone()
    y[:, :4] = 0.0
    y[:, :, -3:] = 1.0
    assert math.isinf(psnr(x, y, crop_border=4).item())
    assert math.isfinite(psnr(x, y, crop_border=2).item())
    assert ssim(x, y, crop_border=4).item() == pytest.approx(1.0)


def test_ssim_of_identical_images_is_one():
    x = torch.rand(3, 30, 40)
    assert ssim(x, x).item() == pytest.approx(1.0, abs=1e-12)
    assert ssim(x, x, y_channel=False).item() == pytest.approx(1.0, abs=1e-12)


def test_ssim_of_flat_images_by_formula():
    # No variance: SSIM is the luminance term (2·μa·μb + C1) / (μa² + μb² + C1) alone.
    ya, yb = 16 + 219 * 0.3, 16 + 219 * 0.6
    c1 = (0.01 * 255) ** 2
    expected = (2 * ya * yb + c1) / (ya**2 + yb**2 + c1)
    assert ssim(grey(0.3), grey(0.6)).item() == pytest.approx(expected, rel=1e-12)


def test_ssim_matches_a_direct_2d_window_implementation():
    torch.manual_seed(0)
    a = torch.rand(3, 37, 45)
    b = (a + 0.1 * torch.randn_like(a)).clamp(0, 1)
    ya, yb = rgb_to_y(a)[None, None], rgb_to_y(b)[None, None]
    g = gaussian_kernel()
    win = (g[:, None] * g[None, :])[None, None]

    def filt(x):
        return F.conv2d(x, win)

    mu_a, mu_b = filt(ya), filt(yb)
    var_a, var_b = filt(ya * ya) - mu_a**2, filt(yb * yb) - mu_b**2
    cov = filt(ya * yb) - mu_a * mu_b
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    ref = (((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))).mean()
    assert ssim(a, b).item() == pytest.approx(ref.item(), rel=1e-10)
    assert 0.0 < ref.item() < 0.99


def test_ssim_rejects_images_too_small_after_the_crop():
    with pytest.raises(ValueError, match="11x11"):
        ssim(torch.rand(3, 18, 18), torch.rand(3, 18, 18), crop_border=4)


def test_quantize_8bit():
    x = torch.tensor([0.0, 0.5, 1.0, 1.2, -0.1, 0.2])
    assert torch.equal(quantize_8bit(x) * 255, torch.tensor([0.0, 128.0, 255.0, 255.0, 0.0, 51.0]))


def test_bicubic_x4_on_set5_matches_the_published_numbers(shared_dir):
    """28.43 dB / 0.811 is the bicubic ×4 Set5 row of every SR table (Y channel, 4-pixel border)."""
    root = shared_dir / "data" / "sr_bench" / "Set5"
    files = match_files(root / "HR", root / "LR_bicubic_x4", 4)
    scores = evaluate(iter_pairs(files, 4), {"bicubic": bicubic_upscaler(4)}, 4)["bicubic"]
    assert len(scores.psnr) == 5
    assert scores.mean_psnr == pytest.approx(28.43, abs=0.05)
    assert scores.mean_ssim == pytest.approx(0.811, abs=0.005)


def test_grey_truth_is_scored_on_grey_values():
    """MATLAB scripts convert only 3-channel images: a grey image is compared on 0–255 grey levels."""
    torch.manual_seed(0)
    truth = quantize_8bit(torch.rand(1, 24, 24))
    out = quantize_8bit((truth + 0.05 * torch.randn_like(truth)).clamp(0, 1))
    mse = ((out - truth).double() * 255).pow(2).mean().item()
    assert psnr(out.expand(3, -1, -1), truth).item() == pytest.approx(10 * math.log10(255**2 / mse), rel=1e-9)
    assert psnr(out, truth).item() == pytest.approx(10 * math.log10(255**2 / mse), rel=1e-9)
    assert math.isinf(psnr(truth.expand(3, -1, -1), truth).item())
    # an RGB output of a grey truth is compared through its full-range BT.601 luma
    colour = out.expand(3, -1, -1).clone()
    colour[0] = (colour[0] + 0.1).clamp(0, 1)
    luma = (rgb_to_y(colour) - 16) * 255 / 219
    mse = (luma - truth[0].double() * 255).pow(2).mean().item()
    assert psnr(colour, truth).item() == pytest.approx(10 * math.log10(255**2 / mse), rel=1e-9)
