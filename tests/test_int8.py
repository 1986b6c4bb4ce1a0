"""int8 forms: made by the quantiser, found only for the model they were made from, run by OpenVINO close to
fp32 (tiles sharing statistics too), shipped for every zoo model, and the default only where they pay."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("openvino")

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def photos(side: int, count: int, offset: int = 0) -> list[np.ndarray]:
    """Crops of the sample photos, 1×3×side×side in [0, 1]."""
    from PIL import Image

    out = []
    files = sorted(p for p in EXAMPLES.iterdir() if p.suffix in (".png", ".jpg"))
    for k in range(count):
        im = Image.open(files[(k + offset) % len(files)]).convert("RGB").resize((2 * side, 2 * side))
        a = np.asarray(im, np.float32) / 255
        y, x = (k * 37) % side, (k * 53) % side
        out.append(np.ascontiguousarray(a[y:y + side, x:x + side].transpose(2, 0, 1)[None]))
    return out


@pytest.fixture()
def wave_form(tmp_path, monkeypatch):
    """A copy of the shipped wave model with an int8 form made beside it on small crops."""
    pytest.importorskip("nncf")
    monkeypatch.setenv("PERCEPT_CACHE_DIR", str(tmp_path / "cache"))
    from percept.core.zoo import resolve_model
    from percept.engines.int8 import form_beside, make_form

    model = tmp_path / "wave.safetensors"
    shutil.copyfile(resolve_model("wave"), model)
    form = make_form(model, photos(128, 8), photos(128, 2, offset=1), out=form_beside(model))
    return model, form


def test_the_quantiser_makes_a_form_close_to_fp32_and_the_runtime_finds_it(wave_form):
    from percept.engines.int8 import find_form
    from percept.engines.select import open_runtime

    model, form = wave_form
    assert form.xml.is_file() and form.bin.is_file() and form.record.is_file()
    assert find_form(model) == form
    record = json.loads(form.record.read_text())
    assert record["source"] == "wave.safetensors" and "/" not in record["source"]
    int8 = open_runtime(model, backend="openvino", precision="int8")
    fp32 = open_runtime(model, backend="openvino", precision="fp32")
    assert int8.precision == "int8"
    x = photos(128, 1, offset=3)[0]
    a, b = int8.run(x), fp32.run(x)
    diff = np.abs(np.round(a * 255) - np.round(b * 255))
    assert diff.mean() < 5.0  # a broken quantisation (wrong ranges, wrong layout) is tens of levels off
    assert 0 < diff.mean()  # and it really runs the 8-bit graph, not the float one


def test_a_changed_model_file_never_gets_an_old_form(wave_form):
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    from percept.engines.errors import EngineError
    from percept.engines.int8 import find_form
    from percept.engines.select import open_runtime

    model, _ = wave_form
    with safe_open(str(model), "np") as f:
        metadata = dict(f.metadata())
    metadata["description"] = metadata.get("description", "") + " (retouched)"
    save_file(load_file(str(model)), str(model), metadata=metadata)  # same weights, another file
    assert find_form(model) is None
    with pytest.raises(EngineError, match="no int8 form here; make one with: percept quantize"):
        open_runtime(model, backend="openvino", precision="int8")


def test_tiles_share_statistics_in_int8(wave_form):
    """The int8 graph measures and imposes instance-norm statistics: a picture run with its own measured
    statistics imposed comes out as when it normalises itself, while another picture's statistics change it."""
    from percept.engines.select import open_runtime

    model, _ = wave_form
    rt = open_runtime(model, backend="openvino", precision="int8")
    assert rt.shared_stats
    x, other = photos(128, 2, offset=2)
    own = rt.run_with_stats(x, [rt.measure_stats(x)])
    borrowed = rt.run_with_stats(x, [rt.measure_stats(other)])
    plain = rt.run(x)
    assert np.abs(own - plain).mean() * 255 < 1.5
    assert np.abs(borrowed - plain).mean() * 255 > 4 * np.abs(own - plain).mean() * 255


def test_the_statistics_surgery_is_exact_on_a_float_graph(tmp_path, monkeypatch):
    """The OpenVINO-model surgery the int8 forms use gives fp32's own output when a picture's own statistics
    are imposed (any difference in int8 comes from OpenVINO's 8-bit kernels, not from the surgery)."""
    monkeypatch.setenv("PERCEPT_CACHE_DIR", str(tmp_path / "cache"))
    from percept.core.zoo import resolve_model
    from percept.engines.cache import cached_onnx
    from percept.engines.norm_stats import stats_from_outputs, stats_inputs
    from percept.engines.openvino_runtime import shared_core
    from percept.engines.ov_norm_stats import ov_with_stats_inputs, ov_with_stats_outputs

    core = shared_core()
    model = core.read_model(str(cached_onnx(resolve_model("udnie"))))
    cfg = {"INFERENCE_PRECISION_HINT": "f32"}
    x = photos(96, 1)[0]
    plain = np.array(core.compile_model(model, "CPU", cfg)(x)[0])
    measured = core.compile_model(ov_with_stats_outputs(model), "CPU", cfg)(x)
    stats = stats_from_outputs([measured[i] for i in range(1, len(measured))])
    imposing = ov_with_stats_inputs(model)
    names = [p.output(0).get_any_name() for p in imposing.get_parameters()]
    request = core.compile_model(imposing, "CPU", cfg).create_infer_request()
    values = dict(zip(names, [x, *stats_inputs([stats])]))
    y = request.infer({p.get_any_name(): values[p.get_any_name()] for p in request.model_inputs})[0]
    assert np.abs(y - plain).max() < 1e-3


def test_every_shipped_model_has_a_current_form_within_its_bound():
    from percept.core.zoo import list_models
    from percept.engines.int8 import bound_for, find_form

    for m in list_models():
        form = find_form(m.path)
        assert form is not None, f"{m.name}: no int8 form for this model file (tools/make_int8_forms.py)"
        assert form.check is not None and form.check.within(bound_for(m.info)), f"{m.name}: {form.check}"
        assert form.held_out is not None and form.held_out.photos == 64, f"{m.name}: no held-out check"
        assert form.xml.parent == m.path.parent


def test_int8_is_the_default_only_where_it_pays(tmp_path, monkeypatch):
    """The verdict follows the timing on this CPU and is kept, so the timing runs once per model."""
    monkeypatch.setenv("PERCEPT_CACHE_DIR", str(tmp_path / "cache"))
    from percept.core.zoo import resolve_model
    from percept.engines import int8_choice

    timings = []

    def timed(onnx_path, form, float_precision, scale):
        timings.append(float_precision)
        return speeds

    monkeypatch.setattr(int8_choice, "_time_both", timed)
    speeds = (3.0, 1.0)
    verdict = int8_choice.int8_default(resolve_model("candy"), lambda: Path("unused"), "fp32")
    assert verdict.use and "3.0× fp32" in verdict.why
    assert int8_choice.int8_default(resolve_model("candy"), lambda: Path("unused"), "fp32").use
    assert timings == ["fp32"]  # the second run read the kept verdict
    speeds = (1.05, 1.0)
    verdict = int8_choice.int8_default(resolve_model("candy"), lambda: Path("unused"), "bf16")
    assert not verdict.use and "only 1.05× bf16" in verdict.why


def test_int8_defaults_are_in_the_skip_record(tmp_path, monkeypatch):
    """A default int8 run records int8, so a rerun asking for fp32 does not skip its outputs."""
    monkeypatch.setenv("PERCEPT_CACHE_DIR", str(tmp_path / "cache"))
    from percept.cli.commands.process import _model_runner
    from percept.core.model_header import read_info
    from percept.core.zoo import resolve_model
    from percept.engines import int8_choice

    monkeypatch.setattr(int8_choice, "_time_both", lambda *a: (3.0, 1.0))
    path = resolve_model("candy")
    run = _model_runner("auto", "cpu", None, False, False, 0, 1, "auto")(path, read_info(path))
    assert run.precision == "int8"
    monkeypatch.setattr(int8_choice, "_time_both", lambda *a: (1.0, 1.0))
    monkeypatch.setenv("PERCEPT_CACHE_DIR", str(tmp_path / "cache2"))
    run = _model_runner("auto", "cpu", None, False, False, 0, 1, "auto")(path, read_info(path))
    assert run.precision is None


def test_quantize_command_writes_a_form_the_runs_use(tmp_path, monkeypatch):
    pytest.importorskip("nncf")
    from typer.testing import CliRunner

    from percept.cli.app import app
    from percept.core.zoo import resolve_model

    monkeypatch.setenv("PERCEPT_CACHE_DIR", str(tmp_path / "cache"))
    calib = tmp_path / "calib"
    calib.mkdir()
    for k, x in enumerate(photos(64, 6)):
        from PIL import Image

        Image.fromarray((x[0].transpose(1, 2, 0) * 255).astype(np.uint8)).save(calib / f"p{k}.png")
    (calib / "broken.jpg").write_bytes(b"not a jpeg")
    model = tmp_path / "sr.safetensors"
    shutil.copyfile(resolve_model("sr-x2-pixel"), model)
    res = CliRunner().invoke(app, ["quantize", str(model), "--calibration", str(calib), "--photos", "4",
                                   "--check", "2", "-o", str(tmp_path / "shared.int8.xml")])
    assert res.exit_code == 0, res.output
    assert "skipped broken.jpg" in res.output and "int8 against fp32:" in res.output
    assert (tmp_path / "shared.int8.bin").is_file() and (tmp_path / "shared.int8.json").is_file()
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["upscale", str(calib / "p0.png"), "-m", str(model), "-o", str(out),
                                   "--precision", "int8"])
    assert res.exit_code == 0, res.output
    assert (out / "p0.png").exists() or any(out.iterdir())
    res = CliRunner().invoke(app, ["quantize", str(model), "--calibration", str(tmp_path / "nowhere")])
    assert res.exit_code == 2 and "not a folder" in res.output
