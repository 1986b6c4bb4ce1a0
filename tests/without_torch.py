"""Run percept's command line as a base install would: ``import torch`` (and torchvision, spandrel) fails.

Used by ``tests/test_lean_install.py`` in a subprocess: ``python tests/without_torch.py REPORT stylize ...``. After
the command it writes REPORT (JSON): the exit code, the percept.train modules loaded while registering the
commands, and those the command itself loaded; a base install has no torch, so neither may need it.
"""

from __future__ import annotations

import importlib.abc
import json
import sys

BLOCKED = ("torch", "torchvision", "spandrel", "torchaudio")


class BlockTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"No module named {name!r} (blocked: a base install has no PyTorch)")
        return None


def train_modules() -> list[str]:
    return sorted(m for m in sys.modules if m.startswith("percept.train"))


def main() -> None:
    report, argv = sys.argv[1], sys.argv[2:]
    sys.meta_path.insert(0, BlockTorch())
    from percept.cli.app import main as percept_main

    registered = train_modules()
    code = 0
    try:
        sys.argv = ["percept", *argv]
        percept_main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    with open(report, "w") as f:
        json.dump({"exit": code, "registered": registered,
                   "loaded_by_command": sorted(set(train_modules()) - set(registered)),
                   "torch": any(m.split(".")[0] in BLOCKED for m in sys.modules)}, f)
    sys.exit(code)


if __name__ == "__main__":
    main()
