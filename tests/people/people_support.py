"""Helpers for the people tests."""

from __future__ import annotations

from typing import Any


class Clock:
    """Time that passes only when a test says so (expiry without sleeping)."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Cli:
    """Runs ``lablink`` in-process; exceptions other than exits propagate."""

    def __init__(self) -> None:
        from typer.testing import CliRunner

        self.runner = CliRunner()

    def __call__(self, *args: str, code: int = 0, stdin: str | None = None) -> Any:
        from lablink.cli.main import app

        result = self.runner.invoke(
            app, list(args), input=stdin, catch_exceptions=False, env={"COLUMNS": "200"}
        )
        assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
        return result
