"""The ``percept`` Typer application. Each module in ``percept.cli.commands`` registers its commands."""

from __future__ import annotations

import importlib
import pkgutil

import typer
from typer.core import TyperGroup

from percept.cli import commands
from percept.cli.errors import exit_with, expected_errors, print_error
from percept.train.version import __version__


class PerceptGroup(TyperGroup):
    """Turns known errors from any command into one line and exit code 2 (also under CliRunner)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except expected_errors() as exc:
            print_error(str(exc))
            ctx.exit(getattr(exc, "exit_code", 2))
        except KeyboardInterrupt:
            print_error("interrupted")
            ctx.exit(130)  # the shell's convention for SIGINT


app = typer.Typer(
    cls=PerceptGroup,
    name="percept",
    help="Perceptual-loss style transfer and super-resolution: train, export, and process folders fast.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"percept {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """percept — Johnson, Alahi & Fei-Fei (ECCV 2016) as software."""


for _mod in sorted(m.name for m in pkgutil.iter_modules(commands.__path__)):
    importlib.import_module(f"{commands.__name__}.{_mod}").register(app)


def main() -> None:
    """Console-script entry point: known errors become one line and a non-zero exit code."""
    try:
        app()
    except expected_errors() as exc:
        exit_with(exc)
    except KeyboardInterrupt:
        print_error("interrupted")
        raise SystemExit(130) from None
