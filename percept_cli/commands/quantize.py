"""``percept quantize``: a model's int8 form for OpenVINO, calibrated on the user's photos and checked."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from percept.cli.errors import UserError
from percept.core.zoo import resolve_model
from percept.engines.errors import EngineError


def quantize(
    model: str = typer.Argument(..., help="Model file (.safetensors) or shipped model name."),
    calibration: Path = typer.Option(..., "--calibration", help="Folder of photos like those the model will see "
                                     "(64 are used; 16 more check the result)."),
    photos: int = typer.Option(64, "--photos", min=4, help="Calibration photos to use."),
    check: int = typer.Option(16, "--check", min=0, help="Further photos on which the int8 form is compared with "
                              "fp32 (and on which accuracy control decides which layers stay floating point)."),
    out: Path = typer.Option(None, "--out", "-o", help="Write the form here (NAME.int8.xml, with .bin and .json "
                             "beside it) as well as into the cache; put it beside the model to share them together."),
) -> None:
    """Make a model's int8 form (8-bit weights and activations, for OpenVINO): --precision int8 then uses it."""
    from percept.core.model_header import read_info
    from percept.engines.int8 import FORM_SUFFIX, bound_for, copy_form, load_nncf, make_form
    from percept.pipeline.calibration import calibration_side, split_calibration

    path = resolve_model(model)
    if out is not None and not out.name.endswith(FORM_SUFFIX):
        raise UserError(f"{out}: an int8 form's file name ends in {FORM_SUFFIX}")
    info = read_info(path)
    try:
        load_nncf()
        side = calibration_side(info)
        used, checked, skipped = split_calibration(calibration, photos, check, info)
        for name in skipped:
            typer.echo(f"skipped {name}", err=True)
        typer.echo(f"quantising {path.stem} on {len(used)} photos of {calibration} (long side {side} px)...")
        start = time.perf_counter()
        form = make_form(path, used, checked, calibration_note=f"{len(used)} photos of {calibration.name}, long side "
                         f"{side} px", log=typer.echo)
        if out is not None:
            form = copy_form(form, out)
    except (EngineError, ValueError) as exc:
        raise UserError(str(exc)) from None
    typer.echo(f"wrote {form.xml} in {time.perf_counter() - start:.1f} s")
    if form.check is not None:
        verdict = "within" if form.within(bound_for(info)) else "NOT within"
        bound = bound_for(info)
        typer.echo(f"int8 against fp32: {form.check.describe()} ({verdict} percept's bound for a default: "
                   f"{bound.mean} mean, {bound.p999:.0f} at the 99.9th percentile)")


PANEL = "Deploy"


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel=PANEL)(quantize)
