"""Models trained by other projects (Real-ESRGAN's compact net, SPAN, ...) loaded through spandrel: they
upscale through ``percept upscale`` like percept's own, export to ONNX, and bad files are one line. The
weights are random (nothing can be downloaded here), saved the way those projects save them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from process_helpers import photo
from typer.testing import CliRunner

from percept.cli.app import app
from percept.train.checkpoint import load_model, read_info
from percept.train.foreign import receptive_radius

spandrel = pytest.importorskip("spandrel")
from spandrel.architectures.Compact import Compact  # noqa: E402

runner = CliRunner()


def compact(scale: int = 4, num_conv: int = 4, seed: int = 0) -> Compact:
    torch.manual_seed(seed)
    return Compact(num_in_ch=3, num_out_ch=3, num_feat=16, num_conv=num_conv, upscale=scale).eval()


def save_like_real_esrgan(net: torch.nn.Module, path):
    """Real-ESRGAN's release files hold ``{"params": state_dict}`` (realesr-general-x4v3.pth)."""
    torch.save({"params": net.state_dict()}, path)
    return path


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PERCEPT_CACHE_DIR", str(tmp_path / "cache"))


def run(*args):
    result = runner.invoke(app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert "Traceback" not in result.output
    return result


def test_real_esrgan_compact_pth_upscales_x4_through_percept_upscale(tmp_path):
    net = compact()
    model = save_like_real_esrgan(net, tmp_path / "realesr-compact-x4.pth")
    src = photo(40, 52)
    Image.fromarray(src).save(tmp_path / "photo.png")
    # no --scale: the model's own ×4 is taken; --tile 24 forces several tiles blended with the derived overlap
    result = run("upscale", tmp_path / "photo.png", "--model", model, "--out", tmp_path / "out", "--backend",
                 "torch", "--tile", "24")
    assert result.exit_code == 0, result.output
    out = np.asarray(Image.open(tmp_path / "out" / "photo_x4.png"))
    assert out.shape == (160, 208, 3)
    with torch.inference_mode():
        ref = net(torch.from_numpy(src).permute(2, 0, 1)[None].float() / 255)[0].clamp(0, 1)
    ref = (ref.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    diff = np.abs(out.astype(int) - ref.astype(int))
    assert diff.max() <= 1  # tiles blended without seams (rounding aside): the overlap is twice the reach


def test_descriptor_gives_scale_size_rule_and_overlap_from_the_receptive_field(tmp_path):
    model = save_like_real_esrgan(compact(scale=2, num_conv=6), tmp_path / "c.pth")
    info = read_info(model)
    assert (info.kind, info.scale, info.config["spandrel_arch"]) == ("sr", 2, "Compact")
    # 1 + 6 + 1 convolutions of 3×3: each reaches one pixel further
    assert info.config["receptive_radius"] == 8
    assert info.config["tile_overlap"] == 16
    net, _ = load_model(model)
    assert receptive_radius(net, 2) == 8


def test_safetensors_without_percept_metadata_loads_through_spandrel_and_exports(tmp_path):
    from safetensors.torch import save_file

    net = compact()
    model = tmp_path / "compact.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(model))
    result = run("export", model, "--out", tmp_path / "compact.onnx")
    assert result.exit_code == 0, result.output
    Image.fromarray(photo(24, 32)).save(tmp_path / "p.png")
    result = run("upscale", tmp_path / "p.png", "--model", tmp_path / "compact.onnx", "--out", tmp_path / "o",
                 "--backend", "onnxruntime")
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "o" / "p_x4.png").size == (128, 96)


class _Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


@pytest.mark.parametrize("content, words", [
    ("pickle", ["pickled objects other than weights"]),
    ("unknown", ["spandrel knows no architecture"]),
    ("junk", ["not a PyTorch weights file"]),
])
def test_unloadable_files_are_one_line_naming_the_file(tmp_path, content, words, capfd):
    path = tmp_path / f"{content}.pth"
    if content == "pickle":
        torch.save({"params": _Evil()}, path)
    elif content == "unknown":
        torch.save({"weird.weight": torch.zeros(3, 3)}, path)
    else:
        path.write_bytes(b"not a model at all")
    Image.fromarray(photo(16, 16)).save(tmp_path / "p.png")
    result = run("upscale", tmp_path / "p.png", "--model", path, "--out", tmp_path / "o", "--backend", "torch")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and str(path) in lines[0], result.output
    for w in words:
        assert w in lines[0]
    assert "this must never run" not in capfd.readouterr().out
    assert not (tmp_path / "o").exists()
