"""Run a benchmark script as on an AVX2-only CPU: oneDNN (OpenVINO's and PyTorch's kernels) limited to AVX2 and
OpenVINO's bf16 treated as absent. An emulation on a newer CPU, for a first figure where no AVX2-only
machine is at hand; a real one is the measurement that counts.

    python benchmarks/as_avx2.py benchmarks/e2e_folder.py --folder DIR --model starry-night --backends auto
"""

import os
import runpy
import sys

if os.environ.get("ONEDNN_MAX_CPU_ISA") != "AVX2":  # must be set before any oneDNN library loads
    env = {**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}
    os.execve(sys.executable, [sys.executable, *sys.argv], env)

import percept.engines.openvino_runtime as openvino_runtime  # noqa: E402

openvino_runtime.native_bf16 = lambda: False  # OpenVINO still reports BF16 under the limit, then fails to run it
script, *args = sys.argv[1:]
sys.argv = [script, *args]
runpy.run_path(script, run_name="__main__")
