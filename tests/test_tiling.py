"""Large images: tile plans, seamless blending, exact output sizes, instance-norm seams, auto tile, OOM halving."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from process_helpers import photo

import percept.pipeline.inference as inference
from percept.core.traits import SR_BYTES_PER_PX, working_bytes_per_px
from percept.engines.runtime import UNLIMITED, ShapeLimits
from percept.engines.torch_runtime import TorchRuntime
from percept.pipeline.imageio import Picture
from percept.pipeline.inference import Inferencer, PieceFailed, auto_tile
from percept.pipeline.tiling import Tile, blend, plan_tiles, tile_starts
from percept.train.checkpoint import describe
from percept.train.networks import SRNet, TransformNet


def runtime(net):
    torch.manual_seed(0)
    return TorchRuntime(net.eval(), describe(net, "t"))


@pytest.fixture(scope="module")
def style_rt():
    torch.manual_seed(0)
    return runtime(TransformNet())


@pytest.fixture(scope="module")
def sr_rt():
    torch.manual_seed(0)
    return runtime(SRNet(4, channels=16, blocks=2))


def pic(h, w, seed=0):
    return Picture(rgb=photo(h, w, seed).astype(np.float32) / 255)


def test_tile_starts_cover_with_even_overlap():
    for length, tile, ov in [(100, 32, 8), (257, 64, 16), (64, 64, 16), (10, 64, 4), (1000, 300, 100)]:
        starts = tile_starts(length, tile, ov)
        assert starts[0] == 0 and starts[-1] + min(tile, length) == length
        gaps = [b - a for a, b in zip(starts, starts[1:])]
        assert all(tile - g >= ov for g in gaps) and (not gaps or max(gaps) - min(gaps) <= 1)
    tiles = plan_tiles(70, 90, 30, 8, multiple=4)  # rounded to the size rule: 28
    assert {(t.h, t.w) for t in tiles} == {(28, 28)}
    cover = np.zeros((70, 90), int)
    for t in tiles:
        cover[t.y:t.y + t.h, t.x:t.x + t.w] += 1
    assert cover.min() >= 1


def test_blend_reassembles_an_image_exactly():
    x = np.random.default_rng(0).random((3, 37, 53), dtype=np.float32)
    tiles = plan_tiles(37, 53, 16, 6)
    for scale in (1, 2):
        big = x.repeat(scale, axis=1).repeat(scale, axis=2)
        outs = [big[:, t.y * scale:(t.y + t.h) * scale, t.x * scale:(t.x + t.w) * scale] for t in tiles]
        assert np.allclose(blend(tiles, outs, 37, 53, scale), big, atol=1e-6)
    single = x[:, :5, :5]
    assert np.array_equal(blend([Tile(0, 0, 5, 5)], [single], 5, 5, 1), single)  # one tile: the output itself


@pytest.mark.parametrize("h,w", [(3, 3), (5, 7), (21, 27)])
def test_sr_output_is_exactly_scale_times_input(sr_rt, h, w):
    for tile in (0, 12):
        out = Inferencer(sr_rt, tile=tile, overlap=4, batch_size=8).process(pic(h, w))
        assert out.rgb.shape == (4 * h, 4 * w, 3)


def test_style_output_keeps_size_for_tiny_and_odd_images(style_rt):
    for h, w in [(3, 3), (9, 13)]:
        assert Inferencer(style_rt, tile=0).process(pic(h, w)).float_rgb().shape == (h, w, 3)


def test_sr_tiled_matches_untiled(sr_rt):
    p = pic(48, 60)
    ref = Inferencer(sr_rt, tile=0).process(p).float_rgb()
    out = Inferencer(sr_rt, tile=24, overlap=12, batch_size=4).process(p).float_rgb()
    d = np.abs(out - ref)
    assert d.mean() < 1e-3 and d.max() < 0.02


def _border_mask(size, tiles, band=6):
    m = np.zeros((size, size), bool)
    for t in tiles:
        for e in (t.y, t.y + t.h):
            if 0 < e < size:
                m[max(0, e - band):e + band] = True
        for e in (t.x, t.x + t.w):
            if 0 < e < size:
                m[:, max(0, e - band):e + band] = True
    return m


def test_style_tiling_seams(style_rt, monkeypatch):
    """Instance norm differs per tile. Measured against an untiled run on a 192² photo-like image:
    1. with the whole image's statistics imposed, tiling + feathering is near-exact (the blend adds no seam);
    2. shared statistics from a downscaled pass (the default with torch) beat per-tile statistics;
    3. the remaining difference is spread evenly, not concentrated at tile borders (no seam lines)."""
    size, tile, overlap = 192, 128, 64
    p = pic(size, size, seed=3)
    ref = Inferencer(style_rt, tile=0).process(p).float_rgb()
    near = _border_mask(size, plan_tiles(size, size, tile, overlap, 4))

    def err(**kw):
        d = np.abs(Inferencer(style_rt, tile=tile, overlap=overlap, batch_size=4, **kw).process(p).float_rgb() - ref)
        d = d.mean(axis=2)
        return d.mean(), d[near].mean(), d[~near].mean(), d.max()

    local = err(global_norm=False)
    shared = err()
    monkeypatch.setattr(inference, "STATS_SIDE", 10**6)  # statistics of the full-size image
    exact = err()
    assert exact[0] < 0.01 and exact[1] < 0.012 and exact[3] < 0.15
    assert shared[0] < 0.8 * local[0]
    assert shared[1] < 1.25 * shared[2]  # no excess error along the tile borders


class FlakyRuntime:
    """Wraps a runtime and raises out-of-memory when a batch holds more than ``limit`` pixels."""

    def __init__(self, inner, limit):
        self.inner, self.limit, self.calls = inner, limit, []
        for k in ("name", "precision", "device", "scale", "size_rule", "min_size", "shared_stats", "limits", "info"):
            setattr(self, k, getattr(inner, k))
        self.measure_stats, self.run_with_stats = inner.measure_stats, inner.run_with_stats

    def run(self, batch):
        self.calls.append(tuple(batch.shape))
        if batch.shape[0] * batch.shape[2] * batch.shape[3] > self.limit:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return self.inner.run(batch)


def test_out_of_memory_splits_batches_then_halves_tiles(sr_rt):
    flaky = FlakyRuntime(sr_rt, limit=40 * 40)
    inf = Inferencer(flaky, kind="sr", tile=64, overlap=4, batch_size=4)
    out = inf.process(pic(80, 88))
    assert out.rgb.shape == (320, 352, 3)
    assert flaky.calls[0][0] == 4 and flaky.calls[1][0] == 2  # batch of 4 tiles split in halves first
    assert inf.tile == 32 and max(s[2] for s in flaky.calls[-4:]) <= 32  # then tiles halved
    ref = Inferencer(sr_rt, tile=0).process(pic(80, 88)).float_rgb()
    assert np.abs(out.float_rgb() - ref).mean() < 2e-3
    with pytest.raises(PieceFailed, match="out of memory"):  # --tile 0 means no tiling: a clear failure
        Inferencer(FlakyRuntime(sr_rt, limit=40 * 40), kind="sr", tile=0).process(pic(80, 88))
    with pytest.raises(PieceFailed, match="even with"):  # cannot shrink below the minimum tile
        Inferencer(FlakyRuntime(sr_rt, limit=10), kind="sr", tile=64).process(pic(80, 88))


def test_auto_tile_follows_free_memory(monkeypatch, style_rt):
    monkeypatch.setattr(inference, "free_memory", lambda device: 4 * 1024**3)
    big = auto_tile("cpu", "style", 1, 4)
    monkeypatch.setattr(inference, "free_memory", lambda device: 256 * 1024**2)
    small = auto_tile("cpu", "style", 1, 4)
    assert big > small >= 32 and big % 4 == 0 and small % 4 == 0
    assert auto_tile("cpu", "sr", 8, 1) < auto_tile("cpu", "sr", 4, 1)
    assert inference.Inferencer(style_rt, tile="auto").tile == small
    # A big machine: the CPU budget stops at --max-memory (default 2 GiB), output included (×4 → 16× pixels).
    monkeypatch.setattr(inference, "free_memory", lambda device: 64 * 1024**3)
    side = auto_tile("cpu", "sr", 4, 1)
    assert side == int((inference.DEFAULT_MAX_MEMORY / (SR_BYTES_PER_PX * 16)) ** 0.5)
    assert auto_tile("cpu", "sr", 4, 1, max_memory=512 << 20) == side // 2
    assert auto_tile("cuda:0", "sr", 4, 1) > side  # a GPU takes its share of free memory
    monkeypatch.undo()
    # The real reading agrees with the kernel's own MemAvailable (to a few MB taken in between).
    with open("/proc/meminfo") as f:
        available = next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:"))
    assert abs(inference.free_memory("cpu") - available) < 256 * 1024**2


def test_auto_tile_comes_from_the_models_own_architecture(monkeypatch, sr_rt, tmp_path):
    """Every caller of Inferencer (stylize/upscale, bench, Ray actors, the stroke-scale enlarger) sizes tiles
    from the runtime's model description: a network computing at the input resolution gets larger tiles than
    the paper's SRNet of the same scale, and an exported ONNX file gets the same tiles as its .safetensors."""
    from percept.engines.export import export_network
    from percept.engines.ort_runtime import OrtRuntime
    from percept.train.networks import SubPixelSR

    monkeypatch.setattr(inference, "free_memory", lambda device: 64 * 1024**3)
    torch.manual_seed(0)
    subpixel = runtime(SubPixelSR(4, channels=16, convs=2))
    expected = auto_tile("cpu", "sr", 4, 1, bytes_per_px=working_bytes_per_px("sr", 4, subpixel.info.config))
    assert Inferencer(subpixel, tile="auto").tile == expected
    assert expected > Inferencer(sr_rt, tile="auto").tile == auto_tile("cpu", "sr", 4, 1)
    onnx_path = export_network(subpixel.net, subpixel.info, tmp_path / "s.onnx", check=False).path
    assert Inferencer(OrtRuntime(onnx_path), tile="auto").tile == expected


def test_onnxruntime_shares_statistics_across_tiles_like_torch(style_rt, tmp_path):
    """The default CPU backend (an exported ONNX graph) tiles a style image like the untiled one, as torch does:
    the graph is rewritten to output and to take each instance norm's statistics."""
    from percept.engines.export import export_network
    from percept.engines.ort_runtime import OrtRuntime

    onnx_path = export_network(style_rt.net, describe(style_rt.net, "t"), tmp_path / "t.onnx", check=False).path
    ort_rt = OrtRuntime(onnx_path)
    assert ort_rt.shared_stats and style_rt.shared_stats
    p = pic(160, 128, seed=4)
    ref = Inferencer(ort_rt, tile=0).process(p).float_rgb()
    per_tile = np.abs(Inferencer(ort_rt, tile=64, overlap=16, global_norm=False).process(p).float_rgb() - ref).mean()
    shared = Inferencer(ort_rt, tile=64, overlap=16).process(p).float_rgb()
    assert np.abs(shared - ref).mean() < 0.35 * per_tile  # measured 0.023 vs 0.103 (an untrained net lacks context)
    torch_shared = Inferencer(style_rt, tile=64, overlap=16).process(p).float_rgb()
    assert np.abs(shared - torch_shared).max() <= 1.01 / 255  # the same 8-bit picture on both backends
    # Measured statistics are the torch module's own, layer by layer.
    x = p.float_rgb().transpose(2, 0, 1)[None].copy()
    for (m1, v1), (m2, v2) in zip(ort_rt.measure_stats(x), style_rt.measure_stats(x)):
        assert np.allclose(m1, m2, atol=1e-4) and np.allclose(v1, v2, rtol=1e-3, atol=1e-5)


def test_tiles_share_the_whole_pictures_mean_colour_through_the_exposure_path(tmp_path, monkeypatch):
    """A style net with the exposure path shifts its output by the photo's mean colour. Tiled with each tile's
    own mean, the dark half of a picture would come out darker than in the untiled picture; the mean is shared
    like the instance-norm statistics, on torch and on the exported graph, so tiles match the whole picture."""
    from percept.engines.export import export_network
    from percept.engines.ort_runtime import OrtRuntime

    torch.manual_seed(0)
    net = TransformNet(exposure_path=True).eval()
    with torch.no_grad():
        net.exposure.weight.mul_(3)  # a strong path, as training makes it
    torch_rt = runtime(net)
    ort_rt = OrtRuntime(export_network(net, describe(net, "e"), tmp_path / "e.onnx", check=False).path)
    img = photo(160, 128, 5).astype(np.float32) / 255
    img[:, :64] *= 0.3  # a dark half: its tiles' own means are far from the picture's
    p = Picture(rgb=img)
    x = img.transpose(2, 0, 1)[None].copy()
    means = [rt.measure_stats(x)[-1][0] for rt in (torch_rt, ort_rt)]  # the last shared "layer" is the mean
    assert np.allclose(means[0], x.mean(axis=(0, 2, 3)), atol=1e-5) and np.allclose(means[1], means[0], atol=1e-5)
    monkeypatch.setattr(inference, "STATS_SIDE", 10**6)  # statistics of the full-size image
    for rt in (torch_rt, ort_rt):
        ref = Inferencer(rt, tile=0).process(p).float_rgb()
        own = np.abs(Inferencer(rt, tile=64, overlap=16, global_norm=False).process(p).float_rgb() - ref).mean()
        shared = np.abs(Inferencer(rt, tile=64, overlap=16).process(p).float_rgb() - ref).mean()
        assert shared < 0.25 * own  # measured 0.019 against 0.162


def test_a_backend_without_shared_statistics_is_named_when_tiling_style(style_rt):
    class NoStats:
        name, precision, device, scale, size_rule, min_size, shared_stats = "fake", "fp16", "cpu", 1, 4, 8, False
        limits, info = UNLIMITED, None

        def run(self, batch):
            return style_rt.run(batch)

    inf = Inferencer(NoStats(), kind="style", tile=64, overlap=16)
    assert any("cannot share normalisation statistics" in n for n in inf.notes)
    assert inf.process(pic(96, 96)).float_rgb().shape == (96, 96, 3)  # still works, with per-tile statistics


class ProfileRuntime:
    """A runtime with an engine-like optimisation profile: it refuses any batch outside its limits."""

    def __init__(self, inner, limits):
        self.inner, self.limits, self.shapes = inner, limits, []
        for k in ("name", "precision", "device", "scale", "size_rule", "min_size", "info"):
            setattr(self, k, getattr(inner, k))
        self.shared_stats = False  # like a TensorRT engine

    def run(self, batch):
        n, _, h, w = batch.shape
        (lo_h, lo_w), (hi_h, hi_w) = self.limits.min_hw, self.limits.max_hw
        if not (lo_h <= h <= hi_h and lo_w <= w <= hi_w and n <= self.limits.max_batch):
            raise RuntimeError(f"input {tuple(batch.shape)} is outside the engine's profile")
        self.shapes.append(tuple(batch.shape))
        return self.inner.run(batch)

    def measure_stats(self, image):
        raise AssertionError("not called: shared_stats is False")

    run_with_stats = measure_stats


def test_tiles_and_batches_fit_the_runtimes_profile(sr_rt):
    """With an engine's profile (here 24..48 px, batch ≤ 2), auto tiles, whole-image requests and tiny images
    all run: the planner clamps tiles and batches to the limits and pads small inputs up to the minimum."""
    limits = ShapeLimits(min_hw=(24, 24), max_hw=(48, 48), max_batch=2)
    ref = Inferencer(sr_rt, tile=0).process(pic(80, 100)).float_rgb()
    for tile in ("auto", 0, 256):
        fake = ProfileRuntime(sr_rt, limits)
        inf = Inferencer(fake, kind="sr", tile=tile, overlap=8, batch_size=8)
        assert inf.tile == 48 and inf.batch_size == 2
        if tile != "auto":
            assert any("up to 48×48" in n for n in inf.notes)
        out = inf.process(pic(80, 100)).float_rgb()
        assert out.shape == (320, 400, 3) and np.abs(out - ref).mean() < 2e-3
        assert fake.shapes and all(n <= 2 and 24 <= h <= 48 and 24 <= w <= 48 for n, _, h, w in fake.shapes)
    small = ProfileRuntime(sr_rt, limits)
    assert Inferencer(small, kind="sr", tile="auto").process(pic(10, 13)).float_rgb().shape == (40, 52, 3)
    assert small.shapes == [(1, 3, 24, 24)]  # padded up to the profile's minimum, cropped back


def test_source_depth_is_kept_from_decode_to_output(sr_rt):
    """8-bit photos stay uint8 on the way in (a quarter of float32) and come out uint8; 16-bit stays 16-bit."""
    a = photo(20, 24, 3)
    eight = Picture(rgb=a)
    assert Inferencer.prepare(eight).dtype == np.uint8
    inf = Inferencer(sr_rt, tile=12, overlap=4)
    out8 = inf.process(eight)
    assert out8.rgb.dtype == np.uint8 and out8.rgb.shape == (80, 96, 3)
    sixteen = Picture(rgb=a.astype(np.uint16) * 257, bits=16)
    out16 = inf.process(sixteen)
    assert out16.rgb.dtype == np.uint16
    # the same picture at both depths (to 8-bit rounding), and tiled as untiled
    assert np.abs(out16.float_rgb() - out8.float_rgb()).max() <= 1.01 / 255
    whole = Inferencer(sr_rt, tile=0).process(eight)
    assert np.abs(whole.float_rgb() - out8.float_rgb()).mean() < 2e-3  # 12 px tiles: little context


def test_a_style_network_without_instance_norm_tiles_exactly_and_without_a_warning():
    """--norm none networks have no statistics to share: their tiles agree with the untiled picture (to one
    8-bit level) and the user hears no note about per-tile statistics."""
    torch.manual_seed(0)
    plain = runtime(TransformNet(norm="none"))
    assert plain.shared_stats is False and plain.info.config["norm"] == "none"
    tiled = Inferencer(plain, kind="style", tile=64, overlap=16)
    assert tiled.notes == [] and tiled.shared is False
    p = pic(96, 128)
    whole = Inferencer(plain, kind="style", tile=0).process(p).float_rgb()
    assert np.abs(tiled.process(p).float_rgb() - whole).max() <= 1.01 / 255  # 8-bit output: one level at most
