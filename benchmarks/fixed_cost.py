"""What one photo costs beyond its own work: `percept stylize` of one 512² photo against nine, fresh processes,
caches warm, and where a warm run's time goes.

The per-photo time is the slope between the nine-photo and the one-photo run; the fixed cost is the one-photo
run minus that slope. The breakdown times each step of a warm run in one process, in the order a run takes
them: the imports of the command line, reading the model's header, opening the runtime from its cache,
decoding, the network and encoding. Pause other work on the machine first.

    python benchmarks/fixed_cost.py [--percept .venv-base/bin/percept] [--repeats 5] [--style wave]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONTENT = REPO.parent / "shared" / "data" / "content"


def photos(folder: Path, count: int) -> Path:
    """``count`` 512² JPEGs cut from the shared content photos (the same first photo in every folder)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted(CONTENT.glob("*.jpg"))
    for i in range(count):
        im = Image.open(sources[i % len(sources)]).convert("RGB")
        s = min(im.size)
        left, top = (im.width - s) // 2, (im.height - s) // 2
        im.crop((left, top, left + s, top + s)).resize((512, 512), Image.BICUBIC).save(folder / f"p{i}.jpg",
                                                                                       quality=92)
    return folder


def wall(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def breakdown(one: Path, out: Path, style: str) -> list[tuple[str, float]]:
    """Each step of a warm run, timed in this process (the imports first, so run this in a fresh one)."""
    steps = []
    t = time.perf_counter()
    import percept.cli.app  # noqa: F401  (the commands, typer, rich, numpy, Pillow)
    steps.append(("import the command line (typer, rich, numpy, Pillow, percept)", time.perf_counter() - t))
    t = time.perf_counter()
    from percept.engines.openvino_runtime import openvino_module

    openvino_module()
    steps.append(("import openvino", time.perf_counter() - t))
    from percept.core.zoo import resolve_model
    from percept.engines.model_info import read_model_info
    from percept.engines.select import open_runtime
    from percept.pipeline.imageio import read_image, write_image
    from percept.pipeline.inference import Inferencer

    t = time.perf_counter()
    model = resolve_model(style, kind="style")
    read_model_info(model)
    steps.append(("read the model's header", time.perf_counter() - t))
    t = time.perf_counter()
    runtime = open_runtime(model, device="cpu")
    inferencer = Inferencer(runtime, kind="style")
    steps.append((f"open {runtime.name} {runtime.precision} from the cache (hash, graph, compiled blob)",
                  time.perf_counter() - t))
    t = time.perf_counter()
    picture = read_image(next(one.iterdir()))
    steps.append(("decode the JPEG", time.perf_counter() - t))
    t = time.perf_counter()
    result = inferencer.process(picture)
    steps.append(("the network (and tiling, blending, finishing)", time.perf_counter() - t))
    t = time.perf_counter()
    write_image(out / "p0_out.jpg", result, "JPEG")
    steps.append(("encode the JPEG", time.perf_counter() - t))
    return steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--percept", default=str(Path(sys.executable).with_name("percept")))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--style", default="wave")
    ap.add_argument("--breakdown-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--folder", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.breakdown_only:
        for name, seconds in breakdown(Path(args.folder), Path(tempfile.mkdtemp()), args.style):
            print(f"{seconds:.4f}\t{name}")
        return
    from percept.engines.timing import cpu_name

    work = Path(tempfile.mkdtemp(prefix="percept-fixed-"))
    env = {**os.environ, "PERCEPT_CACHE_DIR": str(work / "cache")}
    one, nine = photos(work / "one", 1), photos(work / "nine", 9)
    runs = {}
    for name, folder in (("one", one), ("nine", nine)):
        cmd = [args.percept, "stylize", str(folder), "--style", args.style, "--out", str(work / f"out-{name}"),
               "--overwrite"]
        wall(cmd, env)  # fills the caches (graph, compiled network)
        runs[name] = [wall(cmd, env) for _ in range(args.repeats)]
    help_times = [wall([args.percept, "--help"], env) for _ in range(args.repeats)]
    t1, t9 = statistics.median(runs["one"]), statistics.median(runs["nine"])
    slope = (t9 - t1) / 8
    print(f"{cpu_name()}, {os.cpu_count()} cores; {args.percept}; median of {args.repeats} fresh processes")
    print("| run | s |\n|---|---|")
    print(f"| `percept --help` | {statistics.median(help_times):.3f} |")
    print(f"| one 512² photo | {t1:.3f} |\n| nine 512² photos | {t9:.3f} |")
    print(f"| per photo (slope) | {slope:.3f} |\n| **fixed cost** (one − slope) | **{t1 - slope:.3f}** |")
    python = str(Path(args.percept).with_name("python"))
    out = subprocess.run([python, __file__, "--breakdown-only", "--folder", str(one), "--style", args.style],
                         capture_output=True, text=True, env=env, check=True).stdout
    print("\n| step of a warm run (one process) | s |\n|---|---|")
    for line in out.strip().splitlines():
        seconds, name = line.split("\t")
        print(f"| {name} | {float(seconds):.3f} |")


if __name__ == "__main__":
    main()
