"""``lablink jobs logs JOB -f`` follows a real launched job that prints over time: every
line once, in order, stdout and stderr apart, and it ends when the job does."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from helpers import LoopbackServer, wait_for
from lablink.launch.logs import PREFIX, chunk_name, read_lines
from lablink.sdk.client import Client
from launch_helpers import LIMIT, cli_env

# prints a line every 0.15 s for about 4.5 s: the launcher stores a chunk a second, so
# the follower sees several chunks come while it follows
PRINTER = """
import sys, time
for i in range(1, 31):
    print(f"line-{i}", flush=True)
    if i % 10 == 0:
        print(f"warn-{i}", file=sys.stderr, flush=True)
    time.sleep(0.15)
"""


def _follow(tmp_path: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], str]:
    (tmp_path / "printer.py").write_text(PRINTER)
    cli = [sys.executable, "-m", "lablink.cli"]
    job = subprocess.Popen(
        [*cli, "launch", "-p", "follow", "--detach", "--", sys.executable, "printer.py"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def listed() -> list[dict[str, object]]:
            done = subprocess.run(
                [*cli, "jobs", "ls", "-p", "follow", "--json"],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=LIMIT,
            )
            return list(json.loads(done.stdout)["jobs"]) if done.returncode == 0 else []

        run_id = str(wait_for(listed, LIMIT, "the job's run")[0]["id"])
        followed = subprocess.run(
            [*cli, "jobs", "logs", run_id, "-f"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=LIMIT,
        )
        assert job.wait(LIMIT) == 0
    finally:
        job.kill()
    return followed, run_id


def _check(followed: subprocess.CompletedProcess[str]) -> None:
    assert followed.returncode == 0, followed.stderr
    assert followed.stdout.split() == [f"line-{i}" for i in range(1, 31)]
    assert followed.stderr.split() == ["warn-10", "warn-20", "warn-30"]


def test_follow_on_the_embedded_store(tmp_path: Path) -> None:
    home = tmp_path / "home"
    followed, run_id = _follow(tmp_path, cli_env(LABLINK_HOME=str(home)))
    _check(followed)
    with Client(home=str(home)) as client:
        transport = client._transport
        chunks = transport.artifact_page(run_id, PREFIX, None, 1000)
        assert len(chunks) >= 2  # it did follow more than one chunk
        # from a cursor, only the chunks after it come back
        after_first = [n for n, _ in read_lines(transport, run_id, 1)]
        assert after_first and min(after_first) == 2
        assert [a.name for a in transport.artifact_page(run_id, PREFIX, chunk_name(1), 1)] == [
            chunk_name(2)
        ]


def test_follow_over_a_server(server: LoopbackServer, tmp_path: Path) -> None:
    env = cli_env(LABLINK_SERVER=server.url, LABLINK_HOME=str(tmp_path / "home"))
    followed, _ = _follow(tmp_path, env)
    _check(followed)
