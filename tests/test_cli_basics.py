import subprocess
import sys

from typer.testing import CliRunner

from percept_cli.app import app
from train.version import __version__

runner = CliRunner()


def test_version_and_help():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"percept {__version__}"
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0 and "doctor" in result.output


def test_doctor_reports_components_and_vgg(vgg_path, monkeypatch):
    monkeypatch.setenv("PERCEPT_VGG_WEIGHTS", str(vgg_path))
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 0, result.output
    for word in ("torch", "onnxruntime", "tensorrt", "VGG-16 weights", vgg_path.name):
        assert word in result.output


def test_console_script_runs_as_module():
    out = subprocess.run([sys.executable, "-m", "percept_cli", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and __version__ in out.stdout
