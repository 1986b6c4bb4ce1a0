"""Runtimes and backend selection: ONNX Runtime vs PyTorch parity, auto choice, fallbacks, clear refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import percept.core.extras
import percept.engines.cache
import percept.engines.export
import percept.engines.select
from percept.core.extras import install_hint
from percept.engines.errors import BackendUnavailable
from percept.engines.openvino_runtime import OpenVinoRuntime, native_bf16
from percept.engines.ort_runtime import OrtRuntime
from percept.engines.select import AUTO_ORDER, Opening, open_runtime
from percept.engines.torch_runtime import TorchRuntime
from percept.engines.trt_build import load_tensorrt
from percept.train.checkpoint import describe, save_model
from percept.train.networks import SRNet, TransformNet

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _trained_like(net: torch.nn.Module) -> torch.nn.Module:
    torch.manual_seed(3)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return net.eval()


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One export cache for the module (exports take seconds), never the user's ~/.cache."""
    with pytest.MonkeyPatch.context() as mp:
        path = tmp_path_factory.mktemp("cache")
        mp.setenv("PERCEPT_CACHE_DIR", str(path))
        yield path


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    style, sr = _trained_like(TransformNet()), _trained_like(SRNet(4))
    exposure = _trained_like(TransformNet(exposure_path=True))
    return {"style": save_model(root / "style.safetensors", style, describe(style, "style")),
            "sr": save_model(root / "sr.safetensors", sr, describe(sr, "sr")),
            "style-exposure": save_model(root / "style-exposure.safetensors", exposure, describe(exposure, "exposure"))}


def rand(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


@pytest.mark.parametrize("kind,shape", [("style", (2, 3, 64, 96)), ("sr", (2, 3, 24, 32))])
def test_onnxruntime_gives_the_same_images_as_torch(cache, models, kind, shape):
    batch = rand(shape, 0)
    ort_rt = open_runtime(models[kind], backend="onnxruntime", device="cpu")
    torch_rt = open_runtime(models[kind], backend="torch", device="cpu")
    assert isinstance(ort_rt, OrtRuntime) and ort_rt.name == "onnxruntime" and torch_rt.name == "torch"
    assert (ort_rt.scale, ort_rt.size_rule, ort_rt.min_size) == (torch_rt.scale, torch_rt.size_rule,
                                                                  torch_rt.min_size)
    a, b = ort_rt.run(batch), torch_rt.run(batch)
    assert a.shape == b.shape == (shape[0], 3, shape[2] * torch_rt.scale, shape[3] * torch_rt.scale)
    assert a.dtype == np.float32 and 0 <= a.min() and a.max() <= 1
    assert np.abs(a - b).mean() < 1 / 255 and np.abs(a - b).max() < 1e-3


def test_auto_on_cpu_says_what_it_chose_and_reuses_the_cached_export(cache, models, monkeypatch):
    open_runtime(models["style"], backend="onnxruntime", device="cpu")  # populate the cache (or hit it)
    monkeypatch.setattr(percept.engines.export, "export_model",
                        lambda *a, **k: pytest.fail("re-exported a cached model"))
    rt = open_runtime(models["style"], device="cpu")
    # OpenVINO bf16 where the CPU computes bf16 natively (twice ONNX Runtime fp32's speed), else ONNX Runtime
    expected = ("openvino", "bf16") if native_bf16() else (AUTO_ORDER["cpu"][0], "fp32")
    assert (rt.name, rt.precision) == expected
    assert rt.note.startswith(f"auto chose {rt.name} ({rt.precision}, cpu)")
    assert len(list((cache / "onnx").glob("*.onnx"))) >= 1
    fp32 = open_runtime(models["style"], device="cpu", precision="fp32")  # asked for: the fp32 default order
    assert (fp32.name, fp32.precision) == (AUTO_ORDER["cpu"][0], "fp32")


@pytest.mark.parametrize("kind,shape", [("style", (2, 3, 64, 96)), ("sr", (2, 3, 24, 32))])
def test_openvino_gives_the_same_images_as_torch(cache, models, kind, shape):
    pytest.importorskip("openvino")
    batch = rand(shape, 0)
    torch_rt = open_runtime(models[kind], backend="torch", device="cpu")
    ov_rt = open_runtime(models[kind], backend="openvino", device="cpu", precision="fp32")
    assert isinstance(ov_rt, OpenVinoRuntime) and (ov_rt.scale, ov_rt.size_rule) == (torch_rt.scale,
                                                                                    torch_rt.size_rule)
    a, b = ov_rt.run(batch), torch_rt.run(batch)
    assert a.shape == b.shape and np.abs(a - b).mean() < 1 / 255 and np.abs(a - b).max() < 2e-3
    if native_bf16():
        half = open_runtime(models[kind], backend="openvino", device="cpu", precision="bf16")
        assert half.precision == "bf16" and np.abs(half.run(batch) - b).mean() < 2 / 255
    else:
        with pytest.raises(BackendUnavailable, match="no native bf16"):
            open_runtime(models[kind], backend="openvino", device="cpu", precision="bf16")
    with pytest.raises(BackendUnavailable, match="CPU only"):
        percept.engines.select._open("openvino", Opening(Path(models[kind]), "model", "cuda:0", "fp32"))


@pytest.mark.parametrize("kind", ["style", "style-exposure"])
def test_openvino_shares_normalisation_statistics_like_torch(cache, models, kind):
    pytest.importorskip("openvino")
    ov_rt = open_runtime(models[kind], backend="openvino", device="cpu", precision="fp32")
    torch_rt = open_runtime(models[kind], backend="torch", device="cpu")
    assert ov_rt.shared_stats
    image = rand((1, 3, 96, 128), 1)
    stats_ov, stats_torch = ov_rt.measure_stats(image), torch_rt.measure_stats(image)
    for (m1, v1), (m2, v2) in zip(stats_ov, stats_torch):
        assert np.allclose(m1, m2, atol=1e-4) and np.allclose(v1, v2, rtol=1e-3, atol=1e-5)
    tiles = np.stack([image[0, :, :64, :64], image[0, :, 32:, 64:]])
    a = ov_rt.run_with_stats(tiles, [stats_ov, stats_ov])
    b = torch_rt.run_with_stats(tiles, [stats_torch, stats_torch])
    assert np.abs(a - b).max() < 2e-3


def test_onnx_file_opens_directly_and_torch_refuses_it(cache, models):
    onnx_path = percept.engines.cache.cached_onnx(models["sr"])
    rt = open_runtime(onnx_path, device="cpu")
    assert rt.name == "openvino" and rt.scale == 4 and rt.min_size == 5
    with pytest.raises(BackendUnavailable, match="runs percept model files"):  # the registry's record
        open_runtime(onnx_path, backend="torch", device="cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown without a GPU")
def test_tensorrt_without_gpu_is_one_clear_line(models):
    with pytest.raises(BackendUnavailable) as exc:
        open_runtime(models["style"], backend="tensorrt")
    assert "\n" not in str(exc.value) and "GPU" in str(exc.value) and "--backend openvino or" in str(exc.value)


def test_missing_tensorrt_says_how_to_install(monkeypatch):
    monkeypatch.setattr("percept.engines.trt_build.tensorrt_module", lambda name: None)
    for flavour in ("tensorrt", "tensorrt-rtx"):
        with pytest.raises(BackendUnavailable, match=f"{flavour} is not installed") as exc:
            load_tensorrt(flavour)
        assert install_hint(flavour) in str(exc.value) and "\n" not in str(exc.value)
    with pytest.raises(BackendUnavailable) as exc:
        load_tensorrt("auto")
    assert install_hint("tensorrt") in str(exc.value) and install_hint("tensorrt-rtx") in str(exc.value)


def test_install_hints_name_the_checkout_an_editable_install_comes_from(tmp_path, monkeypatch):
    """PyPI's percept is another project: from a source tree the hint must install that tree's extra."""
    checkout = tmp_path / "percept-src"
    (checkout / "percept_cli").mkdir(parents=True)
    (checkout / "train").mkdir()
    (checkout / "pyproject.toml").write_text("[project]\nname = 'percept'\n")
    monkeypatch.setattr(percept.core.extras, "__file__", str(checkout / "train" / "extras.py"))
    assert install_hint("video") == f"pip install -e '{checkout}[video]'"
    (checkout / "pyproject.toml").unlink()  # an installed package: no source tree around it
    assert install_hint("video") == "pip install 'percept[video]'"


def test_fp16_with_non_finite_output_falls_back_to_fp32(cache, tmp_path):
    torch.manual_seed(0)
    net = TransformNet().eval()
    with torch.no_grad():  # a huge instance-norm gain, undone by the next conv (ReLU keeps scale): the fp32 graph
        net.decoder[1][2].weight.mul_(1e5)  # computes the same net, the fp16 graph overflows to inf in between
        net.decoder[1][2].bias.mul_(1e5)
        net.decoder[2][1].weight.mul_(1e-5)
    model = save_model(tmp_path / "overflow.safetensors", net, describe(net, "overflow"))
    rt = open_runtime(model, backend="onnxruntime", device="cpu", precision="fp16")
    assert rt.precision == "fp32" and "non-finite" in rt.note
    assert np.isfinite(rt.run(rand((1, 3, 32, 32), 0))).all()


def test_unknown_choices_and_cpu_only_torch_options(models):
    with pytest.raises(ValueError, match="unknown backend"):
        open_runtime(models["style"], backend="tvm")
    with pytest.raises(ValueError, match="unknown precision"):
        open_runtime(models["style"], precision="int4")
    with pytest.raises(ValueError, match="CUDA-only"):
        TorchRuntime(TransformNet(), describe(TransformNet(), "x"), device="cpu", cuda_graphs=True)


@pytest.mark.gpu
@needs_cuda
def test_torch_cuda_fp16_graphs_and_compile_match_cpu_fp32(models):
    batch = rand((2, 3, 64, 64), 0)
    ref = open_runtime(models["style"], backend="torch", device="cpu").run(batch)
    for options in ({}, {"cuda_graphs": True}, {"compile": True}):
        rt = open_runtime(models["style"], backend="torch", device="cuda", torch_options=options)
        assert rt.precision == "fp16"
        for _ in range(2):  # the second call replays the captured graph
            assert np.abs(rt.run(batch) - ref).mean() < 1 / 255, options


@pytest.mark.gpu
@needs_cuda
def test_tensorrt_engine_matches_torch(cache, models):
    try:
        load_tensorrt("auto")
    except BackendUnavailable as exc:
        pytest.skip(str(exc))
    batch = rand((2, 3, 128, 128), 0)
    rt = open_runtime(models["style"], backend="tensorrt", device="cuda")
    ref = open_runtime(models["style"], backend="torch", device="cpu").run(batch)
    assert rt.name == "tensorrt" and rt.precision == "fp16"
    assert np.abs(rt.run(batch) - ref).mean() < 1 / 255
