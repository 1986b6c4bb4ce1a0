from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from percept.train.vgg import LAYER_INDEX, VGGLoss, VGGWeightsError, find_weights, load_vgg_state


def photo(shared_dir: Path, size: int = 96) -> torch.Tensor:
    img = Image.open(shared_dir / "data" / "content" / "chicago.jpg").convert("RGB").resize((size, size))
    return torch.from_numpy(__import__("numpy").asarray(img).copy()).permute(2, 0, 1)[None].float() / 255


def test_loads_shared_weights_and_differs_from_random(vgg, shared_dir):
    x = photo(shared_dir)
    real = vgg(x, ["relu2_2"])["relu2_2"]
    torch.manual_seed(0)
    rand = VGGLoss(pretrained=False)(x, ["relu2_2"])["relu2_2"]
    assert real.shape == rand.shape == (1, 128, 48, 48)
    rel = (real - rand).abs().mean() / real.abs().mean()
    assert rel > 0.5
    assert vgg.source.origin in ("argument", "environment")


def test_returns_requested_layers_with_expected_shapes(vgg):
    out = vgg(torch.rand(2, 3, 64, 64), LAYER_INDEX.keys())
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "relu1_2": (2, 64, 64, 64), "relu2_2": (2, 128, 32, 32),
        "relu3_3": (2, 256, 16, 16), "relu4_3": (2, 512, 8, 8)}
    assert all((v >= 0).all() for v in out.values())  # post-ReLU
    with pytest.raises(ValueError, match="unknown VGG layer"):
        vgg(torch.rand(1, 3, 8, 8), ["relu5_3"])


def test_frozen(vgg):
    assert not any(p.requires_grad for p in vgg.parameters())
    vgg.train()
    assert not vgg.training
    x = torch.rand(1, 3, 32, 32, requires_grad=True)
    vgg(x, ["relu2_2"])["relu2_2"].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_accepts_torchvision_full_checkpoint_and_pth(vgg_path, tmp_path):
    feats = load_file(str(vgg_path))
    full = {f"features.{k}": v for k, v in feats.items()}
    full["classifier.0.weight"] = torch.zeros(2, 2)
    torch.save(full, tmp_path / "vgg16-full.pth")
    state, source = load_vgg_state(tmp_path / "vgg16-full.pth")
    assert source.origin == "argument"
    assert torch.equal(state["0.weight"], feats["0.weight"].float())
    save_file({k: v.half() for k, v in feats.items()}, str(tmp_path / "half.safetensors"))
    state16, _ = load_vgg_state(tmp_path / "half.safetensors")
    assert state16["28.weight" if "28.weight" in state16 else "21.weight"].dtype == torch.float32


def test_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(VGGWeightsError, match="not found"):
        find_weights(tmp_path / "missing.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a file")
    with pytest.raises(VGGWeightsError, match="bad.safetensors: cannot read"):
        load_vgg_state(bad)
    save_file({"0.weight": torch.zeros(1)}, str(tmp_path / "partial.safetensors"))
    with pytest.raises(VGGWeightsError, match="not VGG-16 weights"):
        load_vgg_state(tmp_path / "partial.safetensors")
    monkeypatch.setenv("PERCEPT_VGG_WEIGHTS", str(tmp_path / "nope.pth"))
    with pytest.raises(VGGWeightsError, match="PERCEPT_VGG_WEIGHTS"):
        find_weights()


def test_offline_without_file_says_how(monkeypatch, tmp_path):
    monkeypatch.delenv("PERCEPT_VGG_WEIGHTS", raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))

    def no_network(*a, **k):
        raise OSError("no network")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_network)
    with pytest.raises(VGGWeightsError, match="PERCEPT_VGG_WEIGHTS"):
        VGGLoss()
