"""Fetch one pack of blobs into a ``BlobCache``: the client of ``POST /api/v1/data/fetch``.

Both readers of packs use it: the SDK, from the nearest data endpoint
(``sdk/fetch.py``), and an edge cache, from its upstream (``server/edge_cache.py``).
Each blob is verified as it is written (``BlobCache.put``) and reported through
``on_blob`` as it lands, so a pack cut off half way still counts what it delivered.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Collection, Iterator, Mapping

import httpx

from lablink.checks.routes import API_PREFIX
from lablink.core.datasets.packs import PackReader
from lablink.errors import CorruptBlob, ServiceUnavailable
from lablink.store.blobcache import BlobCache

API = API_PREFIX
# How many characters of an error answer's body go into the exception message.
ERROR_TEXT = 200

Chunks = Callable[[Iterator[bytes]], Iterator[bytes]]


@dataclasses.dataclass
class PackResult:
    """What one pack delivered, filled in as its frames arrive."""

    received: list[str] = dataclasses.field(default_factory=list)
    corrupt: list[str] = dataclasses.field(default_factory=list)  # bytes not matching
    upstream_corrupt: list[str] = dataclasses.field(default_factory=list)  # its upstream's
    missing: list[str] = dataclasses.field(default_factory=list)  # the endpoint lacks them


def fetch_pack(
    client: httpx.Client,
    digests: Collection[str],
    cache: BlobCache,
    result: PackResult,
    on_blob: Callable[[str, int, bool], None] | None = None,
    chunks: Chunks | None = None,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Ask ``client``'s server for ``digests`` and write each blob it sends to ``cache``.

    ``on_blob(digest, size, stored)`` runs after each blob frame (``stored`` is False
    for a corrupt copy, which is not kept); ``chunks`` may wrap each blob's bytes (a
    progress meter). Blobs not asked for are skipped. ``result`` is filled as frames
    arrive and stays valid when this raises. ``headers`` go with the request (an edge
    passes its caller's credentials).

    Raises:
        ServiceUnavailable: the server answered with an HTTP error.
        TruncatedPack, httpx.HTTPError: the stream broke off.
        InsufficientStorage: the cache's disk is full.
    """
    wanted = set(digests)
    body = json.dumps({"digests": list(digests)}).encode()
    sent = {**(headers or {}), "Content-Type": "application/json"}
    with client.stream("POST", f"{API}/data/fetch", content=body, headers=sent) as response:
        if response.status_code >= 400:
            response.read()
            raise ServiceUnavailable(
                f"{client.base_url} answered HTTP {response.status_code}: "
                f"{response.text[:ERROR_TEXT]}"
            )
        stream = response.iter_bytes()  # network-sized chunks, not re-buffered
        reader = PackReader(stream)
        for digest, size, body_chunks in reader:
            if digest not in wanted:
                continue  # the reader skips its unread body
            try:
                cache.put(digest, chunks(body_chunks) if chunks else body_chunks)
            except CorruptBlob:
                result.corrupt.append(digest)
                stored = False
            else:
                result.received.append(digest)
                stored = True
            if on_blob is not None:
                on_blob(digest, size, stored)
        result.upstream_corrupt += [d for d in reader.corrupt if d in wanted]
        result.missing += [d for d in reader.missing if d in wanted]
        for _ in stream:  # the body's last empty chunk: the connection is then reused
            pass
