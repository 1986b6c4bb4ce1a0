"""How fast the command line answers: help, ``percept models`` and a usage error, against importing torch.

None of these imports torch or an inference runtime (tests/test_startup.py checks it), so each should cost
a fraction of ``python -c "import torch"``, which is timed in the same run as the baseline. Every command
runs in a fresh process as a user runs it (``python -m percept.cli``); wall time, best of ``--repeats``
after one untimed run. Bytecode is kept in a temporary folder (``PYTHONPYCACHEPREFIX``), as an installed
package has it, even where ``PYTHONDONTWRITEBYTECODE`` is set. Pause other work on the machine first.

    python benchmarks/startup.py
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

from percept.engines.timing import cpu_name, measure

PERCEPT = [sys.executable, "-m", "percept.cli"]
# (what the table shows, the command line, the exit code it must end with)
COMMANDS = [
    ("percept --help", [*PERCEPT, "--help"], 0),
    ("percept models", [*PERCEPT, "models"], 0),
    ("percept upscale --help", [*PERCEPT, "upscale", "--help"], 0),
    ("percept upscale --scale (usage error)", [*PERCEPT, "upscale", "--scale"], 2),
    ('python -c "import torch" (baseline)', [sys.executable, "-c", "import torch"], 0),
]


def run(cmd: list[str], code: int, env: dict[str, str]) -> None:
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if res.returncode != code:
        raise SystemExit(f"{' '.join(cmd)}: exit code {res.returncode}, expected {code}\n{res.stderr}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5, help="Timed runs per command (the best is reported).")
    args = ap.parse_args()
    print(f"CPU: {cpu_name()} ({os.cpu_count()} cores), load average {os.getloadavg()[0]:.2f}, "
          f"Python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="percept-pycache-") as cache:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = cache
        rows = []
        for label, cmd, code in COMMANDS:
            timing, _ = measure(lambda cmd=cmd, code=code: run(cmd, code, env), warmup=1, repeats=args.repeats)
            rows.append((label, timing.best, timing.median))
    baseline = rows[-1][1]
    width = max(len(label) for label, _, _ in rows)
    print(f"{'command':<{width}}  {'best s':>7}  {'median s':>8}  {'× import torch':>14}")
    for label, best, median in rows:
        print(f"{label:<{width}}  {best:7.3f}  {median:8.3f}  {best / baseline:14.2f}")


if __name__ == "__main__":
    main()
