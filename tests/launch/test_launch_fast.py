"""A plain local ``lablink launch`` starts its command before Typer, Click, Rich or the
store are imported (issue 16, start-up), and reads its command line exactly as the
Typer command does; anything else goes to the Typer command."""

from __future__ import annotations

import json
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from lablink.cli import launch_fast
from lablink.cli.launch import launch as launch_command
from lablink.cli.main import app, load_command
from launch_helpers import cli_env, runs_of

HEAVY = ("typer", "click", "rich", "sqlalchemy", "numpy", "pydantic", "lablink.store")

# Runs the console script's entry in this process with Popen watched: what is imported
# when the job's command (not git, which the settings ask) is started.
WATCH = """
import json, subprocess, sys
seen = []
start = subprocess.Popen.__init__
def watched(self, args, *rest, **kw):
    if not seen and args[0] != "git":
        seen.append(sorted(sys.modules))
        open("modules.json", "w").write(json.dumps(seen[0]))
    start(self, args, *rest, **kw)
subprocess.Popen.__init__ = watched
sys.argv = ["lablink", *sys.argv[1:]]
from lablink.cli.entry import main
main()
"""


def _params(command: Any) -> dict[str, Any]:
    return {p.name: p for p in command.params}


def test_the_tables_are_the_typer_commands_options() -> None:
    launch = _params(load_command("launch"))
    flag = {n: getattr(p, "is_flag", False) for n, p in launch.items()}
    options = {opt: p.name for p in launch.values() for opt in p.opts if not flag[p.name]}
    flags = {opt: p.name for p in launch.values() for opt in p.opts if flag[p.name]}
    taken_by_typer = {"--data", "--help", "-h"}  # --data: a dataset review first
    assert {o: n for o, n in options.items() if o not in taken_by_typer and n != "command"} == {
        **launch_fast.LAUNCH_OPTIONS
    }
    assert {o: n for o, n in flags.items() if o not in taken_by_typer} == launch_fast.LAUNCH_FLAGS
    hints = typing.get_type_hints(launch_command)
    assert set(launch_fast.INTEGERS) == {n for n, t in hints.items() if t == int | None}
    import typer

    root = _params(typer.main.get_group(app))
    root_options = {o: n for n, p in root.items() if not p.is_flag for o in p.opts}
    rename = {"db_url": "db", "server_url": "server"}  # the callback's names for them
    assert {o: rename.get(n, n) for o, n in root_options.items()} == launch_fast.ROOT_OPTIONS


VALUES = st.sampled_from(["x", "vision", "12h", "0", "3", "-1", "a=b", "", "--", "-d", "2.5"])
OPTION = st.one_of(
    st.tuples(st.sampled_from([*sorted(launch_fast.LAUNCH_OPTIONS), "--data"]), VALUES).map(list),
    st.tuples(st.sampled_from(["--name", "--timeout", "--restarts"]), VALUES).map(
        lambda t: [f"{t[0]}={t[1]}"]
    ),
    st.sampled_from([["-d"], ["--detach"], ["stray"], ["-dp"]]),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(OPTION, max_size=4), st.lists(st.sampled_from(["echo", "-x", "--", "y"]), max_size=3)
)
def test_what_it_reads_is_what_typer_reads(options: list[list[str]], command: list[str]) -> None:
    args = [a for option in options for a in option]
    argv = ["launch", *args, "--", "echo", *command]
    parsed = launch_fast.parse(argv)
    if parsed is None:
        return  # Typer takes it
    root, flags, got = parsed
    ctx = load_command("launch").make_context("launch", [*args, "--", "echo", *command])
    typer_reads = {
        k: v for k, v in ctx.params.items() if v is not None and v is not False and v != []
    }
    assert root == {}
    assert got == typer_reads.pop("command")
    assert flags == typer_reads


def test_anything_unusual_goes_to_typer() -> None:
    for argv in (
        ["launch", "--help"],
        ["launch", "python"],  # no "--"
        ["launch", "--data", "d@v1", "--", "x"],
        ["launch", "-p", "a", "-p", "b", "--", "x"],
        ["launch", "--restarts", "two", "--", "x"],
        ["--version", "launch", "--", "x"],
        ["runs", "ls", "launch"],
        ["launch", "--"],
    ):
        assert launch_fast.parse(argv) is None, argv
    assert launch_fast.parse(["--home", "h", "launch", "-d", "--", "x", "--y"]) == (
        {"home": "h"},
        {"detach": True},
        ["x", "--y"],
    )


def test_the_command_starts_before_the_cli_and_the_store_load(tmp_path: Path) -> None:
    (tmp_path / "watch.py").write_text(WATCH)
    home = tmp_path / "home"
    done = subprocess.run(
        [sys.executable, "watch.py", "launch", "-p", "fast", "--", "echo", "hello"],
        cwd=tmp_path,
        env=cli_env(LABLINK_HOME=str(home)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "hello\n"
    assert "finished" in done.stderr
    loaded = json.loads((tmp_path / "modules.json").read_text())
    assert [m for m in loaded if m.split(".")[0] in HEAVY or m.startswith(HEAVY)] == []
    (run,) = runs_of(home, "fast")
    assert run.status == "finished" and run.command == ["echo", "hello"]


def test_bad_input_still_gets_typers_messages(tmp_path: Path) -> None:
    env = cli_env(LABLINK_HOME=str(tmp_path / "home"))
    for args, code, words in (
        (["--backend", "nope"], 2, "backend"),
        (["--timeout", "12x"], 1, "timeout"),
        (["-p", "bad name!"], 1, "project"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "lablink.cli", "launch", *args, "--", "touch", "started"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == code, (args, done.stderr)
        assert "error:" in done.stderr and words in done.stderr.lower(), done.stderr
        assert not (tmp_path / "started").exists()
