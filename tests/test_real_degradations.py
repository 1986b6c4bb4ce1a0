"""The real-photo training degradation: each stage does what its docstring says, and seeds reproduce."""

import math

import numpy as np
import pytest
import torch

from percept.train.blockiness import blockiness
from percept.train.real_degradations import (
    BlurRange,
    PhotoDegradation,
    RealDegradation,
    RoundRange,
    add_gaussian_noise,
    add_poisson_noise,
    degrade,
    degrade_photo,
    filter2d,
    gaussian_kernel,
    generalized_gaussian_kernel,
    jpeg,
    plateau_kernel,
    random_kernel,
    resize,
    sinc_kernel,
)
from percept.train.sr_task import make_pair


def photo(h: int = 64, w: int = 64, seed: int = 0) -> torch.Tensor:
    """A smooth picture with edges: upsampled random blocks (1, 3, H, W)."""
    g = torch.Generator().manual_seed(seed)
    small = torch.rand(1, 3, h // 8, w // 8, generator=g)
    return torch.nn.functional.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)


def detail(x: torch.Tensor) -> float:
    lap = 4 * x[..., 1:-1, 1:-1] - x[..., :-2, 1:-1] - x[..., 2:, 1:-1] - x[..., 1:-1, :-2] - x[..., 1:-1, 2:]
    return float((lap ** 2).mean())


def test_kernels_sum_to_one_and_have_their_shapes():
    iso = gaussian_kernel(21, 2.0)
    wide_x = gaussian_kernel(21, 3.0, 0.7, 0.0)
    tall = gaussian_kernel(21, 3.0, 0.7, math.pi / 2)
    for k in (iso, wide_x, generalized_gaussian_kernel(21, 2, 1, 0.3, 2.0), plateau_kernel(21, 2, 1, 0.3, 1.5),
              sinc_kernel(21, math.pi / 3)):
        assert k.shape == (21, 21) and abs(float(k.sum()) - 1) < 1e-5
    assert torch.allclose(iso, iso.T, atol=1e-7)
    assert float(wide_x[10, 15]) > float(wide_x[15, 10])  # anisotropic: wider along x
    assert torch.allclose(tall, wide_x.T, atol=1e-6)  # rotated 90°: wider along y
    flat = generalized_gaussian_kernel(21, 2, 2, 0, 4.0)
    peaked = generalized_gaussian_kernel(21, 2, 2, 0, 0.5)
    assert float(flat[10, 11] / flat[10, 10]) > float(peaked[10, 11] / peaked[10, 10])  # β > 1: a flatter top
    assert float(sinc_kernel(21, math.pi / 3).min()) < 0  # negative lobes: ringing


def test_blur_softens_noise_adds_its_sigma_and_grey_noise_is_grey():
    x = photo()
    blurred = filter2d(x, gaussian_kernel(11, 2.0))
    assert blurred.shape == x.shape and detail(blurred) < 0.5 * detail(x)
    g = torch.Generator().manual_seed(0)
    flat = torch.full((1, 3, 64, 64), 0.5)
    noisy = add_gaussian_noise(flat, 8.0, gray=False, g=g)
    assert abs(float((noisy - flat).std()) * 255 - 8.0) < 0.5
    grey = add_gaussian_noise(flat, 8.0, gray=True, g=g)
    assert torch.equal(grey[:, 0], grey[:, 1]) and torch.equal(grey[:, 1], grey[:, 2])
    shot = add_poisson_noise(photo(), 1.0, gray=False, g=g)
    assert 0 < float((shot - photo()).abs().mean()) < 0.1


def test_resize_and_jpeg_match_their_references():
    x = photo(64, 48)
    for mode in ("area", "bilinear", "bicubic"):
        assert resize(x, (20, 30), mode).shape == (1, 3, 20, 30)
    import io

    from PIL import Image

    out = jpeg(x, 40)
    array = (x[0] * 255).round().byte().permute(1, 2, 0).numpy()
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="JPEG", quality=40)
    reference = torch.from_numpy(np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")).copy())
    assert torch.equal((out[0] * 255).round().byte().permute(1, 2, 0), reference)  # Pillow's JPEG, exactly
    assert blockiness(jpeg(photo(128, 128), 20)[0]) > 1.2 > blockiness(photo(128, 128)[0])  # block edges


@pytest.mark.parametrize("scale", [2, 4])
def test_degrade_gives_the_lr_size_and_the_same_draw_for_a_seed(scale):
    hr = photo(96, 64)
    a = degrade(hr, scale, RealDegradation(), torch.Generator().manual_seed(7))
    b = degrade(hr, scale, RealDegradation(), torch.Generator().manual_seed(7))
    c = degrade(hr, scale, RealDegradation(), torch.Generator().manual_seed(8))
    assert a.shape == (1, 3, 96 // scale, 64 // scale)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert float(a.min()) >= 0 and float(a.max()) <= 1


def test_clean_share_is_plain_bicubic_and_damage_differs_from_it():
    hr = photo(64, 64)
    clean = degrade(hr, 4, RealDegradation(clean_prob=1.0), torch.Generator().manual_seed(0))
    assert torch.allclose(clean, resize(hr, (16, 16), "bicubic").clamp(0, 1))
    no_blur = BlurRange(sigma=(0.2, 0.2), sinc_prob=0.0)
    heavy = RealDegradation(first=RoundRange(blur=no_blur, noise_sigma=(20.0, 20.0), gaussian_noise_prob=1.0,
                                             gray_noise_prob=0.0, resize_probs=(0, 0, 1)),
                            second_prob=0.0, final_sinc_prob=0.0, final_jpeg_prob=0.0, clean_prob=0.0)
    flat = torch.full((1, 3, 64, 64), 0.5)
    noisy = degrade(flat, 4, heavy, torch.Generator().manual_seed(0))
    assert float(noisy.std()) * 255 > 2  # noise added at full size survives the downscale, weaker


def test_random_kernels_cover_the_kernel_types():
    g = torch.Generator().manual_seed(0)
    kernels = [random_kernel(BlurRange(), g) for _ in range(60)]
    sizes = {k.shape[-1] for k in kernels}
    assert all(s % 2 == 1 and 7 <= s <= 21 for s in sizes) and len(sizes) > 3
    anisotropic = [k for k in kernels if not torch.allclose(k, k.T, atol=1e-6)]
    assert anisotropic and len(anisotropic) < len(kernels)


def test_train_sr_real_pairs_have_the_patch_and_lr_sizes():
    img = photo(80, 90)[0]
    lr, hr = make_pair(img, 64, 4, 1.0, "real", torch.Generator().manual_seed(1))
    assert hr.shape == (3, 64, 64) and lr.shape == (3, 16, 16)


NO_DAMAGE = PhotoDegradation(clean_prob=0.0, blur_prob=0.0, noise_prob=0.0, jpeg_prob=0.0)


EVERY_STAGE = PhotoDegradation(clean_prob=0.0, blur_prob=1.0, noise_prob=1.0, jpeg_prob=1.0, resave_prob=1.0)


@pytest.mark.parametrize("scale", [2, 4])
def test_photo_degradation_gives_the_lr_size_and_the_same_draw_for_a_seed(scale):
    """Every stage on, and the global RNG moved between the draws: only the generator decides."""
    hr = photo(96, 64)
    torch.manual_seed(100)
    a = degrade_photo(hr, scale, EVERY_STAGE, torch.Generator().manual_seed(3))
    torch.manual_seed(200)
    b = degrade_photo(hr, scale, EVERY_STAGE, torch.Generator().manual_seed(3))
    c = degrade_photo(hr, scale, EVERY_STAGE, torch.Generator().manual_seed(4))
    assert a.shape == (1, 3, 96 // scale, 64 // scale)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert float(a.min()) >= 0 and float(a.max()) <= 1


def test_photo_degradation_stages_do_what_they_say():
    """Each stage alone, on the LR grid: blur softens, noise has its sigma at LR size, JPEG leaves its 8×8 grid."""
    hr = photo(256, 256)
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    plain = degrade_photo(hr, 4, NO_DAMAGE, g())
    assert plain.shape == (1, 3, 64, 64)
    blurred = degrade_photo(hr, 4, PhotoDegradation(clean_prob=0.0, blur_prob=1.0, noise_prob=0.0, jpeg_prob=0.0,
                                                    blur=BlurRange(sigma=(0.8, 0.8), sinc_prob=0.0)), g())
    assert detail(blurred) < 0.7 * detail(plain)
    flat = torch.full((1, 3, 256, 256), 0.5)
    noise = RoundRange(gaussian_noise_prob=1.0, noise_sigma=(6.0, 6.0), gray_noise_prob=0.0)
    noisy = degrade_photo(flat, 4, PhotoDegradation(clean_prob=0.0, blur_prob=0.0, noise_prob=1.0, jpeg_prob=0.0,
                                                    noise=noise), g())
    assert float(noisy.std()) * 255 == pytest.approx(6.0, rel=0.15)  # added at LR size: not shrunk away
    smooth = torch.nn.functional.interpolate(photo(88, 88)[:, :, ::8, ::8], size=(256, 256), mode="bicubic",
                                             align_corners=False).clamp(0, 1)  # no structure at an 8 px period
    squeezed = degrade_photo(smooth, 4, PhotoDegradation(clean_prob=0.0, blur_prob=0.0, noise_prob=0.0,
                                                         jpeg_prob=1.0, jpeg_quality=(20, 20), resave_prob=0.0), g())
    assert blockiness(squeezed[0]) > 1.2 > blockiness(degrade_photo(smooth, 4, NO_DAMAGE, g())[0])
    once = PhotoDegradation(clean_prob=0.0, blur_prob=0.0, noise_prob=0.0, jpeg_prob=1.0, jpeg_quality=(60, 60),
                            resave_prob=0.0)
    twice = PhotoDegradation(clean_prob=0.0, blur_prob=0.0, noise_prob=0.0, jpeg_prob=1.0, jpeg_quality=(60, 60),
                             resave_prob=1.0)
    assert torch.equal(degrade_photo(hr, 4, once, g()), jpeg(plain, 60))  # JPEG on the LR grid
    assert not torch.equal(degrade_photo(hr, 4, twice, g()), degrade_photo(hr, 4, once, g()))  # saved again
    clean = degrade_photo(hr, 4, PhotoDegradation(clean_prob=1.0), g())
    assert torch.allclose(clean, resize(hr, (64, 64), "bicubic").clamp(0, 1))


def test_train_sr_photo_pairs_have_the_patch_and_lr_sizes():
    lr, hr = make_pair(photo(80, 90)[0], 64, 2, 1.0, "photo", torch.Generator().manual_seed(1))
    assert hr.shape == (3, 64, 64) and lr.shape == (3, 32, 32)
