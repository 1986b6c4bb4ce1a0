"""Shared instance-norm statistics, so a tiled style image looks like the untiled one on every backend.

Why: style networks normalise every feature map with its own mean and variance (instance norm). Cut a
photo into tiles and each tile gets different statistics, so neighbouring tiles disagree in contrast and
colour and the seams show through any blend. The cure is to measure the statistics of every
instance-norm layer once on the whole image (downscaled if needed) and impose them on every tile. A style
net's exposure path (the photo's mean colour) is shared the same way: it is one more "layer" of
statistics, after the norms, whose mean replaces the tile's own.

Two implementations of the same idea:
  * ONNX (here): graph surgery on a percept graph — one graph that also outputs each layer's (mean, var)
    (``onnx_with_stats_outputs``), and one where every ``InstanceNormalization`` (and the ``ReduceMean`` of
    the input image) takes them as inputs (``onnx_with_stats_inputs``);
  * PyTorch: forward hooks on the modules (``percept.engines.torch_stats``).
Statistics are per layer ``(mean, var)``, each a float32 array of C values, in graph order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # onnx costs 1.3 s to import (ml_dtypes): only the graph surgery below needs it
    import onnx

Stats = list[tuple[np.ndarray, np.ndarray]]
STATS_PREFIX = "percept_norm"


# ------------------------------------------------------------------- what every ONNX-graph runtime shares
def stats_from_outputs(values: Sequence[np.ndarray]) -> Stats:
    """The measuring graph's extra outputs (mean, var, mean, var, ... each 1×C) as ``Stats``."""
    return [(np.array(values[i][0], np.float32), np.array(values[i + 1][0], np.float32))
            for i in range(0, len(values), 2)]


def stats_inputs(stats: Sequence[Stats]) -> list[np.ndarray]:
    """Per-item ``Stats`` of a batch as the imposing graph's extra inputs: mean, var, ... each N×C."""
    arrays = []
    for layer in range(len(stats[0])):
        arrays += [np.stack([s[layer][0] for s in stats]).astype(np.float32),
                   np.stack([s[layer][1] for s in stats]).astype(np.float32)]
    return arrays


def run_with_stats_or_own(batch: np.ndarray, stats: Sequence[Stats | None],
                          run: Callable[[np.ndarray], np.ndarray],
                          run_imposed: Callable[[np.ndarray, Sequence[Stats]], np.ndarray]) -> np.ndarray:
    """``run_imposed`` for a batch whose items all have statistics; items without use their own (``run``)."""
    if all(s is None for s in stats):
        return run(batch)
    if any(s is None for s in stats):  # run them apart
        return np.concatenate([run(batch[i:i + 1]) if s is None else run_imposed(batch[i:i + 1], [s])
                               for i, s in enumerate(stats)])
    return run_imposed(batch, stats)


# ------------------------------------------------------------------------------------------------ ONNX
def onnx_norm_nodes(model: onnx.ModelProto) -> list[onnx.NodeProto]:
    """Instance norms, then means of the input image (``ImageMean``), each in graph order (as in torch)."""
    return [model.graph.node[k] for k in _norm_positions(model)]


def _norm_positions(model: onnx.ModelProto) -> list[int]:
    nodes = model.graph.node
    producers = {o: n for n in nodes for o in n.output}
    inputs = {i.name for i in model.graph.input}

    def of_input_image(node: onnx.NodeProto) -> bool:
        """A ReduceMean of the graph's input image itself (directly or through Casts, as an FP16 graph has it)."""
        source = node.input[0]
        while source in producers and producers[source].op_type == "Cast":
            source = producers[source].input[0]
        return source in inputs

    return ([k for k, n in enumerate(nodes) if n.op_type == "InstanceNormalization"]
            + [k for k, n in enumerate(nodes) if n.op_type == "ReduceMean" and of_input_image(n)])


def _channels(model: onnx.ModelProto, node: onnx.NodeProto) -> int:
    from onnx import numpy_helper

    if node.op_type == "ReduceMean":  # of the input image
        return int(model.graph.input[0].type.tensor_type.shape.dim[1].dim_value)
    inits = {i.name: i for i in model.graph.initializer}
    scale = node.input[1]
    if scale in inits:
        return int(numpy_helper.to_array(inits[scale]).shape[0])
    for n in model.graph.node:  # a Constant node feeding the scale
        if n.op_type == "Constant" and scale in n.output:
            return int(numpy_helper.to_array(n.attribute[0].t).shape[0])
    raise ValueError(f"cannot tell the channel count of {node.name}")


def _epsilon(node: onnx.NodeProto) -> float:
    return next((a.f for a in node.attribute if a.name == "epsilon"), 1e-5)


def _const(name: str, values: list[int] | list[float], dtype: int | None = None) -> onnx.NodeProto:
    from onnx import TensorProto, helper

    dtype = TensorProto.INT64 if dtype is None else dtype
    return helper.make_node("Constant", [], [name], value=helper.make_tensor(name + "_v", dtype, [len(values)], values))


def stats_names(count: int) -> list[tuple[str, str]]:
    return [(f"{STATS_PREFIX}{i}_mean", f"{STATS_PREFIX}{i}_var") for i in range(count)]


def _batch_dim(model: onnx.ModelProto):
    dim = model.graph.input[0].type.tensor_type.shape.dim[0]
    return dim.dim_param or dim.dim_value or "batch"


def onnx_with_stats_outputs(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy that also outputs (mean, var) of every instance-norm input, N×C each, in graph order."""
    import onnx
    from onnx import TensorProto, helper

    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    norms = onnx_norm_nodes(out)
    axes = f"{STATS_PREFIX}_axes23"
    extra = [_const(axes, [2, 3])]
    batch = _batch_dim(out)
    for (mean, var), node in zip(stats_names(len(norms)), norms):
        x, c = node.input[0], _channels(out, node)
        keep, diff, square = f"{mean}_keep", f"{mean}_diff", f"{mean}_sq"
        extra += [
            helper.make_node("ReduceMean", [x, axes], [mean], keepdims=0),
            helper.make_node("ReduceMean", [x, axes], [keep], keepdims=1),
            helper.make_node("Sub", [x, keep], [diff]),
            helper.make_node("Mul", [diff, diff], [square]),
            helper.make_node("ReduceMean", [square, axes], [var], keepdims=0),
        ]
        g.output.extend([helper.make_tensor_value_info(mean, TensorProto.FLOAT, [batch, c]),
                         helper.make_tensor_value_info(var, TensorProto.FLOAT, [batch, c])])
    g.node.extend(extra)
    return out


def onnx_with_stats_inputs(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy in which every instance norm uses (mean, var) graph inputs instead of its own statistics."""
    import onnx
    from onnx import TensorProto, helper

    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    norms = {k: i for i, k in enumerate(_norm_positions(out))}  # node position -> layer index (no node ids)
    names = stats_names(len(norms))
    batch = _batch_dim(out)
    a23, a023 = f"{STATS_PREFIX}_axes23", f"{STATS_PREFIX}_axes023"
    nodes = [_const(a23, [2, 3]), _const(a023, [0, 2, 3])]
    for position, node in enumerate(list(g.node)):
        if position not in norms:
            nodes.append(node)
            continue
        i = norms[position]
        mean, var = names[i]
        p = f"{STATS_PREFIX}{i}_"
        c = _channels(out, node)
        g.input.extend([helper.make_tensor_value_info(mean, TensorProto.FLOAT, [batch, c]),
                        helper.make_tensor_value_info(var, TensorProto.FLOAT, [batch, c])])
        if node.op_type == "ReduceMean":  # the image's mean: the given one (the variance is not used)
            nodes.append(helper.make_node("Unsqueeze", [mean, a23], list(node.output)))
            continue
        x, scale, bias = node.input
        nodes += [
            helper.make_node("Unsqueeze", [mean, a23], [p + "m4"]),
            helper.make_node("Unsqueeze", [var, a23], [p + "v4"]),
            _const(p + "eps", [_epsilon(node)], TensorProto.FLOAT),
            helper.make_node("Add", [p + "v4", p + "eps"], [p + "ve"]),
            helper.make_node("Sqrt", [p + "ve"], [p + "sd"]),
            helper.make_node("Sub", [x, p + "m4"], [p + "xc"]),
            helper.make_node("Div", [p + "xc", p + "sd"], [p + "xn"]),
            helper.make_node("Unsqueeze", [scale, a023], [p + "s4"]),
            helper.make_node("Unsqueeze", [bias, a023], [p + "b4"]),
            helper.make_node("Mul", [p + "xn", p + "s4"], [p + "xs"]),
            helper.make_node("Add", [p + "xs", p + "b4"], list(node.output)),
        ]
    del g.node[:]
    g.node.extend(nodes)
    return out
