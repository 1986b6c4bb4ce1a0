"""The embedded model zoo: trained default models shipped as package data.

Each ``<name>.safetensors`` here is a percept model file (half precision); its metadata carries the
name, kind, scale and one-line description, so the zoo needs no separate index. Model names work
wherever a model file does (``resolve_model``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from percept.core.errors import UserError
from percept.core.model_header import ModelFileError, ModelInfo, read_info

ZOO_DIR = Path(__file__).resolve().parent
SUFFIX = ".safetensors"
# Used by `percept upscale --scale N` without --model; `percept models` marks them. DEFAULT_SR serves pictures
# without JPEG damage (and --stroke-scale's enlarger: a painted picture has none); REAL_PHOTO_SR those with it
# (percept.pipeline.model_choice decides per picture).
DEFAULT_SR = {2: "sr-x2-pixel", 4: "sr-x4-pixel", 8: "sr-x8-pixel"}
REAL_PHOTO_SR = {2: "sr-x2-real", 4: "sr-x4-real"}


@dataclass(frozen=True)
class ZooModel:
    name: str
    path: Path
    info: ModelInfo

    @property
    def size_bytes(self) -> int:
        return self.path.stat().st_size


def list_models(zoo_dir: Path = ZOO_DIR) -> list[ZooModel]:
    out = []
    for path in sorted(zoo_dir.glob(f"*{SUFFIX}")):
        try:
            out.append(ZooModel(path.name[: -len(SUFFIX)], path, read_info(path)))
        except ModelFileError:
            continue
    return out


def normalise_name(name: str) -> str:
    """``Starry_Night`` and ``starry night`` both mean ``starry-night``."""
    return name.strip().lower().replace("_", "-").replace(" ", "-")


def resolve_model(name_or_path: str | os.PathLike, kind: str | None = None, zoo_dir: Path = ZOO_DIR) -> Path:
    """A model file path for a zoo name or an existing file; a clear UserError otherwise."""
    text = str(name_or_path)
    path = Path(text).expanduser()
    if path.is_file():
        return path
    models = {m.name: m for m in list_models(zoo_dir) if kind is None or m.info.kind == kind}
    wanted = normalise_name(text)
    if wanted in models:
        return models[wanted].path
    if path.suffix or os.sep in text:
        raise UserError(f"{text}: model file not found")
    known = ", ".join(sorted(models)) or "none shipped"
    raise UserError(f"{text}: no such model file or shipped {kind or ''} model (shipped: {known})".replace("  ", " "))


def default_sr_model(scale: int, zoo_dir: Path = ZOO_DIR) -> Path:
    name = DEFAULT_SR.get(scale)
    if name is None:
        raise UserError(f"no default model for scale {scale}; pass --model FILE")
    return resolve_model(name, kind="sr", zoo_dir=zoo_dir)


def real_photo_sr_model(scale: int, zoo_dir: Path = ZOO_DIR) -> Path | None:
    """The shipped model for JPEG-damaged pictures at ``scale``, or None where there is none (×8)."""
    name = REAL_PHOTO_SR.get(scale)
    path = zoo_dir / f"{name}{SUFFIX}" if name else None
    return path if path is not None and path.is_file() else None
