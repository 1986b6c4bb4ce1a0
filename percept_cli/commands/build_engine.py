"""``percept build-engine``: a TensorRT / TensorRT-RTX engine from an ONNX export, with its JSON record."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from percept.cli.errors import UserError, err_console
from percept.core.zoo import resolve_model
from percept.engines.errors import EngineError

if TYPE_CHECKING:
    from percept.engines.trt_build import Profile


def _profile(onnx_path: Path, low: str | None, opt: str | None, high: str | None) -> Profile:
    from percept.engines.export import read_metadata
    from percept.engines.trt_build import Profile, default_profile, parse_dims

    base = default_profile(read_metadata(onnx_path))
    return Profile(parse_dims(low) if low else base.min, parse_dims(opt) if opt else base.opt,
                   parse_dims(high) if high else base.max)


def _log(message: str) -> None:
    err_console.print(message, markup=False, highlight=False, soft_wrap=True)


def _fmt(dims) -> str:
    return "x".join(map(str, dims))


def build_engine_command(
    model: str = typer.Argument(..., help="ONNX file from `percept export` (a .safetensors model is exported "
                                "first)."),
    fp16: bool = typer.Option(True, "--fp16/--fp32", help="Engine precision."),
    low: str = typer.Option(None, "--min", metavar="NxCxHxW", help="Smallest input shape (default 1x3x64x64)."),
    opt: str = typer.Option(None, "--opt", metavar="NxCxHxW", help="Shape to tune for (default 4x3x512x512)."),
    high: str = typer.Option(None, "--max", metavar="NxCxHxW", help="Largest input shape (default 8x3x1024x1024); "
                             "SR models: these sizes divided by the scale."),
    workspace: float = typer.Option(None, "--workspace", metavar="GB", help="Builder workspace limit in GiB."),
    timing_cache: Path = typer.Option(None, "--timing-cache", help="Timing cache file: loaded if present, saved "
                                      "after the build (classic TensorRT)."),
    out: Path = typer.Option(None, "--out", "-o", help="Engine file (default: MODEL.FLAVOUR.PRECISION.engine)."),
    flavour: str = typer.Option("auto", "--flavour", help="auto, tensorrt or tensorrt-rtx."),
    verbose: bool = typer.Option(False, "--verbose", help="Print TensorRT's log."),
) -> None:
    """Build a TensorRT or TensorRT-RTX engine; a JSON record of how it was built is written beside it."""
    from percept.engines.trt_build import build_engine

    try:
        path = Path(model)
        if path.suffix != ".onnx":
            from percept.engines.cache import cached_onnx

            path = cached_onnx(resolve_model(model), log=_log)
        elif not path.is_file():
            raise UserError(f"{path}: ONNX file not found")
        result = build_engine(path, out=out, precision="fp16" if fp16 else "fp32",
                              profile=_profile(path, low, opt, high), workspace_gb=workspace,
                              timing_cache=timing_cache, flavour=flavour, verbose=verbose, log=_log)
    except EngineError as exc:
        raise UserError(str(exc)) from None  # print_error shows it as text (percept[tensorrt] stays)
    rec = result.record
    trt, gpu, prof = rec["tensorrt"], rec["gpu"], rec["profile"]
    size = result.engine.stat().st_size / 2**20
    typer.echo(f"built {result.engine} ({size:.1f} MiB) with {trt['flavour']} {trt['version']} in "
               f"{rec['build_seconds']:.1f}s")
    layers = ", ".join(f"{t} " + "/".join(f"{p}×{n}" for p, n in c.items()) for t, c in rec["layer_precisions"].items())
    typer.echo(f"precision: {rec['precision']}" + (f" ({rec['fp16_method']})" if rec["fp16_method"] else "")
               + f"; layers: {layers}")
    typer.echo(f"profile {prof['input']}: min {_fmt(prof['min'])}, opt {_fmt(prof['opt'])}, max {_fmt(prof['max'])}")
    where = f"{gpu['name']} (sm {gpu['compute_capability']})" if gpu["compute_capability"] else gpu["name"]
    targets = f"; runs on compute capability {', '.join(rec['targets'])}" if rec.get("targets") else ""
    typer.echo(f"built on {where}{targets}; record: {result.engine}.json")


PANEL = "Deploy"


def register(app: typer.Typer) -> None:
    app.command("build-engine", rich_help_panel=PANEL)(build_engine_command)
