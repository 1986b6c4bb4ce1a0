"""--detail T: a fidelity upscaler and its perceptual partner blended when the model is opened, on every
backend, to the same pixels as an offline average of their weights; T is part of the settings, and a model
without a partner stops with one line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from process_helpers import photo
from typer.testing import CliRunner

from percept.cli.app import app
from percept.engines.detail import detail_blend
from percept.engines.select import open_runtime
from percept.train.checkpoint import describe, save_model
from percept.train.networks import SubPixelSR


def _net(seed: int) -> SubPixelSR:
    torch.manual_seed(seed)
    net = SubPixelSR(scale=2, channels=8, convs=2)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return net.eval()


@pytest.fixture()
def pair(tmp_path):
    fid, per = _net(0), _net(1)
    info_f, info_p = describe(fid, "fid"), describe(per, "per")
    info_f.detail, info_p.detail = {"role": "fidelity", "partner": "per"}, {"role": "perceptual", "partner": "fid"}
    paths = {"fid": save_model(tmp_path / "fid.safetensors", fid, info_f),
             "per": save_model(tmp_path / "per.safetensors", per, info_p)}
    t = 0.3
    avg = SubPixelSR(scale=2, channels=8, convs=2).eval()
    avg.load_state_dict({k: (1 - t) * fid.state_dict()[k] + t * per.state_dict()[k] for k in fid.state_dict()})
    paths["avg"] = save_model(tmp_path / "avg.safetensors", avg, describe(avg, "avg"))
    paths["alone"] = save_model(tmp_path / "alone.safetensors", fid, describe(fid, "alone"))
    return paths


@pytest.mark.parametrize("backend,precision", [("openvino", "fp32"), ("onnxruntime", "fp32"), ("torch", "fp32")])
def test_blend_when_opened_equals_the_offline_average(pair, backend, precision, tmp_path, monkeypatch):
    monkeypatch.setenv("PERCEPT_CACHE_DIR", str(tmp_path / "cache"))
    x = np.random.default_rng(0).random((1, 3, 12, 14), dtype=np.float32)
    for given in ("fid", "per"):  # either file of the pair opens it
        blend = detail_blend(pair[given], 0.3)
        blended = open_runtime(pair[given], backend=backend, device="cpu", precision=precision, blend=blend)
        offline = open_runtime(pair["avg"], backend=backend, device="cpu", precision=precision)
        assert np.abs(blended.run(x) - offline.run(x)).max() < 1e-5
    ends = [open_runtime(pair["fid"], backend=backend, device="cpu", precision=precision,
                         blend=detail_blend(pair["fid"], t)).run(x) for t in (0.0, 1.0)]
    alone = [open_runtime(pair[k], backend=backend, device="cpu", precision=precision).run(x) for k in ("fid", "per")]
    assert np.abs(ends[0] - alone[0]).max() < 1e-5 and np.abs(ends[1] - alone[1]).max() < 1e-5


def test_upscale_detail_end_to_end_and_in_the_settings(pair, tmp_path, monkeypatch):
    monkeypatch.setenv("PERCEPT_CACHE_DIR", str(tmp_path / "cache"))
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(photo(20, 24)).save(src / "p.png")
    runner = CliRunner()

    def upscale(*extra: str):
        return runner.invoke(app, ["upscale", str(src), "--model", str(pair["fid"]), "--out", str(tmp_path / "o"),
                                   "--json-report", str(tmp_path / "r.json"), *extra])

    res = upscale("--detail", "0.3")
    assert res.exit_code == 0, res.output
    first = np.asarray(Image.open(tmp_path / "o" / "p_x2.png"), np.int16)
    assert upscale("--detail", "0.3").exit_code == 0  # the same T: skipped
    assert json.loads((tmp_path / "r.json").read_text())["files"][0]["status"] == "skipped"
    assert upscale("--detail", "1").exit_code == 0  # another T: made again
    assert json.loads((tmp_path / "r.json").read_text())["files"][0]["status"] == "done"
    assert np.abs(np.asarray(Image.open(tmp_path / "o" / "p_x2.png"), np.int16) - first).max() > 0
    res = runner.invoke(app, ["upscale", str(src), "--model", str(pair["alone"]), "--detail", "0.5",
                              "--out", str(tmp_path / "o2")])
    assert res.exit_code == 2 and "partner" in res.output and "Traceback" not in res.output
