"""What a percept model file says about itself, read without torch, so ``percept models`` answers at once.

A safetensors file starts with an 8-byte little-endian header length, then a JSON header: each tensor's
dtype, shape and byte range, and ``__metadata__``, whose strings hold percept's ``ModelInfo``. Reading the
weights (``percept.train.checkpoint``) and models of other projects (``percept.train.foreign``) needs torch.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from percept.core.version import __version__

FORMAT = "percept-model/1"
METADATA_KEY = "percept"
FOREIGN_SUFFIXES = (".pth", ".pt", ".ckpt", ".bin", ".safetensors")
MAX_HEADER = 100_000_000  # bytes: safetensors' own limit


class ModelFileError(ValueError):
    """A model file is missing, unreadable, or does not match its architecture."""


@dataclass
class ModelInfo:
    kind: str
    config: dict[str, Any]
    scale: int
    size_rule: int
    name: str
    min_size: int = 1
    description: str = ""
    value_range: tuple[float, float] = (0.0, 1.0)
    training: dict[str, Any] = field(default_factory=dict)
    style_image: dict[str, str] | None = None
    detail: dict[str, str] | None = None  # {"role": "fidelity"|"perceptual", "partner": name}: ``--detail``'s pair
    percept_version: str = __version__
    format: str = FORMAT

    def to_json(self) -> str:
        """The header as written into a model file: the training record without the trainer's folders."""
        data = asdict(self)
        data["training"] = portable_training(data["training"])
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelInfo:
        """The header's record, each field checked against its type and range (a model file is input like
        any other): ``ValueError`` naming the field otherwise."""
        if len(text) > MAX_INFO_CHARS:
            raise ValueError(f"percept metadata of {len(text):,} characters (at most {MAX_INFO_CHARS:,})")
        try:
            data = json.loads(text)
        except RecursionError:
            raise ValueError("percept metadata nested too deeply") from None
        if not isinstance(data, dict):
            raise ValueError("percept metadata is not a record")
        data["value_range"] = tuple(data.get("value_range", (0.0, 1.0)))
        known = {f for f in cls.__dataclass_fields__}
        info = cls(**{k: v for k, v in data.items() if k in known})
        info.check()
        return info

    def check(self) -> None:
        """Types and ranges of the fields the pipeline acts on, before anything is sized or built from them."""
        rules = (("kind", isinstance(self.kind, str) and self.kind in ("style", "sr")),
                 ("scale", type(self.scale) is int and 1 <= self.scale <= 16),
                 ("size_rule", type(self.size_rule) is int and 1 <= self.size_rule <= 256),
                 ("min_size", type(self.min_size) is int and 1 <= self.min_size <= 1024),
                 ("config", isinstance(self.config, dict) and _depth(self.config) <= 8),
                 ("training", isinstance(self.training, dict) and _depth(self.training) <= 8),
                 ("name", isinstance(self.name, str) and len(self.name) <= 200))
        bad = next((name for name, ok in rules if not ok), None)
        if bad is not None:
            raise ValueError(f"field {bad} = {str(getattr(self, bad))[:60]!r} is out of range or of the wrong type")
        for key, value in self.config.items():
            if isinstance(value, int) and not isinstance(value, bool) and not 0 <= value <= 4096:
                raise ValueError(f"field config.{key} = {value} is out of range (0..4096)")


MAX_INFO_CHARS = 1_000_000  # a header's percept record: shipped ones are ~2 KB


def _depth(value: Any, level: int = 1) -> int:
    """How deeply ``value`` nests (stops counting past 16)."""
    if level > 16 or not isinstance(value, (dict, list)):
        return level
    items = value.values() if isinstance(value, dict) else value
    return max((_depth(v, level + 1) for v in items), default=level)


# Training-record fields that hold paths the trainer gave: a shared model keeps only their last component.
PATH_FIELDS = ("data", "style_image", "init", "vgg_weights", "out", "run_dir")


def portable_training(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` with every path it was given reduced to its file or folder name: a model someone shares must
    not carry their folder layout or user name (content hashes say which file it was)."""
    out = dict(record)
    for key in PATH_FIELDS:
        value = out.get(key)
        if isinstance(value, str) and value:
            name = PureWindowsPath(value).name if "\\" in value else PurePosixPath(value).name
            out[key] = name or value.strip("/\\")
    return out


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _read_header(path: Path) -> dict[str, str] | None:
    """The ``__metadata__`` of a well-formed safetensors file (its tensors' byte ranges cover the data exactly,
    as safetensors checks), or None where anything is unusual."""
    try:
        with open(path, "rb") as f:
            length = int.from_bytes(f.read(8), "little")
            header = json.loads(f.read(length)) if 0 < length <= MAX_HEADER else None
            data_bytes = f.seek(0, os.SEEK_END) - 8 - length
    except (OSError, ValueError):  # unreadable, not JSON, not UTF-8
        return None
    if not isinstance(header, dict):
        return None
    meta = header.pop("__metadata__", {})
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        return None
    end = 0
    try:
        for start, stop in sorted(tuple(t["data_offsets"]) for t in header.values()):
            if start != end or not isinstance(stop, int) or stop < start:
                return None
            end = stop
    except (TypeError, KeyError, ValueError):  # no byte range, or not two numbers
        return None
    return meta if end == data_bytes else None


def _safetensors_metadata(path: Path) -> dict[str, str]:
    """The metadata strings of a safetensors file; a file the quick read above finds anything unusual in is
    left to safetensors, so which files are refused, and the words why, stay the library's own."""
    meta = _read_header(path)
    if meta is not None:
        return meta
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        return f.metadata() or {}


def _percept_metadata(path: Path) -> dict[str, str] | None:
    """The safetensors metadata of a percept file; None for a file of another project (``.pth``, or
    safetensors without percept's key), which ``percept.train.foreign`` loads through spandrel."""
    if path.suffix.lower() in FOREIGN_SUFFIXES and path.suffix.lower() != ".safetensors":
        return None
    try:
        meta = _safetensors_metadata(path)
    except Exception as exc:
        raise ModelFileError(f"{path}: not a percept model file ({type(exc).__name__}: {exc})") from None
    return meta if METADATA_KEY in meta else None


def _foreign_info(path: Path) -> ModelInfo:
    from percept.train.foreign import ForeignModelError, foreign_config

    try:
        return ModelInfo(**foreign_config(path))
    except ForeignModelError as exc:
        raise ModelFileError(str(exc)) from None


def read_info(path: str | os.PathLike) -> ModelInfo:
    """Read only the metadata (cheap for percept files: no weights are loaded; a foreign file is loaded
    through spandrel to learn what it is)."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: model file not found")
    meta = _percept_metadata(path)
    if meta is None:
        return _foreign_info(path)
    try:
        return ModelInfo.from_json(meta[METADATA_KEY])
    except (ValueError, TypeError, RecursionError) as exc:
        raise ModelFileError(f"{path}: corrupt percept metadata ({exc})") from None
