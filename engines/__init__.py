"""Deployment side of percept: ONNX export, TensorRT engines, and runtimes behind one interface."""
