"""Write docs/CLI.md, the command-line reference, from the Typer app itself.

Every command's usage line, description and options with their help texts, read through click's introspection
of ``percept.cli.app:app`` (``typer.main.get_command``). The output depends on the code only: no terminal width,
no colours, commands in the order ``percept --help`` lists them.

Usage:
    python tools/cli_reference.py            # (re)write docs/CLI.md
    python tools/cli_reference.py --check    # exit 1 if docs/CLI.md differs from what the code gives
"""

from __future__ import annotations

import argparse
import inspect
import sys
import types
import typing
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "CLI.md"

# Value names for the annotation of a command's parameter, as click names its types.
TYPE_NAMES = {str: "TEXT", int: "INTEGER", float: "FLOAT", Path: "PATH", bool: "BOOLEAN"}


def _markdown(text: str) -> str:
    """Help text as Markdown prose: characters Markdown would read as markup are escaped."""
    return text.replace("\\", "\\\\").replace("*", "\\*").replace("<", "&lt;")


def _paragraphs(text: str | None) -> list[str]:
    """A docstring or help text as paragraphs: single line breaks are spaces (as in ``--help``), click's
    ``\\f`` ends the text and ``\\b`` (keep line breaks) is dropped."""
    if not text:
        return []
    text = inspect.cleandoc(text).split("\f", 1)[0]
    out = []
    for block in text.split("\n\n"):
        lines = [line.strip() for line in block.splitlines() if line.strip() and line.strip() != "\b"]
        if lines:
            out.append(" ".join(lines))
    return out


def _declared(command) -> tuple[dict[str, object], dict[str, str]]:
    """The annotations and the declared help texts of the function behind a command, by parameter name (typer
    wraps the function). Some typer and click pairs drop an argument's help from the click parameter, so the
    help is also read from typer's ``Option``/``Argument`` declaration, the same in every version."""
    func = inspect.unwrap(command.callback) if command.callback else None
    if func is None:
        return {}, {}
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except Exception:  # an annotation that does not resolve: no value names, the rest of the reference stays
        hints = {}
    helps = {}
    for name, parameter in inspect.signature(func).parameters.items():
        infos = [parameter.default, *getattr(hints.get(name), "__metadata__", ())]  # default or Annotated[...]
        text = next((i.help for i in infos if isinstance(getattr(i, "help", None), str)), None)
        if text:
            helps[name] = text
    return {k: typing.get_args(v)[0] if hasattr(v, "__metadata__") else v for k, v in hints.items()}, helps


def _value_name(param, annotation) -> str:
    """What an option's value looks like: its metavar, else the name of its annotated type."""
    if getattr(param, "metavar", None):
        return str(param.metavar)
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):  # X | None
        args = [a for a in args if a is not type(None)]
        annotation = args[0] if len(args) == 1 else str
    elif typing.get_origin(annotation) in (list, tuple) and args:
        annotation = args[0]
    return TYPE_NAMES.get(annotation, "TEXT")


def _default(param) -> str | None:
    if getattr(param, "required", False) or getattr(param, "show_default", True) is False:
        return None
    value = param.default
    if callable(value) or value is None or value == "" or value == [] or value == ():
        return None
    if getattr(param, "is_flag", False):
        if getattr(param, "secondary_opts", None):
            return param.opts[0] if value else param.secondary_opts[0]
        return None  # a plain on/off flag is off unless given
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def _range(param) -> str | None:
    """``min=``/``max=`` of an option, wherever this typer keeps them (on the option or on its click type)."""
    lo = getattr(param, "min", None)
    hi = getattr(param, "max", None)
    if lo is None and hi is None:
        kind = getattr(param, "type", None)
        lo, hi = getattr(kind, "min", None), getattr(kind, "max", None)
    if lo is None and hi is None:
        return None
    if lo is not None and hi is not None:
        return f"{lo} to {hi}"
    return f"at least {lo}" if lo is not None else f"at most {hi}"


def _is_argument(param) -> bool:
    return getattr(param, "param_type_name", "") == "argument"


def _argument_usage(param) -> str:
    text = param.name.upper() + ("..." if param.nargs == -1 else "")
    return text if param.required else f"[{text}]"


def _param_line(param, annotation, declared_help: str | None = None) -> str:
    if _is_argument(param):
        head = f"`{_argument_usage(param).strip('[]')}`"
    else:
        names = [*param.opts, *param.secondary_opts]
        head = ", ".join(f"`{n}`" for n in names)
        if not getattr(param, "is_flag", False) and not getattr(param, "count", False):
            head += f" {_value_name(param, annotation)}"
    notes = []
    if getattr(param, "required", False):
        notes.append("required")
    if param.nargs == -1 or getattr(param, "multiple", False):
        notes.append("repeatable" if getattr(param, "multiple", False) else "one or more")
    default = _default(param)
    if default is not None:
        notes.append(f"default `{default}`")
    span = _range(param)
    if span:
        notes.append(span)
    envvar = getattr(param, "envvar", None)
    if envvar:
        notes.append("env " + ", ".join(f"`${e}`" for e in ([envvar] if isinstance(envvar, str) else envvar)))
    line = f"- {head}"
    if notes:
        line += f" ({'; '.join(notes)})"
    help_text = " ".join(_paragraphs(getattr(param, "help", None) or declared_help))
    if help_text:
        line += f": {_markdown(help_text)}"
    return line


def _panels(group) -> list[tuple[str, list[tuple[str, object]]]]:
    """Commands grouped by their help panel, in the order ``percept --help`` shows them."""
    panels: dict[str, list[tuple[str, object]]] = {}
    for name in group.commands:  # registration order, which is the help's
        command = group.commands[name]
        if getattr(command, "hidden", False):
            continue
        panels.setdefault(getattr(command, "rich_help_panel", None) or "Commands", []).append((name, command))
    return list(panels.items())


def render() -> str:
    """The whole of docs/CLI.md as a string."""
    import typer.main

    from percept.cli.app import app

    group = typer.main.get_command(app)
    prog = "percept"
    help_names = (getattr(group, "context_settings", None) or {}).get("help_option_names", ["--help"])
    lines = [
        "# Command-line reference",
        "",
        "Generated from the code by `python tools/cli_reference.py`: do not edit by hand; rerun it after "
        "changing a command, an option or a help text (`python tools/cli_reference.py --check` and "
        "`tests/test_docs.py` fail while this page is stale). "
        f"`{prog} COMMAND {help_names[0]}` prints the same in a terminal.",
        "",
        *_paragraphs(group.help),
        "",
        "```text",
        f"{prog} [OPTIONS] COMMAND [ARGS]...",
        "```",
        "",
        "Options of `percept` itself:",
        "",
    ]
    lines += [_param_line(p, None) for p in group.params if not getattr(p, "hidden", False)]
    lines.append(f"- {', '.join(f'`{n}`' for n in sorted(help_names, key=len))}: show a command's help and exit "
                 "(every command takes it).")
    lines.append("")
    panels = _panels(group)
    for panel, commands in panels:
        links = " · ".join(f"[{name}](#percept-{name})" for name, _ in commands)
        lines.append(f"- {panel}: {links}")
    for panel, commands in panels:
        lines += ["", f"## {panel}"]
        for name, command in commands:
            hints, helps = _declared(command)
            params = [p for p in command.params if not getattr(p, "hidden", False)]
            args = " ".join(_argument_usage(p) for p in params if _is_argument(p))
            usage = f"{prog} {name} [OPTIONS]" + (f" {args}" if args else "")
            lines += ["", f"### percept {name}", ""]
            if getattr(command, "deprecated", False):
                lines += ["*Deprecated.*", ""]
            for paragraph in _paragraphs(command.help):
                lines += [_markdown(paragraph), ""]
            lines += ["```text", usage, "```"]
            arguments = [p for p in params if _is_argument(p)]
            options = [p for p in params if not _is_argument(p)]
            if arguments:
                lines += ["", "Arguments:", ""]
                lines += [_param_line(p, hints.get(p.name), helps.get(p.name)) for p in arguments]
            if options:
                lines += ["", "Options:", ""]
                lines += [_param_line(p, hints.get(p.name), helps.get(p.name)) for p in options]
            for paragraph in _paragraphs(getattr(command, "epilog", None)):
                lines += ["", _markdown(paragraph)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="Exit 1 if docs/CLI.md is stale; write nothing.")
    ap.add_argument("--out", type=Path, default=OUT, help="File to write or check (default: docs/CLI.md).")
    args = ap.parse_args(argv)
    text = render()
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.is_file() else ""
        if current != text:
            print(f"{args.out} is stale: run python tools/cli_reference.py", file=sys.stderr)
            return 1
        print(f"{args.out} is up to date")
        return 0
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
