"""Server-Sent Events: new points, status changes and new runs as they are stored.

Each event is::

    id: 42
    event: points
    data: {"id":42,"kind":"points","project":"vision","run_id":"3f2a...","payload":{...},"created_at":1.7e9}

A stream starts with ``retry:`` and a ``: ready`` comment (sent once the subscription
is registered) and carries a ``: keepalive`` comment every 15 s. Given a cursor (the
``cursor`` query parameter, or the ``Last-Event-ID`` header a reconnecting browser
sends), it first replays the stored events after it, then continues live, without
gaps or repeats.

A stream ends once the credential it was opened with does: a session cookie (after a
``: session ended`` comment) signed out, revoked, expired or its user disabled; a bearer
token (after ``: token ended``) revoked, expired or its user disabled. The credential is
read again every ``CREDENTIAL_CHECK_SECONDS`` (from the store, so a sign-out or revoke
handled by another server process ends it too), not at each event, which would cost a
query per event. A stream opened through the trusted proxy or without auth has no
credential to check.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

import anyio
from fastapi import APIRouter, Header, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from lablink.checks.names import check_project
from lablink.checks.wire_numbers import MAX_WIRE_INT, parse_wire_int
from lablink.core.lab import Lab
from lablink.core.sessions import Session, Sessions
from lablink.errors import ServiceUnavailable, TooManyStreams
from lablink.identity import Identity
from lablink.models import Event
from lablink.server.access import Access, Authorized, run_not_found, run_project
from lablink.server.deps import LabDep
from lablink.server.jsonio import dumps
from lablink.server.live import PAGE, EventHub, Subscription

router = APIRouter(tags=["events"])

RETRY_MILLISECONDS = 3000
# Open live streams: per client address (a browser tab holds one or two) and in all.
MAX_STREAMS_PER_CLIENT = 20
MAX_STREAMS = 500
CREDENTIAL_CHECK_SECONDS = 5.0


class StreamLimits:
    """Counts open streams per client address; refuses one over either cap."""

    def __init__(self) -> None:
        self.by_client: dict[str, int] = {}
        self.total = 0

    def open(self, client: str) -> Callable[[], None]:
        """Count a new stream from ``client``; returns what closes it.

        Raises:
            TooManyStreams: the client holds ``MAX_STREAMS_PER_CLIENT`` (429).
            ServiceUnavailable: the server holds ``MAX_STREAMS`` (503).
        """
        held = self.by_client.get(client, 0)
        if held >= MAX_STREAMS_PER_CLIENT:
            raise TooManyStreams(
                f"this client already holds {held} live streams (at most {MAX_STREAMS_PER_CLIENT})",
                "close other tabs or streams, then retry",
                retry_after=RETRY_MILLISECONDS // 1000,
            )
        if self.total >= MAX_STREAMS:
            raise ServiceUnavailable(
                f"the server holds {self.total} live streams (at most {MAX_STREAMS})",
                "retry in a few seconds",
            )
        self.by_client[client] = held + 1
        self.total += 1

        def close() -> None:
            self.total -= 1
            left = self.by_client.get(client, 1) - 1
            if left:
                self.by_client[client] = left
            else:
                self.by_client.pop(client, None)

        return close


def frame(event: Event) -> bytes:
    """One SSE message for ``event``."""
    data = dumps(
        {
            "id": event.id,
            "kind": event.kind,
            "project": event.project,
            "run_id": event.run_id,
            "payload": event.payload,
            "created_at": event.created_at,
        }
    )
    return f"id: {event.id}\nevent: {event.kind}\ndata: {data}\n\n".encode()


class EventStream(StreamingResponse):
    """``text/event-stream`` that ends as soon as the client goes away.

    Unlike Starlette's ``StreamingResponse`` under ASGI spec 2.4, it always listens
    for ``http.disconnect``, so an idle stream does not linger until its next write.
    """

    def __init__(self, chunks: AsyncIterator[bytes], on_close: Callable[[], None]) -> None:
        headers = {"cache-control": "no-cache", "x-accel-buffering": "no"}
        super().__init__(chunks, media_type="text/event-stream", headers=headers)
        self.on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Stream until the events end, the client disconnects or the server stops."""
        try:
            async with anyio.create_task_group() as group:

                async def watch() -> None:
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    group.cancel_scope.cancel()

                group.start_soon(watch)
                await self.stream_response(send)
                group.cancel_scope.cancel()
        except OSError:
            pass  # the client went away mid-write
        finally:
            self.on_close()


class Readable:
    """Whether the caller may read an event's project, asked of the store once per
    project (off the loop) and remembered for the stream's life."""

    def __init__(self, readable: Callable[[str], bool] | None) -> None:
        self.readable = readable
        self.known: dict[str, bool] = {}

    async def __call__(self, event: Event) -> bool:
        if self.readable is None:
            return True
        if event.project not in self.known:
            self.known[event.project] = await run_in_threadpool(self.readable, event.project)
        return self.known[event.project]


@dataclass(frozen=True)
class Credential:
    """What a stream was opened with: ``kind`` names it in the closing comment
    (``session`` or ``token``), ``alive`` says whether it still works."""

    kind: str
    alive: Callable[[], Awaitable[bool]]


class Vigil:
    """When the stream next sends a keepalive, and whether its credential still works
    (asked at most every ``CREDENTIAL_CHECK_SECONDS``)."""

    def __init__(self, keepalive: float, credential: Credential | None) -> None:
        self.keepalive, self.credential = keepalive, credential
        now = time.monotonic()
        self.next_keepalive = now + keepalive
        self.next_check = now + CREDENTIAL_CHECK_SECONDS if credential else float("inf")

    def timeout(self) -> float:
        """Seconds to wait for an event before something else is due."""
        return max(0.0, min(self.next_keepalive, self.next_check) - time.monotonic())

    def sent(self) -> None:
        """Something went out: the keepalive is due a full period later."""
        self.next_keepalive = time.monotonic() + self.keepalive

    def keepalive_due(self) -> bool:
        """Whether a keepalive is due now."""
        return time.monotonic() >= self.next_keepalive

    async def ended(self) -> bool:
        """Whether the stream's credential has ended (checked once a period)."""
        if self.credential is None or time.monotonic() < self.next_check:
            return False
        self.next_check = time.monotonic() + CREDENTIAL_CHECK_SECONDS
        return not await self.credential.alive()


async def _frames(
    lab: Lab,
    hub: EventHub,
    sub: Subscription,
    cursor: int | None,
    readable: Readable,
    credential: Credential | None = None,
) -> AsyncIterator[bytes]:
    yield f"retry: {RETRY_MILLISECONDS}\n: ready\n\n".encode()
    replayed: set[int] = set()
    while cursor is not None:
        page = await run_in_threadpool(
            lab.store.events_since, cursor, sub.project, sub.run_id, PAGE
        )
        for event in page:
            if event.id > sub.horizon:  # the hub may deliver it too: skip it then
                replayed.add(event.id)
            if await readable(event):
                yield frame(event)
        cursor = page[-1].id if len(page) == PAGE else None
    vigil = Vigil(hub.keepalive_seconds, credential)
    while True:
        if await vigil.ended():
            assert credential is not None  # only a stream with one can end
            yield f": {credential.kind} ended\n\n".encode()
            return
        try:
            latest = await sub.next(vigil.timeout())
        except TimeoutError:
            if vigil.keepalive_due():
                vigil.sent()
                yield b": keepalive\n\n"
            continue
        if latest is None:
            return
        if latest.id in replayed:
            replayed.discard(latest.id)
            continue
        if await readable(latest):
            vigil.sent()
            yield frame(latest)


def _cursor(query: int | None, last_event_id: str | None) -> int | None:
    if last_event_id is not None and last_event_id.strip():
        return parse_wire_int(last_event_id, "Last-Event-ID")
    return query


async def _stream(
    request: Request,
    lab: Lab,
    project: str | None,
    run: str | None,
    cursor: int | None,
    access: Access | None = None,
) -> EventStream:
    if project is not None:
        check_project(project)
    run_id = (await run_in_threadpool(lab.tracking.get_run, run)).id if run else None
    if access is not None:
        if project is not None:
            await run_in_threadpool(access.check, project, "viewer")
        if run is not None:
            owner = await run_in_threadpool(run_project, request, run)
            await run_in_threadpool(access.check, owner, "viewer", run_not_found(run))
    readable = Readable(access.readable() if access is not None else None)
    hub: EventHub = request.app.state.live
    limits = getattr(request.app.state, "stream_limits", None)
    if limits is None:
        limits = request.app.state.stream_limits = StreamLimits()
    release = limits.open(request.client.host if request.client else "-")
    try:
        sub = await hub.subscribe(project, run_id)
    except BaseException:
        release()
        raise

    def close() -> None:
        hub.unsubscribe(sub)
        release()

    frames = _frames(lab, hub, sub, cursor, readable, _credential(request, lab))
    return EventStream(frames, close)


def _credential(request: Request, lab: Lab) -> Credential | None:
    """The session or token the stream was opened with; None when the trusted proxy or
    nobody (auth off) opened it."""
    state = request.scope.get("state", {})
    session: Session | None = state.get("session")
    sessions: Sessions | None = getattr(request.app.state, "sessions", None)
    if session is not None and sessions is not None:
        session_id = session.id

        async def session_alive() -> bool:
            return await run_in_threadpool(sessions.active, session_id)

        return Credential("session", session_alive)
    identity: Identity | None = state.get("identity")
    if identity is not None and identity.token_id is not None:
        token_id = identity.token_id

        async def token_alive() -> bool:
            return await run_in_threadpool(lab.people.token_active, token_id)

        return Credential("token", token_alive)
    return None


CursorQuery = Annotated[
    int | None, Query(ge=0, le=MAX_WIRE_INT, description="replay events after it")
]
LastEventId = Annotated[str | None, Header(alias="Last-Event-ID", max_length=30)]


@router.get("/events", summary="Live events (SSE)")
async def events(
    request: Request,
    lab: LabDep,
    access: Authorized,
    project: Annotated[str | None, Query(max_length=200)] = None,
    run: Annotated[str | None, Query(max_length=32)] = None,
    cursor: CursorQuery = None,
    last_event_id: LastEventId = None,
) -> EventStream:
    """A ``text/event-stream`` of events, optionally for one project and/or run; with
    auth on, only of the projects the caller may read."""
    return await _stream(request, lab, project, run, _cursor(cursor, last_event_id), access)


@router.get("/runs/{run_id}/events", summary="A run's live events (SSE)")
async def run_events(
    run_id: str,
    request: Request,
    lab: LabDep,
    access: Authorized,
    cursor: CursorQuery = None,
    last_event_id: LastEventId = None,
) -> EventStream:
    """Events of one run: its points and status changes."""
    return await _stream(request, lab, None, run_id, _cursor(cursor, last_event_id), access)


@router.get("/projects/{project}/events", summary="A project's live events (SSE)")
async def project_events(
    project: str,
    request: Request,
    lab: LabDep,
    access: Authorized,
    cursor: CursorQuery = None,
    last_event_id: LastEventId = None,
) -> EventStream:
    """Events of every run in one project."""
    return await _stream(request, lab, project, None, _cursor(cursor, last_event_id), access)


def ui_events_router() -> APIRouter:
    """``/ui-data/events``: the same stream for the web UI's pages.

    It sits beside the pages, outside ``/api/``, so it follows their access rule: an
    API token guards ``/api/`` (a browser's ``EventSource`` cannot send one), while the
    pages, and now their live updates, are readable by whoever can reach the server.
    """
    ui = APIRouter(include_in_schema=False)
    ui.add_api_route("/ui-data/events", events, methods=["GET"])
    return ui
