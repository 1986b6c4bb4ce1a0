"""--stroke-scale: large pictures are stylised at a working size and brought back by an SR network, so the
strokes keep their size relative to the picture; the output keeps the input's size, alpha and options."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from process_helpers import photo, save_style_model
from typer.testing import CliRunner

from percept.cli.app import app
from percept.engines.torch_runtime import TorchRuntime
from percept.pipeline.array_ops import resize_bicubic
from percept.pipeline.imageio import Picture
from percept.pipeline.inference import Inferencer
from percept.pipeline.stroke_scale import (
    REFERENCE_SIDE,
    Enlarger,
    StrokeScale,
    parse_stroke_scale,
    shrink,
    sr_scale_for,
)
from percept.train.checkpoint import describe
from percept.train.networks import TransformNet


class BicubicSR:
    """A stand-in SR network: bicubic ×scale, counting its calls."""

    def __init__(self, scale: int):
        self.scale, self.calls = scale, []

    def enlarge(self, image: np.ndarray) -> np.ndarray:
        self.calls.append(tuple(image.shape[-2:]))
        return resize_bicubic(image, (image.shape[-2] * self.scale, image.shape[-1] * self.scale))


@pytest.fixture(scope="module")
def style_rt():
    torch.manual_seed(0)
    net = TransformNet().eval()
    return TorchRuntime(net, describe(net, "t"))


def test_working_size_follows_the_stroke_scale():
    one, two = StrokeScale(1.0), StrokeScale(2.0)
    assert one.working_side == REFERENCE_SIDE and two.working_side == REFERENCE_SIDE // 2
    assert one.factor(3000, 4000) == pytest.approx(4000 / 1024)  # a 12 MP photo: shrunk ~3.9×
    assert one.factor(768, 1024) == 1.0 and one.factor(900, 1200) == 1.0  # ~1 MP: left alone
    assert two.factor(768, 1024) == 2.0
    assert StrokeScale(0.0).factor(6000, 8000) == 1.0  # native
    assert [sr_scale_for(f) for f in (1.3, 2.0, 2.1, 3.9, 5.0, 12.0)] == [2, 2, 4, 4, 8, 8]


def test_bad_stroke_scales_are_refused_with_the_option_named():
    assert parse_stroke_scale("native").value == 0 and parse_stroke_scale("1.5").value == 1.5
    for bad in ("big", "-1", "nan", "100"):
        with pytest.raises(ValueError, match="--stroke-scale"):
            parse_stroke_scale(bad)


def test_large_pictures_are_stylised_at_the_working_size_and_come_back_full_size(style_rt):
    """A 192×256 picture with strokes ×8 (working side 128): the network sees a 96×128 copy, the SR net
    brings it back ×2, and the output is what stylising the working-size copy and enlarging it gives."""
    srs: dict[int, BicubicSR] = {}
    enlarger = Enlarger(lambda s: srs.setdefault(s, BicubicSR(s)))
    inf = Inferencer(style_rt, tile=0, stroke=StrokeScale(8.0), enlarger=enlarger)
    rgb = photo(192, 256, seed=3)
    out = inf.process(Picture(rgb=rgb, alpha=np.full((192, 256), 200, np.uint8)))
    assert out.rgb.shape == (192, 256, 3) and out.alpha.shape == (192, 256) and out.alpha.max() == 200
    assert list(srs) == [2] and srs[2].calls == [(96, 128)]

    small = shrink(rgb.transpose(2, 0, 1).copy(), 2.0)
    expected = np.clip(BicubicSR(2).enlarge(style_rt.run(small[None])[0]), 0, 1)
    got = (out.rgb.astype(np.float32) / 255).transpose(2, 0, 1)
    assert np.abs(got - expected).max() <= 1 / 255 + 1e-6

    native = Inferencer(style_rt, tile=0).process(Picture(rgb=rgb))
    assert np.abs(native.rgb.astype(int) - out.rgb.astype(int)).mean() > 2  # it did change the result


def test_small_pictures_and_native_strokes_skip_the_trip(style_rt):
    srs: dict[int, BicubicSR] = {}
    enlarger = Enlarger(lambda s: srs.setdefault(s, BicubicSR(s)))
    rgb = photo(96, 128, seed=1)
    plain = Inferencer(style_rt, tile=0).process(Picture(rgb=rgb)).rgb
    scaled = Inferencer(style_rt, tile=0, stroke=StrokeScale(8.0), enlarger=enlarger).process(Picture(rgb=rgb)).rgb
    assert not srs and np.array_equal(plain, scaled)


def test_stylize_cli_paints_big_strokes_on_a_big_picture(tmp_path):
    """End to end with the shipped ×2 SR model: a 320×400 photo at --stroke-scale 6 (working side 171 px)
    keeps its size, and is not the native result; a bad value is one error line."""
    model = save_style_model(tmp_path / "s.safetensors")
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(photo(320, 400, seed=2)).save(src / "p.png")
    runner = CliRunner()
    for scale, folder in (("6", "big"), ("native", "native")):
        res = runner.invoke(app, ["stylize", str(src), "--style", str(model), "-o", str(tmp_path / folder),
                                  "--backend", "torch", "--stroke-scale", scale])
        assert res.exit_code == 0, res.output
    big = np.asarray(Image.open(tmp_path / "big" / "p_test-style.png"))
    native = np.asarray(Image.open(tmp_path / "native" / "p_test-style.png"))
    assert big.shape == native.shape == (320, 400, 3)
    assert np.abs(big.astype(int) - native.astype(int)).mean() > 2
    res = runner.invoke(app, ["stylize", str(src), "--style", str(model), "-o", str(tmp_path / "x"),
                              "--stroke-scale", "huge"])
    assert res.exit_code == 2 and "--stroke-scale 'huge'" in res.output and "Traceback" not in res.output
