"""Help text in Markdown, rendered without markdown-it when it is plain prose.

Typer renders every help text as rich ``Markdown``, which parses it with markdown-it and
imports Pygments: a third of what ``lablink --help`` did at start-up. Nearly all our
help texts are paragraphs of prose with inline code. For those, ``LiteMarkdown`` yields
what rich's ``Markdown`` would (the same text, styles, wrapping and paragraph breaks);
any text with another Markdown construct, or a character that might start one, gets
the real ``Markdown``. A test renders every help text of the CLI both ways.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult

# A line that could open a block (heading, quote, list, fence, setext underline, HTML,
# table, link reference definition) or that has whitespace at either end (indented
# code, hard break).
_BLOCK = re.compile(r"[\[#>+*=~|<_-]|\d{1,9}[.)]|```|\s|.*\s$")
# Inline code: one backtick each side, no backtick inside, not padded with spaces.
_CODE = re.compile(r"`([^`\s](?:[^`]*[^`\s])?)`")
# Outside code: what may make an inline link or image, an entity, an escape, HTML,
# strikethrough or code. Brackets alone stay text: no reference can be defined, as no
# line may start with one.
_SPECIAL = re.compile(r"\]\(|[\\<>&~`|\t]")
# Emphasis needs an opening and a closing run of the same character in one paragraph:
# a paragraph with at most one run of ``*``, and one of ``_`` that is not inside a word
# (there ``_`` neither opens nor closes), shows them as they are.
_RUNS = {"*": re.compile(r"\*+"), "_": re.compile(r"_+")}

Piece = tuple[str, bool]  # (text, is_code)


def paragraphs(markup: str) -> list[list[Piece]] | None:
    """``markup`` as paragraphs of (text, is code) pieces, lines joined by a space; None
    when it may hold any Markdown beyond paragraphs and inline code."""
    found: list[list[Piece]] = []
    current: list[Piece] | None = None
    for line in markup.split("\n"):
        if not line.strip(" \t"):  # blank to Markdown (other whitespace is not)
            current = None
            continue
        if _BLOCK.match(line):
            return None
        pieces = _inline(line)
        if pieces is None:
            return None
        if current is None:
            current = []
            found.append(current)
        else:
            current.append((" ", False))  # a soft break
        current.extend(pieces)
    for paragraph in found:
        prose = "\n".join(text for text, is_code in paragraph if not is_code)
        if _delimiter_runs(prose, "*") > 1 or _delimiter_runs(prose, "_") > 1:
            return None
    return found


def _delimiter_runs(prose: str, char: str) -> int:
    """How many runs of ``char`` in ``prose`` might open or close emphasis."""
    count = 0
    for run in _RUNS[char].finditer(prose):
        before = prose[run.start() - 1 : run.start()]
        after = prose[run.end() : run.end() + 1]
        if char == "*" or not (before.isalnum() and after.isalnum()):
            count += 1
    return count


def _inline(line: str) -> list[Piece] | None:
    """A line as prose and inline code, or None if it has another inline construct."""
    pieces: list[Piece] = []
    start = 0
    for code in _CODE.finditer(line):
        prose = line[start : code.start()]
        if not _plain(prose):
            return None
        if prose:
            pieces.append((prose, False))
        pieces.append((code.group(1), True))
        start = code.end()
    rest = line[start:]
    if not _plain(rest):
        return None
    if rest:
        pieces.append((rest, False))
    return pieces


def _plain(prose: str) -> bool:
    return not _SPECIAL.search(prose)


class LiteMarkdown:
    """Stand-in for ``rich.markdown.Markdown`` in Typer's help: plain prose is rendered
    here, anything else is handed to the real class (then imported)."""

    # Like Markdown, no __rich_measure__: tables and columns size both the same way.

    def __new__(cls, markup: str, *args: Any, **kwargs: Any) -> Any:
        found = paragraphs(markup) if not args and set(kwargs) <= {"style"} else None
        if found is None:
            from rich.markdown import Markdown

            return Markdown(markup, *args, **kwargs)
        self = super().__new__(cls)
        self.paragraphs = found
        self.style = kwargs.get("style", "none")
        return self

    paragraphs: list[list[Piece]]
    style: Any

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        """Rich's Markdown rendering of paragraphs: each a left-justified Text in the
        paragraph style, inline code in ``markdown.code`` on top, a blank line between."""
        from rich.segment import Segment
        from rich.text import Text

        base = console.get_style(self.style, default="none")
        prose = base + console.get_style("markdown.paragraph", default="none")
        code = prose + console.get_style("markdown.code", default="none")
        options = options.update(height=None)
        for index, pieces in enumerate(self.paragraphs):
            if index:
                yield Segment.line()
            text = Text(justify="left")
            for piece, is_code in pieces:
                text.append(piece, code if is_code else prose)
            yield from console.render(text, options)
