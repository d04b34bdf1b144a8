"""Server-Sent Events over real servers: live delivery, replay, and across processes.

No sleeps: each test waits for the stream's ``: ready`` comment (sent after the
subscription is registered) before it writes, and every read is bounded by the
client's read timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from apitools import API, SseReader, post_batch, series

from helpers import LoopbackServer, free_port, make_settings
from lablink.core.lab import Lab
from lablink.models import Event
from lablink.server import live


@pytest.fixture
def sse(server: LoopbackServer) -> Iterator[httpx.Client]:
    """A second client for the event stream (reads block while the other writes)."""
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


def test_a_new_point_and_a_status_change_arrive(
    api: httpx.Client, sse: httpx.Client, new_run: Callable[..., dict[str, Any]]
) -> None:
    rid = new_run()["id"]
    with sse.stream("GET", f"{API}/runs/{rid}/events") as response:
        stream = SseReader(response)
        stream.wait_comment("ready")
        post_batch(api, rid, 0, {"train/loss": series([0, 1], [0.9, float("nan")])})
        points = stream.next_event()
        assert points.event == "points"
        assert points.data["run_id"] == rid and points.data["project"] == "vision"
        assert points.data["payload"]["points"] == 2
        assert points.data["payload"]["metrics"]["train/loss"]["steps"] == [0, 1]

        api.post(f"{API}/runs/{rid}/finish", json={"status": "finished"})
        status = stream.next_event()
        assert status.event == "status" and status.id > points.id
        assert status.data["payload"]["status"] == "finished"


def test_project_stream_filters_and_sees_new_runs(
    api: httpx.Client, sse: httpx.Client, new_run: Callable[..., dict[str, Any]]
) -> None:
    with sse.stream("GET", f"{API}/events", params={"project": "vision"}) as response:
        stream = SseReader(response)
        stream.wait_comment("ready")
        new_run(project="audio")  # earlier, but another project: filtered out
        mine = new_run(project="vision", name="fresh")
        created = stream.next_event()
        assert created.event == "run_created"
        assert created.data["run_id"] == mine["id"]
        assert created.data["payload"]["name"] == "fresh"


def test_cursor_and_last_event_id_replay_then_continue_live(
    api: httpx.Client, sse: httpx.Client, new_run: Callable[..., dict[str, Any]]
) -> None:
    rid = new_run()["id"]
    post_batch(api, rid, 0, {"loss": series([0], [1.0])})
    api.post(f"{API}/runs/{rid}/finish", json={"status": "finished"})

    with sse.stream("GET", f"{API}/events", params={"run": rid, "cursor": 0}) as response:
        stream = SseReader(response)
        kinds = [stream.next_event() for _ in range(3)]
    assert [e.event for e in kinds] == ["run_created", "points", "status"]

    # A reconnecting browser sends Last-Event-ID; it wins over the URL's cursor.
    headers = {"Last-Event-ID": str(kinds[0].id)}
    params = {"project": "vision", "cursor": 0}
    with sse.stream("GET", f"{API}/events", params=params, headers=headers) as response:
        stream = SseReader(response)
        replayed = [stream.next_event(), stream.next_event()]
        assert [e.id for e in replayed] == [kinds[1].id, kinds[2].id]
        later = new_run(name="later")  # live after the replay, delivered once
        live_event = stream.next_event()
        assert live_event.event == "run_created" and live_event.data["run_id"] == later["id"]


def test_keepalive_comments(
    server: LoopbackServer, sse: httpx.Client, new_run: Callable[..., dict[str, Any]]
) -> None:
    server.server.config.app.state.live.keepalive_seconds = 0.05
    with sse.stream("GET", f"{API}/events") as response:
        stream = SseReader(response)
        stream.wait_comment("ready")
        stream.wait_comment("keepalive")


@pytest.mark.postgres
def test_a_write_on_one_server_reaches_a_subscriber_of_another(pg_url: str, tmp_path: Path) -> None:
    """Two apps over two Labs on one schema, as two server processes would be.

    Nothing is shared in memory: B learns of A's writes only through the database
    (LISTEN/NOTIFY wakes B's hub; its periodic re-check is the fallback).
    """
    settings = make_settings(tmp_path / "home", db=pg_url, user="tester@example.org")
    with Lab(settings) as lab_a, Lab(settings) as lab_b:
        server_a, server_b = LoopbackServer(lab_a).start(), LoopbackServer(lab_b).start()
        try:
            with (
                httpx.Client(base_url=server_a.url, timeout=10) as writer,
                httpx.Client(base_url=server_b.url, timeout=10) as reader,
                reader.stream("GET", f"{API}/events", params={"project": "vision"}) as resp,
            ):
                stream = SseReader(resp)
                stream.wait_comment("ready")
                rid = writer.post(f"{API}/runs", json={"project": "vision"}).json()["id"]
                assert stream.next_event().event == "run_created"
                post_batch(writer, rid, 0, {"loss": series([0], [0.25])})
                points = stream.next_event()
                assert points.event == "points" and points.data["run_id"] == rid
                writer.post(f"{API}/runs/{rid}/finish", json={"status": "killed"})
                status = stream.next_event()
                assert status.data["payload"]["status"] == "killed"
        finally:
            server_a.stop()
            server_b.stop()


def test_serve_logs_requests_and_stops_promptly_with_an_open_stream(tmp_path: Path) -> None:
    """``serve`` as a real process: one log line per request; SIGTERM ends open streams."""
    port = free_port()
    code = (
        "from lablink.server.app import serve; from lablink.settings import Settings; "
        f"serve(Settings.load({{'home': {str(tmp_path / 'home')!r}}}), '127.0.0.1', {port})"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=url, timeout=10) as client:
            deadline = time.monotonic() + 30
            while True:  # bounded wait for start-up
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline and proc.poll() is None, "server did not start"
                time.sleep(0.05)
            with client.stream("GET", f"{API}/events") as response:
                SseReader(response).wait_comment("ready")
                proc.send_signal(signal.SIGTERM)
                output, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    log = output.decode()
    assert proc.returncode in (0, -signal.SIGTERM), log  # uvicorn re-raises the signal
    assert '"GET /healthz" 200' in log
    assert '"GET /api/v1/events" 200' in log
    assert "Traceback" not in log and "Warning" not in log, log


# -- the hub's bookkeeping, without a server --------------------------------------------


def _event(event_id: int, run_id: str = "r1") -> Event:
    return Event(event_id, "vision", run_id, "points", {}, 0.0)


def test_hub_delivers_events_that_commit_out_of_order() -> None:
    hub = live.EventHub(store=None)  # type: ignore[arg-type]
    hub._cursor = 10
    assert [e.id for e in hub._accept([_event(11), _event(13)])] == [11, 13]
    assert hub._horizon() == 11  # id 12 may still commit
    assert [e.id for e in hub._accept([_event(12), _event(13), _event(14)])] == [12, 14]
    assert hub._horizon() == 14


def test_a_subscriber_too_far_behind_is_closed_after_draining(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(live, "QUEUE_LIMIT", 3)

    async def scenario() -> list[int | None]:
        sub = live.Subscription("vision", None, horizon=0)
        for i in range(1, 6):
            sub.push(_event(i))
        assert sub.overflowed and sub.closed
        got = [await sub.next(1.0) for _ in range(4)]
        return [e.id if e else None for e in got]

    assert asyncio.run(scenario()) == [1, 2, 3, None]


def test_subscription_filters_by_project_and_run() -> None:
    sub = live.Subscription("vision", "r1", horizon=0)
    assert sub.matches(_event(1, "r1"))
    assert not sub.matches(_event(2, "r2"))
    assert not live.Subscription("audio", None, horizon=0).matches(_event(3))
    assert os.environ.get("LABLINK_USER") == "tester@example.org"  # clean_environ applies


def test_live_streams_are_capped_per_client_with_429_and_retry_after(
    server: LoopbackServer,
) -> None:
    from lablink.server.api.events import MAX_STREAMS_PER_CLIENT

    with httpx.Client(base_url=server.url, timeout=10) as client, contextlib.ExitStack() as open_:
        for _ in range(MAX_STREAMS_PER_CLIENT):
            stream = open_.enter_context(client.stream("GET", f"{API}/events"))
            assert stream.status_code == 200
        refused = client.get(f"{API}/events")
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "too_many_streams"
        assert refused.headers["retry-after"] == "3"
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for _ in range(100):  # closed streams are freed once the server sees them go
            with client.stream("GET", f"{API}/events") as again:
                if again.status_code == 200:
                    break
            time.sleep(0.1)
        assert again.status_code == 200
