"""The documentation holds together: every docs path the code and the pages name exists, the user guides name no
working session or date (those belong in docs/research/), stay short, and docs/CLI.md matches the code."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
CODE_DIRS = ("percept_cli", "engines", "train", "tools", "benchmarks")
GENERATED = {DOCS / "CLI.md"}  # written by tools/cli_reference.py from the help texts
MAX_LINES = 300

# A repository path such as docs/img/x.jpg, not the tail of another path (/abs/docs/..., zoo/docs/...).
DOCS_PATH = re.compile(r"(?<![\w./-])docs/[\w./-]*?\.(?:md|jpg|png|json)\b")
# [text](target) and ![alt](target), with an optional "title".
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
INLINE_CODE = re.compile(r"`[^`\n]*`")
SESSION = re.compile(r"\bsessions?\s+\d+", re.I)
DATE = re.compile(r"\b20\d\d-[01]\d-[0-3]\d\b")


def markdown_pages() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def code_files() -> list[Path]:
    files = [ROOT / "pyproject.toml"]
    for folder in CODE_DIRS:
        files += sorted(p for p in (ROOT / folder).rglob("*") if p.suffix in (".py", ".sh") and p.is_file())
    return files


def user_pages() -> list[Path]:
    return [ROOT / "README.md", *sorted(p for p in DOCS.glob("*.md") if p not in GENERATED)]


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def named_docs_paths(path: Path) -> list[str]:
    """``docs/...`` paths named anywhere in a file, skipping patterns (``docs/models/*.eval.json``)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    return [m.group(0) for m in DOCS_PATH.finditer(text) if not set(m.group(0)) & set("*{}<>")]


def relative_links(page: Path) -> list[str]:
    """Targets of a Markdown page's links and images that point into this repository (no URL, no bare anchor),
    outside code blocks and code spans."""
    text = INLINE_CODE.sub("", FENCE.sub("", page.read_text(encoding="utf-8")))
    targets = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("#"):
            continue
        targets.append(target.split("#", 1)[0])
    return targets


def test_every_docs_path_named_in_code_exists():
    missing = [f"{rel(f)}: {p}" for f in code_files() for p in named_docs_paths(f) if not (ROOT / p).exists()]
    assert not missing, "docs paths named in code that do not exist:\n" + "\n".join(missing)


def test_every_docs_path_named_in_the_pages_exists():
    missing = [f"{rel(f)}: {p}" for f in markdown_pages() for p in named_docs_paths(f) if not (ROOT / p).exists()]
    assert not missing, "docs paths named in README.md or docs/ that do not exist:\n" + "\n".join(missing)


def test_every_relative_markdown_link_resolves():
    broken = [f"{rel(page)}: {target}" for page in markdown_pages() for target in relative_links(page)
              if not (page.parent / target).exists()]
    assert not broken, "relative links to files that do not exist:\n" + "\n".join(broken)


def test_the_guides_name_no_session_or_date():
    """Dated, per-session entries are the research logs' (docs/research/); the guides, the model cards and the
    rest of docs/ say what is true now."""
    research = DOCS / "research"
    found = []
    for path in sorted(DOCS.rglob("*")):
        if not path.is_file() or research in path.parents or path in GENERATED:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # pictures
        for number, line in enumerate(text.splitlines(), 1):
            for match in (*SESSION.finditer(line), *DATE.finditer(line)):
                found.append(f"{rel(path)}:{number}: {match.group(0)!r}")
    assert not found, "sessions or dates outside docs/research/ (move the history there):\n" + "\n".join(found)


def test_the_readme_links_nothing_by_session_or_date():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert not SESSION.search(text) and not DATE.search(text)


@pytest.mark.parametrize("page", user_pages(), ids=rel)
def test_user_pages_stay_short(page):
    lines = len(page.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{rel(page)} has {lines} lines; a guide reads in a few minutes (at most {MAX_LINES})"


def _cli_reference():
    spec = importlib.util.spec_from_file_location("cli_reference", ROOT / "tools" / "cli_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_is_up_to_date():
    expected = _cli_reference().render()
    current = (DOCS / "CLI.md").read_text(encoding="utf-8") if (DOCS / "CLI.md").is_file() else ""
    assert current == expected, "docs/CLI.md is stale: run python tools/cli_reference.py"


def test_cli_reference_covers_every_command_and_option():
    import typer.main

    from percept.cli.app import app

    text = _cli_reference().render()
    group = typer.main.get_command(app)
    for name, command in group.commands.items():
        if getattr(command, "hidden", False):
            continue
        assert f"### percept {name}\n" in text
        for param in command.params:
            if not getattr(param, "hidden", False) and param.param_type_name == "option":
                assert f"`{param.opts[0]}`" in text, (name, param.opts[0])
    assert "\x1b" not in text, "no terminal colours"


def test_cli_reference_check_fails_on_a_stale_file(tmp_path, capsys):
    tool = _cli_reference()
    stale = tmp_path / "CLI.md"
    stale.write_text("# old\n", encoding="utf-8")
    assert tool.main(["--check", "--out", str(stale)]) == 1
    assert "run python tools/cli_reference.py" in capsys.readouterr().err
    assert tool.main(["--out", str(stale)]) == 0
    assert tool.main(["--check", "--out", str(stale)]) == 0
