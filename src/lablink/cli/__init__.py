"""The ``lablink`` command line (Typer + Rich); the entry point is ``lablink.cli.entry:main``
(a plain local ``lablink launch`` starts its command first, ``lablink.cli.main:main``
runs everything else)."""
