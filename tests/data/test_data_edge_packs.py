"""An edge serves packs that mix cached and fetched blobs; caches keep verified blobs only."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from helpers import AppServer
from lablink.core.datasets.packs import PackReader
from lablink.core.lab import Lab
from lablink.errors import CorruptBlob
from lablink.server.edge_cache import EdgeCache
from lablink.store.blobcache import BlobCache

API = "/api/v1"
EdgeFactory = Callable[..., tuple[AppServer, EdgeCache]]
DATA = bytes(range(256)) * 12_000  # 3 MB: several pieces


def test_an_incoming_blob_with_wrong_bytes_is_not_kept(tmp_path: Path, lab: Lab) -> None:
    cache = BlobCache(tmp_path / "cache", 10**9)
    digest, _ = lab.blobs.put_bytes(DATA, "blake3")
    try:
        with cache.incoming(digest) as blob:
            blob.write(DATA[:-1] + b"x")
            with pytest.raises(CorruptBlob, match="hash to"):
                blob.commit()
        assert not cache.has(digest) and not list(cache.tmp.iterdir())
        with cache.incoming(digest) as blob:
            blob.write(DATA[:100])  # cut off: never committed
        assert not cache.has(digest) and not list(cache.tmp.iterdir())
    finally:
        cache.close()


def test_a_pack_mixes_cached_and_fetched_blobs(
    origin: tuple[AppServer, object], edge_factory: EdgeFactory, lab: Lab
) -> None:
    server, _ = origin
    edge_server, edge = edge_factory(server.url)
    big, _ = lab.blobs.put_bytes(DATA, "blake3")
    small, _ = lab.blobs.put_bytes(b"small", "blake3")
    edge.ensure([small])  # one cached, one fetched on demand
    with httpx.Client(timeout=30) as client:
        answer = client.post(f"{edge_server.url}{API}/data/fetch", json={"digests": [big, small]})
    reader = PackReader([answer.content])
    assert {d: b"".join(body) for d, _, body in reader} == {big: DATA, small: b"small"}
    assert reader.complete
    assert edge.cache.path(big).read_bytes() == DATA and edge.stats["upstream_requests"] == 2
