"""optimize-style lowers the objective; style-loss scores models and images on the same terms."""

from pathlib import Path

import torch
from typer.testing import CliRunner

from percept.cli.app import app
from percept.train.checkpoint import describe, save_model
from percept.train.networks import TransformNet
from percept.train.optimize import evaluate, optimize_style, style_targets
from percept.train.style_task import StyleOptions, load_style_image


def test_lbfgs_lowers_the_objective(vgg, shared_dir):
    style = load_style_image(shared_dir / "data" / "styles" / "wave.jpg", 64)
    content = load_style_image(shared_dir / "data" / "content" / "chicago.jpg", 48)
    opts = StyleOptions(style_image=Path("wave.jpg"), data=Path("."), name="o")
    start = evaluate(vgg, content, content, style_targets(vgg, style, opts.style_layers), opts)["total"]
    image, history = optimize_style(vgg, content, style, opts, iterations=8)
    assert image.shape == content.shape and 0 <= image.min() and image.max() <= 1
    assert history[-1] < 0.6 * start and history[-1] <= history[0]


def test_style_loss_and_optimize_cli(tmp_path, vgg_path, shared_dir):
    content = shared_dir / "data" / "content" / "tubingen.jpg"
    style = shared_dir / "data" / "styles" / "candy.jpg"
    model = save_model(tmp_path / "m.safetensors", TransformNet(), describe(TransformNet(), "untrained"))
    out = tmp_path / "opt.png"
    common = ["--style-size", "48", "--image-size", "40", "--vgg-weights", str(vgg_path)]
    r = CliRunner().invoke(app, ["optimize-style", str(content), str(style), "--out", str(out), "--iterations", "3",
                                 *common])
    assert r.exit_code == 0, r.output
    assert out.is_file() and "objective" in r.output
    r = CliRunner().invoke(app, ["style-loss", str(model), str(out), "--content", str(content), "--style",
                                 str(style), *common], terminal_width=200)
    assert r.exit_code == 0, r.output
    for word in ("untrained", "opt.png", "content image itself", "total"):
        assert word in r.output
    r = CliRunner().invoke(app, ["style-loss", "no-such-model", "--content", str(content), "--style", str(style),
                                 *common])
    assert r.exit_code == 2 and "no-such-model" in r.output


def test_bf16_autocast_objective_close_to_fp32(vgg, shared_dir):
    from percept.train.devices import cpu_supports_bf16

    torch.manual_seed(0)
    x = load_style_image(shared_dir / "data" / "content" / "amber.jpg", 64)
    net = TransformNet()
    opts = StyleOptions(style_image=Path("s"), data=Path("."), name="o")
    targets = style_targets(vgg, load_style_image(shared_dir / "data" / "styles" / "udnie.jpg", 64), opts.style_layers)
    from percept.train.style_task import objective

    with torch.no_grad():
        ref = sum(objective(vgg, net(x), x, targets, opts).values()).item()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cpu_supports_bf16() or True):
            low = sum(objective(vgg, net(x), x, targets, opts).values()).item()
    assert abs(low - ref) / ref < 0.05
