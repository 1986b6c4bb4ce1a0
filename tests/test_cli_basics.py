import subprocess
import sys

from typer.testing import CliRunner

from percept.cli.app import app
from percept.core.version import __version__

runner = CliRunner()


def test_version_and_help():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"percept {__version__}"
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0 and "doctor" in result.output


def test_usage_errors_are_one_error_line_like_percepts_own(tmp_path):
    """An unknown option or a bad value reads like every other percept error: one ``error:`` line, exit 2."""
    cases = [(["stylize", str(tmp_path), "--style", "wave", "--out", "o", "--bogus"], "No such option"),
             (["upscale", str(tmp_path), "--out", "o", "--quality", "200"], "'--quality'"),
             (["no-such-command"], "No such command"),
             (["stylize", str(tmp_path), "--style", "wave", "--out", "o", "--tile", "abc"], "--tile 'abc'")]
    for argv, words in cases:
        result = subprocess.run([sys.executable, "-m", "percept.cli", *argv], capture_output=True, text=True)
        lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
        assert result.returncode == 2, result.stderr
        assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], result.stderr
        assert "Error" not in result.stderr and "Traceback" not in result.stderr
    help_run = subprocess.run([sys.executable, "-m", "percept.cli", "stylize", "-h"], capture_output=True, text=True)
    assert help_run.returncode == 0 and "--strength" in help_run.stdout


def test_doctor_reports_components_and_vgg(vgg_path, monkeypatch):
    monkeypatch.setenv("PERCEPT_VGG_WEIGHTS", str(vgg_path))
    result = runner.invoke(app, ["doctor"], env={"COLUMNS": "250"})  # wide enough not to fold the path
    assert result.exit_code == 0, result.output
    for word in ("torch", "onnxruntime", "tensorrt", "VGG-16 weights", vgg_path.name):
        assert word in result.output


def test_console_script_runs_as_module():
    out = subprocess.run([sys.executable, "-m", "percept.cli", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and __version__ in out.stdout


def test_a_users_own_train_and_engines_modules_do_not_shadow_percept(tmp_path):
    """ML projects often have a train.py (and an engines.py) beside their scripts: percept must still import."""
    for name in ("train.py", "engines.py", "percept_cli.py"):
        (tmp_path / name).write_text("raise SystemExit('user module imported instead of percept')\n")
    code = ("import percept.cli.app, percept.train.networks, percept.engines.select, sys; "
            "print(percept.cli.app.__file__)")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert str(tmp_path) not in out.stdout
    out = subprocess.run([sys.executable, "-m", "percept.cli", "--version"], cwd=tmp_path,
                         capture_output=True, text=True)
    assert out.returncode == 0 and __version__ in out.stdout, out.stderr


def test_help_groups_commands_the_way_people_work_and_shows_no_bool_types():
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "100"})
    out = result.output
    panels = [out.index(f"─ {p} ") for p in ("Process", "Train", "Deploy", "Measure", "Inspect")]
    assert panels == sorted(panels)
    order = [out.index(f"│ {c} ") for c in ("stylize", "upscale", "train-style", "export", "bench", "doctor")]
    assert order == sorted(order)
    assert "<bool>" not in out
    help_text = runner.invoke(app, ["train-style", "--help"], env={"COLUMNS": "200"}).output
    assert "(default: RUN_DIR/NAME.safetensors)" in help_text and "<bool>" not in help_text


def test_doctor_fits_an_80_column_terminal(tmp_path):
    """Without weights configured doctor prints its longest hints; they fit 80 columns and name no repo paths."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "PERCEPT_VGG_WEIGHTS"}
    env.update(COLUMNS="80", TORCH_HOME=str(tmp_path / "torch-home"))  # no cached torchvision weights either
    out = subprocess.run([sys.executable, "-m", "percept.cli", "doctor"], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert max(len(line) for line in out.stdout.splitlines()) <= 80
    assert "--vgg-weights" in out.stdout and "../shared" not in out.stdout
