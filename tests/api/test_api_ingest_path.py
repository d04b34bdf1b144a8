"""The ingestion hot path (``server/ingest_path.py``) answers as the FastAPI route does.

Each request goes to two real servers over the same store: the app as served, where
``IngestPath`` answers batches, and the same app without that layer, where the
FastAPI route in ``api/metrics.py`` does. Status, headers that matter and body must
be the same, for good batches and for every kind of refusal.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from apitools import API, JSON, series

from helpers import AppServer, free_port
from lablink.checks.batchwire import CONTENT_TYPE, encode_batch
from lablink.core.lab import Lab
from lablink.server.app import create_app
from lablink.server.ingest_path import IngestPath

USER = "tester@example.org"


def _without_ingest_path(lab: Lab) -> Any:
    app = create_app(lab)
    app.user_middleware = [m for m in app.user_middleware if m.cls is not IngestPath]
    return app


@pytest.fixture
def pair(lab: Lab) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """Clients of the app as served and of the app without ``IngestPath``."""
    with (
        AppServer(create_app(lab)).start() as fast,
        AppServer(_without_ingest_path(lab)).start() as routed,
        httpx.Client(base_url=fast.url, timeout=10) as a,
        httpx.Client(base_url=routed.url, timeout=10) as b,
    ):
        yield a, b


def _same(a: httpx.Response, b: httpx.Response) -> dict[str, Any]:
    assert (a.status_code, a.content) == (b.status_code, b.content), (a.text, b.text)
    for name in ("content-type", "retry-after", "x-frame-options", "content-security-policy"):
        assert a.headers.get(name) == b.headers.get(name), name
    return dict(a.json())


def test_good_batches_answer_the_same(pair: tuple[httpx.Client, httpx.Client], lab: Lab) -> None:
    fast, routed = pair
    one, two = (lab.tracking.create_run(USER, "vision").id for _ in range(2))
    body = json.dumps({"seq": 0, "metrics": {"loss": series([0, 1], [1.0, float("nan")])}})
    a = fast.post(f"{API}/runs/{one}/batches", content=body, headers=JSON)
    b = routed.post(f"{API}/runs/{two}/batches", content=body, headers=JSON)
    assert _same(a, b) == {"ingested": True, "points": 2}
    # the same seq again: stored once
    a = fast.post(f"{API}/runs/{one}/batches", content=body, headers=JSON)
    b = routed.post(f"{API}/runs/{two}/batches", content=body, headers=JSON)
    assert _same(a, b) == {"ingested": False, "points": 0}
    packed = encode_batch(1, {"loss": series([2], [0.5])})
    binary = {"Content-Type": CONTENT_TYPE}
    a = fast.post(f"{API}/runs/{one}/batches", content=packed, headers=binary)
    b = routed.post(f"{API}/runs/{two}/batches", content=packed, headers=binary)
    assert _same(a, b) == {"ingested": True, "points": 1}
    assert lab.tracking.get_run(one).metrics["loss"].count == 3
    assert lab.tracking.history(one, "loss").steps == lab.tracking.history(two, "loss").steps


@pytest.mark.parametrize(
    ("content", "headers", "status"),
    [
        ('{"seq": 5, "metrics": {', JSON, 400),  # malformed JSON
        (b"", JSON, 400),  # empty
        ("[1, 2]", JSON, 400),  # not an object
        ('{"seq": -1, "metrics": {}}', JSON, 400),
        ('{"seq": 1, "metrics": {"k": {"steps": [0]}}}', JSON, 400),  # no times
        (b"\x00\x01", {"Content-Type": CONTENT_TYPE}, 400),  # a broken packed batch
        ('{"seq": 1, "metrics": {}}', {"Content-Type": "text/plain"}, 415),
        ('{"seq": 1, "metrics": {}}', {}, 415),
    ],
)
def test_refusals_answer_the_same(
    pair: tuple[httpx.Client, httpx.Client],
    lab: Lab,
    content: str | bytes,
    headers: dict[str, str],
    status: int,
) -> None:
    fast, routed = pair
    rid = lab.tracking.create_run(USER, "vision").id
    a = fast.post(f"{API}/runs/{rid}/batches", content=content, headers=headers)
    b = routed.post(f"{API}/runs/{rid}/batches", content=content, headers=headers)
    assert a.status_code == status
    assert _same(a, b)["error"]["code"]


def test_missing_and_ended_runs_answer_the_same(
    pair: tuple[httpx.Client, httpx.Client], lab: Lab
) -> None:
    fast, routed = pair
    body = json.dumps({"seq": 0, "metrics": {"loss": series([0], [1.0])}})
    for path in ("/runs/nosuchrun/batches", "/runs/%2e%2e/batches"):
        a = fast.post(API + path, content=body, headers=JSON)
        b = routed.post(API + path, content=body, headers=JSON)
        assert a.status_code == 404
        _same(a, b)
    rid = lab.tracking.create_run(USER, "vision").id
    lab.tracking.finish_run(USER, rid, "finished")
    a = fast.post(f"{API}/runs/{rid}/batches", content=body, headers=JSON)
    b = routed.post(f"{API}/runs/{rid}/batches", content=body, headers=JSON)
    assert _same(a, b)["error"]["code"] == "run_not_active"
    # other methods and paths near it are not the hot path's: the router answers
    for method, path in (("GET", f"/runs/{rid}/batches"), ("POST", f"/runs/{rid}/batches/")):
        a = fast.request(method, API + path, content=body, headers=JSON)
        b = routed.request(method, API + path, content=body, headers=JSON)
        assert a.status_code >= 300
        assert (a.status_code, a.content) == (b.status_code, b.content)


def test_a_body_over_the_limit_is_cut_off(lab: Lab) -> None:
    """A chunked body (no Content-Length) is counted as it streams: 413, nothing stored."""
    rid = lab.tracking.create_run(USER, "vision").id
    limit = lab.settings.max_request_bytes
    chunk = b" " * (1 << 20)

    def body() -> Iterator[bytes]:
        yield b'{"seq": 0, "metrics": {}}'
        for _ in range(limit // len(chunk) + 2):
            yield chunk

    with AppServer(create_app(lab)).start() as server, httpx.Client(timeout=30) as client:
        answer = client.post(f"{server.url}{API}/runs/{rid}/batches", content=body(), headers=JSON)
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "too_large"
    assert lab.tracking.get_run(rid).metrics == {}


def test_uvicorn_as_the_server_runs_it_serves_batches(lab: Lab) -> None:
    """Through uvicorn with h11 and its default loop (uvloop where installed)."""
    port = free_port()
    config = uvicorn.Config(
        create_app(lab), host="127.0.0.1", port=port, log_level="warning", http="h11"
    )
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive()
            time.sleep(0.02)
        rid = lab.tracking.create_run(USER, "vision").id
        url = f"http://127.0.0.1:{port}{API}/runs/{rid}/batches"
        with httpx.Client(timeout=10) as client:
            for seq in range(3):
                body = json.dumps({"seq": seq, "metrics": {"a": series([seq], [0.5])}})
                answer = client.post(url, content=body, headers=JSON)
                assert answer.json() == {"ingested": True, "points": 1}
            bad = client.post(url, content=b"{", headers=JSON)
            assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_request"
        assert lab.tracking.get_run(rid).metrics["a"].count == 3
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_each_batch_is_one_access_log_line(
    pair: tuple[httpx.Client, httpx.Client], lab: Lab, caplog: pytest.LogCaptureFixture
) -> None:
    fast, _ = pair
    rid = lab.tracking.create_run(USER, "vision").id
    body = json.dumps({"seq": 0, "metrics": {"loss": series([0], [1.0])}})
    caplog.set_level(logging.INFO, logger="lablink.server.access")
    fast.post(f"{API}/runs/{rid}/batches?x=1", content=body, headers=JSON)
    fast.post(f"{API}/runs/{rid}/batches", content=b"{", headers=JSON)
    lines = [r.getMessage() for r in caplog.records if r.name == "lablink.server.access"]
    assert len(lines) == 2, lines
    assert re.fullmatch(
        rf'127\.0\.0\.1 "POST {API}/runs/{rid}/batches\?x=1" 200 \d+\.\dms', lines[0]
    )
    assert re.fullmatch(rf'127\.0\.0\.1 "POST {API}/runs/{rid}/batches" 400 \d+\.\dms', lines[1])
    assert all(r.levelname == "INFO" for r in caplog.records if r.name == "lablink.server.access")
