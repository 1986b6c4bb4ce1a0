"""User-facing errors: one clear line naming the file and the problem, never a traceback."""

from __future__ import annotations

import sys

from rich.console import Console

err_console = Console(stderr=True, highlight=False)


class UserError(Exception):
    """A problem the user can fix; printed as one line, exit code 2."""

    exit_code = 2


def print_error(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {message}", soft_wrap=True)


def expected_errors() -> tuple[type[BaseException], ...]:
    """Exception types that carry a complete user-facing message (no traceback wanted)."""
    from percept.train.model_header import ModelFileError
    from percept.train.vgg_errors import VGGWeightsError

    return (UserError, ModelFileError, VGGWeightsError, FileNotFoundError, PermissionError)


def exit_with(exc: BaseException) -> None:
    print_error(str(exc))
    sys.exit(getattr(exc, "exit_code", 2))
