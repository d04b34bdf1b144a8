"""The real ``lablink`` entry point as a child process: help, exit codes, no tracebacks."""

from __future__ import annotations

import json
import sys

import pytest
import typer
from cli_support import Seeded, run_lablink

from lablink.cli.main import app
from lablink.cli.reference import iter_commands


def all_command_names() -> list[list[str]]:
    root = typer.main.get_command(app)
    return [name.split()[1:] for name, _ in iter_commands(root)]


@pytest.mark.parametrize("words", [[], ["runs"], ["db"], *all_command_names()], ids=" ".join)
def test_every_command_has_help(words: list[str]) -> None:
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, [*words, "--help"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert "Usage" in result.stdout


def test_entry_point_help_lists_the_commands() -> None:
    result = run_lablink("--help")
    assert result.returncode == 0, result.stderr
    for command in ("runs", "server", "projects", "db", "demo"):
        assert command in result.stdout


def test_entry_point_exit_codes(seeded: Seeded) -> None:
    env = {"LABLINK_HOME": str(seeded.home)}
    ok = run_lablink("runs", "ls", "--json", env=env)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["total"] == 3

    missing = run_lablink("runs", "show", "nosuchrun", env=env)
    assert missing.returncode == 1
    assert "no run with id 'nosuchrun'" in missing.stderr
    assert "Traceback" not in missing.stderr

    bad = run_lablink("runs", "ls", "--filter", "params.lr <<< 1", env=env)
    assert bad.returncode == 1
    assert "^" in bad.stderr and "Traceback" not in bad.stderr

    usage = run_lablink("runs", "show", env=env)
    assert usage.returncode == 2  # a missing argument is a usage error


def test_unreachable_server_is_an_error_not_a_traceback() -> None:
    from helpers import free_port

    result = run_lablink(
        "runs", "ls", env={"LABLINK_SERVER": f"http://127.0.0.1:{free_port()}"}, timeout=120
    )
    assert result.returncode == 1, result.stdout
    assert "error:" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_module_import_stays_light() -> None:
    """`lablink server` starts fast only if the CLI does not import the world first."""
    import subprocess

    code = (
        "import sys, lablink.cli.main; "
        "print(','.join(m for m in ('fastapi','uvicorn','jinja2','alembic','sqlalchemy','numpy')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(flag: str) -> None:
    from importlib.metadata import version

    result = run_lablink(flag)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"lablink {version('lablink')}"


@pytest.mark.parametrize(
    ("words", "message", "command"),
    [
        (
            ["runs", "note", "abc", "text", "--outcome", "great"],
            "Invalid value for '--outcome' / '-o': 'great' is not one of 'positive'",
            "lablink runs note",
        ),
        (["runs", "show"], "Missing argument 'run'", "lablink runs show"),
        (["runs", "lss"], "No such command 'lss'", "lablink runs"),
        (["runs", "ls", "--nope"], "No such option: --nope", "lablink runs ls"),
    ],
)
def test_usage_errors_use_the_error_and_hint_style(
    seeded: Seeded, words: list[str], message: str, command: str
) -> None:
    result = run_lablink(*words, env={"LABLINK_HOME": str(seeded.home)})
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("error: ") and message in lines[0], result.stderr
    assert lines[-1] == f"hint: see `{command} --help`"
    assert "╭" not in result.stderr and "Traceback" not in result.stderr  # no Typer box


def test_help_is_reflowed_markdown_without_rst() -> None:
    from typer.testing import CliRunner

    result = CliRunner().invoke(
        app, ["data", "add", "--help"], catch_exceptions=False, env={"COLUMNS": "200"}
    )
    text = " ".join(result.stdout.split())
    # one paragraph of the docstring, not cut where the source line ends
    assert "stored with the version, so lablink data drift compares" in text
    for name, command in iter_commands(typer.main.get_command(app)):
        assert "``" not in (command.help or ""), name


def test_gate_help_does_not_ask_for_a_subcommand() -> None:
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["gate", "--help"], catch_exceptions=False)
    usage = next(line for line in result.stdout.splitlines() if "Usage:" in line)
    assert "COMMAND" not in usage and "[log-predictions ...]" in usage


def test_python_dash_m_lablink_cli() -> None:
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "lablink.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("lablink ")
