"""The ``percept`` Typer application. Each module in ``percept.cli.commands`` registers its commands."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer
from typer.core import TyperGroup

from percept.cli import commands
from percept.cli.errors import exit_with, expected_errors, missing_extra, print_error
from percept.cli.quick_exit import exit_now
from percept.core.version import __version__


def _hide_flag_types(command, ctx) -> None:
    """On/off flags take no value: show no ``<bool>`` type for them in help."""
    params = list(command.params)
    help_option = command.get_help_option(ctx)
    if help_option is not None:
        params.append(help_option)
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""


# click's UsageError and ClickException, reached through typer's public BadParameter: typer 0.16 uses click
# itself, newer typers a vendored copy whose module is private.
USAGE_ERROR = typer.BadParameter.__mro__[1]
CLICK_ERROR = USAGE_ERROR.__mro__[1]


class PerceptGroup(TyperGroup):
    """Turns known errors from any command into one line and exit code 2 (also under CliRunner)."""

    def get_command(self, ctx, cmd_name):
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _hide_flag_types(command, ctx)
        return command

    def format_help(self, ctx, formatter):
        _hide_flag_types(self, ctx)
        return super().format_help(ctx, formatter)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        """Usage errors (an unknown option, a bad value) as one ``error:`` line, like percept's own errors,
        instead of click's boxed "Error"; the exit code stays click's (2)."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except CLICK_ERROR as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # `percept` alone: the help, as click shows it
                exc.show()
            else:
                ctx = getattr(exc, "ctx", None)
                hint = f" (see '{ctx.command_path} -h')" if isinstance(exc, USAGE_ERROR) and ctx is not None else ""
                print_error(exc.format_message() + hint)
            sys.exit(exc.exit_code)
        except typer.Abort:
            print_error("aborted")
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except expected_errors() as exc:
            print_error(str(exc))
            ctx.exit(getattr(exc, "exit_code", 2))
        except ImportError as exc:
            missing = missing_extra(exc)
            if missing is None:
                raise
            print_error(missing)
            ctx.exit(2)
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


# The order people work in: process first, then train, deploy, measure, inspect (rich help panels).
COMMAND_ORDER = ("process", "train", "export", "build_engine", "eval_sr", "bench", "style_tools", "models",
                 "doctor")
_found = {m.name for m in pkgutil.iter_modules(commands.__path__)}
for _mod in [*[m for m in COMMAND_ORDER if m in _found], *sorted(_found - set(COMMAND_ORDER))]:
    importlib.import_module(f"{commands.__name__}.{_mod}").register(app)


def main() -> None:
    """Run one command: known errors become one line and a non-zero exit code (``SystemExit``)."""
    try:
        app()
    except expected_errors() as exc:
        exit_with(exc)
    except KeyboardInterrupt:
        print_error("interrupted")
        raise SystemExit(130) from None


def console_main() -> None:
    """The ``percept`` console script: ``main``, then a quick exit (``quick_exit``) that skips tearing torch
    down. Only the console script and ``python -m percept.cli`` exit this way; code that calls ``main``
    (tests, embedders) gets its ``SystemExit`` as before."""
    try:
        main()
        code: object = 0
    except SystemExit as done:
        code = done.code
    if code is None or isinstance(code, int):
        exit_now(code or 0)
    sys.exit(code)
