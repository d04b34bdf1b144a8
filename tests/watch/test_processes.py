"""Real training processes against a real server with its watchdog: SIGKILL → crashed,
SIGSTOP → crashed then revived, SIGTERM → killed, max_runtime → timed_out, a normal end
under a slow server → finished and never crashed."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from watch_support import child_env, project_folder, reap, spawn

from helpers import LoopbackServer, free_port, wait_for
from lablink.core.lab import Lab

TIMEOUT = 2.5  # heartbeat_timeout in the children's lablink.toml (heartbeats every 0.2 s)
LOOP = """
import time, lablink
with lablink.init(project="child", name="child") as run:
    print(run.id, flush=True)
    step = 0
    while True:
        run.log({"train/loss": 1.0 / (step + 1)}, step=step)
        step += 1
        time.sleep(0.005)
"""


def statuses(lab: Lab, run_id: str) -> list[str]:
    return [
        e.payload["status"]
        for e in lab.store.events_since(0, None, run_id, 10_000)
        if e.kind == "status"
    ]


@pytest.fixture
def setup(
    tmp_path: Path, make_lab: Callable[..., Lab], serve: Callable[[Lab], LoopbackServer]
) -> tuple[Lab, Path, dict[str, str]]:
    lab = make_lab()
    server = serve(lab)
    folder = project_folder(tmp_path, f'[watch]\nheartbeat_timeout = "{TIMEOUT}s"\n', "child")
    return lab, folder, child_env(server.url, tmp_path / "child-home")


def test_sigkill_is_crashed_with_an_incident(setup: tuple[Lab, Path, dict[str, str]]) -> None:
    lab, folder, env = setup
    child, run_id = spawn(folder, LOOP, env)
    try:
        wait_for(lambda: lab.tracking.get_run(run_id).metrics.get("train/loss"), 30, "points")
        child.kill()
        child.wait(30)
        run = wait_for(
            lambda: (r := lab.tracking.get_run(run_id)).status == "crashed" and r, 30, "crashed"
        )
    finally:
        reap(child)
    assert "heartbeat" in (run.status_reason or "")
    [incident] = wait_for(lambda: lab.watchdog.incidents.list(run=run_id), 10, "the incident")
    assert (incident.kind, incident.state, incident.action) == ("lost_heartbeat", "open", "crash")


def test_sigstop_is_crashed_then_revived_by_sigcont(
    setup: tuple[Lab, Path, dict[str, str]],
) -> None:
    lab, folder, env = setup
    child, run_id = spawn(folder, LOOP, env)
    try:
        wait_for(lambda: lab.tracking.get_run(run_id).metrics.get("train/loss"), 30, "points")
        child.send_signal(signal.SIGSTOP)  # frozen: alive, but no heartbeat
        wait_for(lambda: lab.tracking.get_run(run_id).status == "crashed", 30, "crashed")
        child.send_signal(signal.SIGCONT)
        wait_for(lambda: lab.tracking.get_run(run_id).status == "running", 30, "revived")
        # the revival resolves the lost-heartbeat incident right after the status change
        [incident] = wait_for(
            lambda: [i for i in lab.watchdog.incidents.list(run=run_id) if i.state == "resolved"],
            10,
            "the incident resolved",
        )
        assert incident.resolved_by == "watchdog" and "resumed" in (incident.resolution_note or "")
        child.send_signal(signal.SIGTERM)
        child.wait(60)
    finally:
        err = reap(child)
    run = lab.tracking.get_run(run_id)
    assert run.status == "killed", err
    assert statuses(lab, run_id) == ["crashed", "running", "killed"]


def test_sigterm_is_killed_not_crashed(setup: tuple[Lab, Path, dict[str, str]]) -> None:
    lab, folder, env = setup
    child, run_id = spawn(folder, LOOP, env)
    try:
        wait_for(lambda: lab.tracking.get_run(run_id).metrics.get("train/loss"), 30, "points")
        child.send_signal(signal.SIGTERM)
        assert child.wait(60) == -signal.SIGTERM
    finally:
        err = reap(child)
    lab.watchdog.tick()  # and later ticks change nothing
    assert lab.tracking.get_run(run_id).status == "killed", err
    assert statuses(lab, run_id) == ["killed"]
    assert lab.watchdog.incidents.list(run=run_id) == []


@pytest.mark.parametrize("stop_signal", ["exception", "sigterm"])
def test_max_runtime_asks_to_stop_then_times_out(
    tmp_path: Path,
    make_lab: Callable[..., Lab],
    serve: Callable[[Lab], LoopbackServer],
    stop_signal: str,
) -> None:
    lab = make_lab()
    server = serve(lab)
    folder = project_folder(tmp_path, '[watch]\nmax_runtime = "1s"\n', "child")
    env = child_env(server.url, tmp_path / "child-home", LABLINK_STOP_SIGNAL=stop_signal)
    child, run_id = spawn(folder, LOOP, env)
    try:
        code = child.wait(60)
    finally:
        err = reap(child)
    run = lab.tracking.get_run(run_id)
    assert run.status == "timed_out", err
    assert "max_runtime" in (run.status_reason or "")
    assert code == (1 if stop_signal == "exception" else -signal.SIGTERM), err
    if stop_signal == "exception":
        assert "RunStopped" in err
    [incident] = lab.watchdog.incidents.list(run=run_id)
    assert (incident.kind, incident.action) == ("timeout", "stop")


class SlowApp:
    """ASGI middleware: every run request waits ``delay`` seconds first (a loaded server)."""

    def __init__(self, app: Any, delay: float) -> None:
        self.app = app
        self.delay = delay

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/api/v1/runs/"):
            await asyncio.sleep(self.delay)
        await self.app(scope, receive, send)


@pytest.fixture
def slow_server(make_lab: Callable[..., Lab]) -> Iterator[tuple[Lab, str]]:
    import uvicorn

    from lablink.server.app import create_app

    lab = make_lab()
    port = free_port()
    config = uvicorn.Config(
        SlowApp(create_app(lab), 0.3),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started or not thread.is_alive(), 20, "the server")
    yield lab, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_a_normal_end_under_a_slow_server_is_never_crashed(
    tmp_path: Path, slow_server: tuple[Lab, str]
) -> None:
    lab, url = slow_server
    folder = project_folder(tmp_path, '[watch]\nheartbeat_timeout = "2s"\n', "child")
    source = """
    import lablink
    with lablink.init(project="child", name="slow") as run:
        print(run.id, flush=True)
        for step in range(200_000):
            run.log({"train/loss": 1.0 / (step + 1), "lr": 0.1}, step=step)
    """
    child, run_id = spawn(folder, source, child_env(url, tmp_path / "child-home"))
    try:
        assert child.wait(120) == 0
    finally:
        err = reap(child)
    lab.watchdog.tick()
    assert lab.tracking.get_run(run_id).status == "finished", err
    assert statuses(lab, run_id) == ["finished"]
    assert len(lab.tracking.history(run_id, "train/loss").steps) == 200_000
