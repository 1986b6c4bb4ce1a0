"""What a model file is (kind, scale, size rule), whichever form it takes: a percept ``.safetensors``, an
``.onnx`` from ``percept export`` (its ``metadata_props``), or an engine from ``percept build-engine`` (the
ONNX metadata copied into its JSON record). The batch commands read this before choosing a backend, so
every file that ``export``/``build-engine`` writes can be fed straight back to ``stylize``/``upscale``.
"""

from __future__ import annotations

import os
from pathlib import Path

from percept.core.model_header import ModelFileError, ModelInfo, read_info
from percept.engines.engine_record import read_record
from percept.engines.errors import EngineError
from percept.engines.onnx_facts import info_from_metadata, onnx_facts
from percept.engines.select import file_kind


def read_model_info(path: str | os.PathLike) -> ModelInfo:
    """The model's description; ``ModelFileError`` with one line naming the file if it has none."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: model file not found")
    kind = file_kind(path)
    if kind == "model":
        return read_info(path)
    if kind == "onnx":
        try:
            meta = onnx_facts(path).metadata
        except Exception as exc:
            raise ModelFileError(f"{path}: not an ONNX file ({type(exc).__name__}: {str(exc)[:120]})") from None
        info = info_from_metadata(meta)
        if info is None:
            raise ModelFileError(f"{path}: ONNX file without percept metadata (not made by `percept export`)")
        return info
    try:
        record = read_record(path)
    except EngineError as exc:
        raise ModelFileError(str(exc)) from None
    info = info_from_metadata(record.get("model") or {})
    if info is None:
        raise ModelFileError(f"{path}: the engine's build record carries no percept model metadata; rebuild it "
                             "with `percept build-engine MODEL.onnx`")
    return info
