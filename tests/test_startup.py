"""The command line answers at once: help, ``percept models`` and usage errors never import torch, ONNX or an
inference runtime (each costs seconds; benchmarks/startup.py times them)."""

import json
import subprocess
import sys

import pytest
import typer

from percept.cli.app import app

HEAVY = ("torch", "onnx", "onnxruntime", "openvino", "ml_dtypes", "ray", "av", "spandrel", "lpips")
# Runs ``percept ARGS`` in a fresh interpreter, then prints its exit code and the heavy modules it imported.
CHILD = """
import json, sys
sys.argv = ["percept", *{args!r}]
from percept.cli.app import main
try:
    main()
    code = 0
except SystemExit as exc:
    code = exc.code
heavy = sorted({{m.split(".")[0] for m in sys.modules}} & set({heavy!r}))
print("\\n" + json.dumps({{"code": code, "heavy": heavy}}))
"""
COMMANDS = sorted(typer.main.get_command(app).commands)


def run_percept(*args: str) -> tuple[int, list[str]]:
    res = subprocess.run([sys.executable, "-c", CHILD.format(args=list(args), heavy=HEAVY)], capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stderr
    outcome = json.loads(res.stdout.splitlines()[-1])
    return outcome["code"], outcome["heavy"]


CASES = [
    (["--help"], 0),
    *[([name, "--help"], 0) for name in COMMANDS],
    (["models"], 0),
    (["models", "--json"], 0),
    (["upscale", "--scale"], 2),  # an option without its value
    (["nosuchcommand"], 2),
]


@pytest.mark.parametrize("args,code", CASES, ids=[" ".join(args) for args, _ in CASES])
def test_help_models_and_usage_errors_import_nothing_heavy(args, code):
    exit_code, heavy = run_percept(*args)
    assert not heavy, f"percept {' '.join(args)} imported {heavy}"
    assert exit_code == code


def test_every_command_is_checked():
    assert {"stylize", "upscale", "train-style", "export", "models", "doctor"} <= set(COMMANDS)
