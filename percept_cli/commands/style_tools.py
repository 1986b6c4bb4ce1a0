"""``percept optimize-style`` and ``percept style-loss``: the optimisation baseline and the shared yardstick."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from percept.cli.errors import UserError
from percept.core.progress import ProgressReporter
from percept.core.training_defaults import STYLE_LAYERS, STYLE_WEIGHT_HELP
from percept.core.zoo import resolve_model

if TYPE_CHECKING:
    import torch

    from percept.train.style_task import StyleOptions


STYLE_SIZE_HELP = ("Long side of the style image (0 keeps it). train-style reads it at 512, as the shipped styles "
                   "were trained: pass 512 to score on their objective.")


def load_content(path: Path, long_side: int) -> torch.Tensor:
    """A content photo as 1×3×H×W with its long side resized to ``long_side`` (0 keeps it)."""
    from PIL import Image

    from percept.train.data import load_rgb, to_tensor

    try:
        img = load_rgb(path)
    except FileNotFoundError:
        raise UserError(f"{path}: content image not found") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: cannot read content image ({exc})") from None
    if long_side:
        s = long_side / max(img.size)
        img = img.resize((max(1, round(img.width * s)), max(1, round(img.height * s))), Image.BICUBIC)
    return to_tensor(img)[None]


def _opts(style: Path, style_size: int, content_weight: float, style_weight: float, tv_weight: float,
          vgg_weights: str | None) -> StyleOptions:
    from percept.train.style_task import StyleOptions

    return StyleOptions(style_image=style, data=Path("."), name="objective", style_size=style_size or None,
                        content_weight=content_weight, style_weight=style_weight, tv_weight=tv_weight,
                        style_layers=STYLE_LAYERS, vgg_weights=vgg_weights)


def _style(path: Path, size: int) -> torch.Tensor:
    from percept.train.data import DataError
    from percept.train.style_task import load_style_image

    try:
        return load_style_image(path, size or None)
    except DataError as exc:
        raise UserError(str(exc)) from None


def _print_terms(title: str, rows: dict[str, dict[str, float]]) -> None:
    table = Table(title=title)
    table.add_column("result")
    for col in ("content", "style", "tv", "total"):
        table.add_column(col, justify="right")
    for name, terms in rows.items():
        table.add_row(name, *(f"{terms[c]:.4g}" for c in ("content", "style", "tv", "total")))
    Console().print(table)


def optimize_style_cmd(
    content: Path = typer.Argument(..., help="Content photo."),
    style: Path = typer.Argument(..., help="Style image."),
    out: Path = typer.Option(..., "--out", help="Where to write the result (PNG/JPEG by suffix)."),
    iterations: int = typer.Option(300, "--iterations", help="L-BFGS iterations."),
    image_size: int = typer.Option(256, "--image-size", help="Long side of the content image (0 keeps it)."),
    style_size: int = typer.Option(384, "--style-size", help=STYLE_SIZE_HELP),
    content_weight: float = typer.Option(1.0, "--content-weight"),
    style_weight: float = typer.Option(1.5, "--style-weight", help=STYLE_WEIGHT_HELP),
    tv_weight: float = typer.Option(1e-5, "--tv-weight"),
    vgg_weights: str = typer.Option(None, "--vgg-weights"),
) -> None:
    """Gatys et al.'s optimisation method with the same loss network and weights; prints the objective."""
    from percept.train.optimize import evaluate, optimize_style, style_targets
    from percept.train.preview import tensor_to_image
    from percept.train.vgg import VGGLoss

    opts = _opts(style, style_size, content_weight, style_weight, tv_weight, vgg_weights)
    x, s = load_content(content, image_size), _style(style, style_size)
    vgg = VGGLoss(vgg_weights)
    with ProgressReporter(iterations, "optimize-style", log_every=5.0) as progress:
        image, history = optimize_style(vgg, x, s, opts, iterations,
                                        on_iteration=lambda i, v: progress.update(i, objective=v))
    from percept.core.atomic import atomic_path

    with atomic_path(out) as tmp:
        tensor_to_image(image[0]).save(tmp, format=(out.suffix.lstrip(".") or "png").upper().replace("JPG", "JPEG"))
    terms = evaluate(vgg, image, x, style_targets(vgg, s, opts.style_layers), opts)
    _print_terms(f"objective after {iterations} L-BFGS iterations", {str(out): terms})
    start = evaluate(vgg, x, x, style_targets(vgg, s, opts.style_layers), opts)["total"]
    typer.echo(f"objective {terms['total']:.6g} (content image: {start:.6g})")


def style_loss_cmd(
    results: list[str] = typer.Argument(..., help="Model names/files (run on the content image) or stylised images."),
    content: Path = typer.Option(..., "--content", help="The content photo the results were made from."),
    style: Path = typer.Option(..., "--style", help="The style image."),
    image_size: int = typer.Option(256, "--image-size", help="Long side of the content image (0 keeps it)."),
    style_size: int = typer.Option(384, "--style-size", help=STYLE_SIZE_HELP),
    content_weight: float = typer.Option(1.0, "--content-weight"),
    style_weight: float = typer.Option(1.5, "--style-weight", help=STYLE_WEIGHT_HELP),
    tv_weight: float = typer.Option(1e-5, "--tv-weight"),
    vgg_weights: str = typer.Option(None, "--vgg-weights"),
) -> None:
    """The objective (content, style, TV, total) of stylised results, so methods compare on equal terms."""
    import torch

    from percept.train.checkpoint import ModelFileError, load_model
    from percept.train.optimize import evaluate, style_targets
    from percept.train.sizing import run_padded
    from percept.train.vgg import VGGLoss

    opts = _opts(style, style_size, content_weight, style_weight, tv_weight, vgg_weights)
    x, s = load_content(content, image_size), _style(style, style_size)
    vgg = VGGLoss(vgg_weights)
    targets = style_targets(vgg, s, opts.style_layers)
    rows = {"content image itself": evaluate(vgg, x, x, targets, opts)}
    for item in results:
        path = Path(item)
        if path.is_file() and path.suffix.lower() != ".safetensors":
            y = load_content(path, 0)
            if y.shape != x.shape:
                y = torch.nn.functional.interpolate(y, size=x.shape[-2:], mode="bicubic", align_corners=False)
            rows[path.name] = evaluate(vgg, y.clamp(0, 1), x, targets, opts)
            continue
        try:
            net, info = load_model(resolve_model(item, kind="style"))
        except ModelFileError as exc:
            raise UserError(str(exc)) from None
        with torch.no_grad():
            y = run_padded(net, x)
        rows[info.name] = evaluate(vgg, y, x, targets, opts)
    _print_terms(f"objective for {content.name} in the style of {style.name}", rows)


PANEL = "Measure"


def register(app: typer.Typer) -> None:
    app.command("optimize-style", rich_help_panel=PANEL)(optimize_style_cmd)
    app.command("style-loss", rich_help_panel=PANEL)(style_loss_cmd)
