"""User-facing errors: one clear line naming the file and the problem, never a traceback."""

from __future__ import annotations

import sys

from rich.console import Console

from percept.core.errors import UserError

__all__ = ["UserError", "err_console", "exit_with", "expected_errors", "missing_extra", "print_error"]

err_console = Console(stderr=True, highlight=False)


def print_error(message: str) -> None:
    """``error: MESSAGE`` on stderr; the message is text, never markup (``pip install 'percept[video]'``)."""
    from rich.markup import escape

    err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)


def expected_errors() -> tuple[type[BaseException], ...]:
    """Exception types that carry a complete user-facing message (no traceback wanted)."""
    from percept.core.model_header import ModelFileError
    from percept.train.vgg_errors import VGGWeightsError

    return (UserError, ModelFileError, VGGWeightsError, FileNotFoundError, PermissionError)


def exit_with(exc: BaseException) -> None:
    print_error(str(exc))
    sys.exit(getattr(exc, "exit_code", 2))


# Packages of the extras, and the extra that brings each: a command that needs one names the install line.
EXTRA_OF_MODULE = {"torch": "train", "torchvision": "train", "spandrel": "train", "onnxscript": "train",
                   "lpips": "eval", "av": "video", "pillow_heif": "heif", "ray": "ray",
                   "nncf": "int8"}


def missing_extra(exc: ImportError) -> str | None:
    """One line for an import that failed because an extra is not installed, or None for any other."""
    from percept.core.extras import install_hint

    name = (getattr(exc, "name", None) or "").split(".")[0]
    if not name:  # a custom finder's message, e.g. "No module named 'torch' (...)"
        name = next((m for m in EXTRA_OF_MODULE if f"'{m}'" in str(exc)), "")
    extra = EXTRA_OF_MODULE.get(name)
    if extra is None:
        return None
    what = "PyTorch" if extra == "train" else name
    return f"this command needs {what}, which the base install leaves out: {install_hint(extra)}"
