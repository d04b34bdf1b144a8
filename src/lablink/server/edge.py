"""Edge cache mode: ``lablink server --upstream URL --cache-size 50GB``.

An edge server sits near a group of users (another region, another office). It serves
dataset files it holds from its own disk, fetches the ones it lacks from its upstream
exactly once however many clients ask at the same moment (``edge_cache.py``), keeps
its disk within the size limit by LRU eviction, and forwards every other request
(metadata, uploads, the web UI) to the upstream unchanged. Clients list it first in
``LABLINK_DATA_ENDPOINTS``; it holds no database and no state but its cache, so it can
be thrown away and restarted at will.

A cached blob goes out only to a caller the upstream allows (``edge_access.py``): the
edge passes the caller's credentials upstream, asks which blobs they may read, and
fetches what it lacks with those same credentials.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import IO

import anyio.to_thread
import httpx
import uvicorn
from fastapi import FastAPI, Request
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from lablink.checks.routes import API_PREFIX
from lablink.core.datasets.packs import END, corrupt_frame, write_pack
from lablink.core.datasets.transfer import check_digests
from lablink.errors import CorruptBlob, NotFound, ServiceUnavailable
from lablink.server.api.datasets import Digests, VerifyIn, verify_answer
from lablink.server.edge_access import EdgeAccess, Refused, credentials, no_cookies
from lablink.server.edge_cache import EdgeCache
from lablink.server.errors import install_error_handlers
from lablink.server.file_stream import FileStream
from lablink.server.jsonio import JSONResponse, reply
from lablink.server.listen import Tls, http_options
from lablink.server.middleware import RequestLog, TokenAuth
from lablink.settings import Settings
from lablink.store.blobs import check_digest

logger = logging.getLogger(__name__)

API = API_PREFIX
FIRST_GROUP = 64  # digests made local before the first byte of a pack goes out
GROUP = 512
THREADS = 128  # requests waiting on an upstream fetch each hold a worker thread
_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}


def create_edge_app(
    edge: EdgeCache, token: str | None = None, access: EdgeAccess | None = None
) -> FastAPI:
    """An ASGI app serving ``edge``'s blobs and proxying the rest to its upstream.

    ``access`` remembers what the upstream allowed whom (a fresh ``EdgeAccess``
    when None; tests pass one on a clock of their own).
    """
    allowed = access or EdgeAccess()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
        async with httpx.AsyncClient(
            base_url=edge.upstream,
            timeout=httpx.Timeout(300.0, connect=5.0),
            cookies=no_cookies(),  # it serves every caller: never one's cookie for another
        ) as client:
            app.state.upstream = client
            yield

    app = FastAPI(title="lablink edge cache", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.edge = edge
    app.state.access = allowed
    install_error_handlers(app)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        return reply({"status": "ok", "role": "edge", "upstream": edge.upstream})

    @app.get(f"{API}/edge", summary="Edge cache status")
    def status() -> JSONResponse:
        cache = {"bytes": edge.cache.usage(), "limit": edge.cache.limit}
        stats = {**dict(edge.stats), **{f"access_{k}": v for k, v in allowed.stats.items()}}
        return reply({"upstream": edge.upstream, "cache": cache, "stats": stats})

    @app.post(f"{API}/data/fetch", summary="Download a pack of blobs")
    async def fetch(body: Digests, request: Request) -> Response:
        digests = list(dict.fromkeys(check_digests(body.digests)))
        given = credentials(request)
        try:
            readable = await allowed.readable(request.app.state.upstream, given, digests)
        except Refused as refused:
            return refused.response
        hidden = {d for d in digests if d not in readable}  # as the upstream: "missing"
        first = [d for d in digests if d not in hidden][:FIRST_GROUP]
        # The first group is fetched before answering, so an upstream failure is a
        # clean 503 the client fails over on, not a pack cut off after its headers.
        await run_in_threadpool(edge.ensure, first, given)
        return StreamingResponse(
            _pack(edge, digests, hidden, given), media_type="application/octet-stream"
        )

    @app.get(API + "/blobs/{digest}", summary="Download a blob")
    async def get_blob(digest: str, request: Request) -> Response:
        check_digest(digest)
        given = credentials(request)
        try:
            readable = await allowed.readable(request.app.state.upstream, given, [digest])
        except Refused as refused:
            return refused.response
        if digest not in readable:  # the upstream's own answer for a hidden blob
            raise NotFound(f"blob {digest} is not stored", "upload it with PUT")
        # Pinned until the file is open: another request's eviction may delete it
        # after that, and the open file still reads whole until the response is sent.
        with edge.pinned([digest]):
            if digest not in await run_in_threadpool(edge.ensure, [digest], given):
                if edge.is_corrupt_upstream(digest):
                    raise _corrupt(edge, digest)
                raise NotFound(f"blob {digest} is not stored upstream")
            fh = await run_in_threadpool(open, edge.cache.path(digest), "rb")
        size = os.fstat(fh.fileno()).st_size
        return FileStream(fh, headers={"Content-Length": str(size)})

    @app.post(f"{API}/data/verify", summary="Re-verify a cached blob")
    async def verify(body: VerifyIn, request: Request) -> Response:
        # Only what the caller may read is rehashed here; the upstream answers the rest
        # (as "missing" where they may not read it).
        asked = check_digests(body.digests) if body.digests is not None else []
        if body.digest is not None:
            asked = [check_digest(body.digest)]
        try:
            readable = await allowed.readable(
                request.app.state.upstream, credentials(request), asked
            )
        except Refused as refused:
            return refused.response
        if body.digests is not None:
            return await _verify_many(edge, asked, readable, request)
        assert body.digest is not None
        if body.digest not in readable:
            return await _proxy(request)
        ok = await run_in_threadpool(edge.verify, body.digest)
        if ok is None:  # not ours: the corrupt copy came from upstream
            return await _proxy(request)
        return reply({"digest": body.digest, "ok": ok})

    @app.api_route(
        "/{path:path}",
        methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        include_in_schema=False,
    )
    async def forward(request: Request) -> Response:
        return await _proxy(request)

    if token:
        app.add_middleware(TokenAuth, token=token)
    app.add_middleware(RequestLog)
    return app


def _pack(
    edge: EdgeCache, digests: list[str], hidden: set[str], given: dict[str, str]
) -> Iterator[bytes]:
    """The pack of ``digests``, made local group by group as it streams; ``hidden`` ones
    (the caller may not read them) are ``missing``."""

    def open_blob(digest: str) -> IO[bytes] | None:
        if digest in hidden:
            return None
        try:
            return open(edge.cache.where(digest), "rb")
        except FileNotFoundError:
            return None

    with edge.pinned(digests):
        for start in range(0, len(digests), GROUP):
            group = digests[start : start + GROUP]
            edge.ensure([d for d in group if d not in hidden], given)
            sizes = [(d, -1 if d in hidden else _size(edge, d)) for d in group]
            # the upstream's only copy was corrupt (and is reported): say so, not "missing"
            bad = {
                d
                for d, size in sizes
                if size < 0 and d not in hidden and edge.is_corrupt_upstream(d)
            }
            if bad:
                yield b"".join(corrupt_frame(d) for d in bad)
            yield from write_pack([s for s in sizes if s[0] not in bad], open_blob, end=False)
        yield END


def _corrupt(edge: EdgeCache, digest: str) -> CorruptBlob:
    return CorruptBlob(
        f"the upstream {edge.upstream} holds a corrupt copy of {digest}; it was reported "
        "and quarantined there",
        "push the version again (lablink data add of the same folder) to upload a good "
        "copy, then pull again",
        digest=digest,
    )


async def _verify_many(
    edge: EdgeCache, digests: list[str], readable: set[str], request: Request
) -> Response:
    """Rehash the copies this edge holds; ask the upstream about the others."""
    results: dict[str, bool | None] = {}
    for digest in dict.fromkeys(digests):
        mine = digest in readable
        results[digest] = await run_in_threadpool(edge.verify, digest) if mine else None
    theirs = [d for d, ok in results.items() if ok is None]
    if theirs:
        client: httpx.AsyncClient = request.app.state.upstream
        try:
            answer = await client.post(
                f"{API}/data/verify", json={"digests": theirs}, headers=credentials(request)
            )
            found = answer.json() if answer.status_code == 200 else {}
        except (httpx.HTTPError, ValueError):
            found = {}
        for digest in found.get("ok", []):
            results[digest] = True
        for digest in found.get("corrupt", []):
            results[digest] = False
    return reply(verify_answer(results))


def _size(edge: EdgeCache, digest: str) -> int:
    try:
        return os.stat(edge.cache.where(digest)).st_size
    except FileNotFoundError:
        return -1


async def _proxy(request: Request) -> Response:
    """Forward a request to the upstream and stream its answer back unchanged."""
    client: httpx.AsyncClient = request.app.state.upstream
    headers = [(k, v) for k, v in request.headers.raw if k.decode("latin-1").lower() not in _HOP]
    has_body = "content-length" in request.headers or "transfer-encoding" in request.headers
    url = httpx.URL(path=request.url.path, query=request.url.query.encode("latin-1"))
    upstream = client.build_request(
        request.method, url, headers=headers, content=request.stream() if has_body else None
    )
    try:
        answer = await client.send(upstream, stream=True)
    except httpx.HTTPError as exc:
        raise ServiceUnavailable(
            f"the upstream {client.base_url} cannot be reached: {exc}", "try again shortly"
        ) from exc
    response = StreamingResponse(
        answer.aiter_raw(),
        status_code=answer.status_code,
        background=BackgroundTask(answer.aclose),
    )
    # Each header as sent, repeated ones too: two Set-Cookie headers joined into one
    # line would be one broken cookie.
    response.raw_headers = [
        (k.lower().encode("latin-1"), v.encode("latin-1"))
        for k, v in answer.headers.multi_items()
        if k.lower() not in _HOP - {"content-length"}
    ]
    return response


def edge_cache_for(settings: Settings, upstream: str, cache_size: int) -> EdgeCache:
    """The ``EdgeCache`` of ``cache_size`` bytes an edge server over ``settings`` uses
    (under ``<home>/edge``)."""
    headers = {b"User-Agent": b"lablink-edge"}
    if settings.token:
        headers[b"Authorization"] = f"Bearer {settings.token}".encode()
    return EdgeCache(Path(settings.home) / "edge", cache_size, upstream, headers)


def serve_edge(
    settings: Settings,
    host: str,
    port: int,
    upstream: str,
    cache_size: int,
    tls: Tls | None = None,
) -> None:
    """Run an edge cache of ``upstream`` on ``host:port`` until stopped (TLS as in ``serve``)."""
    from lablink.server.app import check_address, configure_logging

    configure_logging()
    check_address(host, port)  # a taken port is a clear error before anything else
    edge = edge_cache_for(settings, upstream, cache_size)
    try:
        app = create_edge_app(edge, settings.token)
        logger.info(
            "lablink edge cache of %s on %s://%s:%d (cache %s, limit %d bytes)",
            upstream,
            "https" if tls else "http",
            host,
            port,
            edge.cache.root,
            edge.cache.limit,
        )
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            **http_options(),  # as `lablink server`
            ssl_certfile=tls.cert if tls else None,
            ssl_keyfile=tls.key if tls else None,
        )
    finally:
        edge.close()
