"""The ``lablink`` command line (Typer + Rich); the entry point is ``lablink.cli.main:main``."""
