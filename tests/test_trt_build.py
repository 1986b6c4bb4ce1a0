"""Engine builds with TensorRT-RTX, which parses ONNX and builds engines ahead of time without a GPU."""

from __future__ import annotations

import json
import shutil

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper
from PIL import Image
from typer.testing import CliRunner

from percept.cli.app import app
from percept.core.extras import install_hint
from percept.engines.availability import tensorrt_module
from percept.engines.cache import rebuild_if_possible
from percept.engines.engine_record import CPU_BUILD, mismatches, read_record, record_path, write_record
from percept.engines.errors import EngineError, EngineMismatch
from percept.engines.export import export_network
from percept.engines.fp16 import convert_to_fp16
from percept.engines.trt_build import (
    Profile,
    build_engine,
    check_profile,
    default_profile,
    inspector_precisions,
    parse_dims,
)
from percept.engines.trt_runtime import TensorRTRuntime
from percept.train.checkpoint import describe, file_sha256
from percept.train.networks import TransformNet

rtx = tensorrt_module("tensorrt_rtx")
pytestmark = pytest.mark.skipif(rtx is None, reason="tensorrt-rtx is not installed or does not load "
                                "(pip install 'percept[tensorrt-rtx]')")
SMALL = Profile((1, 3, 64, 64), (1, 3, 128, 128), (2, 3, 256, 256))


@pytest.fixture(scope="module")
def style_onnx(tmp_path_factory):
    torch.manual_seed(0)
    net = TransformNet().eval()
    out = tmp_path_factory.mktemp("onnx") / "style.onnx"
    return export_network(net, describe(net, "style-demo"), out, check=False).path


@pytest.fixture(scope="module")
def fp16_build(style_onnx, tmp_path_factory):
    out = tmp_path_factory.mktemp("engines") / "style.fp16.engine"
    logs: list[str] = []
    result = build_engine(style_onnx, out=out, precision="fp16", profile=SMALL, flavour="tensorrt-rtx",
                          timing_cache=out.parent / "timing.cache", log=logs.append)
    return result, logs


def test_fp16_engine_is_strongly_typed_with_instance_norm_in_fp32(fp16_build, style_onnx):
    result, logs = fp16_build
    assert result.engine.is_file() and result.engine.stat().st_size > 100_000
    rec = result.record
    assert rec["precision"] == "fp16" and rec["fp16_method"] == "strongly typed FP16 ONNX"
    assert rec["strongly_typed"] and rec["onnx"]["converted_to_fp16"]
    assert rec["layer_precisions"]["CONVOLUTION"] == {"fp16": 16}
    assert rec["layer_precisions"]["NORMALIZATION"] == {"fp32": 15}
    if not torch.cuda.is_available():  # no engine inspector without a GPU: the strongly typed network's types
        assert rec["layer_precisions_from"] == "strongly typed network definition"
    assert any("converting the ONNX to FP16" in m for m in logs)


def test_engine_inspector_json_gives_the_engines_own_precisions():
    """Fused kernels and their formats, as IEngineInspector reports them at DETAILED verbosity."""
    info = {"Layers": [
        {"Name": "conv1 + relu", "LayerType": "CaskConvolution",
         "Outputs": [{"Name": "a", "Format/Datatype": "Channel major FP16 format where channel % 8 == 0"}]},
        {"Name": "conv2", "LayerType": "CaskConvolution",
         "Outputs": [{"Name": "b", "Format/Datatype": "Row major linear FP16 format"}]},
        {"Name": "norm1", "LayerType": "Normalization",
         "Outputs": [{"Name": "c", "Format/Datatype": "Row major linear FP32"}]},
        "a layer name only",
        {"Name": "shape", "LayerType": "Shuffle", "Outputs": [{"Name": "d", "Format/Datatype": "Int32"}]},
    ]}
    assert inspector_precisions(json.dumps(info)) == {"CaskConvolution": {"fp16": 2}, "Normalization": {"fp32": 1}}


class FakeTimingCache:
    def serialize(self) -> bytes:
        return b"cache-bytes"


class FakeConfig:
    """A builder config whose ``set_timing_cache`` refuses caches made elsewhere, as TensorRT does."""

    def __init__(self) -> None:
        self.created: list[bytes] = []

    def create_timing_cache(self, data: bytes) -> FakeTimingCache:
        self.created.append(data)
        return FakeTimingCache()

    def set_timing_cache(self, cache: FakeTimingCache, ignore_mismatch: bool) -> bool:
        return self.created[-1] in (b"", b"fits")

    def get_timing_cache(self) -> FakeTimingCache:
        return FakeTimingCache()


def test_timing_cache_that_does_not_fit_is_replaced_and_an_unwritable_one_is_a_note(tmp_path):
    from percept.engines.trt_build import _read_timing_cache, _save_timing_cache

    stale = tmp_path / "stale.cache"
    stale.write_bytes(b"from another GPU")
    logs: list[str] = []
    config = FakeConfig()
    _read_timing_cache(config, stale, logs.append)
    assert config.created == [b"from another GPU", b""] and "does not fit" in logs[-1]
    good = tmp_path / "good.cache"
    good.write_bytes(b"fits")
    _read_timing_cache(FakeConfig(), good, logs.append)
    assert "timing cache: loaded" in logs[-1]
    assert _save_timing_cache(config, tmp_path / "new.cache", logs.append)
    assert (tmp_path / "new.cache").read_bytes() == b"cache-bytes"
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    assert not _save_timing_cache(config, blocked / "t.cache", logs.append)
    assert "not saved" in logs[-1]


def test_record_says_how_and_where_it_was_built(fp16_build, style_onnx):
    result, logs = fp16_build
    rec = read_record(result.engine)
    assert rec == json.loads(json.dumps({"format": "percept-engine/1", **result.record}))
    assert rec["onnx"]["sha256"] == file_sha256(style_onnx) and rec["engine_sha256"] == file_sha256(result.engine)
    assert rec["profile"] == {"input": "input", **SMALL.as_dict()}
    assert rec["tensorrt"] == {"flavour": "tensorrt-rtx", "module": "tensorrt_rtx", "version": rtx.__version__}
    if not torch.cuda.is_available():
        assert rec["gpu"] == {"name": CPU_BUILD, "compute_capability": None}
    assert "8.6" in rec["targets"] and "7.5" not in rec["targets"]
    assert rec["model"]["kind"] == "style" and rec["model"]["name"] == "style-demo"
    # TensorRT-RTX's timing cache calls are no-ops: say so, write no empty cache file
    assert any("ignores timing caches" in m for m in logs)
    assert not (result.engine.parent / "timing.cache").exists()


def test_fp32_engine_and_prebuilt_fp16_onnx(style_onnx, tmp_path):
    fp32 = build_engine(style_onnx, out=tmp_path / "s32.engine", precision="fp32", profile=SMALL,
                        flavour="tensorrt-rtx", log=lambda m: None)
    assert fp32.record["precision"] == "fp32" and fp32.record["fp16_method"] is None
    assert all(set(c) == {"fp32"} for c in fp32.record["layer_precisions"].values())
    half = tmp_path / "s16.onnx"
    onnx.save(convert_to_fp16(onnx.load(str(style_onnx))), str(half))
    built = build_engine(half, out=tmp_path / "s16.engine", precision="fp16", profile=SMALL,
                         flavour="tensorrt-rtx", log=lambda m: None)
    assert built.record["precision"] == "fp16" and not built.record["onnx"]["converted_to_fp16"]
    with pytest.raises(EngineError, match="computes in FP16"):
        build_engine(half, precision="fp32", profile=SMALL, flavour="tensorrt-rtx", log=lambda m: None)


def test_parser_errors_are_listed_one_per_line(tmp_path):
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["r"], name="ok_relu"),
         helper.make_node("NoSuchOp", ["r"], ["y"], name="mystery", domain="percept.test")],
        "bad", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 8])])
    opsets = [helper.make_opsetid("", 18), helper.make_opsetid("percept.test", 1)]
    model = helper.make_model(graph, opset_imports=opsets, ir_version=10)
    bad = tmp_path / "bad.onnx"
    onnx.save(model, str(bad))
    with pytest.raises(EngineError) as exc:
        build_engine(bad, precision="fp32", flavour="tensorrt-rtx", log=lambda m: None)
    lines = str(exc.value).splitlines()
    assert "cannot parse" in lines[0] and len(lines) >= 2
    assert any("mystery" in line and "NoSuchOp" in line for line in lines[1:])


def test_profiles_are_checked_before_building():
    meta = {"scale": "4", "size_rule": "1", "min_size": "5"}
    assert default_profile(meta).max == (8, 3, 256, 256) and default_profile(meta).min == (1, 3, 16, 16)
    assert parse_dims("4x3x512x512") == (4, 3, 512, 512)
    for text in ("4x3x512", "axbxcxd", "0x3x8x8"):
        with pytest.raises(EngineError, match="NxCxHxW"):
            parse_dims(text)
    with pytest.raises(EngineError, match="min <= opt <= max"):
        check_profile(Profile((1, 3, 64, 64), (1, 3, 512, 512), (1, 3, 256, 256)), (-1, 3, -1, -1), meta)
    with pytest.raises(EngineError, match="fixed height of 32"):
        check_profile(SMALL, (-1, 3, 32, 32), meta)
    with pytest.raises(EngineError, match="at least 5"):
        check_profile(Profile((1, 3, 4, 4), (1, 3, 8, 8), (1, 3, 8, 8)), (-1, 3, -1, -1), meta)


def _copy_engine(result, dest):
    engine = dest / result.engine.name
    shutil.copy(result.engine, engine)
    shutil.copy(record_path(result.engine), record_path(engine))
    return engine


def test_engine_with_a_mismatched_or_missing_record_is_refused(fp16_build, tmp_path):
    engine = _copy_engine(fp16_build[0], tmp_path)
    record = read_record(engine)
    record["tensorrt"]["version"] = "0.9.0"
    write_record(engine, {k: v for k, v in record.items() if k != "format"})
    with pytest.raises(EngineMismatch, match=rf"built with tensorrt-rtx 0\.9\.0, this machine has {rtx.__version__}"):
        TensorRTRuntime(engine, "cuda:0")
    record_path(engine).unlink()
    with pytest.raises(EngineMismatch, match="no build record"):
        TensorRTRuntime(engine, "cuda:0")


def test_record_rules():
    rec = {"tensorrt": {"flavour": "tensorrt-rtx", "version": "1.7"}, "targets": ["8.6", "8.9"],
           "gpu": {"name": CPU_BUILD, "compute_capability": None}}
    rtx4090 = {"name": "NVIDIA GeForce RTX 4090", "compute_capability": "8.9"}
    assert mismatches(rec, {"flavour": "tensorrt-rtx", "version": "1.7", "gpu": rtx4090}) == []
    h100 = {"name": "NVIDIA H100", "compute_capability": "9.0"}
    assert "targets 8.6, 8.9" in mismatches(rec, {"flavour": "tensorrt-rtx", "version": "1.7", "gpu": h100})[0]
    classic = {"tensorrt": {"flavour": "tensorrt", "version": "10.13"}, "gpu": rtx4090}
    assert mismatches(classic, {"flavour": "tensorrt", "version": "10.13", "gpu": rtx4090}) == []
    moved = mismatches(classic, {"flavour": "tensorrt", "version": "10.13", "gpu": h100})
    assert len(moved) == 1 and "built on NVIDIA GeForce RTX 4090" in moved[0]
    assert len(mismatches(classic, {"flavour": "tensorrt-rtx", "version": "1.7", "gpu": None})) == 2


def test_mismatched_engine_is_rebuilt_when_its_onnx_is_at_hand(fp16_build, tmp_path, monkeypatch):
    monkeypatch.setenv("PERCEPT_CACHE_DIR", str(tmp_path / "cache"))
    engine = _copy_engine(fp16_build[0], tmp_path)
    record = read_record(engine)
    record["tensorrt"]["version"] = "0.9.0"
    write_record(engine, {k: v for k, v in record.items() if k != "format"})
    rebuilt = rebuild_if_possible(engine, "cuda:0", log=lambda m: None)
    assert rebuilt.parent == tmp_path / "cache" / "engines"
    assert read_record(rebuilt)["tensorrt"]["version"] == rtx.__version__
    record["onnx"]["sha256"] = "0" * 64  # the ONNX beside it is not the one the engine came from
    write_record(engine, {k: v for k, v in record.items() if k != "format"})
    with pytest.raises(EngineMismatch, match="not at hand"):
        rebuild_if_possible(engine, "cuda:0")


def test_cli_build_engine(style_onnx, tmp_path, monkeypatch):
    out = tmp_path / "cli.engine"
    result = CliRunner().invoke(app, ["build-engine", str(style_onnx), "--flavour", "tensorrt-rtx", "--out", str(out),
                                      "--min", "1x3x64x64", "--opt", "1x3x128x128", "--max", "2x3x256x256"])
    assert result.exit_code == 0, result.output
    assert "precision: fp16 (strongly typed FP16 ONNX)" in result.output and "NORMALIZATION fp32×15" in result.output
    assert "profile input: min 1x3x64x64, opt 1x3x128x128, max 2x3x256x256" in result.output
    assert record_path(out).is_file()
    monkeypatch.setattr("percept.engines.trt_build.tensorrt_module", lambda name: None)
    missing = CliRunner().invoke(app, ["build-engine", str(style_onnx), "--flavour", "tensorrt-rtx"])
    assert missing.exit_code == 2
    assert "".join(missing.output.split()) == "".join(("error: tensorrt-rtx is not installed (or does not load): "
                                                       f"{install_hint('tensorrt-rtx')}").split())


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available() or tensorrt_module("tensorrt") is None,
                    reason="needs a CUDA GPU and TensorRT")
def test_classic_tensorrt_timing_cache_is_saved_and_reused(style_onnx, tmp_path):
    cache = tmp_path / "timing.cache"
    logs: list[str] = []
    first = build_engine(style_onnx, out=tmp_path / "a.engine", profile=SMALL, flavour="tensorrt",
                         timing_cache=cache, log=logs.append)
    assert cache.is_file() and cache.stat().st_size > 0 and first.record["timing_cache"] == str(cache.resolve())
    build_engine(style_onnx, out=tmp_path / "b.engine", profile=SMALL, flavour="tensorrt", timing_cache=cache,
                 log=logs.append)
    assert any("timing cache: loaded" in m for m in logs)
    assert first.record["gpu"]["name"] == torch.cuda.get_device_name(0)


def test_a_built_engine_is_refused_in_one_line_where_it_cannot_run(fp16_build, tmp_path):
    """The batch commands read an engine's kind from its record and say, in one line, why it cannot run here."""
    from typer.testing import CliRunner

    from percept.cli.app import app

    result, _ = fp16_build
    photo = tmp_path / "a.png"
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(photo)
    res = CliRunner().invoke(app, ["stylize", str(photo), "--style", str(result.engine), "-o", str(tmp_path / "o")])
    assert res.exit_code == 2, res.output
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "error:" in lines[0] and ("GPU" in lines[0] or "CUDA" in lines[0]), res.output
    assert not (tmp_path / "o").exists()
    orphan = tmp_path / "orphan.engine"
    shutil.copy(result.engine, orphan)  # no build record beside it
    res = CliRunner().invoke(app, ["upscale", str(photo), "--model", str(orphan), "-o", str(tmp_path / "o")])
    assert res.exit_code == 2 and "no build record" in res.output
