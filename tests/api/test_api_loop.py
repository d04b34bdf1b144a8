"""Slow blocking work never stalls the event loop that serves every live stream."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from apitools import API, SseReader, post_batch, series

from helpers import LoopbackServer
from lablink.core.schemas import Schemas


def test_a_slow_schema_registration_does_not_stall_a_live_stream(
    server: LoopbackServer,
    api: httpx.Client,
    new_run: Callable[..., dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    entered, release = threading.Event(), threading.Event()
    original = Schemas.register

    def slow_register(self: Schemas, *args: Any, **kwargs: Any) -> Any:
        entered.set()
        release.wait(30)  # a write transaction waiting on a busy SQLite
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Schemas, "register", slow_register)
    rid = new_run()["id"]
    answers: list[int] = []

    def register() -> None:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            body = {"schema": {"columns": {"a": {"type": "int"}}}}
            answers.append(client.post(f"{API}/schemas/slow/versions", json=body).status_code)

    registering = threading.Thread(target=register)
    registering.start()
    try:
        assert entered.wait(30), "the registration never started"
        with (
            httpx.Client(base_url=server.url, timeout=10) as sse,
            sse.stream("GET", f"{API}/runs/{rid}/events") as response,
        ):
            stream = SseReader(response)
            stream.wait_comment("ready")
            post_batch(api, rid, 0, {"loss": series([0], [0.5])})
            assert stream.next_event().event == "points"
    finally:
        release.set()
        registering.join(60)
    assert answers and answers[0] in (200, 201, 400), answers
