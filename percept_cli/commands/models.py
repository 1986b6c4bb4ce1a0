"""``percept models``: the shipped default models, as a table or JSON."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from percept.cli.zoo import DEFAULT_SR, REAL_PHOTO_SR, list_models, real_photo_sr_model


def models(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """List the shipped models (name, kind, scale, size, description); names work wherever a file does."""
    entries = []
    # `percept upscale` without --model: the clean-input model for pictures without JPEG damage, the real-photo
    # model for JPEG-damaged pictures and clips (percept.cli.model_choice); a scale with one model serves both.
    defaults = {name: "default" for name in DEFAULT_SR.values()}
    for scale, name in REAL_PHOTO_SR.items():
        if real_photo_sr_model(scale) is None:
            continue
        defaults[name] = "default: JPEG photos"
        defaults[DEFAULT_SR[scale]] = "default: clean pictures"
    for m in list_models():
        entries.append({"name": m.name, "kind": m.info.kind, "scale": m.info.scale, "size_bytes": m.size_bytes,
                        "description": m.info.description, "default": defaults.get(m.name, ""),
                        "size_rule": m.info.size_rule, "path": str(m.path)})
    if as_json:
        typer.echo(json.dumps(entries, indent=2))
        return
    table = Table(title="percept models (shipped)")
    for col in ("name", "kind", "scale", "size", "description"):
        table.add_column(col, justify="right" if col in ("scale", "size") else "left")
    for e in entries:
        name = e["name"] + (f" ({e['default']})" if e["default"] else "")
        table.add_row(name, e["kind"], f"×{e['scale']}", f"{e['size_bytes'] / 1e6:.1f} MB", e["description"])
    Console().print(table)
    if not entries:
        typer.echo("no models are shipped in this installation", err=True)


PANEL = "Inspect"


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel=PANEL)(models)
