"""The ONNX opsets of ``percept export``, apart from ``percept.engines.export`` (torch, onnx) so the command
line shows the default in its help without importing either."""

DEFAULT_OPSET = 18  # the dynamo exporter's native opset: no version conversion; TensorRT 10+/ORT parse it
MIN_OPSET = 18  # below it the exporter would try a down-conversion that fails for Pad and keep 18 anyway
