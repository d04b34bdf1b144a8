"""The live-event hub: one follower of the store's event log per server process.

Every write that live views care about (new points, status changes, new runs) appends
a row to the store's ``events`` table in the same transaction. The hub follows that log
with ``store.wait_for_events`` (SQLite polls the monotonic id; PostgreSQL wakes on
LISTEN/NOTIFY, so a write made by *another* server process wakes this one too), reads
new rows with ``store.events_since`` and fans them out to the SSE subscribers of this
process, each filtered by project or run.

The hub sleeps while nobody is subscribed. A subscriber that falls more than
``QUEUE_LIMIT`` events behind is closed; its client reconnects with ``Last-Event-ID``
and catches up from the store, so a slow browser never grows the server's memory.

PostgreSQL hands out ids before commit, so id 11 may commit before id 10. When the hub
sees a jump in ids it remembers the missing ones for ``GAP_SECONDS`` and reads again
from the oldest, delivering late rows once they commit.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Iterable

from starlette.concurrency import run_in_threadpool

from lablink.errors import ServiceUnavailable
from lablink.models import Event
from lablink.store.base import Store

logger = logging.getLogger(__name__)

WAIT_SECONDS = 0.5  # longest a store wait blocks; also bounds how long stop() takes
PAGE = 1000
QUEUE_LIMIT = 10_000
GAP_SECONDS = 10.0
MAX_GAPS = 1000


class Subscription:
    """One subscriber's queue of events, filtered by project and/or run."""

    def __init__(self, project: str | None, run_id: str | None, horizon: int) -> None:
        self.project = project
        self.run_id = run_id
        # Events with ids at or below this were settled before the subscription began:
        # the hub will never deliver them, so a replay need not remember them.
        self.horizon = horizon
        self.overflowed = False
        self.closed = False
        self._items: collections.deque[Event] = collections.deque()
        self._ready = asyncio.Event()

    def matches(self, event: Event) -> bool:
        """Whether ``event`` is one this subscriber asked for."""
        if self.run_id is not None and event.run_id != self.run_id:
            return False
        return self.project is None or event.project == self.project

    def push(self, event: Event) -> None:
        """Queue an event; a subscriber too far behind is closed instead."""
        if self.closed:
            return
        if len(self._items) >= QUEUE_LIMIT:
            self.overflowed = True
            self.close()
            return
        self._items.append(event)
        self._ready.set()

    def close(self) -> None:
        """End the subscription; queued events are still handed out first."""
        self.closed = True
        self._ready.set()

    async def next(self, timeout: float) -> Event | None:
        """The next event, or ``None`` once closed and drained.

        Raises:
            TimeoutError: nothing arrived within ``timeout`` seconds.
        """
        while not self._items:
            if self.closed:
                return None
            self._ready.clear()
            await asyncio.wait_for(self._ready.wait(), timeout)
        return self._items.popleft()


class EventHub:
    """Follows the store's event log and fans events out to subscribers."""

    def __init__(self, store: Store, keepalive_seconds: float = 15.0) -> None:
        self.store = store
        self.keepalive_seconds = keepalive_seconds
        self._subs: set[Subscription] = set()
        self._cursor = 0
        self._gaps: dict[int, float] = {}  # missing id -> monotonic deadline
        self._wanted = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def running(self) -> bool:
        """Whether the follower task is alive."""
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Start the follower task (called from the app's lifespan)."""
        self._stopping = False
        self._task = asyncio.create_task(self._follow(), name="lablink-live-hub")

    def close_streams(self) -> None:
        """End every open stream, so a server shutdown does not wait on them."""
        for sub in list(self._subs):
            sub.close()

    async def stop(self) -> None:
        """End every stream and wait for the follower (at most ``WAIT_SECONDS``)."""
        self._stopping = True
        self.close_streams()
        self._wanted.set()
        task, self._task = self._task, None
        if task is not None:
            try:
                await task
            except Exception:
                logger.exception("live events: the hub failed")

    async def subscribe(self, project: str | None, run_id: str | None) -> Subscription:
        """Register a subscriber; it receives every matching event committed from now.

        Raises:
            ServiceUnavailable: the hub is not running (server starting or stopping).
        """
        if not self.running or self._stopping:
            raise ServiceUnavailable("live events are not running on this server")
        async with self._lock:
            if not self._subs:
                # Waking from sleep: follow from the present, not from where we slept.
                latest = await run_in_threadpool(self.store.last_event_id)
                self._cursor = max(self._cursor, latest)
                self._gaps.clear()
            sub = Subscription(project, run_id, self._horizon())
            self._subs.add(sub)
            self._wanted.set()
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Forget a subscriber (its stream ended)."""
        sub.close()
        self._subs.discard(sub)

    def _horizon(self) -> int:
        return min(self._gaps, default=self._cursor + 1) - 1

    async def _follow(self) -> None:
        while not self._stopping:
            if not self._subs:
                self._wanted.clear()
                await self._wanted.wait()
                continue
            try:
                await run_in_threadpool(self.store.wait_for_events, self._cursor, WAIT_SECONDS)
                if self._stopping:
                    break
                events = await run_in_threadpool(self._read_from, self._horizon())
            except Exception:
                logger.warning("live events: cannot read the event log; retrying", exc_info=True)
                await asyncio.sleep(1.0)
                continue
            for event in self._accept(events):
                for sub in list(self._subs):
                    if sub.matches(event):
                        sub.push(event)

    def _read_from(self, cursor: int) -> list[Event]:
        events: list[Event] = []
        while True:
            page = self.store.events_since(cursor, None, None, PAGE)
            events.extend(page)
            if len(page) < PAGE:
                return events
            cursor = page[-1].id

    def _accept(self, events: Iterable[Event]) -> list[Event]:
        """New events in id order, updating the cursor and the list of missing ids."""
        now = time.monotonic()
        fresh: list[Event] = []
        for event in events:
            if event.id <= self._cursor:
                if self._gaps.pop(event.id, None) is None:
                    continue  # delivered before
            else:
                skipped = event.id - self._cursor - 1
                if 0 < skipped <= MAX_GAPS:
                    for missing in range(self._cursor + 1, event.id):
                        self._gaps[missing] = now + GAP_SECONDS
                self._cursor = event.id
            fresh.append(event)
        if self._gaps:
            self._gaps = {i: due for i, due in self._gaps.items() if due > now}
        return fresh
