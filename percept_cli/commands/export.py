"""``percept export``: a model file to one self-contained ONNX file, checked against PyTorch."""

from __future__ import annotations

from pathlib import Path

import typer

from percept.cli.errors import UserError
from percept.core.zoo import resolve_model
from percept.engines.errors import EngineError
from percept.engines.onnx_opset import DEFAULT_OPSET


def _shape(c) -> str:
    return "x".join(map(str, c.shape))


def export(
    model: str = typer.Argument(..., help="Model file (.safetensors) or shipped model name."),
    out: Path = typer.Option(None, "--out", "-o", help="Output .onnx file (default: MODEL.onnx / MODEL.fp16.onnx)."),
    opset: int = typer.Option(DEFAULT_OPSET, "--opset", help="ONNX opset."),
    fp16: bool = typer.Option(False, "--fp16", help="FP16 graph with FP32 inputs/outputs; instance norm in FP32 "
                              "(what TensorRT >= 11 and TensorRT-RTX need for FP16 engines)."),
    static: str = typer.Option(None, "--static", metavar="HxW", help="Fix height and width (batch stays dynamic)."),
) -> None:
    """Export to ONNX (dynamic batch/height/width, model metadata inside) and check it with onnxruntime."""
    from percept.engines.cache import FP32_TOLERANCE
    from percept.engines.export import export_model, parse_hw

    path = resolve_model(model)
    out = out or Path(f"{path.stem}{'.fp16' if fp16 else ''}.onnx")
    try:
        hw = parse_hw(static) if static else None
        result = export_model(path, out, opset=opset, fp16=fp16, static=hw)
    except EngineError as exc:
        raise UserError(str(exc)) from None
    shapes = f"static {hw[0]}x{hw[1]}, dynamic batch" if hw else "dynamic batch, height and width"
    typer.echo(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB, {result.precision}, opset {result.opset}, "
               f"{shapes})")
    worst = max(c.max_abs for c in result.checks)
    typer.echo("onnxruntime vs PyTorch (FP32 graph): max abs error "
               + ", ".join(f"{c.max_abs:.2e} at {_shape(c)}" for c in result.checks))
    if fp16:
        typer.echo("FP16 vs FP32 graph: " + ", ".join(f"max {c.max_abs:.2e} / mean {c.mean_abs:.2e} at {_shape(c)}"
                                                       for c in result.fp16_checks))
    if worst > FP32_TOLERANCE:
        out.unlink(missing_ok=True)
        raise UserError(f"{out}: the export differs from PyTorch by {worst:.2e} (> {FP32_TOLERANCE}); removed it")


PANEL = "Deploy"


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel=PANEL)(export)
