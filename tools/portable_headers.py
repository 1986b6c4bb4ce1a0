"""Rewrite model files' headers in today's portable form (training paths reduced to their names: no folder
layout or user name of the machine that trained them), the weights copied byte for byte.

    python tools/portable_headers.py core/zoo/*.safetensors
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from safetensors import safe_open
from safetensors.numpy import save_file

from percept.core.atomic import atomic_path
from percept.core.model_header import METADATA_KEY, ModelInfo


def rewrite(path: Path) -> bool:
    """True when the header changed; the tensors are checked to be the same bytes before the file is replaced."""
    with safe_open(str(path), framework="numpy") as f:
        meta = f.metadata() or {}
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    if METADATA_KEY not in meta:
        return False
    portable = ModelInfo.from_json(meta[METADATA_KEY]).to_json()
    if json.loads(portable) == json.loads(meta[METADATA_KEY]):
        return False
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={**meta, METADATA_KEY: portable})
        with safe_open(str(tmp), framework="numpy") as f:
            if any(f.get_tensor(k).tobytes() != v.tobytes() or f.get_tensor(k).dtype != v.dtype
                   for k, v in tensors.items()):
                raise SystemExit(f"{path}: weights changed while rewriting; file left as it was")
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", type=Path)
    args = ap.parse_args()
    for path in args.files:
        print(f"{path}: {'rewritten' if rewrite(path) else 'already portable'}")
    sys.exit(0)


if __name__ == "__main__":
    main()
