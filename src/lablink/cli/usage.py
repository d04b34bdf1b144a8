"""One error style for the whole CLI: ``error: ...`` and ``hint: ...`` on stderr.

lablink's own errors (``LablinkError``) print their message and hint and exit 1.
Mistakes on the command line that Click finds while parsing (an unknown option, a
missing argument, ``--outcome great``) are usage errors: printed the same way, with a
hint naming the command's ``--help``, and exit 2. Exit codes are documented in
``docs/cli.md`` ("Errors and exit codes").
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

import typer
from rich.markup import escape

from lablink.cli import output

EXIT_OK = 0
EXIT_ERROR = 1  # lablink refused or failed (bad input, not found, server down)
EXIT_USAGE = 2  # the command line itself is wrong
EXIT_INTERRUPTED = 130  # Ctrl-C


def _classes(name: str) -> tuple[type[Exception], ...]:
    """Click's exception ``name``: recent Typer vendors Click as ``typer._click``."""
    found = []
    for module in ("typer._click.exceptions", "click.exceptions"):
        try:
            found.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            continue
    return tuple(found)


CLICK_ERROR = _classes("ClickException")
USAGE_ERROR = _classes("UsageError")
NO_ARGS = _classes("NoArgsIsHelpError")
ABORT: tuple[type[Exception], ...] = (typer.Abort, *_classes("Abort"))


def usage_hint(error: Exception) -> str:
    """Where to look: the failing command's ``--help``."""
    ctx = getattr(error, "ctx", None)
    path = getattr(ctx, "command_path", None) or "lablink"
    return f"see `{path} --help`"


def error_text(error: Exception) -> str:
    """A Click error's message (Typer's choice check leaves pydantic's prefix on it)."""
    format_message = getattr(error, "format_message", None)
    text = str(format_message()) if format_message is not None else str(error)
    return text.replace("Value error, ", "")


def print_usage_error(error: Exception) -> None:
    """A Click parsing error as ``error:`` and ``hint:`` lines, like lablink's own errors."""
    out = output.err_console()
    message = error_text(error)
    out.print(f"[bold red]error:[/] [red]{escape(message)}[/]")
    out.print(f"[red]hint:[/] {escape(usage_hint(error))}")


def run_main(main: Callable[..., Any], standalone_mode: bool, *args: Any, **kwargs: Any) -> Any:
    """Call a Click ``main`` and turn what it raises into lablink's messages and exit codes.

    ``main`` is called with ``standalone_mode=False`` so that Click hands usage errors
    back instead of printing its own box; in standalone mode this function exits.
    """
    if not standalone_mode:
        return main(*args, standalone_mode=False, **kwargs)
    try:
        returned = main(*args, standalone_mode=False, **kwargs)
    except NO_ARGS:
        # Click printed the help while building the error: nothing more to say
        sys.exit(EXIT_USAGE)
    except USAGE_ERROR as error:
        print_usage_error(error)
        sys.exit(EXIT_USAGE)
    except CLICK_ERROR as error:  # e.g. a file Click could not open
        output.err_console().print(f"[bold red]error:[/] [red]{escape(error_text(error))}[/]")
        sys.exit(EXIT_ERROR)
    except ABORT:
        output.err_console().print("[red]aborted[/]")
        sys.exit(EXIT_ERROR)
    # Without standalone mode Click returns an Exit's code instead of exiting.
    sys.exit(returned if isinstance(returned, int) else EXIT_OK)
