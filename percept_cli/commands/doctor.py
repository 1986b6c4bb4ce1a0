"""``percept doctor``: what this machine offers percept, and where the VGG weights come from."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table


def vgg_status() -> tuple[bool, str]:
    from percept.core.devices import torch_installed
    from percept.core.extras import install_hint

    if not torch_installed():
        return False, f"only training and eval-sr need them, with PyTorch ({install_hint('train')})"
    from percept.train.vgg import HOW_TO_PROVIDE, VGGWeightsError, find_weights

    try:
        source = find_weights()
    except VGGWeightsError as exc:
        return False, str(exc)
    if source.path is None:
        return False, "not found locally; torchvision would try to download them. To work offline: " + HOW_TO_PROVIDE
    return True, f"{source.path} ({source.origin})"


def doctor() -> None:
    """Print what is available: the extras, torch and its devices, onnxruntime providers, TensorRT, VGG weights."""
    from percept.engines.availability import components

    table = Table(title="percept doctor", show_lines=False)
    table.add_column("component")
    table.add_column("status")
    table.add_column("detail", overflow="fold")
    for c in components():
        table.add_row(c.name, "[green]ok[/]" if c.available else "[yellow]missing[/]", escape(c.detail))
    ok, detail = vgg_status()
    table.add_row("VGG-16 weights", "[green]ok[/]" if ok else "[yellow]missing[/]", escape(detail))
    Console().print(table)  # the terminal's width (80 when not a terminal): no line wider than the screen


PANEL = "Inspect"


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel=PANEL)(doctor)
