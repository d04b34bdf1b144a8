"""HttpTransport details the loopback suite does not reach: error mapping, headers, tokens.

Each test serves its own answers from a real HTTP server on 127.0.0.1 that records
every request it gets.
"""

from __future__ import annotations

import dataclasses
import json
import math
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import lablink
from helpers import AppServer, free_port, make_settings
from lablink.checks.batchwire import decode_batch
from lablink.sdk.http import HttpTransport


@dataclasses.dataclass
class Seen:
    """One request the fake server received."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[bytes, bytes]
    body: bytes


Handler = Callable[[Seen], Response]


def answer(status: int, body: Any = None, content: bytes = b"", **headers: str) -> Response:
    """A response: JSON when ``body`` is given, else raw ``content``."""
    if body is not None:
        content = json.dumps(body).encode()
    return Response(content, status_code=status, headers=headers)


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[Callable[..., tuple[HttpTransport, list[Seen]]]]:
    """A transport aimed at a loopback server that answers with ``handler``."""
    opened: list[tuple[HttpTransport, AppServer]] = []

    def make(handler: Handler, **settings: str) -> tuple[HttpTransport, list[Seen]]:
        seen: list[Seen] = []

        async def endpoint(request: Request) -> Response:
            body = await request.body()
            raw = {k.lower(): v for k, v in request.headers.raw}
            got = Seen(
                request.method, request.url.path, request.query_params.multi_items(), raw, body
            )
            seen.append(got)
            return handler(got)

        routes = [Route("/{path:path}", endpoint, methods=["GET", "HEAD", "POST", "PUT"])]
        server = AppServer(Starlette(routes=routes)).start()
        found = make_settings(
            tmp_path, **{"server": server.url, "user": "ana@example.org", **settings}
        )
        transport = HttpTransport(found)
        opened.append((transport, server))
        return transport, seen

    yield make
    for transport, server in opened:
        transport.close()
        server.stop()


def test_error_envelope_becomes_the_typed_error(fake: Callable[..., Any]) -> None:
    body = {"error": {"code": "not_found", "message": "no run abc1", "hint": "check the id"}}
    transport, _ = fake(lambda request: answer(404, body))
    with pytest.raises(lablink.NotFound, match="no run abc1") as caught:
        transport.get_run("abc1")
    assert caught.value.hint == "check the id"


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (502, lablink.ServiceUnavailable),
        (503, lablink.ServiceUnavailable),
        (404, lablink.NotFound),
        (413, lablink.PayloadTooLarge),
        (401, lablink.Unauthorized),
        (422, lablink.InvalidInput),
    ],
)
def test_answers_without_envelope_map_by_status(
    fake: Callable[..., Any], status: int, error: type[Exception]
) -> None:
    transport, _ = fake(lambda request: answer(status, content=b"<html>proxy says no</html>"))
    with pytest.raises(error, match=f"HTTP {status}"):
        transport.list_projects()


def test_unreachable_server_is_service_unavailable(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, server=f"http://127.0.0.1:{free_port()}")
    transport = HttpTransport(settings)
    try:
        with pytest.raises(lablink.ServiceUnavailable, match="cannot reach"):
            transport.list_projects()
    finally:
        transport.close()


def test_headers_token_and_nan_tokens(fake: Callable[..., Any]) -> None:
    transport, seen = fake(
        lambda request: answer(200, content=b'{"ingested": true, "points": 2, "x": NaN}'),
        token="t0ken",
        user="zoë@example.org",
    )
    answer_ = transport.log_batch(
        "run1", 3, {"a": {"steps": [0, 1], "times": [1.0, 2.0], "values": [math.nan, -math.inf]}}
    )
    assert answer_["ingested"] is True and math.isnan(answer_["x"])
    (request,) = seen
    assert request.path == "/api/v1/runs/run1/batches"
    assert request.headers[b"authorization"] == b"Bearer t0ken"
    assert request.headers[b"x-lablink-user"] == "zoë@example.org".encode()  # UTF-8 on the wire
    assert request.headers[b"content-type"] == b"application/vnd.lablink.batch"
    seq, metrics = decode_batch(request.body)
    values = metrics["a"]["values"]
    assert seq == 3 and math.isnan(values[0]) and values[1] == -math.inf
    assert metrics["a"]["steps"].tolist() == [0, 1]


def test_values_binary_cannot_carry_fall_back_to_json(fake: Callable[..., Any]) -> None:
    transport, seen = fake(
        lambda request: answer(400, {"error": {"code": "bad_request", "message": "bad"}})
    )
    with pytest.raises(lablink.InvalidInput, match="bad"):
        transport.log_batch("run1", 0, {"a": {"steps": [0], "times": [1.0], "values": [10**400]}})
    assert seen[0].headers[b"content-type"] == b"application/json"


def test_blob_upload_is_skipped_when_the_server_has_it(fake: Callable[..., Any]) -> None:
    transport, seen = fake(lambda request: answer(200 if request.method == "HEAD" else 500))
    digest = transport.put_blob(b"diff")
    assert digest.startswith("sha256:")
    assert [r.method for r in seen] == ["HEAD"]


def test_a_blob_is_streamed_to_disk_and_checked(fake: Callable[..., Any], tmp_path: Path) -> None:
    import hashlib

    data = bytes(range(256)) * 20_000  # 5 MB: many pieces
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    transport, _ = fake(lambda request: answer(200, content=data))
    assert transport.download_blob(digest, tmp_path / "out" / "blob").read_bytes() == data
    wrong = "sha256:" + "0" * 64
    with pytest.raises(lablink.Conflict, match="do not match"):
        transport.download_blob(wrong, tmp_path / "out" / "wrong")
    assert not (tmp_path / "out" / "wrong").exists()
    assert not (tmp_path / "out" / "wrong.part").exists()
    missing, _ = fake(
        lambda request: answer(404, {"error": {"code": "not_found", "message": "gone"}})
    )
    with pytest.raises(lablink.NotFound, match="gone"):
        missing.download_blob(digest, tmp_path / "out" / "gone")


def test_history_and_compare_query_parameters(fake: Callable[..., Any]) -> None:
    def handler(request: Seen) -> Response:
        if request.path.endswith("/history"):
            body = struct.pack("<qdd", 1, 3.0, math.nan)
            headers = {
                "x-lablink-points": "1",
                "x-lablink-total": "9",
                "x-lablink-downsampled": "true",
                "x-lablink-run": "r1full",
            }
            return answer(200, content=body, **headers)
        return answer(200, {"runs": []})

    transport, seen = fake(handler)
    history = transport.history("r1", "a/b", 100, None, 7)
    transport.compare(["r1", "r2"])
    assert (history.run_id, history.steps, history.times) == ("r1full", [1], [3.0])
    assert math.isnan(history.values[0])
    assert (history.total, history.downsampled) == (9, True)
    assert dict(seen[0].query) == {
        "key": "a/b",
        "format": "binary",
        "max_points": "100",
        "step_max": "7",
    }
    assert [v for k, v in seen[1].query if k == "run"] == ["r1", "r2"]


def test_requests_go_through_the_proxy_the_environment_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    targets: list[tuple[bytes, bytes]] = []

    async def proxy(scope: dict[str, Any], receive: Any, send: Any) -> None:
        """A forward proxy that answers itself: it records where each request was for.

        The Host header and the path, not the raw target: uvicorn's h11 parser keeps
        the absolute form (``http://host/path``), its httptools parser gives the path.
        """
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        host = dict(scope["headers"])[b"host"]
        targets.append((host, scope["raw_path"].rsplit(host, 1)[-1]))
        body = json.dumps({"projects": []}).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    server = "http://lablink.invalid:8500"
    with AppServer(proxy).start() as forward:
        monkeypatch.setenv("HTTP_PROXY", forward.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        behind = HttpTransport(make_settings(tmp_path / "b", server=server))
        try:
            assert behind.list_projects() == []
        finally:
            behind.close()
        assert targets == [(b"lablink.invalid:8500", b"/api/v1/projects")]
        monkeypatch.setenv("NO_PROXY", "lablink.invalid")
        direct = HttpTransport(make_settings(tmp_path / "c", server=server))
        try:
            with pytest.raises(lablink.ServiceUnavailable, match="cannot reach"):
                direct.list_projects()  # not proxied: the name does not resolve
        finally:
            direct.close()
        assert len(targets) == 1
