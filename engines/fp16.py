"""FP32 → FP16 ONNX graph conversion with FP32 inputs/outputs and FP32 normalisation layers.

Why a graph conversion rather than a builder flag: TensorRT ≥ 11 and TensorRT-RTX build *strongly typed*
networks only (``BuilderFlag.FP16`` is gone), so the precision must live in the ONNX graph itself. The
converted graph keeps float32 at its boundaries (a Cast after each input and before each output), so
callers feed and read float32 exactly as with the FP32 graph.

Numerically sensitive ops (``KEEP_FP32``: instance/layer/group norm and the reductions a decomposed norm
is made of) stay in FP32 with casts around them: instance norm divides by a per-channel standard deviation
computed over H×W values, and its sums of squares overflow or lose precision in FP16 on large images.
"""

from __future__ import annotations

import onnx
from onnx import TensorProto, helper, numpy_helper

FP32, FP16 = TensorProto.FLOAT, TensorProto.FLOAT16
FP16_MAX = 65504.0

KEEP_FP32 = frozenset({
    "InstanceNormalization", "LayerNormalization", "GroupNormalization", "BatchNormalization",
    "ReduceMean", "ReduceSum", "ReduceSumSquare", "ReduceL2", "ReduceLogSumExp", "Pow", "Sqrt", "Reciprocal",
})
# Inputs that ONNX defines as float32 whatever the data type (coordinates and scale factors).
FLOAT32_INPUTS: dict[str, frozenset[int]] = {"Resize": frozenset({1, 2}), "Upsample": frozenset({1})}
# Ops whose output type is fixed by an attribute or is not floating point data.
FIXED_OUTPUT = frozenset({"Cast", "CastLike", "Shape", "Size", "ConstantOfShape", "NonZero", "ArgMax", "ArgMin"})


def is_fp16_graph(model: onnx.ModelProto) -> bool:
    """True when the graph computes in FP16 (any FP16 initializer or Cast to FP16)."""
    if any(init.data_type == FP16 for init in model.graph.initializer):
        return True
    for node in model.graph.node:
        if node.op_type == "Cast" and any(a.name == "to" and a.i == FP16 for a in node.attribute):
            return True
    return False


def _constants_to_initializers(graph: onnx.GraphProto) -> None:
    kept = []
    for node in graph.node:
        value = [a for a in node.attribute if a.name == "value"] if node.op_type == "Constant" else []
        if value:
            tensor = onnx.TensorProto()
            tensor.CopyFrom(value[0].t)
            tensor.name = node.output[0]
            graph.initializer.append(tensor)
        else:
            kept.append(node)
    del graph.node[:]
    graph.node.extend(kept)


def convert_to_fp16(model: onnx.ModelProto, keep_fp32: frozenset[str] = KEEP_FP32) -> onnx.ModelProto:
    """A new model computing in FP16 except ``keep_fp32`` ops, with FP32 graph inputs and outputs."""
    model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    graph = model.graph
    for node in graph.node:
        if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute):
            raise ValueError(f"FP16 conversion does not handle subgraphs (node {node.name or node.op_type})")
    _constants_to_initializers(graph)

    dtype: dict[str, int] = {}
    for vi in list(graph.input) + list(graph.output) + list(graph.value_info):
        dtype[vi.name] = vi.type.tensor_type.elem_type
    inits = {init.name: init for init in graph.initializer}
    for name, init in inits.items():
        dtype[name] = init.data_type

    produced_fp16: set[str] = set()      # tensors that hold FP16 after conversion
    casts: dict[tuple[str, int], str] = {}  # (tensor, target type) → name of the cast tensor
    new_inits: dict[str, TensorProto] = {}
    nodes: list[onnx.NodeProto] = []

    def cast(name: str, to: int) -> str:
        key = (name, to)
        if key not in casts:
            out = f"{name}__to_{'fp16' if to == FP16 else 'fp32'}"
            nodes.append(helper.make_node("Cast", [name], [out], to=to, name=f"{out}_cast"))
            casts[key] = out
        return casts[key]

    def fp16_initializer(name: str) -> str:
        out = f"{name}__fp16"
        if out not in new_inits:
            array = numpy_helper.to_array(inits[name]).clip(-FP16_MAX, FP16_MAX).astype("float16")
            new_inits[out] = numpy_helper.from_array(array, out)
        return out

    def as_fp16(name: str) -> str:
        if name in produced_fp16:
            return name
        if name in inits:
            return fp16_initializer(name)
        return cast(name, FP16)  # a graph input or the output of an FP32 op

    for node in graph.node:
        fp32_node = node.op_type in keep_fp32
        fixed = node.op_type in FIXED_OUTPUT
        for i, name in enumerate(node.input):
            if not name or dtype.get(name) != FP32:
                continue
            if fp32_node:
                if name in produced_fp16:
                    node.input[i] = cast(name, FP32)
            elif i in FLOAT32_INPUTS.get(node.op_type, ()):
                continue
            elif not fixed:
                node.input[i] = as_fp16(name)
        if not fp32_node and not fixed:
            produced_fp16.update(o for o in node.output if dtype.get(o) == FP32)
        nodes.append(node)

    outputs = {o.name for o in graph.output}
    for out in outputs & produced_fp16:  # the producer writes FP16; a final Cast restores the FP32 name
        inner = f"{out}__fp16"
        for node in nodes:
            node.output[:] = [inner if o == out else o for o in node.output]
            node.input[:] = [inner if i == out else i for i in node.input]
        nodes.append(helper.make_node("Cast", [inner], [out], to=FP32, name=f"{out}_to_fp32"))

    used = {i for node in nodes for i in node.input}
    kept_inits = [init for init in graph.initializer if init.name in used]
    kept_inits += [init for name, init in new_inits.items() if name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept_inits)
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.value_info[:]
    model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    onnx.checker.check_model(model)
    return model


def fp32_op_types(model: onnx.ModelProto) -> set[str]:
    """Op types that still compute in FP32 in a converted graph (for reports and tests)."""
    inferred = onnx.shape_inference.infer_shapes(model)
    dtype = {vi.name: vi.type.tensor_type.elem_type for vi in inferred.graph.value_info}
    dtype.update({i.name: i.data_type for i in inferred.graph.initializer})
    dtype.update({vi.name: vi.type.tensor_type.elem_type for vi in inferred.graph.output})
    return {n.op_type for n in inferred.graph.node
            if n.op_type != "Cast" and any(dtype.get(o) == FP32 for o in n.output)}
