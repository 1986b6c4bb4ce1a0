"""percept's FP16 ONNX conversion against onnxconverter-common's, on ONNX Runtime (CPU), per image size.

    python benchmarks/fp16_converters.py [--model starry-night] [--sizes 512 1024]

Both convert the same FP32 export with FP32 inputs/outputs; onnxconverter-common keeps the ops in its
default block list (and ``--keep-norm`` adds InstanceNormalization to it, as percept's converter does).
Printed: mean and max |difference| from the FP32 graph in 0..255 levels, on a smooth synthetic photo.
Caveat: ONNX Runtime's CPU provider has no FP16 convolution, so it runs these graphs through inserted
casts in FP32: what differs here is the rounding at each graph's FP16/FP32 boundaries, not FP16 arithmetic
(TensorRT on a GPU computes in FP16 for real). It still shows whether two converters build the same graph.
NVIDIA ModelOpt AutoCast is not measured: ``nvidia-modelopt[onnx]`` installs cupy-cuda12x and replaces
onnxruntime with onnxruntime-gpu, far beyond what a conversion step may weigh.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from percept.core.zoo import resolve_model
from percept.engines.export import export_model
from percept.engines.fp16 import convert_to_fp16
from percept.engines.ort_runtime import session_options


def photo(side: int) -> np.ndarray:
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32) / side
    img = np.stack([xx, yy, 0.5 + 0.4 * np.sin(12 * xx) * np.cos(9 * yy)])[None]
    return np.ascontiguousarray(img, dtype=np.float32)


def run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    s = ort.InferenceSession(model.SerializeToString(), session_options(), providers=["CPUExecutionProvider"])
    return np.clip(s.run(None, {s.get_inputs()[0].name: x})[0].astype(np.float32), 0, 1) * 255


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="starry-night")
    ap.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    args = ap.parse_args()
    from onnxconverter_common import float16

    with tempfile.TemporaryDirectory() as tmp:
        path = export_model(resolve_model(args.model), Path(tmp) / "m.onnx").path
        fp32 = onnx.load(str(path))
    block = list(float16.DEFAULT_OP_BLOCK_LIST)
    candidates = {
        "percept engines/fp16.py": convert_to_fp16(fp32),
        "onnxconverter-common (default block list)": float16.convert_float_to_float16(fp32, keep_io_types=True),
        "onnxconverter-common + InstanceNormalization kept": float16.convert_float_to_float16(
            fp32, keep_io_types=True, op_block_list=[*block, "InstanceNormalization"]),
    }
    print(f"{args.model}: |FP16 graph − FP32 graph| on ONNX Runtime CPU, 0..255 levels")
    print(f"{'converter':<52}" + "".join(f"{f'{s}² mean':>12}{'max':>8}" for s in args.sizes))
    refs = {s: run(fp32, photo(s)) for s in args.sizes}
    for name, model in candidates.items():
        cells = []
        for s in args.sizes:
            try:
                d = np.abs(run(model, photo(s)) - refs[s])
                cells.append(f"{d.mean():>12.3f}{d.max():>8.1f}")
            except Exception as exc:  # a graph ONNX Runtime cannot run is a result too
                cells.append(f"{'fails: ' + type(exc).__name__:>20}")
        print(f"{name:<52}" + "".join(cells))


if __name__ == "__main__":
    main()
