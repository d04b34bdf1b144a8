"""The ``lablink`` console script: ``lablink launch`` of a local job starts its command
before the CLI (Typer, Click, Rich) is imported; everything else goes to
``lablink.cli.main``."""

from __future__ import annotations

import sys


def main() -> None:
    """Console-script entry point."""
    if "launch" in sys.argv[1:10]:  # the root's options come first: a few at most
        from lablink.cli.launch_fast import start

        code = start(sys.argv[1:])
        if code is not None:
            sys.exit(code)
    from lablink.cli.main import main as cli_main

    cli_main()
