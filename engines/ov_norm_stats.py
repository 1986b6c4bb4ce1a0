"""Shared instance-norm statistics on an OpenVINO model: the int8 forms' version of ``norm_stats``' surgery.

Why a second implementation: an int8 form is an OpenVINO IR (quantised by NNCF), not an ONNX graph, so the
ONNX surgery cannot reach it. The recipe leaves every instance norm's input in floating point, so measuring
and imposing statistics there leaves the quantised convolutions untouched. OpenVINO reads ONNX
``InstanceNormalization`` as ``MVN`` (then the scale and bias); the image's mean of an exposure path stays a
``ReduceMean`` of the input. Layers and their order are those of ``norm_stats.onnx_norm_nodes``: norms, then
image means, each in graph order; statistics are (mean, var) of N×C.
"""

from __future__ import annotations

import numpy as np

from percept.engines.norm_stats import stats_names


def _norm_ops(model) -> list:
    ops = model.get_ordered_ops()
    image = {p.get_friendly_name() for p in model.get_parameters()}

    def of_image(op) -> bool:
        source = op.input_value(0).get_node()
        while source.get_type_name() == "Convert":
            source = source.input_value(0).get_node()
        return source.get_type_name() == "Parameter" and source.get_friendly_name() in image

    return ([op for op in ops if op.get_type_name() == "MVN"]
            + [op for op in ops if op.get_type_name() == "ReduceMean" and of_image(op)])


def _opset():
    import openvino.opset13 as ops

    return ops


def _named_norms(model) -> list[tuple[tuple[str, str], object]]:
    """Each norm op of ``model`` with the (mean, var) names its statistics go by."""
    norms = _norm_ops(model)
    return list(zip(stats_names(len(norms)), norms))


def ov_with_stats_outputs(model):
    """A copy that also returns (mean, var) of every norm's input, N×C each, after the image."""
    ops = _opset()
    out = model.clone()
    axes = ops.constant([2, 3])
    results = []
    for (mean_name, var_name), op in _named_norms(out):
        x = op.input_value(0)
        mean = ops.reduce_mean(x, axes, keep_dims=False)
        centred = ops.subtract(x, ops.reduce_mean(x, axes, keep_dims=True))
        var = ops.reduce_mean(ops.multiply(centred, centred), axes, keep_dims=False)
        for node, name in ((mean, mean_name), (var, var_name)):
            result = ops.result(node)
            result.output(0).get_tensor().set_names({name})
            results.append(result)
    out.add_results(results)
    return out


def ov_with_stats_inputs(model):
    """A copy in which every norm takes (mean, var) inputs, N×C each (named as ``norm_stats.stats_names``)."""
    ops = _opset()
    out = model.clone()
    from openvino import PartialShape

    axes = ops.constant([2, 3])
    params = []
    for (mean_name, var_name), op in _named_norms(out):
        x = op.input_value(0)
        channels = x.get_partial_shape()[1].get_length()
        mean, var = (ops.parameter(PartialShape([-1, channels]), name=n) for n in (mean_name, var_name))
        for p, n in ((mean, mean_name), (var, var_name)):
            p.output(0).get_tensor().set_names({n})
        params += [mean, var]
        mean4 = ops.unsqueeze(mean, axes)
        if op.get_type_name() == "ReduceMean":  # the image's mean: the given one (the variance is unused)
            op.output(0).replace(mean4.output(0))
            continue
        eps = float(op.get_attributes()["eps"])
        sd = ops.sqrt(ops.add(ops.unsqueeze(var, axes), ops.constant(np.float32(eps))))
        op.output(0).replace(ops.divide(ops.subtract(x, mean4), sd).output(0))
    out.add_parameters(params)
    return out
