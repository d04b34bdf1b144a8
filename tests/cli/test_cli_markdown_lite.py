"""Help prose rendered without markdown-it looks exactly as rich's Markdown renders it."""

from __future__ import annotations

import importlib.util
import inspect
import io
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from rich.markdown import Markdown

from lablink.cli.main import COMMANDS, load_all
from lablink.cli.markdown_lite import LiteMarkdown, paragraphs
from lablink.cli.reference import iter_commands, root_command
from lablink.cli.rich_help import STAND_INS, _Loader

# Styles Typer gives help text: first line, the rest, option help.
STYLES = ["", "dim", "bold", "none"]


def render(renderable: object, width: int) -> str:
    """What a colour terminal of ``width`` columns shows, escape codes included."""
    out = io.StringIO()
    console = Console(
        file=out, width=width, force_terminal=True, color_system="truecolor", legacy_windows=False
    )
    console.print(renderable)
    return re.sub(r"id=\d+;", "id=;", out.getvalue())  # a hyperlink's id is random


def help_texts() -> Iterator[str]:
    """Every help text of the CLI, whole and as the pieces Typer renders."""
    load_all()
    root = root_command()
    for _, command in [("lablink", root), *iter_commands(root)]:
        texts = [command.help, command.short_help, *(p.help for p in command.params)]
        for text in filter(None, texts):
            text = inspect.cleandoc(text)
            first, *rest = text.split("\n\n")
            yield text
            yield first.replace("\n", " ").strip()
            yield "\n\n".join(rest)


TRICKY = [
    "plain words",
    "two\nlines, one paragraph",
    "one\n\ntwo paragraphs\n\n\nthree",
    "inline `code` and `more code` here",
    "`lablink gate --per-example` at the start",
    "env LABLINK_HOME and snake_case words",
    "*emphasis* and **strong**",
    "_under_ score",
    "a__b",
    "- a list\n- of two",
    "1. ordered",
    "# heading",
    "> quote",
    "text\n===",
    "a [link](http://example.org)",
    "one *star, one _under",
    "the [data] table",
    "[foo]: /url\n\nsee [foo]",
    "[a] [b] and [c][d] and ![e]",
    "an image ![alt](x.png)",
    "[a `b`](c)",
    "glob (*.tmp) or folder (.git/)",
    "a*b*c",
    "x_`code`_y",
    "*a\n\nb*",
    "snake_case and _x",
    "<b>html</b>",
    "a &amp; b",
    "escaped \\* star",
    "``double ticks``",
    "` padded `",
    "stray ` tick",
    "    indented code",
    "hard  \nbreak",
    "a ~~strike~~",
    "a | b\n--|--\n1 | 2",
    "",
    "   ",
    "https://example.org/a_b?x=1",
    "ends with a dot.",
    "tab\tinside",
    "a\n\u00a0\nb",
    "a\n \t\nb",
    "café_au_lait and x",
]


def check(text: str) -> bool:
    """Render ``text`` both ways at a few widths and styles; True if the light path ran."""
    for style in STYLES:
        lite = LiteMarkdown(text, style=style)
        for width in (24, 60, 100):
            assert render(lite, width) == render(Markdown(text, style=style), width), (
                text,
                style,
                width,
            )
    return isinstance(lite, LiteMarkdown)


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_markdown_renders_as_rich_does(text: str) -> None:
    check(text)


def test_every_help_text_of_the_cli_renders_as_rich_does() -> None:
    texts = sorted(set(help_texts()))
    light = sum(check(text) for text in texts)
    assert light > 0.9 * len(texts)  # nearly all help is prose: markdown-it stays unloaded


def test_root_listing_needs_no_markdown_parser() -> None:
    for entry in COMMANDS.values():
        assert paragraphs(entry.summary) is not None, entry.summary


def test_markdown_constructs_go_to_the_real_parser() -> None:
    for text in ("*a*", "- a", "[a](b)", "a & b", "_a_", "a*b*", "`a``", "> a", "x\n---"):
        assert paragraphs(text) is None, text
        assert isinstance(LiteMarkdown(text), Markdown)
    assert paragraphs("a `b_c` d_e") == [[("a ", False), ("b_c", True), (" d_e", False)]]


def test_a_module_wanting_more_than_the_stand_ins_loads_with_the_real_modules(
    tmp_path: Path,
) -> None:
    source = tmp_path / "wants_more.py"
    source.write_text("from rich.markdown import Heading, Markdown\n")
    spec = importlib.util.spec_from_file_location("wants_more", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    saved = {name: sys.modules.pop(name) for name in STAND_INS if name in sys.modules}
    try:
        _Loader(spec.loader).exec_module(module)
        loaded = sys.modules["rich.markdown"]
        assert module.Markdown is loaded.Markdown  # the real class, not LiteMarkdown
        assert module.Heading is loaded.Heading
    finally:
        for name, real in saved.items():  # the modules this process had, as they were
            sys.modules[name] = real
            setattr(sys.modules["rich"], name.split(".")[1], real)


def test_the_traceback_stand_in_builds_richs_traceback() -> None:
    from rich.traceback import Traceback as RichTraceback

    from lablink.cli.rich_help import Traceback

    try:
        raise ValueError("boom")
    except ValueError as error:
        built = Traceback.from_exception(type(error), error, error.__traceback__)
    assert isinstance(built, RichTraceback)
    assert "boom" in render(built, 100)


def test_no_help_text_holds_a_placeholder_that_markdown_drops() -> None:
    """Help is rendered as Markdown, which reads ``<name>`` as inline HTML and shows
    nothing: ``./<name>`` reached the reader as ``./``. Placeholders are written NAME."""
    texts = set(help_texts())
    dropped = sorted({m.group() for t in texts for m in re.finditer(r"<[A-Za-z/][^<>\n]*>", t)})
    assert dropped == []
    from typer.testing import CliRunner

    from lablink.cli.main import app

    shown = CliRunner().invoke(app, ["data", "pull", "--help"])
    assert "(default: ./NAME" in shown.stdout
