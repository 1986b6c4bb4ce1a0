"""percept's networks as ONNX graphs built straight from a model file's weights: no torch, no exporter.

Why: running a shipped or percept-trained model must not need PyTorch (a 6 GB install and ~2 s of import).
A percept model file names its architecture and options (``ModelInfo.config``) and holds its weights under
the names of the PyTorch modules, so the graph can be written here node by node, the same operators the
PyTorch exporter emits (reflection ``Pad``, ``Conv``, ``InstanceNormalization``, ``Resize``, ``DepthToSpace``),
with the file's tensors as initialisers. The weights pass as numpy arrays, so they can be replaced or blended
(``--detail``) before the graph is built. A test compares every architecture with PyTorch.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from percept.core.model_header import ModelFileError, ModelInfo, read_info
from percept.core.version import __version__
from percept.engines.onnx_opset import DEFAULT_OPSET

INPUT_NAME, OUTPUT_NAME = "input", "output"
BUILT_ARCHS = ("TransformNet", "SRNet", "SubPixelSR")
NORM_EPS = 1e-5


def read_weights(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """A percept model file's tensors as float32 numpy arrays (safetensors' numpy reader; nothing unpickled)."""
    from safetensors.numpy import load_file

    try:
        return {k: v.astype(np.float32) for k, v in load_file(str(path)).items()}
    except Exception as exc:
        raise ModelFileError(f"{path}: cannot read weights ({type(exc).__name__}: {str(exc)[:120]})") from None


class _Graph:
    """A graph under construction: nodes, initialisers, and fresh names."""

    def __init__(self, weights: Mapping[str, np.ndarray], path: str):
        self.weights, self.path = weights, path
        self.nodes: list = []
        self.inits: dict[str, np.ndarray] = {}
        self.count = 0

    def name(self, hint: str) -> str:
        self.count += 1
        return f"{hint}_{self.count}"

    def weight(self, key: str, shape: tuple[int, ...] | None = None) -> str:
        if key not in self.weights:
            raise ModelFileError(f"{self.path}: weight {key} is missing for its architecture")
        value = self.weights[key]
        if shape is not None:
            if value.size != int(np.prod(shape)):
                raise ModelFileError(f"{self.path}: weight {key} has shape {tuple(value.shape)}, not the "
                                     f"{tuple(shape)} its architecture says")
            value = value.reshape(shape)
        name = key if shape is None else f"{key}.reshaped"
        self.inits[name] = value
        return name

    def const(self, values, dtype=np.int64) -> str:
        name = self.name("const")
        self.inits[name] = np.asarray(values, dtype=dtype)
        return name

    def op(self, op_type: str, inputs: list[str], **attrs) -> str:
        from onnx import helper

        out = self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    # -- layers, named as the PyTorch modules' state-dict keys
    def conv(self, x: str, prefix: str, kernel: int, stride: int = 1) -> str:
        """``ConvLayer``: reflection pad of kernel//2, then the convolution (``prefix`` + ``.1``)."""
        p = kernel // 2
        if p:
            x = self.op("Pad", [x, self.const([0, 0, p, p, 0, 0, p, p])], mode="reflect")
        return self.op("Conv", [x, self.weight(f"{prefix}.1.weight"), self.weight(f"{prefix}.1.bias")],
                       kernel_shape=[kernel, kernel], strides=[stride, stride])

    def norm(self, x: str, prefix: str, kind: str) -> str:
        if kind == "instance":
            return self.op("InstanceNormalization", [x, self.weight(f"{prefix}.weight"),
                                                     self.weight(f"{prefix}.bias")], epsilon=NORM_EPS)
        if kind == "batch":
            return self.op("BatchNormalization", [x, *(self.weight(f"{prefix}.{k}") for k in
                                                       ("weight", "bias", "running_mean", "running_var"))],
                           epsilon=NORM_EPS)
        if kind == "none":
            return x
        raise ModelFileError(f"{self.path}: unknown norm {kind!r}")

    def resize(self, x: str, factor: int, mode: str) -> str:
        scales = self.const([1.0, 1.0, float(factor), float(factor)], np.float32)
        if mode == "nearest":
            return self.op("Resize", [x, "", scales], mode="nearest", coordinate_transformation_mode="asymmetric",
                           nearest_mode="floor")
        return self.op("Resize", [x, "", scales], mode="cubic", coordinate_transformation_mode="half_pixel",
                       cubic_coeff_a=-0.75)

    def upsample2x(self, x: str, prefix: str, mode: str, norm: str) -> str:
        """``Upsample2x``: one ×2 stage, then norm and ReLU."""
        if mode == "resize-conv":
            x, norm_at = self.conv(self.resize(x, 2, "nearest"), f"{prefix}.1", 3), f"{prefix}.2"
        elif mode == "pixel-shuffle":
            x, norm_at = self.op("DepthToSpace", [self.conv(x, f"{prefix}.0", 3)], blocksize=2, mode="CRD"), \
                f"{prefix}.2"
        elif mode == "transposed":
            x = self.op("ConvTranspose", [x, self.weight(f"{prefix}.0.weight"), self.weight(f"{prefix}.0.bias")],
                        kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1])
            norm_at = f"{prefix}.1"
        else:
            raise ModelFileError(f"{self.path}: unknown upsample {mode!r}")
        return self.op("Relu", [self.norm(x, norm_at, norm)])

    def residual(self, x: str, prefix: str, norm: str) -> str:
        y = self.op("Relu", [self.norm(self.conv(x, f"{prefix}.body.0", 3), f"{prefix}.body.1", norm)])
        y = self.norm(self.conv(y, f"{prefix}.body.3", 3), f"{prefix}.body.4", norm)
        return self.op("Add", [x, y])

    def clip01(self, x: str) -> str:
        return self.op("Clip", [x, self.const(0.0, np.float32), self.const(1.0, np.float32)])


def _transform_net(g: _Graph, config: Mapping) -> str:
    norm, upsample = config.get("norm", "instance"), config.get("upsample", "resize-conv")
    x = INPUT_NAME
    for i, (kernel, stride) in enumerate(((9, 1), (3, 2), (3, 2))):
        x = g.op("Relu", [g.norm(g.conv(x, f"encoder.{i}.0", kernel, stride), f"encoder.{i}.1", norm)])
    for r in range(5):
        x = g.residual(x, f"residuals.{r}", norm)
    x = g.upsample2x(x, "decoder.0", upsample, norm)
    x = g.upsample2x(x, "decoder.1", upsample, norm)
    y = g.conv(x, "decoder.2", 9)
    if config.get("exposure_path"):
        mean = g.op("ReduceMean", [INPUT_NAME, g.const([2, 3])], keepdims=1)
        shift = g.op("Conv", [mean, g.weight("exposure.weight"), g.weight("exposure.bias")], kernel_shape=[1, 1])
        y = g.op("Add", [y, shift])
    t = g.op("Tanh", [y])
    if config.get("output", "tanh") == "wide-tanh":  # 0.5 + 0.6·tanh, clamped
        return g.clip01(g.op("Add", [g.op("Mul", [t, g.const(0.6, np.float32)]), g.const(0.5, np.float32)]))
    return g.op("Mul", [g.op("Add", [t, g.const(1.0, np.float32)]), g.const(0.5, np.float32)])


def _sr_net(g: _Graph, config: Mapping) -> str:
    norm, upsample, scale = config.get("norm", "none"), config.get("upsample", "pixel-shuffle"), int(config["scale"])
    x = g.op("Relu", [g.norm(g.conv(INPUT_NAME, "head.0", 9), "head.1", norm)])
    for r in range(int(config.get("blocks", 4))):
        x = g.residual(x, f"residuals.{r}", norm)
    for k in range(int(np.log2(scale))):
        x = g.upsample2x(x, f"upsampler.{k}", upsample, norm)
    y = g.conv(x, "tail", 9)
    if config.get("global_skip", True):
        y = g.op("Add", [y, g.resize(INPUT_NAME, scale, "cubic")])
    else:
        y = g.op("Mul", [g.op("Add", [g.op("Tanh", [y]), g.const(1.0, np.float32)]), g.const(0.5, np.float32)])
    return g.clip01(y)


def _subpixel_sr(g: _Graph, config: Mapping) -> str:
    scale, channels, convs = int(config["scale"]), int(config.get("channels", 48)), int(config.get("convs", 6))
    x = INPUT_NAME
    for i in range(convs + 1):
        x = g.conv(x, f"body.{2 * i}", 3)
        x = g.op("PRelu", [x, g.weight(f"body.{2 * i + 1}.weight", (channels, 1, 1))])
    y = g.op("DepthToSpace", [g.conv(x, "to_pixels", 3)], blocksize=scale, mode="CRD")
    return g.clip01(g.op("Add", [y, g.resize(INPUT_NAME, scale, "cubic")]))


BUILDERS = {"TransformNet": _transform_net, "SRNet": _sr_net, "SubPixelSR": _subpixel_sr}


def can_build(info: ModelInfo) -> bool:
    return info.config.get("arch") in BUILDERS and not info.config.get("branches")


def onnx_metadata(info: ModelInfo, precision: str, dynamic: bool = True) -> dict[str, str]:
    """Everything a runtime needs to run the ONNX file without the model file."""
    lo, hi = info.value_range
    return {
        "percept": info.to_json(), "kind": info.kind, "name": info.name, "scale": str(info.scale),
        "size_rule": str(info.size_rule), "min_size": str(info.min_size), "value_range": f"{lo},{hi}",
        "arch": str(info.config.get("arch", "")), "precision": precision, "dynamic_shapes": str(dynamic).lower(),
        "layout": "NCHW RGB float32", "percept_version": __version__, "model_percept_version": info.percept_version,
    }


def build_graph(info: ModelInfo, weights: Mapping[str, np.ndarray], source: str = "model",
                opset: int = DEFAULT_OPSET):
    """The fp32 ONNX model of a percept network from its description and (float32) weights."""
    from onnx import TensorProto, helper, numpy_helper

    arch = info.config.get("arch")
    if arch not in BUILDERS:
        raise ModelFileError(f"{source}: percept builds graphs for {', '.join(BUILT_ARCHS)}, not {arch!r}")
    g = _Graph(weights, source)
    out = BUILDERS[arch](g, info.config)
    used = {k.removesuffix(".reshaped") for k in g.inits}
    unused = {k for k in weights if k not in used and not k.endswith("num_batches_tracked")}
    if unused:
        raise ModelFileError(f"{source}: weights {', '.join(sorted(unused)[:3])} do not belong to {arch}")
    g.nodes.append(helper.make_node("Identity", [out], [OUTPUT_NAME], name=OUTPUT_NAME))
    graph = helper.make_graph(
        g.nodes, f"percept_{arch}",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["batch", 3, "height", "width"])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", 3, "out_height", "out_width"])],
        [numpy_helper.from_array(np.ascontiguousarray(v), k) for k, v in g.inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="percept",
                              producer_version=__version__)
    model.ir_version = 8  # readable by every onnxruntime and OpenVINO percept supports
    for key, value in onnx_metadata(info, "fp32").items():
        model.metadata_props.add(key=key, value=value)
    model.doc_string = f"percept {info.kind} model {info.name!r} ({json.dumps(info.config, sort_keys=True)})"
    return model


def build_model_graph(path: str | os.PathLike, weights: Mapping[str, np.ndarray] | None = None,
                      info: ModelInfo | None = None):
    """The ONNX model of a percept model file (its own weights unless ``weights`` replaces them)."""
    info = info or read_info(path)
    return build_graph(info, read_weights(path) if weights is None else weights, str(Path(path)))
