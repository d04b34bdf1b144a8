"""Start-up: a command imports only what it needs, and the lazy listing matches the real one.

These tests look at ``sys.modules`` of a child process, never at a clock.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from cli_support import Seeded

from lablink.cli.main import COMMANDS, app, load_all, load_command

# Run the CLI as the console script does, then report what got imported.
WRAPPER = """
import json, sys
from lablink.cli.main import main
out = sys.argv[1]
sys.argv = ["lablink", *sys.argv[2:]]
try:
    main()
except SystemExit:
    pass
with open(out, "w") as fh:
    json.dump(sorted(sys.modules), fh)
"""

SERVER_STACK = ("fastapi", "uvicorn", "starlette", "jinja2", "alembic")
DATA_STACK = ("pyarrow", "scipy", "pandas", "lablink.core.datasets.versions", "lablink.sdk.run")


def imported(args: list[str], tmp_path: Path, env: dict[str, str] | None = None) -> set[str]:
    """The modules a child ``lablink ARGS`` process had loaded when it finished."""
    out = tmp_path / "modules.json"
    child_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-c", WRAPPER, str(out), *args],
        capture_output=True,
        text=True,
        env=child_env,
        timeout=120,
    )
    assert out.exists(), proc.stderr
    return set(json.loads(out.read_text()))


def test_help_imports_no_command_and_no_store(tmp_path: Path) -> None:
    modules = imported(["--help"], tmp_path)
    assert "lablink.cli.main" in modules
    heavy = {"sqlalchemy", "numpy", "pydantic", "lablink.sdk", "lablink.store.sql"}
    heavy |= set(SERVER_STACK) | set(DATA_STACK)
    assert heavy & modules == set()
    loaded_commands = {m for m in modules if m.startswith("lablink.cli.")}
    assert loaded_commands <= {
        "lablink.cli.main",
        "lablink.cli.state",
        "lablink.cli.usage",
        "lablink.cli.output",
    }


def test_runs_ls_on_the_embedded_store_skips_server_data_and_migrations(
    seeded: Seeded, tmp_path: Path
) -> None:
    modules = imported(["runs", "ls"], tmp_path, {"LABLINK_HOME": str(seeded.home)})
    assert "lablink.store.sqlite" in modules  # it did open the store
    # A database already at head is not migrated, so Alembic never loads.
    assert set(SERVER_STACK) & modules == set()
    assert set(DATA_STACK) & modules == set()
    assert "lablink.cli.data" not in modules
    assert "lablink.core.people" not in modules
    assert "fsspec" not in modules  # the blob store loads it on first use


def test_every_listed_summary_is_the_commands_own_help() -> None:
    for name, command in load_all().items():
        paragraphs = inspect.cleandoc(command.short_help or command.help or "").split("\n\n")
        assert COMMANDS[name].summary == paragraphs[0].replace("\n", " ").strip(), name
        assert command.name == name


def test_lazy_root_help_equals_the_fully_loaded_help(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}
    code = "from lablink.cli.main import main; main()"
    lazy = subprocess.run(
        [sys.executable, "-c", code, "--help"], capture_output=True, text=True, env=env, timeout=120
    ).stdout
    code_loaded = "from lablink.cli.main import load_all, main; load_all(); main()"
    loaded = subprocess.run(
        [sys.executable, "-c", code_loaded, "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    ).stdout
    assert "runs" in lazy
    assert lazy == loaded


def test_unknown_command_is_still_a_usage_error() -> None:
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["nope"])
    assert result.exit_code == 2
    assert load_command("runs") is load_command("runs")  # built once per process


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_builds_like_add_typer_did(name: str) -> None:
    root = typer.main.get_command(app)
    assert root.get_command(typer.Context(root), name) is load_command(name)  # type: ignore[attr-defined]
