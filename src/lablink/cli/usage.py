"""One error style for the whole CLI: ``error: ...`` and ``hint: ...`` on stderr.

lablink's own errors (``LablinkError``) print their message and hint and exit 1.
Mistakes on the command line that Click finds while parsing (an unknown option, a
missing argument, ``--outcome great``) are usage errors: printed the same way, with a
hint naming the command's ``--help``, and exit 2. Exit codes are documented in
``docs/cli.md`` ("Errors and exit codes").
"""

from __future__ import annotations

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


def _click(name: str, *also: type[Exception]) -> tuple[type[Exception], ...]:
    """Click's exception ``name`` from each Click this process has loaded.

    Recent Typer vendors Click as ``typer._click``; the real ``click`` counts only once
    something imported it (no exception of it can exist before), so start-up never pays
    for importing it here. ``also``: more classes to catch with these.
    """
    found = list(also)
    for module in ("typer._click.exceptions", "click.exceptions"):
        cls = getattr(sys.modules.get(module), name, None)
        if isinstance(cls, type) and issubclass(cls, Exception):
            found.append(cls)
    return tuple(found)


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
    except _click("NoArgsIsHelpError"):
        # Click printed the help while building the error: nothing more to say
        sys.exit(EXIT_USAGE)
    except _click("UsageError") as error:
        print_usage_error(error)
        sys.exit(EXIT_USAGE)
    except _click("ClickException") as error:  # e.g. a file Click could not open
        output.err_console().print(f"[bold red]error:[/] [red]{escape(error_text(error))}[/]")
        sys.exit(EXIT_ERROR)
    except _click("Abort", typer.Abort):
        output.err_console().print("[red]aborted[/]")
        sys.exit(EXIT_ERROR)
    # Without standalone mode Click returns an Exit's code instead of exiting.
    sys.exit(returned if isinstance(returned, int) else EXIT_OK)
