import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from percept.train.checkpoint import ModelFileError, describe, load_model, read_info, save_model
from percept.train.networks import SRNet, TransformNet


def _trained_like(net):
    torch.manual_seed(1)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.01 * torch.randn_like(p))
    return net.eval()


@pytest.mark.parametrize("net", [TransformNet(norm="batch", upsample="transposed"), SRNet(scale=8)])
def test_saved_model_reloads_bit_identical(tmp_path, net):
    net = _trained_like(net)
    path = save_model(tmp_path / "m.safetensors", net, describe(net, "demo", training={"iterations": 3}))
    again, info = load_model(path)
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(net(x), again(x))
    assert info.kind == net.kind and info.scale == net.scale and info.size_rule == net.size_rule
    assert info.training == {"iterations": 3} and info.name == "demo" and info.percept_version


def test_style_image_hash_and_half_storage(tmp_path):
    style = tmp_path / "style.jpg"
    style.write_bytes(b"pretend image bytes")
    net = _trained_like(TransformNet())
    path = save_model(tmp_path / "h.safetensors", net, describe(net, "s", style_image=style), half=True)
    assert all(v.dtype == torch.float16 for v in load_file(str(path)).values() if v.is_floating_point())
    info = read_info(path)
    assert info.style_image["name"] == "style.jpg" and len(info.style_image["sha256"]) == 64
    again, _ = load_model(path)
    assert all(p.dtype == torch.float32 for p in again.parameters())
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert (net(x) - again(x)).abs().max() < 1e-2


def test_wrong_or_missing_key_fails_clearly(tmp_path):
    net = TransformNet()
    path = save_model(tmp_path / "m.safetensors", net, describe(net, "x"))
    state = load_file(str(path))
    meta = {"percept": read_info(path).to_json()}
    missing = dict(state)
    missing.pop("encoder.0.0.1.weight")
    save_file(missing, str(tmp_path / "missing.safetensors"), metadata=meta)
    with pytest.raises(ModelFileError, match=r"missing\.safetensors: .*missing weights encoder\.0\.0\.1\.weight"):
        load_model(tmp_path / "missing.safetensors")
    renamed = dict(state)
    renamed["bogus.weight"] = renamed.pop("tail.1.weight" if "tail.1.weight" in renamed else "decoder.2.1.weight")
    save_file(renamed, str(tmp_path / "renamed.safetensors"), metadata=meta)
    with pytest.raises(ModelFileError, match="unexpected weights bogus.weight"):
        load_model(tmp_path / "renamed.safetensors")
    save_file(state, str(tmp_path / "nometa.safetensors"))
    no_meta = r"nometa\.safetensors: not a percept model \(no percept metadata\), and spandrel knows no"
    with pytest.raises(ModelFileError, match=no_meta):
        load_model(tmp_path / "nometa.safetensors")
    bad_arch = json.loads(meta["percept"])
    bad_arch["config"]["arch"] = "Unknown"
    save_file(state, str(tmp_path / "arch.safetensors"), metadata={"percept": json.dumps(bad_arch)})
    with pytest.raises(ModelFileError, match="unknown architecture"):
        load_model(tmp_path / "arch.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 10)
    with pytest.raises(ModelFileError, match="junk.safetensors: not a percept model"):
        load_model(tmp_path / "junk.safetensors")
    with pytest.raises(ModelFileError, match="not found"):
        load_model(tmp_path / "absent.safetensors")


def test_written_files_get_the_usual_permissions(tmp_path):
    import os
    import stat

    from percept.core.atomic import atomic_write

    old = os.umask(0o022)
    os.umask(old)
    path = atomic_write(tmp_path / "a.txt", lambda p: p.write_text("x"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~old


def test_model_headers_keep_names_not_the_trainers_folders(tmp_path):
    """A shared model must not carry its trainer's folder layout or user name: the training record keeps the
    names of the files and folders it was given, and no shipped model's header holds an absolute path."""
    import json

    from percept.core.model_header import METADATA_KEY, read_info
    from percept.core.zoo import list_models
    from percept.train.checkpoint import describe, save_model
    from percept.train.networks import SubPixelSR

    net = SubPixelSR(2, 4, 0)
    info = describe(net, "m", training={"data": "/home/ann/Pictures/train/", "init": "C:\\Users\\ann\\m.safetensors",
                                        "style_image": "/home/ann/paint.jpg", "lr": 1e-3})
    path = save_model(tmp_path / "m.safetensors", net, info)
    saved = read_info(path).training
    assert saved == {"data": "train", "init": "m.safetensors", "style_image": "paint.jpg", "lr": 1e-3}
    for model in list_models():
        from safetensors import safe_open

        with safe_open(str(model.path), framework="numpy") as f:
            header = json.loads(f.metadata()[METADATA_KEY])
        text = json.dumps(header["training"])
        assert "/home/" not in text and "/work/" not in text and "/root" not in text, model.name
        assert not any(isinstance(v, str) and v.startswith("/") for v in header["training"].values()), model.name


def test_a_header_that_lies_is_refused_in_one_line_before_anything_is_built(tmp_path):
    """A model file is input like any other: a header describing a network far larger than its tensors, nested
    thousands of levels deep, or with a size rule of 0 ends in one ModelFileError line on the torch path and on
    the torch-free graph path, without allocating the network it describes."""
    import json

    from safetensors.numpy import load_file as load_numpy
    from safetensors.numpy import save_file as save_numpy

    from percept.core.model_header import METADATA_KEY
    from percept.engines.onnx_graph import build_model_graph
    from percept.train.networks import SubPixelSR

    net = SubPixelSR(2, 8, 1)
    path = save_model(tmp_path / "m.safetensors", net, describe(net, "m"))
    tensors = load_numpy(str(path))
    header = json.loads(read_info(path).to_json())

    def lying(name: str, **changes) -> Path:
        record = {**header, **changes}
        out = tmp_path / f"{name}.safetensors"
        text = changes.pop("raw", None) or json.dumps(record)
        save_numpy(tensors, str(out), metadata={METADATA_KEY: text, "format": "percept-model/1"})
        return out

    cases = {
        "huge": (lying("huge", config={**header["config"], "channels": 4000, "convs": 600}), "parameters|shape"),
        "wide": (lying("wide", config={**header["config"], "channels": 16}), "shape"),
        "zero": (lying("zero", size_rule=0), "size_rule"),
        "deep": (lying("deep", raw='{"kind": ' + "[" * 5000 + "]" * 5000 + "}"), "corrupt percept metadata"),
    }
    for name, (bad, words) in cases.items():
        with pytest.raises(ModelFileError, match=words) as exc:
            load_model(bad)
        assert "\n" not in str(exc.value), name
        if name in ("huge", "wide"):
            with pytest.raises(ModelFileError):
                build_model_graph(bad)
