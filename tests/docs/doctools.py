"""Helpers for the lab docs tests (named so no other suite's module clashes)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner, Result

import lablink
from lablink.cli.main import app


@dataclass
class LabRepo:
    """A git repository (the cwd) whose LABLINK_HOME holds runs, datasets and a model."""

    root: Path
    home: Path
    negative: str  # id of the run with a negative note

    @property
    def docs(self) -> Path:
        return self.root / "docs" / "lab"

    def snapshot(self) -> dict[str, bytes]:
        return {
            p.relative_to(self.docs).as_posix(): p.read_bytes()
            for p in sorted(self.docs.rglob("*"))
            if p.is_file()
        }


def add_run(name: str, config: dict[str, object], acc: float, tags: tuple[str, ...] = ()) -> str:
    """A finished run in project ``vision`` with one accuracy and one per-group accuracy."""
    with lablink.init(project="vision", name=name, config=config, tags=tags) as run:
        run.log({"val/acc": acc, "val/acc/indoor": acc - 0.05}, step=0)
        return str(run.id)


class Cli:
    """Runs ``lablink`` in-process and checks its exit code."""

    def __call__(self, *args: str, code: int = 0) -> Result:
        result = CliRunner().invoke(app, list(args), catch_exceptions=False, env={"COLUMNS": "200"})
        assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
        return result
