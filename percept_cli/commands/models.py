"""``percept models``: the shipped default models, as a table or JSON."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from percept.core.zoo import DEFAULT_SR, REAL_PHOTO_SR, list_models, real_photo_sr_model


def models(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """List the shipped models (name, kind, scale, upscale default, size, description); names work wherever a
    file does."""
    entries = []
    # `percept upscale` without --model: the clean-input model for pictures without JPEG damage, the real-photo
    # model for JPEG-damaged pictures and clips (percept.pipeline.model_choice); a scale with one model serves both.
    default_for = {name: "all pictures" for name in DEFAULT_SR.values()}
    for scale, name in REAL_PHOTO_SR.items():
        if real_photo_sr_model(scale) is None:
            continue
        default_for[name] = "JPEG photos"
        default_for[DEFAULT_SR[scale]] = "clean pictures"
    for m in list_models():
        use = default_for.get(m.name, "")
        mark = "" if not use else "default" if use == "all pictures" else f"default: {use}"
        entries.append({"name": m.name, "kind": m.info.kind, "scale": m.info.scale, "size_bytes": m.size_bytes,
                        "description": m.info.description, "default": mark,
                        "size_rule": m.info.size_rule, "path": str(m.path)})
    if as_json:
        typer.echo(json.dumps(entries, indent=2))
        return
    # The name column holds only the name, as --model and --style take it; the upscale default has its own.
    table = Table(title="percept models (shipped)")
    for col in ("name", "kind", "scale", "upscale default", "size", "description"):
        table.add_column(col, justify="right" if col in ("scale", "size") else "left")
    for e in entries:
        table.add_row(e["name"], e["kind"], f"×{e['scale']}", default_for.get(e["name"], ""),
                      f"{e['size_bytes'] / 1e6:.1f} MB", e["description"])
    Console().print(table)
    if not entries:
        typer.echo("no models are shipped in this installation", err=True)


PANEL = "Inspect"


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel=PANEL)(models)
