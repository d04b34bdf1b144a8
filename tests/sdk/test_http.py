"""HttpTransport details the loopback suite does not reach: error mapping, headers, tokens."""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

import lablink
from helpers import free_port, make_settings
from lablink.checks.batchwire import decode_batch
from lablink.sdk.http import HttpTransport


@pytest.fixture
def mock(tmp_path: Path) -> Iterator[Callable[..., HttpTransport]]:
    opened: list[HttpTransport] = []

    def make(handler: Callable[[httpx.Request], httpx.Response], **settings: str) -> HttpTransport:
        found = make_settings(
            tmp_path, **{"server": "http://lablink.test", "user": "ana@example.org", **settings}
        )
        transport = HttpTransport(found, http_transport=httpx.MockTransport(handler))
        opened.append(transport)
        return transport

    yield make
    for transport in opened:
        transport.close()


def test_error_envelope_becomes_the_typed_error(mock: Callable[..., HttpTransport]) -> None:
    body = {"error": {"code": "not_found", "message": "no run abc1", "hint": "check the id"}}
    transport = mock(lambda request: httpx.Response(404, json=body))
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
    mock: Callable[..., HttpTransport], status: int, error: type[Exception]
) -> None:
    transport = mock(lambda request: httpx.Response(status, text="<html>proxy says no</html>"))
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


def test_headers_token_and_nan_tokens(mock: Callable[..., HttpTransport]) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b'{"ingested": true, "points": 2, "x": NaN}')

    transport = mock(handler, token="t0ken", user="zoë@example.org")
    answer = transport.log_batch(
        "run1", 3, {"a": {"steps": [0, 1], "times": [1.0, 2.0], "values": [math.nan, -math.inf]}}
    )
    assert answer["ingested"] is True and math.isnan(answer["x"])
    (request,) = seen
    assert request.url.path == "/api/v1/runs/run1/batches"
    assert request.headers["authorization"] == "Bearer t0ken"
    raw = {k.lower(): v for k, v in request.headers.raw}
    assert raw[b"x-lablink-user"] == "zoë@example.org".encode()  # UTF-8 on the wire
    assert request.headers["content-type"] == "application/vnd.lablink.batch"
    seq, metrics = decode_batch(request.content)
    values = metrics["a"]["values"]
    assert seq == 3 and math.isnan(values[0]) and values[1] == -math.inf
    assert metrics["a"]["steps"].tolist() == [0, 1]


def test_values_binary_cannot_carry_fall_back_to_json(mock: Callable[..., HttpTransport]) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(400, json={"error": {"code": "bad_request", "message": "bad"}})

    transport = mock(handler)
    with pytest.raises(lablink.InvalidInput, match="bad"):
        transport.log_batch("run1", 0, {"a": {"steps": [0], "times": [1.0], "values": [10**400]}})
    assert seen[0].headers["content-type"] == "application/json"


def test_blob_upload_is_skipped_when_the_server_has_it(
    mock: Callable[..., HttpTransport],
) -> None:
    methods: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        methods.append(request.method)
        return httpx.Response(200 if request.method == "HEAD" else 500)

    digest = mock(handler).put_blob(b"diff")
    assert digest.startswith("sha256:")
    assert methods == ["HEAD"]


def test_history_and_compare_query_parameters(mock: Callable[..., HttpTransport]) -> None:
    urls: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        urls.append(request.url)
        if request.url.path.endswith("/history"):
            body = struct.pack("<qdd", 1, 3.0, math.nan)
            headers = {
                "x-lablink-points": "1",
                "x-lablink-total": "9",
                "x-lablink-downsampled": "true",
                "x-lablink-run": "r1full",
            }
            return httpx.Response(200, content=body, headers=headers)
        return httpx.Response(200, json={"runs": []})

    transport = mock(handler)
    history = transport.history("r1", "a/b", 100, None, 7)
    transport.compare(["r1", "r2"])
    assert (history.run_id, history.steps, history.times) == ("r1full", [1], [3.0])
    assert math.isnan(history.values[0])
    assert (history.total, history.downsampled) == (9, True)
    assert dict(urls[0].params) == {
        "key": "a/b",
        "format": "binary",
        "max_points": "100",
        "step_max": "7",
    }
    assert urls[1].params.get_list("run") == ["r1", "r2"]
