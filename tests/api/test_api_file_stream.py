"""Streamed files are closed however the response ends: read whole, or the client gone
before the first byte (a page left while its images load)."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import psutil
import pytest
from apitools import API
from starlette.requests import ClientDisconnect

from helpers import LoopbackServer
from lablink.core.lab import Lab
from lablink.server.file_stream import FileStream


def _scope(spec_version: str) -> dict[str, Any]:
    return {"type": "http", "asgi": {"spec_version": spec_version}, "method": "GET"}


async def _never_disconnects() -> dict[str, Any]:
    await anyio.sleep_forever()
    raise AssertionError


@pytest.fixture
def blob_file(tmp_path: Path) -> Path:
    path = tmp_path / "blob"
    path.write_bytes(os.urandom(3 * 1024 * 1024 + 5))
    return path


def test_the_whole_file_is_sent_then_closed(blob_file: Path) -> None:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    handle = blob_file.open("rb")
    anyio.run(FileStream(handle), _scope("2.4"), _never_disconnects, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert body == blob_file.read_bytes()
    assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert handle.closed


def test_a_client_gone_before_the_first_byte_closes_the_file(blob_file: Path) -> None:
    # ASGI 2.4: the server says so by failing the first send.
    async def send_fails(message: dict[str, Any]) -> None:
        raise OSError("connection reset")

    handle = blob_file.open("rb")
    try:
        anyio.run(FileStream(handle), _scope("2.4"), _never_disconnects, send_fails)
    except ClientDisconnect:
        pass
    else:
        raise AssertionError("a failed send is a ClientDisconnect")
    assert handle.closed

    # Before 2.4: a disconnect message while the first send is still waiting.
    async def send_waits(message: dict[str, Any]) -> None:
        await anyio.sleep_forever()

    async def gone() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    handle = blob_file.open("rb")
    anyio.run(FileStream(handle), _scope("2.3"), gone, send_waits)
    assert handle.closed


@pytest.fixture
def api(server: LoopbackServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def test_a_download_left_early_leaves_no_file_open_on_the_server(
    server: LoopbackServer, api: httpx.Client, lab: Lab
) -> None:
    digest, _ = lab.blobs.put_bytes(os.urandom(8 * 1024 * 1024))
    path = os.path.realpath(lab.blobs.path(digest))
    for _ in range(5):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
            conn.sendall(f"GET {API}/blobs/{digest} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            assert conn.recv(1024).startswith(b"HTTP/1.1 200")
    assert api.get(f"{API}/blobs/{digest}").content == lab.blobs.read_bytes(digest)

    me = psutil.Process()
    deadline = time.monotonic() + 10
    while path in {f.path for f in me.open_files()} and time.monotonic() < deadline:
        time.sleep(0.05)
    assert path not in {f.path for f in me.open_files()}
