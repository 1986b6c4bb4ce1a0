"""The command line answers at once: help, ``percept models`` and usage errors never import torch, ONNX or an
inference runtime (each costs seconds; benchmarks/startup.py times them)."""

import json
import os
import subprocess
import sys

import pytest
import typer

from percept.cli.app import app, main

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


QUICK_EXIT_CHILD = """
import atexit, pathlib, sys, threading, time
import torch  # a heavy module: the quick exit applies
from percept.cli.quick_exit import exit_now
out = pathlib.Path(sys.argv[1])
atexit.register(lambda: (out / "atexit").write_text("ran"))
def late():
    time.sleep(0.3)
    (out / "thread").write_text("finished")
threading.Thread(target=late).start()
sys.stdout.write("buffered line")  # no newline, stdout is a pipe: still in the buffer
exit_now(3)
"""


def test_the_quick_exit_still_joins_threads_runs_atexit_and_flushes(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # so the line sits in a buffer
    res = subprocess.run([sys.executable, "-c", QUICK_EXIT_CHILD, str(tmp_path)], capture_output=True, text=True,
                         env=env)
    assert res.returncode == 3, res.stderr
    assert res.stdout == "buffered line"
    assert (tmp_path / "atexit").read_text() == "ran"
    assert (tmp_path / "thread").read_text() == "finished"


def test_a_batch_through_the_console_entry_point_writes_its_outputs_and_exit_code(tmp_path):
    """The real entry point (quick exit included): the good file is written whole, the bad one fails the run."""
    import numpy as np
    from PIL import Image

    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(photos / f"ok{i}.png")
    (photos / "broken.jpg").write_bytes(b"not a picture")
    out = tmp_path / "out"
    res = subprocess.run([sys.executable, "-m", "percept.cli", "upscale", str(photos), "--scale", "2",
                          "--out", str(out), "--backend", "torch"], capture_output=True, text=True)
    assert res.returncode == 1, res.stderr
    assert "broken.jpg" in res.stderr + res.stdout
    written = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert len(written) == 2 and all(n.startswith("ok") for n in written), written
    for name in written:
        with Image.open(out / name) as im:
            im.load()  # complete, decodable


def test_main_called_in_process_raises_system_exit_and_never_quick_exits(monkeypatch, capsys):
    """Tests and embedders call ``main``: with torch already imported it must still raise, not end the process."""
    import torch  # noqa: F401  (what would make the console script quick-exit)

    monkeypatch.setattr(sys, "argv", ["percept", "models"])
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code in (0, None)
