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
from cli_support import Cli, Seeded

from lablink.cli.main import COMMANDS, app, load_all, load_command

# Run the CLI as the console script does, then report what got imported.
WRAPPER = """
import json, sys
from lablink.cli.main import main
out = sys.argv[1]
sys.argv = ["lablink", *sys.argv[2:]]
code = 0
try:
    main()
except SystemExit as exit:
    code = exit.code
with open(out, "w") as fh:
    json.dump({"code": code, "modules": sorted(sys.modules)}, fh)
"""

SERVER_STACK = ("fastapi", "uvicorn", "starlette", "jinja2", "alembic")
DATA_STACK = ("pyarrow", "scipy", "pandas", "lablink.core.datasets.versions", "lablink.sdk.run")
NUMERIC = ("numpy", "pandas", "polars", "pyarrow", "scipy")  # issue 18: none for listings
WATCHDOG = ("lablink.core.watchdog", "lablink.core.notify", "lablink.core.gpu_watch")
# Help pages render plain prose without markdown-it and build no traceback (rich_help.py).
HELP_EXTRAS = ("markdown_it", "rich.markdown", "pygments", "rich.traceback", "rich.pretty", "attr")


def imported(
    args: list[str], tmp_path: Path, env: dict[str, str] | None = None, code: int = 0
) -> set[str]:
    """The modules a child ``lablink ARGS`` process had loaded when it finished (it must
    exit with ``code``)."""
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
    found = json.loads(out.read_text())
    assert found["code"] == code, (proc.stdout, proc.stderr)
    return set(found["modules"])


def test_help_imports_no_command_and_no_store(tmp_path: Path) -> None:
    modules = imported(["--help"], tmp_path)
    assert "lablink.cli.main" in modules
    heavy = {"sqlalchemy", "numpy", "pydantic", "click", "lablink.sdk", "lablink.store.sql"}
    heavy |= set(SERVER_STACK) | set(DATA_STACK) | set(HELP_EXTRAS)
    assert heavy & modules == set()
    assert "typer.rich_utils" in modules  # it did render the rich help
    loaded_commands = {m for m in modules if m.startswith("lablink.cli.")}
    assert loaded_commands <= {
        "lablink.cli.main",
        "lablink.cli.coerce",
        "lablink.cli.state",
        "lablink.cli.usage",
        "lablink.cli.output",
        "lablink.cli.rich_help",
        "lablink.cli.markdown_lite",
    }


def test_runs_ls_on_the_embedded_store_skips_server_data_and_migrations(
    seeded: Seeded, tmp_path: Path
) -> None:
    absent = str(tmp_path / "absent.toml")  # no user config file (and none in the repo)
    env = {"LABLINK_HOME": str(seeded.home), "LABLINK_CONFIG": absent}
    modules = imported(["runs", "ls"], tmp_path, env)
    assert "lablink.store.sqlite" in modules  # it did open the store
    assert "tomllib" not in modules  # no config file to read: the TOML parser never loads
    # A database already at head is not migrated, so Alembic never loads.
    assert set(SERVER_STACK) & modules == set()
    assert set(DATA_STACK) & modules == set()
    assert "lablink.cli.data" not in modules
    assert "lablink.core.people" not in modules
    assert "fsspec" not in modules  # the blob store loads it on first use
    assert set(NUMERIC) & modules == set()  # numpy loads with the first batch or history
    assert {"httpx", "click"} & modules == set()
    assert "pydantic" not in modules  # plain option values skip Typer's pydantic (coerce.py)
    # Listing writes nothing, so the watchdog (rules, notifier, GPU watch) is never built,
    # and a SQLite store loads no PostgreSQL dialect (store/partial_index.py).
    assert set(WATCHDOG) & modules == set()
    assert {m for m in modules if m.startswith("sqlalchemy.dialects.postgresql")} == set()


@pytest.fixture
def rota(seeded: Seeded, cli: Cli) -> Seeded:
    """The seeded home with two teammates and a weekly on-call rotation."""

    def mail(name: str) -> tuple[str, str]:
        return ("--email", f"{name}@example.org")

    cli("team", "add", "ana", "--tz", "Europe/London", "--hours", "09:00-17:00", *mail("ana"))
    cli("team", "add", "ben", "--tz", "Asia/Tokyo", "--hours", "09:00-17:00", *mail("ben"))
    cli("oncall", "rotation", "create", "research", "--members", "ana,ben")
    return seeded


@pytest.mark.parametrize("args", [["oncall", "now"], ["team", "ls"], ["jobs", "ls"]])
def test_embedded_listings_load_no_numeric_server_or_http_stack(
    args: list[str], rota: Seeded, tmp_path: Path
) -> None:
    modules = imported(args, tmp_path, {"LABLINK_HOME": str(rota.home)})
    assert "lablink.store.sqlite" in modules  # it did read the store
    assert set(NUMERIC) & modules == set()
    assert set(SERVER_STACK) & modules == set()
    assert {"httpx", "fsspec", "lablink.cli.data", "lablink.core.datasets"} & modules == set()
    assert {"pydantic", "click"} & modules == set()
    assert set(WATCHDOG) & modules == set()
    assert "sqlalchemy.dialects.postgresql" not in modules


def test_oncall_now_answers_from_the_rotation(rota: Seeded, cli: Cli) -> None:
    assert "research: " in cli("oncall", "now").stdout


def test_data_add_help_opens_no_store(tmp_path: Path) -> None:
    modules = imported(["data", "add", "--help"], tmp_path)
    assert "lablink.cli.data" in modules
    heavy = {"sqlalchemy", "lablink.store.sql", "lablink.core.lab", "httpx", "fsspec", "pydantic"}
    assert (heavy | set(NUMERIC) | set(SERVER_STACK) | set(HELP_EXTRAS)) & modules == set()


def test_data_add_of_files_that_are_no_tables_loads_no_table_stack(
    seeded: Seeded, tmp_path: Path
) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a.txt").write_text("hello\n")
    (folder / "b.bin").write_bytes(b"\x00\x01")
    home = {"LABLINK_HOME": str(seeded.home)}
    modules = imported(["data", "add", "-n", "notes", str(folder)], tmp_path, home)
    assert "lablink.core.datasets.versions" in modules  # it did add the version
    assert (set(NUMERIC) | set(SERVER_STACK)) & modules == set()
    assert {"pydantic", "httpx"} & modules == set()  # embedded: nothing is fetched
    assert "lablink.sdk.run" not in modules  # no run is open: its machinery never loads


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
