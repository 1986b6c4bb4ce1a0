"""What the runtimes need to know about an ONNX file before they run it: percept's metadata and how many
instance norms its graph has (whether tiles can share their statistics).

Why a sidecar: reading these from the file needs the ``onnx`` package, whose import alone costs about 1.3 s
(``ml_dtypes``), more than a warm OpenVINO run spends on the picture. Every cached export gets a small
``<file>.facts.json`` beside it, so a warm ``percept stylize`` never imports onnx. A sidecar that does not
match its ONNX file (size and modification time) is ignored, and any ``.onnx`` without one is read the slow
way.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from percept.core.atomic import atomic_path
from percept.core.model_header import ModelInfo

METADATA_KEY = "percept"  # full ModelInfo JSON; flat keys beside it for tools that read one value
FACTS_SUFFIX = ".facts.json"


@dataclass(frozen=True)
class OnnxFacts:
    metadata: dict[str, str]  # the ONNX file's metadata_props
    instance_norms: int  # InstanceNormalization nodes in the graph


def info_from_metadata(meta: dict[str, str]) -> ModelInfo | None:
    return ModelInfo.from_json(meta[METADATA_KEY]) if METADATA_KEY in meta else None


def graph_model(meta: dict[str, str], source: str) -> tuple[ModelInfo, str]:
    """The model a percept ONNX graph runs and the graph's precision: the one reader every ONNX runtime uses.
    One line (``EngineError``) for a graph percept did not make."""
    from percept.engines.errors import EngineError

    try:
        info = info_from_metadata(meta)
    except (ValueError, TypeError):
        info = None
    if info is None:
        raise EngineError(f"{source}: ONNX file without percept metadata; export it with `percept export`")
    return info, meta.get("precision", "fp32")


def _facts_path(onnx_path: Path) -> Path:
    return onnx_path.with_name(onnx_path.name + FACTS_SUFFIX)


def _stamp(onnx_path: Path) -> list[int]:
    st = onnx_path.stat()
    return [st.st_size, st.st_mtime_ns]


def read_facts_from_graph(onnx_path: str | os.PathLike) -> OnnxFacts:
    """The facts, read from the ONNX file itself (imports onnx)."""
    import onnx

    proto = onnx.load(str(onnx_path), load_external_data=False)
    return OnnxFacts({p.key: p.value for p in proto.metadata_props},
                     sum(n.op_type == "InstanceNormalization" for n in proto.graph.node))


def write_facts(onnx_path: str | os.PathLike) -> OnnxFacts:
    """Read the facts of ``onnx_path`` and keep them in its sidecar for the next run."""
    onnx_path = Path(onnx_path)
    facts = read_facts_from_graph(onnx_path)
    with atomic_path(_facts_path(onnx_path)) as tmp:
        tmp.write_text(json.dumps({"stamp": _stamp(onnx_path), **asdict(facts)}), encoding="utf-8")
    return facts


def _saved_facts(onnx_path: Path) -> OnnxFacts | None:
    """The sidecar's facts, if it exists and matches the file."""
    try:
        saved = json.loads(_facts_path(onnx_path).read_text(encoding="utf-8"))
        if saved["stamp"] == _stamp(onnx_path):
            return OnnxFacts({str(k): str(v) for k, v in saved["metadata"].items()}, int(saved["instance_norms"]))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def ensure_facts(onnx_path: str | os.PathLike) -> None:
    """Give a cached export its sidecar if it has none (exports cached before sidecars existed)."""
    if _saved_facts(Path(onnx_path)) is None:
        write_facts(onnx_path)


def onnx_facts(onnx_path: str | os.PathLike) -> OnnxFacts:
    """The facts of ``onnx_path``: from its sidecar when that matches the file, else from the graph."""
    return _saved_facts(Path(onnx_path)) or read_facts_from_graph(onnx_path)
