"""How to install an optional extra (video, heif, ray, eval, tensorrt...), worded for how percept was installed.

PyPI's ``percept`` is another project, so a source checkout must be told ``pip install -e '<checkout>[x]'``.
Imports nothing heavy: error messages of the CLI's fast paths use it.
"""

from __future__ import annotations

from pathlib import Path


def install_hint(extra: str) -> str:
    """The pip command that adds ``extra``: an editable install from a source checkout, else the index."""
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").is_file() and (checkout / "percept_cli").is_dir():
        return f"pip install -e '{checkout}[{extra}]'"
    return f"pip install 'percept[{extra}]'"
