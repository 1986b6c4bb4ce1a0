"""ONNX export: parity with PyTorch at several sizes, dynamic shapes, metadata, one file, FP16 conversion."""

from __future__ import annotations

import re

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from typer.testing import CliRunner

from percept.cli.app import app
from percept.cli.errors import UserError
from percept.engines.errors import EngineError
from percept.engines.export import export_network, read_metadata, run_onnx
from percept.engines.fp16 import convert_to_fp16, fp32_op_types, is_fp16_graph
from percept.engines.onnx_facts import info_from_metadata
from percept.train.checkpoint import describe, read_info, save_model
from percept.train.networks import SRNet, TransformNet


def trained_like(net: torch.nn.Module, seed: int = 1) -> torch.nn.Module:
    """Perturb the initial weights so norms' affine params and biases are not the trivial 1/0."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return net.eval()


NETS = {"style": TransformNet, "style-exposure": lambda: TransformNet(exposure_path=True), "sr": lambda: SRNet(4)}


@pytest.fixture(scope="module", params=list(NETS))
def exported(request, tmp_path_factory):
    net = trained_like(NETS[request.param]())
    info = describe(net, f"demo-{request.param}")
    out = tmp_path_factory.mktemp(request.param) / "model.onnx"
    return net, info, export_network(net, info, out)


def test_export_matches_pytorch_at_two_sizes(exported):
    net, info, result = exported
    assert len(result.checks) == 2 and result.checks[0].shape != result.checks[1].shape
    for check in result.checks:
        assert check.max_abs < 1e-4, check
    # and at a third size and batch the check did not use: the graph is really dynamic
    x = torch.rand(3, 3, 40, 72)
    with torch.inference_mode():
        ref = net(x).numpy()
    y = run_onnx(result.path, x.numpy())
    assert y.shape == (3, 3, 40 * info.scale, 72 * info.scale)
    assert np.abs(y - ref).max() < 1e-4


def test_single_file_dynamic_dims_and_metadata(exported):
    _, info, result = exported
    assert [p.name for p in result.path.parent.iterdir()] == ["model.onnx"]  # no external-data side file
    model = onnx.load(str(result.path))
    assert not any(t.data_location == TensorProto.EXTERNAL for t in model.graph.initializer)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param != "" for d in dims] == [True, False, True, True] and dims[1].dim_value == 3
    meta = read_metadata(result.path)
    assert meta["kind"] == info.kind and meta["scale"] == str(info.scale)
    assert meta["size_rule"] == str(info.size_rule) and meta["min_size"] == str(info.min_size)
    assert meta["value_range"] == "0.0,1.0" and meta["name"] == info.name and meta["precision"] == "fp32"
    assert meta["percept_version"] and info_from_metadata(meta) == info
    ops = {n.op_type for n in model.graph.node}
    assert ops >= {"Pad", "Conv"} and "Slice" not in ops  # clean graph: no shape arithmetic around the pads


def test_model_file_metadata_round_trips(tmp_path):
    net = trained_like(SRNet(8, channels=16, blocks=1))
    path = save_model(tmp_path / "sr8.safetensors", net, describe(net, "tiny-x8", training={"iterations": 7}))
    result = export_network(net, read_info(path), tmp_path / "sr8.onnx", static=(12, 16))
    assert info_from_metadata(read_metadata(result.path)) == read_info(path)
    dims = onnx.load(str(result.path)).graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and [d.dim_value for d in dims[1:]] == [3, 12, 16]
    assert all(c.shape[2:] == (96, 128) and c.max_abs < 1e-4 for c in result.checks)
    with pytest.raises(EngineError, match="opset 18 or newer"):
        export_network(net, read_info(path), tmp_path / "old.onnx", opset=17)
    with pytest.raises(EngineError, match="multiples of 4"):
        export_network(TransformNet(), describe(TransformNet(), "s"), tmp_path / "bad.onnx", static=(30, 32))


def test_fp16_export_keeps_instance_norm_fp32_and_stays_close(tmp_path):
    net = trained_like(TransformNet())
    result = export_network(net, describe(net, "s16"), tmp_path / "s16.onnx", fp16=True)
    model = onnx.load(str(result.path))
    assert is_fp16_graph(model) and read_metadata(model)["precision"] == "fp16"
    assert model.graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT
    assert model.graph.output[0].type.tensor_type.elem_type == TensorProto.FLOAT
    assert fp32_op_types(model) == {"InstanceNormalization"}
    conv_weights = {n.input[1] for n in model.graph.node if n.op_type == "Conv"}
    assert {i.data_type for i in model.graph.initializer if i.name in conv_weights} == {TensorProto.FLOAT16}
    assert len(result.fp16_checks) == 2
    for check in result.fp16_checks:
        assert check.max_abs < 2e-2 and check.mean_abs < 2e-3, check
    assert result.path.stat().st_size < 0.6 * sum(p.numel() * 4 for p in net.parameters())


def _tiny_graph() -> onnx.ModelProto:
    """Conv → InstanceNorm → Resize(scales) → Add(const) → Clip: the op kinds the converter must treat apart."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(size=(4, 3, 3, 3)).astype(np.float32), "w"),
             numpy_helper.from_array(np.ones(4, np.float32), "gamma"),
             numpy_helper.from_array(np.zeros(4, np.float32), "beta"),
             numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales"),
             numpy_helper.from_array(np.array(0.5, np.float32), "half"),
             numpy_helper.from_array(np.array(0.0, np.float32), "lo"),
             numpy_helper.from_array(np.array(1.0, np.float32), "hi")]
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("InstanceNormalization", ["c", "gamma", "beta"], ["n"]),
             helper.make_node("Resize", ["n", "", "scales"], ["r"], mode="nearest"),
             helper.make_node("Add", ["r", "half"], ["a"]),
             helper.make_node("Clip", ["a", "lo", "hi"], ["y"])]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, "h", "w"])
    graph = helper.make_graph(nodes, "tiny", [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=10)


def test_fp16_converter_on_a_handmade_graph():
    model = _tiny_graph()
    half = convert_to_fp16(model)
    types = {i.name: i.data_type for i in half.graph.initializer}
    assert types["scales"] == TensorProto.FLOAT                     # Resize scales must stay float32
    assert types["gamma"] == types["beta"] == TensorProto.FLOAT     # instance norm params stay float32
    assert types["w__fp16"] == types["half__fp16"] == types["lo__fp16"] == TensorProto.FLOAT16
    norm = next(n for n in half.graph.node if n.op_type == "InstanceNormalization")
    assert norm.input[0].endswith("__to_fp32")
    assert half.graph.node[-1].op_type == "Cast" and half.graph.node[-1].output[0] == "y"
    assert fp32_op_types(half) == {"InstanceNormalization"}
    x = np.random.default_rng(1).random((2, 3, 8, 10), dtype=np.float32)
    y32, y16 = run_onnx(model, x), run_onnx(half, x)
    assert y16.dtype == np.float32 and y16.shape == (2, 4, 16, 20)
    assert 0 < np.abs(y32 - y16).max() < 5e-3  # really computed in fp16, and close


def test_fp16_converter_refuses_subgraphs():
    model = _tiny_graph()
    branch = helper.make_graph([helper.make_node("Identity", ["x"], ["z"])], "b", [],
                               [helper.make_tensor_value_info("z", TensorProto.FLOAT, None)])
    model.graph.node.append(helper.make_node("If", ["cond"], ["o"], then_branch=branch, else_branch=branch))
    with pytest.raises(ValueError, match="subgraphs"):
        convert_to_fp16(model)


def test_cli_export_prints_errors_and_rejects_bad_static(tmp_path):
    net = trained_like(SRNet(4, channels=16, blocks=1))
    model = save_model(tmp_path / "sr.safetensors", net, describe(net, "cli-sr"))
    out = tmp_path / "cli.onnx"
    result = CliRunner().invoke(app, ["export", str(model), "--out", str(out), "--static", "20x24"])
    assert result.exit_code == 0, result.output
    assert "max abs error" in result.output and "static 20x24" in result.output and out.is_file()
    line = next(ln for ln in result.output.splitlines() if "max abs error" in ln)
    errors = [float(w) for w in re.findall(r"(\d\.\d+e[-+]\d+) at", line)]
    assert len(errors) == 2 and max(errors) < 1e-4
    bad = CliRunner().invoke(app, ["export", str(model), "--out", str(tmp_path / "b.onnx"), "--static", "20by24"])
    assert bad.exit_code == UserError.exit_code and "error: --static '20by24': expected HxW" in bad.output
