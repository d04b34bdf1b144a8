"""An edge relays what it lacks: bytes go on to the client while they are cached.

``EdgeCache.stream`` forwards a blob from upstream chunk by chunk as it writes it, so
the first client of a large blob does not wait for the edge to hold all of it. These
tests pin what must still hold: the bytes are the blob's, it is cached once and
verified, a client that leaves half way leaves nothing half written, and a request
waiting on that fetch claims the blob again instead of failing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from helpers import AppServer
from lablink.core.datasets.packs import PackReader, blob_header
from lablink.core.lab import Lab
from lablink.errors import CorruptBlob
from lablink.server.edge_cache import EdgeCache
from lablink.store.blobcache import BlobCache

API = "/api/v1"
EdgeFactory = Callable[..., tuple[AppServer, EdgeCache]]
DATA = bytes(range(256)) * 12_000  # 3 MB: several pieces


def frames(edge: EdgeCache, digests: list[str]) -> dict[str, bytes]:
    """What ``stream`` sends, parsed back into blobs."""
    reader = PackReader([*edge.stream(digests), b"end\n"])
    return {digest: b"".join(body) for digest, _, body in reader}


def test_a_missing_blob_is_forwarded_and_cached_once(
    origin: tuple[AppServer, object], edge_factory: EdgeFactory, lab: Lab
) -> None:
    server, _ = origin
    _, edge = edge_factory(server.url)
    digest, _ = lab.blobs.put_bytes(DATA, "blake3")
    assert frames(edge, [digest]) == {digest: DATA}
    assert edge.cache.path(digest).read_bytes() == DATA
    assert frames(edge, [digest]) == {digest: DATA}  # now from the edge's disk
    assert edge.stats["upstream_requests"] == 1 and edge.stats["hits"] == 1


def test_a_client_leaving_mid_relay_leaves_nothing_half_written(
    origin: tuple[AppServer, object], edge_factory: EdgeFactory, lab: Lab
) -> None:
    server, _ = origin
    _, edge = edge_factory(server.url)
    digest, _ = lab.blobs.put_bytes(DATA, "blake3")
    relay = edge.stream([digest])
    assert next(relay).startswith(blob_header(digest, len(DATA)))
    relay.close()  # the client went away after the first piece
    assert not edge.cache.has(digest) and not list(edge.cache.tmp.iterdir())
    assert edge.ensure([digest]) == {digest}  # asked again: fetched in full
    assert edge.cache.path(digest).read_bytes() == DATA


def test_a_request_waiting_on_an_abandoned_fetch_claims_the_blob_again(
    origin: tuple[AppServer, object], edge_factory: EdgeFactory, lab: Lab
) -> None:
    server, _ = origin
    _, edge = edge_factory(server.url)
    digest, _ = lab.blobs.put_bytes(DATA, "blake3")
    relay = edge.stream([digest])
    next(relay)  # this request now fetches the blob
    waited: list[set[str]] = []
    waiter = threading.Thread(target=lambda: waited.append(edge.ensure([digest])))
    waiter.start()
    relay.close()
    waiter.join(30)
    assert waited == [{digest}] and edge.cache.path(digest).read_bytes() == DATA


def test_a_corrupt_relay_is_not_cached(tmp_path: Path, lab: Lab) -> None:
    cache = BlobCache(tmp_path / "relay-cache", 10**9)
    digest, _ = lab.blobs.put_bytes(DATA, "blake3")
    try:
        with cache.incoming(digest) as blob:
            blob.write(DATA[:-1] + b"x")
            with pytest.raises(CorruptBlob, match="hash to"):
                blob.commit()
        assert not cache.has(digest) and not list(cache.tmp.iterdir())
    finally:
        cache.close()


def test_a_cold_edge_streams_a_pack_over_http(
    origin: tuple[AppServer, object], edge_factory: EdgeFactory, lab: Lab
) -> None:
    server, _ = origin
    edge_server, edge = edge_factory(server.url)
    big, _ = lab.blobs.put_bytes(DATA, "blake3")
    small, _ = lab.blobs.put_bytes(b"small", "blake3")
    edge.ensure([small])  # one cached, one relayed
    with httpx.Client(timeout=30) as client:
        answer = client.post(f"{edge_server.url}{API}/data/fetch", json={"digests": [big, small]})
    reader = PackReader([answer.content])
    assert {d: b"".join(body) for d, _, body in reader} == {big: DATA, small: b"small"}
    assert reader.complete
