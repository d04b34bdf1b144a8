"""``lablink data`` in-process (CliRunner), and real ``lablink server`` children."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from datatools import make_tree, tree_bytes
from typer.testing import CliRunner, Result

from helpers import free_port
from lablink.cli.main import app


class Cli:
    def __init__(self, home: Path) -> None:
        self.runner = CliRunner()
        self.env = {"COLUMNS": "200", "LABLINK_HOME": str(home)}

    def __call__(self, *args: str, code: int = 0) -> Result:
        result = self.runner.invoke(app, list(args), catch_exceptions=False, env=self.env)
        assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
        return result


@pytest.fixture
def cli(tmp_path: Path, work: Path) -> Cli:
    return Cli(tmp_path / "home")


def test_add_ls_log_show_pull_diff_used_by(cli: Cli, work: Path) -> None:
    src = make_tree(work / "src", files=12)
    first = cli("data", "add", str(src), "--name", "cifar-mini", "-m", "first")
    assert "cifar-mini@v1" in first.stdout and "13 new blobs" in first.stdout
    assert "lablink data pull cifar-mini@v1" in first.stdout  # what to tell a colleague
    (src / "part0" / "f0000.bin").unlink()
    (src / "extra.txt").write_text("more")
    second = cli("data", "add", str(src), "-n", "cifar-mini", "-m", "drop one", "--json")
    assert json.loads(second.stdout)["version"]["ref"] == "cifar-mini@v2"
    same = cli("data", "add", str(src), "-n", "cifar-mini")
    assert "cifar-mini@v2 unchanged" in same.stdout and "not recorded" not in same.stdout
    for flags in (["-m", "again"], ["--from", "cifar-mini@v1"], ["--version", "3"]):
        again = cli("data", "add", str(src), "-n", "cifar-mini", *flags)
        assert "cifar-mini@v2 unchanged" in again.stdout, flags
        assert f"{flags[0]} not recorded" in again.stdout, flags
    as_json = json.loads(
        cli("data", "add", str(src), "-n", "cifar-mini", "-m", "x", "--json").stdout
    )
    assert as_json["created"] is False and as_json["version"]["ref"] == "cifar-mini@v2"
    derived = cli("data", "add", str(src / "part1"), "-n", "part1", "--from", "cifar-mini@v2")
    assert "part1@v1" in derived.stdout

    listed = json.loads(cli("data", "ls", "--json").stdout)["datasets"]
    assert [(d["name"], d["latest"]) for d in listed] == [("cifar-mini", 2), ("part1", 1)]
    assert "cifar-mini" in cli("data", "ls").stdout
    log = cli("data", "log", "cifar-mini")
    assert "drop one" in log.stdout and "cifar-mini@v1" in log.stdout
    shown = json.loads(cli("data", "show", "cifar-mini@v2", "--json").stdout)
    assert shown["version"]["message"] == "drop one" and len(shown["files"]) == 14
    assert shown["version"]["source_command"].startswith("lablink data add")
    text = cli("data", "show", "part1", "--files").stdout
    assert "cifar-mini@v2" in text and "f0001.bin" in text

    diff = cli("data", "diff", "cifar-mini@v1", "cifar-mini@v2")
    assert "+ extra.txt" in diff.stdout and "- part0/f0000.bin" in diff.stdout
    assert "1 added, 1 removed, 0 changed" in diff.stdout
    as_json = json.loads(cli("data", "diff", "cifar-mini@v1", "cifar-mini@v2", "--json").stdout)
    assert [e["path"] for e in as_json["added"]] == ["extra.txt"]

    pulled = json.loads(
        cli("data", "pull", "cifar-mini@v2", "--to", str(work / "out"), "--json").stdout
    )
    assert pulled["files"] == 14 and pulled["linked"] == 14
    assert tree_bytes(work / "out") == tree_bytes(src)
    again = cli("data", "pull", "cifar-mini@v2", "--to", str(work / "out"))
    assert "14 already in place" in again.stdout
    os.chdir(work)
    cli("data", "pull", "part1")  # default folder: ./<name>
    assert (work / "part1" / "f0001.bin").is_file()

    used = json.loads(cli("data", "used-by", "cifar-mini@v2", "--json").stdout)
    assert [v["ref"] for v in used["versions"]] == ["part1@v1"]
    assert "part1@v1" in cli("data", "used-by", "cifar-mini@v2").stdout
    assert "embedded" in cli("data", "endpoints").stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["data", "add", "nowhere", "--name", "x"], "does not exist"),
        (["data", "add", ".", "--name", "bad name"], "invalid dataset name"),
        (["data", "pull", "ghost@v1"], "no dataset named 'ghost'"),
        (["data", "show", "x@v0"], "invalid version"),
        (["data", "log", "ghost"], "no dataset named 'ghost'"),
        (["data", "diff", "ghost", "ghost@v2"], "no dataset named 'ghost'"),
        (["data", "used-by", "md5:00"], "invalid dataset name"),
    ],
)
def test_errors_print_a_message_and_exit_1(cli: Cli, args: list[str], message: str) -> None:
    result = cli(*args, code=1)
    assert message in result.stderr and "Traceback" not in result.stderr


def test_a_version_clash_is_a_clear_error(cli: Cli, work: Path) -> None:
    src = make_tree(work / "src", files=2)
    cli("data", "add", str(src), "-n", "pin", "--version", "1")
    (src / "new").write_text("n")
    result = cli("data", "add", str(src), "-n", "pin", "--version", "1", code=1)
    assert "pin@v1 already exists and versions are immutable" in result.stderr


def test_a_pull_that_would_overwrite_the_wrong_kind_of_thing_is_a_clear_error(
    cli: Cli, work: Path
) -> None:
    cli("data", "add", str(make_tree(work / "src", files=3)), "-n", "t")
    a_file = work / "a-file"
    a_file.write_text("mine")
    refused = cli("data", "pull", "t", "--to", str(a_file), code=1)
    assert "is a file" in refused.stderr and "Traceback" not in refused.stderr
    assert a_file.read_text() == "mine"

    file_for_folder = work / "dest1"
    file_for_folder.mkdir()
    (file_for_folder / "part0").write_text("in the way")  # the version has a folder part0/
    refused = cli("data", "pull", "t", "--to", str(file_for_folder), code=1)
    assert f"{file_for_folder / 'part0'} is a file" in refused.stderr
    assert (file_for_folder / "part0").read_text() == "in the way"

    folder_for_file = work / "dest2"
    (folder_for_file / "same-a.txt").mkdir(parents=True)  # the version has a file there
    refused = cli("data", "pull", "t", "--to", str(folder_for_file), code=1)
    assert "is a folder where the version has a file" in refused.stderr

    pulled = cli("data", "pull", "t", "--to", str(work / "fine"))  # the cache kept the blobs
    assert tree_bytes(work / "fine") == tree_bytes(work / "src")
    assert "Traceback" not in pulled.stderr


def test_pull_include_fetches_and_places_only_the_matching_files(cli: Cli, work: Path) -> None:
    src = make_tree(work / "src", files=9)
    cli("data", "add", str(src), "-n", "t")
    args = ["data", "pull", "t", "--to", str(work / "some"), "-i", "part1/", "-i", "*-a.txt"]
    pulled = json.loads(cli(*args, "--json").stdout)
    wanted = {
        p: b for p, b in tree_bytes(src).items() if p.startswith("part1/") or p == "same-a.txt"
    }
    assert tree_bytes(work / "some") == wanted and pulled["files"] == len(wanted) == 4
    assert pulled["fetched_blobs"] == 4  # the chosen files only (the push cached the manifest)
    refused = cli("data", "pull", "t", "--to", str(work / "none"), "-i", "part9/", code=1)
    assert "no file matches 'part9/'" in refused.stderr and "Traceback" not in refused.stderr
    assert not (work / "none").exists()  # refused before anything was made
    everything = json.loads(cli("data", "pull", "t", "--to", str(work / "all"), "--json").stdout)
    assert tree_bytes(work / "all") == tree_bytes(src)
    assert everything["fetched_blobs"] == 9 + 1 - 4  # 10 distinct blobs, 4 cached before


def test_cache_shows_prunes_and_clears_without_breaking_pulled_folders(
    cli: Cli, work: Path
) -> None:
    src = make_tree(work / "src", files=6, size=(10_000, 10_000))
    cli("data", "add", str(src), "-n", "t")
    cli("data", "pull", "t", "--to", str(work / "out"))
    shown = json.loads(cli("data", "cache", "--json").stdout)
    assert shown["blobs"] == 8 and shown["bytes"] > 60_000  # 6 files, 1 shared, the manifest
    assert shown["evicted_blobs"] == 0 and "blobs" in cli("data", "cache").stdout

    pruned = json.loads(cli("data", "cache", "--prune", "30000", "--json").stdout)
    assert pruned["bytes"] <= 30_000 and pruned["evicted_blobs"] > 0
    assert pruned["freed_bytes"] == shown["bytes"] - pruned["bytes"]
    cleared = json.loads(cli("data", "cache", "--clear", "--json").stdout)
    assert cleared["bytes"] == 0 and cleared["blobs"] == 0
    assert tree_bytes(work / "out") == tree_bytes(src)  # hardlinks keep the pulled files

    again = json.loads(cli("data", "pull", "t", "--to", str(work / "again"), "--json").stdout)
    assert again["fetched_blobs"] == 8 and tree_bytes(work / "again") == tree_bytes(src)
    refused = cli("data", "cache", "--prune", "lots", code=1)
    assert "'lots' is not a size" in refused.stderr
    assert "not both" in cli("data", "cache", "--prune", "1GB", "--clear", code=1).stderr


def test_diff_against_a_local_folder_shows_what_adding_it_would_change(
    cli: Cli, work: Path
) -> None:
    src = make_tree(work / "src", files=6)
    cli("data", "add", str(src), "-n", "t")
    same = json.loads(cli("data", "diff", "t", str(src), "--json").stdout)
    assert same["old"] == "t@v1" and same["added"] == same["removed"] == same["changed"] == []

    (src / "part0" / "f0000.bin").unlink()
    (src / "part1" / "f0001.bin").write_bytes(b"new bytes")
    (src / "notes.txt").write_text("added")
    changes = json.loads(cli("data", "diff", "t@v1", str(src), "--json").stdout)
    assert [e["path"] for e in changes["added"]] == ["notes.txt"]
    assert [e["path"] for e in changes["removed"]] == ["part0/f0000.bin"]
    assert [e["path"] for e in changes["changed"]] == ["part1/f0001.bin"]
    assert changes["changed"][0]["new"]["size"] == len(b"new bytes")
    text = cli("data", "diff", "t@v1", str(src)).stdout
    assert "+ notes.txt" in text and "1 added, 1 removed, 1 changed" in text
    missing = cli("data", "diff", "t", str(work / "nowhere"), code=1)
    assert "does not exist" in missing.stderr

    cli("data", "add", str(src), "-n", "t")  # the diff matched what a push then records
    pushed = json.loads(cli("data", "diff", "t@v1", "t@v2", "--json").stdout)
    assert {k: pushed[k] for k in ("added", "removed", "changed")} == {
        k: changes[k] for k in ("added", "removed", "changed")
    }


def test_add_exclude_leaves_files_out_and_diff_agrees(cli: Cli, work: Path) -> None:
    src = make_tree(work / "src", files=4)
    (src / ".git").mkdir()
    (src / ".git" / "HEAD").write_text("ref: main")
    (src / "part0" / "scratch.tmp").write_text("junk")
    args = ["data", "add", str(src), "-n", "t", "-x", ".git/", "-x", "*.tmp", "--json"]
    added = json.loads(cli(*args).stdout)["version"]
    shown = json.loads(cli("data", "show", "t", "--json").stdout)
    paths = {f["path"] for f in shown["files"]}
    assert ".git/HEAD" not in paths and "part0/scratch.tmp" not in paths
    assert added["files"] == len(paths) == 6  # 4 files and the two equal ones
    assert "--exclude .git/" in shown["version"]["source_command"]
    same = json.loads(
        cli("data", "diff", "t", str(src), "-x", ".git/", "-x", "*.tmp", "--json").stdout
    )
    assert same["added"] == same["removed"] == same["changed"] == []
    unfiltered = json.loads(cli("data", "diff", "t", str(src), "--json").stdout)
    assert [e["path"] for e in unfiltered["added"]] == [".git/HEAD", "part0/scratch.tmp"]
    refused = cli("data", "add", str(src), "-n", "t", "-x", "*", code=1)
    assert "every file of" in refused.stderr and "is excluded" in refused.stderr


# -- real processes ---------------------------------------------------------------------
def lablink(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = "from lablink.cli.main import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1", **env},
        check=False,
    )


def start_server(args: list[str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    code = "from lablink.cli.main import main; main()"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-c", code, "server", "--port", str(port), *args],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(log.read_text(errors="replace")[-2000:])
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1):
                return proc, url
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"{url} did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[str, str, subprocess.Popen[bytes]]]:
    """``lablink server`` (origin) and ``lablink server --upstream`` (edge) children."""
    origin, origin_url = start_server(["--home", str(tmp_path / "origin")], tmp_path / "o.log")
    try:
        edge, edge_url = start_server(
            ["--home", str(tmp_path / "edge"), "--upstream", origin_url, "--cache-size", "1MB"],
            tmp_path / "e.log",
        )
        try:
            yield origin_url, edge_url, edge
        finally:
            stop(edge)
    finally:
        stop(origin)


def test_real_origin_and_edge_processes(
    servers: tuple[str, str, subprocess.Popen[bytes]], tmp_path: Path, work: Path
) -> None:
    origin_url, edge_url, edge = servers
    src = make_tree(work / "src", files=30)
    env = {"LABLINK_SERVER": origin_url, "LABLINK_HOME": str(tmp_path / "a")}
    added = lablink("data", "add", str(src), "--name", "shared", "-m", "hi", env=env)
    assert added.returncode == 0, added.stderr
    both = f"{edge_url},{origin_url}"
    env_b = {
        "LABLINK_SERVER": origin_url,
        "LABLINK_HOME": str(tmp_path / "b"),
        "LABLINK_DATA_ENDPOINTS": both,
    }
    pulled = lablink("data", "pull", "shared@v1", "--to", str(work / "b"), env=env_b)
    assert pulled.returncode == 0, pulled.stderr
    assert tree_bytes(work / "b") == tree_bytes(src)
    with urllib.request.urlopen(f"{edge_url}/api/v1/edge", timeout=5) as answer:
        status = json.loads(answer.read())
    assert status["stats"]["upstream_blobs"] == 32 and status["cache"]["limit"] == 1_000_000
    stop(edge)  # the edge dies: the next client reads from the origin without noticing
    env_c = {**env_b, "LABLINK_HOME": str(tmp_path / "c")}
    pulled = lablink("data", "pull", "shared@v1", "--to", str(work / "c"), "--json", env=env_c)
    assert pulled.returncode == 0, pulled.stderr
    assert tree_bytes(work / "c") == tree_bytes(src)
    endpoints = lablink("data", "endpoints", "--json", env=env_c)
    rows = json.loads(endpoints.stdout)["endpoints"]
    assert rows[0]["url"] == origin_url and rows[1]["latency_ms"] is None


def test_progress_draws_no_bar_for_a_stage_with_nothing_to_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io

    from rich.console import Console

    from lablink.cli import data_render, output

    sink = io.StringIO()
    terminal = Console(file=sink, force_terminal=True, width=100)
    monkeypatch.setattr(output, "err_console", lambda: terminal)
    with data_render.BarProgress() as bars:
        bars.stage("uploading", 0)(0)
        bars.stage("downloading", 10)(10)
    assert "downloading" in sink.getvalue() and "uploading" not in sink.getvalue()
