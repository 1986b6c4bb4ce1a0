"""Model-only throughput of a network per backend and precision on this machine, as a Markdown table.

The same measurement as ``percept bench`` (``percept.engines.timing.bench_model``: ``Runtime.run`` on one batch,
no decoding or saving, median of repeats after warm-up), printed for docs/RESULTS.md with the mean
difference as well; without --model it times a seeded untrained TransformNet (speed does not depend on
the weights). Reduced-precision outputs are compared with PyTorch FP32 (images in [0, 1]). A full run
(256², 512², 1024², batch 1) takes a few minutes on 2 cores.

    python benchmarks/backends.py [--sizes 256 512 1024] [--batch 1] [--threads N] [--model FILE] [--no-ort-fp16]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from percept.engines.select import file_kind, resolve_device  # noqa: E402
from percept.engines.timing import (  # noqa: E402
    Planned,
    bench_model,
    machine_info,
    machine_line,
    network_of,
    open_configs,
    plan_configs,
    save_random_model,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", help="percept model file (default: a seeded random TransformNet)")
    parser.add_argument("--warmup", type=int, help="untimed runs (default: 2, 1 from 1024²)")
    parser.add_argument("--repeats", type=int, help="timed runs, median reported (default: 5, 3 from 1024²)")
    parser.add_argument("--no-ort-fp16", action="store_true", help="skip onnxruntime FP16")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    tmp = Path(tempfile.mkdtemp(prefix="percept-bench-"))
    model = Path(args.model) if args.model else save_random_model(tmp / "random-style.safetensors")
    planned, skipped = plan_configs(file_kind(model), device, "all")
    if not args.no_ort_fp16 and not any(p.backend == "onnxruntime" and p.precision == "fp16" for p in planned):
        planned.append(Planned("onnxruntime", "fp16"))
    opened, failed = open_configs(model, planned, device, log=lambda m: print(m, file=sys.stderr))
    print(f"# {model.name}, batch {args.batch}, {device}; {machine_line(machine_info(device))}")
    print("| size | backend | precision | images/s | ms/image | GFLOP/s | × torch fp32 | max abs diff "
          "| mean abs diff |")
    print("|---|---|---|---|---|---|---|---|---|")

    def row(r) -> None:
        precision = "bf16 autocast" if r.backend == "torch" and r.precision == "bf16" else r.precision
        gflops = "-" if r.gflops is None else f"{r.gflops:.0f}"
        print(f"| {r.size}² | {r.backend} | {precision} | {r.images_per_s:.2f} | {r.ms_per_image:.0f} | {gflops} | "
              f"{r.ratio:.2f} | {r.max_abs_diff:.2e} | {r.mean_abs_diff:.2e} |", flush=True)

    _, errors = bench_model(opened, args.sizes, args.batch, args.warmup, args.repeats, net=network_of(model),
                            on_row=row)
    for what, why in skipped + failed + errors:
        print(f"skipped {what}: {why}", file=sys.stderr)


if __name__ == "__main__":
    main()
