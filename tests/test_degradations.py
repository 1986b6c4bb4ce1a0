import numpy as np
import pytest
import torch
from PIL import Image

from percept.train.degradations import (
    gaussian_blur,
    histogram_match,
    matlab_imresize,
    paper_lr,
    random_patch_pair,
    resize_matrix,
)

# CPU always, CUDA when present (as tests/conftest.py devices(); importing conftest depends on how pytest runs).
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def read(path) -> torch.Tensor:
    return torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1).double() / 255


def high_frequency_energy(x: torch.Tensor) -> float:
    lap = 4 * x[..., 1:-1, 1:-1] - x[..., :-2, 1:-1] - x[..., 2:, 1:-1] - x[..., 1:-1, :-2] - x[..., 1:-1, 2:]
    return float((lap**2).mean())


@pytest.mark.parametrize("border", ["replicate", "symmetric"])
@pytest.mark.parametrize("scale", [0.25, 0.125, 4.0, 2.0])
def test_resize_rows_sum_to_one_so_flat_images_stay_flat(scale, border):
    m = resize_matrix(24, int(24 * scale), scale, border=border)
    assert torch.allclose(m.sum(dim=1), torch.ones(m.shape[0], dtype=torch.float64))
    flat = torch.full((3, 24, 24), 0.37, dtype=torch.float64)
    assert torch.allclose(matlab_imresize(flat, scale, border=border), torch.tensor(0.37, dtype=torch.float64))


def test_matlab_upscale_edge_value_by_hand():
    # ×2, first output pixel: u = 1/2 + 1/4 = 0.75, taps at 1-based positions -1, 0, 1, 2 with Keys (a = -0.5)
    # weights k(1.75) = -0.0234375, k(0.75) = 0.2265625, k(0.25) = 0.8671875, k(1.25) = -0.0703125;
    # replicate borders fold the first three onto pixel 1: 1.0703125·1 - 0.0703125·2 = 0.9296875.
    row = torch.tensor([[[1.0, 2.0, 3.0, 4.0]]], dtype=torch.float64)
    out = matlab_imresize(row, 2.0)
    assert out.shape == (1, 2, 8)
    assert out[0, 0, 0].item() == pytest.approx(0.9296875, abs=1e-12)


@pytest.mark.parametrize("device", DEVICES)
def test_shapes_dtype_and_device(device):
    x = torch.rand(2, 3, 32, 48, device=device)
    assert matlab_imresize(x, 0.25).shape == (2, 3, 8, 12)
    assert matlab_imresize(x, 4).shape == (2, 3, 128, 192)
    assert matlab_imresize(x[0], 0.25).shape == (3, 8, 12)
    lr = paper_lr(x, 4)
    assert lr.shape == (2, 3, 8, 12) and lr.dtype == x.dtype and lr.device == x.device
    assert paper_lr(x, 8).shape == (2, 3, 4, 6)
    assert 0.0 <= lr.min() and lr.max() <= 1.0
    with pytest.raises(ValueError, match="multiple"):
        paper_lr(x[..., :30, :], 4)


def test_matlab_downscale_reproduces_the_published_set5_lr_exactly(shared_dir):
    """The published LR_bicubic_x4 files were made by MATLAB imresize on uint8 images with clamped borders:
    emulating that (8-bit levels, rounding after each pass, ties away from zero) gives the same bytes.
    """
    root = shared_dir / "data" / "sr_bench" / "Set5"
    plain_max, symmetric_max = 0.0, 0.0
    for path in sorted((root / "HR").glob("*.png")):
        hr, published = read(path), read(root / "LR_bicubic_x4" / path.name)
        mine = matlab_imresize(hr, 0.25, uint8_steps=True)
        assert torch.equal((mine * 255).round(), (published * 255).round()), path.name
        # Both details matter: float arithmetic without the 8-bit steps, or mirrored borders (current MATLAB).
        plain = (matlab_imresize(hr, 0.25) * 255).round().clamp(0, 255)
        plain_max = max(plain_max, (plain - published * 255).abs().max().item())
        sym = matlab_imresize(hr, 0.25, uint8_steps=True, border="symmetric")
        symmetric_max = max(symmetric_max, ((sym - published) * 255).abs().max().item())
    assert plain_max >= 1 and symmetric_max > 2


def test_gaussian_blur_removes_high_frequencies_and_keeps_the_mean():
    torch.manual_seed(0)
    noise = torch.rand(1, 3, 64, 64)
    blurred = gaussian_blur(noise, 1.0)
    assert blurred.shape == noise.shape
    assert high_frequency_energy(blurred) < 0.05 * high_frequency_energy(noise)
    assert blurred.mean().item() == pytest.approx(noise.mean().item(), abs=0.01)
    assert torch.equal(gaussian_blur(noise, 0.0), noise)


def test_paper_lr_blurs_before_downsampling():
    torch.manual_seed(0)
    noise = torch.rand(1, 3, 128, 128)
    blurred_lr, plain_lr = paper_lr(noise, 4), paper_lr(noise, 4, sigma=0.0)
    assert blurred_lr.std().item() < 0.6 * plain_lr.std().item()


def test_random_patch_pair_crops_the_image_and_degrades_the_crop():
    h, w = 300, 400
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    img = torch.stack([ys / (h - 1), xs / (w - 1), torch.full((h, w), 0.5)]).float()
    hr, lr = random_patch_pair(img, 288, 4, generator=torch.Generator().manual_seed(3))
    assert hr.shape == (3, 288, 288) and lr.shape == (3, 72, 72)
    top, left = round(hr[0, 0, 0].item() * (h - 1)), round(hr[1, 0, 0].item() * (w - 1))
    assert torch.equal(hr, img[:, top: top + 288, left: left + 288])
    assert torch.allclose(lr, paper_lr(hr, 4))
    again, _ = random_patch_pair(img, 288, 4, generator=torch.Generator().manual_seed(3))
    assert torch.equal(hr, again)


def test_random_patch_pair_small_images_and_bad_patch():
    hr, lr = random_patch_pair(torch.rand(3, 200, 250), 288, 8)
    assert hr.shape == (3, 288, 288) and lr.shape == (3, 36, 36)
    with pytest.raises(ValueError, match="multiple"):
        random_patch_pair(torch.rand(3, 300, 300), 290, 4)


def test_histogram_match_takes_the_bicubic_distribution_and_keeps_the_order():
    torch.manual_seed(0)
    lr = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    reference = matlab_imresize(lr, 4).clamp(0, 1)
    # A "network output": the reference with detail added and a colour/contrast drift per channel.
    out = (0.7 * reference + 0.2 + 0.05 * torch.randn_like(reference)).clamp(0, 1)
    out[0, 1] = out[0, 1] ** 2
    matched = histogram_match(out, lr)
    assert matched.shape == out.shape
    for n in range(2):
        for c in range(3):
            assert torch.equal(matched[n, c].flatten().sort().values, reference[n, c].flatten().sort().values)
            order = out[n, c].flatten().argsort()
            assert (matched[n, c].flatten()[order].diff() >= 0).all()  # monotone: detail is kept
    assert torch.equal(histogram_match(reference, lr), reference)
    assert histogram_match(out[0], lr[0]).shape == out[0].shape
