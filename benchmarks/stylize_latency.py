"""How long one `percept stylize one_512px.jpg --style wave` takes, first and second run, and where it goes.

The first run (an empty ``$PERCEPT_CACHE_DIR``) exports the model to ONNX and compiles it; the second finds
both in the cache. Each run is a fresh process, as a user runs it; ``python -c "import torch"`` is timed in
the same run as the baseline, because the batch pipeline passes torch tensors and so cannot start faster than
torch imports. The breakdown of a warm run comes from ``python -X importtime`` (imports by top-level package)
and the command's own "done ... in N s" line (decode, model, encode); the rest is opening the runtime
(OpenVINO's compiled blob from its cache), reading the model header and Python's own start. Pause other work on
the machine first.

    python benchmarks/stylize_latency.py [--image PHOTO] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from percept.engines.timing import cpu_name

REPO = Path(__file__).resolve().parents[1]
DEFAULT_IMAGE = REPO.parent / "shared" / "data" / "content" / "chicago.jpg"


def square_512(src: Path, out: Path) -> Path:
    from PIL import Image

    im = Image.open(src).convert("RGB")
    s = min(im.size)
    left, top = (im.width - s) // 2, (im.height - s) // 2
    im.crop((left, top, left + s, top + s)).resize((512, 512), Image.BICUBIC).save(out, quality=92)
    return out


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)}: exit code {res.returncode}\n{res.stderr[-2000:]}")
    return seconds, res.stdout + res.stderr


PACKAGES = ("torch", "openvino", "onnx", "typer", "rich", "pydantic", "PIL", "numpy")


def import_breakdown(cmd: list[str], env: dict[str, str]) -> dict[str, float]:
    """Seconds of import per package of interest (where it was first imported, unless inside another one of
    them, e.g. numpy inside torch), and the rest of all imports under "percept and the rest"."""
    res = subprocess.run([sys.executable, "-X", "importtime", *cmd[1:]], capture_output=True, text=True, env=env)
    totals: dict[str, float] = defaultdict(float)
    stack: list[tuple[int, str]] = []  # (depth, package) of the import lines that enclose the next ones
    everything = 0.0
    for line in reversed(res.stderr.splitlines()):  # parents are printed after their children
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \| ( *)(\S+)$", line)
        if not m:
            continue
        seconds, depth, package = int(m.group(1)) / 1e6, len(m.group(2)) // 2, m.group(3).split(".")[0]
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if depth == 0:
            everything += seconds
        inside = any(p in PACKAGES for _, p in stack)
        if package in PACKAGES and not inside and package not in totals:
            totals[package] = seconds
        stack.append((depth, package))
    totals["percept and the rest"] = everything - sum(totals.values())
    return totals


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", type=Path, default=DEFAULT_IMAGE, help="Photo cropped and resized to 512².")
    ap.add_argument("--repeats", type=int, default=5, help="Warm runs (the best is reported).")
    args = ap.parse_args()
    print(f"CPU: {cpu_name()} ({os.cpu_count()} cores), load average {os.getloadavg()[0]:.2f}, "
          f"Python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="percept-latency-") as tmp:
        tmp = Path(tmp)
        photo = square_512(args.image, tmp / "one_512px.jpg")
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(PYTHONPYCACHEPREFIX=str(tmp / "pycache"), PERCEPT_CACHE_DIR=str(tmp / "cache"))
        stylize = [sys.executable, "-m", "percept.cli", "stylize", str(photo), "--style", "wave",
                   "--out", str(tmp / "out"), "--overwrite"]
        torch_only = [sys.executable, "-c", "import torch"]
        timed(torch_only, env)  # bytecode written, files in the page cache
        first, first_log = timed(stylize, env)
        warm = [timed(stylize, env) for _ in range(args.repeats)]
        torch_s = min(timed(torch_only, env)[0] for _ in range(args.repeats))
        best, log = min(warm)
        imports = import_breakdown(stylize, env)
    work = re.search(r"done 1, .* in ([\d.]+) s", log)
    backend = re.search(r"with wave on (\S+),", log)
    print(f"backend: {backend.group(1) if backend else '?'}; first run said: "
          + "; ".join(line for line in first_log.splitlines() if "prepar" in line or "export" in line)[:200])
    rows = [("first run (empty cache)", first), ("second run (warm cache), best", best),
            ('python -c "import torch" (baseline)', torch_s)]
    width = max(len(r[0]) for r in rows)
    print(f"\n{'run':<{width}}  {'wall s':>7}  {'- import torch s':>16}")
    for label, seconds in rows:
        print(f"{label:<{width}}  {seconds:7.3f}  {seconds - torch_s:16.3f}")
    print("\nwhere a warm run goes (one run with -X importtime, so slightly slower than the best above):")
    for package, seconds in sorted(imports.items(), key=lambda kv: -kv[1]):
        print(f"  import {package:<20} {seconds:6.3f} s")
    if work:
        print(f"  decode + model + encode     {float(work.group(1)):6.3f} s (the command's own line, 0.1 s steps)")
    print(f"  everything else             {best - sum(imports.values()) - (float(work.group(1)) if work else 0):6.3f} s"
          " (interpreter start, runtime open from the compiled cache, model header)")


if __name__ == "__main__":
    main()
