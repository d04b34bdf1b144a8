"""Bounds on what is cheap to send and dear to store: each refused with a clear 4xx,
nothing stored; and a large body is decoded off the event loop.
"""

from __future__ import annotations

import http.client
import json
import math
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from apitools import API, JSON, assert_envelope, post_batch, series

from helpers import LoopbackServer
from lablink.checks.limits import (
    MAX_CONFIG_BYTES,
    MAX_DEPTH,
    MAX_NOTE_CHARS,
    MAX_PARAMS,
    MAX_SMALL_BODY_BYTES,
    MAX_SUMMARY_BYTES,
    MAX_TAGS,
)
from lablink.server import offloop

Snapshot = Callable[[], str]
NewRun = Callable[..., dict[str, Any]]


def nested(depth: int) -> dict[str, Any]:
    """A config nested ``depth`` objects deep."""
    config: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        config = {"k": config}
    return config


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"x": list(range(MAX_CONFIG_BYTES // 4))}, ("config is", f"at most {MAX_CONFIG_BYTES}")),
        ({f"p{i}": i for i in range(MAX_PARAMS + 1)}, ("params", f"at most {MAX_PARAMS}")),
        (nested(MAX_DEPTH + 2), ("nested deeper than", str(MAX_DEPTH))),
    ],
    ids=["bytes", "params", "depth"],
)
def test_a_config_over_a_bound_is_refused_and_nothing_stored(
    api: httpx.Client, snapshot: Snapshot, config: dict[str, Any], words: tuple[str, ...]
) -> None:
    before = snapshot()
    response = api.post(f"{API}/runs", json={"project": "big", "config": config})
    message = assert_envelope(response, 400, "bad_request")["message"]
    assert all(word in message for word in words), message
    assert snapshot() == before


def test_a_config_at_the_depth_bound_is_kept(api: httpx.Client) -> None:
    run = api.post(f"{API}/runs", json={"project": "deep", "config": nested(MAX_DEPTH)}).json()
    assert run["params"] == {"k." * (MAX_DEPTH - 1) + "leaf": 1}


def test_a_body_over_the_small_limit_is_413_naming_it(
    api: httpx.Client, snapshot: Snapshot
) -> None:
    before = snapshot()
    body = b'{"project": "big", "config": {"x": [' + b",".join([b"1"] * 2_000_000) + b"]}}"
    response = api.post(f"{API}/runs", content=body, headers=JSON)
    message = assert_envelope(response, 413, "too_large")["message"]
    assert str(MAX_SMALL_BODY_BYTES) in message and "/api/v1/runs" in message, message
    assert snapshot() == before


def test_bulk_writes_keep_the_larger_limit(api: httpx.Client, new_run: NewRun) -> None:
    rid = new_run()["id"]
    steps = list(range(60_000))
    metrics = {"loss": series(steps, [0.25] * len(steps))}
    assert len(json.dumps({"seq": 0, "metrics": metrics})) > MAX_SMALL_BODY_BYTES
    response = post_batch(api, rid, 0, metrics)
    assert response.status_code == 200, response.text
    assert response.json()["points"] == len(steps)


def test_tags_are_bounded_on_create_and_on_add(
    api: httpx.Client, new_run: NewRun, snapshot: Snapshot
) -> None:
    many = [f"t{i}" for i in range(MAX_TAGS + 1)]
    before = snapshot()
    refused = api.post(f"{API}/runs", json={"project": "tags", "tags": many})
    assert str(MAX_TAGS) in assert_envelope(refused, 400)["message"]
    assert snapshot() == before
    rid = new_run("tags", tags=many[:MAX_TAGS])["id"]
    before = snapshot()
    response = api.post(f"{API}/runs/{rid}/tags", json={"add": ["one-more"]})
    message = assert_envelope(response, 400, "bad_request")["message"]
    assert f"at most {MAX_TAGS} tags" in message, message
    assert snapshot() == before
    swapped = api.post(f"{API}/runs/{rid}/tags", json={"add": ["new"], "remove": ["t0"]})
    assert swapped.status_code == 200, swapped.text
    assert len(swapped.json()["tags"]) == MAX_TAGS


def test_a_note_over_the_bound_is_refused(
    api: httpx.Client, new_run: NewRun, snapshot: Snapshot
) -> None:
    rid = new_run()["id"]
    before = snapshot()
    response = api.post(f"{API}/runs/{rid}/notes", json={"text": "n" * (MAX_NOTE_CHARS + 1)})
    assert str(MAX_NOTE_CHARS) in assert_envelope(response, 400, "bad_request")["message"]
    assert snapshot() == before


def test_a_summary_over_the_bound_is_refused_alone_or_merged(
    api: httpx.Client, new_run: NewRun, snapshot: Snapshot
) -> None:
    rid = new_run()["id"]
    half = "s" * (MAX_SUMMARY_BYTES // 2)
    before = snapshot()
    alone = api.post(f"{API}/runs/{rid}/summary", json={"a": half + half})
    assert f"at most {MAX_SUMMARY_BYTES}" in assert_envelope(alone, 400)["message"]
    assert snapshot() == before
    assert api.post(f"{API}/runs/{rid}/summary", json={"a": half}).status_code == 200
    before = snapshot()
    merged = api.post(f"{API}/runs/{rid}/summary", json={"b": half})
    assert "summary" in assert_envelope(merged, 400, "bad_request")["message"]
    assert snapshot() == before


def test_run_lists_leave_config_out_unless_asked(api: httpx.Client, new_run: NewRun) -> None:
    new_run("listed", config={"lr": 0.1, "model": {"depth": 50}})
    plain = api.get(f"{API}/runs", params={"project": "listed"}).json()["runs"][0]
    assert "config" not in plain and "params" not in plain, plain
    assert plain["project"] == "listed"
    full = api.get(f"{API}/runs", params={"project": "listed", "config": "true"}).json()
    assert full["runs"][0]["params"] == {"lr": 0.1, "model.depth": 50}


def test_nan_and_inf_in_config_are_kept(api: httpx.Client) -> None:
    body = b'{"project": "nan", "config": {"a": NaN, "b": [Infinity, -Infinity], "c": {"d": NaN}}}'
    created = api.post(f"{API}/runs", content=body, headers=JSON)
    assert created.status_code == 201, created.text
    run = api.get(f"{API}/runs/{created.json()['id']}").json()
    config = run["config"]
    assert math.isnan(config["a"]) and math.isnan(config["c"]["d"]), config
    assert config["b"] == [math.inf, -math.inf], config
    assert math.isnan(run["params"]["a"]), run["params"]


def test_healthz_answers_while_a_large_body_is_decoded(
    server: LoopbackServer, api: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, release = threading.Event(), threading.Event()
    original = offloop.loads_body

    def slow_loads(body: bytes, what: str = "request body") -> Any:
        if len(body) > offloop.INLINE_BYTES:
            entered.set()
            release.wait(30)  # a body that takes long to decode
        return original(body, what)

    monkeypatch.setattr(offloop, "loads_body", slow_loads)
    answers: list[int] = []

    def create() -> None:
        config = {"x": list(range(30_000))}
        with httpx.Client(base_url=server.url, timeout=60) as client:
            body = {"project": "slow", "config": config}
            answers.append(client.post(f"{API}/runs", json=body).status_code)

    creating = threading.Thread(target=create)
    creating.start()
    try:
        assert entered.wait(30), "the body was not decoded by the route class"
        assert api.get("/healthz").status_code == 200
    finally:
        release.set()
        creating.join(60)
    assert answers == [201], answers


def test_bad_json_in_a_large_body_is_a_clear_400(api: httpx.Client) -> None:
    body = b'{"project": "p", "config": {"x": [' + b"1," * 40_000 + b"]}}"
    assert len(body) > offloop.INLINE_BYTES
    error = assert_envelope(api.post(f"{API}/runs", content=body, headers=JSON), 400)
    assert "not valid JSON" in error["message"], error


def test_the_longest_filter_the_spec_allows_is_read_however_it_arrives(
    server: LoopbackServer,
) -> None:
    # 10,000 four-byte characters: a 120 KiB URL once percent-encoded. Sent in two
    # parts, so the server sees an unfinished head of over h11's default 16 KiB.
    query = urllib.parse.urlencode({"filter": "\U000fffbd" * 10_000})
    head = f"GET {API}/runs?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    data = head.encode()
    assert len(data) > 120_000
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as conn:
        conn.sendall(data[: 32 * 1024])
        time.sleep(0.2)
        conn.sendall(data[32 * 1024 :])
        answer = http.client.HTTPResponse(conn)
        answer.begin()
        body = json.loads(answer.read())
    assert answer.status == 400
    assert body["error"]["code"] == "bad_filter"
