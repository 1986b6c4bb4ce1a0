"""percept's networks built as ONNX graphs from a model file's weights (no torch) compute what PyTorch does, for
every architecture and option, and a graph's weights can be replaced before it is built."""

import numpy as np
import onnxruntime as ort
import pytest
import torch

from percept.core.model_header import ModelFileError
from percept.engines.onnx_graph import build_graph, build_model_graph, read_weights
from percept.train.checkpoint import describe, load_model, save_model
from percept.train.networks import SRNet, SubPixelSR, TransformNet


def _perturbed(net: torch.nn.Module) -> torch.nn.Module:
    torch.manual_seed(1)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.02)
        for name, b in net.named_buffers():
            if name.endswith("running_var"):
                b.uniform_(0.5, 2.0)
            elif name.endswith("running_mean"):
                b.normal_(0, 0.1)
    return net.eval()


def _run(model, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x})[0]


NETWORKS = [TransformNet(), TransformNet(exposure_path=True), TransformNet(norm="batch", upsample="transposed",
            output="wide-tanh"), SRNet(4, "resize-conv", "instance", 16, 2), SRNet(2, "transposed", "batch", 8, 1,
            global_skip=False), SRNet(8, channels=8, blocks=1), SubPixelSR(4, 16, 3), SubPixelSR(2, 8, 0)]


@pytest.mark.parametrize("net", NETWORKS, ids=lambda n: str(n.config()))
def test_built_graph_matches_pytorch(net, tmp_path):
    net = _perturbed(net)
    path = save_model(tmp_path / "m.safetensors", net, describe(net, "m"))
    x = np.random.default_rng(0).random((2, 3, 24, 28), dtype=np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    got = _run(build_model_graph(path), x)
    assert got.shape == ref.shape and np.abs(got - ref).max() < 2e-5


def test_replaced_weights_are_the_ones_that_run(tmp_path):
    a, b = _perturbed(SubPixelSR(2, 8, 1)), SubPixelSR(2, 8, 1).eval()
    path = save_model(tmp_path / "a.safetensors", a, describe(a, "a"))
    x = np.random.default_rng(1).random((1, 3, 10, 12), dtype=np.float32)
    other = {k: v.numpy() for k, v in b.state_dict().items()}
    with torch.no_grad():
        assert np.abs(_run(build_model_graph(path, weights=other), x) - b(torch.from_numpy(x)).numpy()).max() < 2e-5
    weights = read_weights(path)
    del weights["to_pixels.1.weight"]
    with pytest.raises(ModelFileError, match="to_pixels.1.weight is missing"):
        build_graph(load_model(path)[1], weights, "a.safetensors")
    weights = read_weights(path) | {"stray.weight": np.zeros(3, np.float32)}
    with pytest.raises(ModelFileError, match="stray.weight do not belong"):
        build_graph(load_model(path)[1], weights, "a.safetensors")
