"""``Run``: tracking from inside training code (``lablink.init`` makes one: sdk/start.py).

``run.log`` only appends ``(step, time, dict)`` to an in-memory deque. A background
thread turns the deque into batches every ``flush_interval`` and heartbeats every
``heartbeat_interval`` with ``sys/*`` metrics; a second one creates a new run
(sdk/opening.py), then sends batches, summary values, tags and notes in order through
an ``Outbox``, which spools them to disk while the server is away.

Every way a run can end sets its status: ``finish()`` or leaving ``with`` normally →
finished; an uncaught exception (in ``with`` or at top level) → failed with the
traceback; SIGTERM/SIGINT that end the process → killed (an ignored signal changes
nothing); leaving the interpreter with the run open → finished.
Only SIGKILL (or a power cut) leaves it running, for the watchdog to mark crashed.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import queue
import signal
import threading
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from lablink.checks.keys import metric_key_problem
from lablink.checks.wire_numbers import MAX_WIRE_INT, STEPS_RULE
from lablink.deprecation import deprecated_property
from lablink.errors import Conflict
from lablink.sdk import hooks, starter
from lablink.sdk.spool import OUTAGE, REFUSAL, Outbox, classify
from lablink.sdk.summary import Summary, WarnOnce
from lablink.sdk.transport import Transport
from lablink.sdk.wakeup import Flag, Wakeup
from lablink.settings import Settings

if TYPE_CHECKING:
    from lablink.sdk.opening import Opening

logger = logging.getLogger("lablink.sdk")

MAX_BATCH_POINTS = 50_000  # per request: a few MB of JSON, far under the server's limit
MAX_REASON_CHARS = 20_000
FINISH_GRACE = 5.0  # seconds past finish's deadline for a request still in flight
_time = time.time


class RunStopped(Conflict):
    """Raised by ``run.log`` after the server asked the run to stop (watchdog, a user)."""

    code = "run_stopped"


class Run:
    """A run in progress. Create it with ``lablink.init``; use it as a context manager.

    ``lablink.run`` is the run opened last and still open (``None`` when there is none).
    """

    # Internals until 0.2; kept one release for code that reached into them.
    settings = deprecated_property("settings", "_settings")
    transport = deprecated_property("transport", "_transport")

    def __init__(
        self,
        transport: Transport,
        settings: Settings,
        outbox: Outbox,
        project: str,
        name: str,
        config: Mapping[str, Any],
        owns_transport: bool,
    ) -> None:
        self.id = outbox.run_id
        self.project = project
        self.name = name
        self.config = dict(config)
        self._settings = settings
        self._transport = transport
        base = settings.public_url or settings.server
        # the web UI's page of the run (None for the embedded store: no server to link)
        self.url: str | None = f"{base.rstrip('/')}/r/{self.id}" if base else None
        self._outbox = outbox
        self._owns_transport = owns_transport
        self._finish_timeout = 30.0
        self._replayer: threading.Thread | None = None
        # a new run: the sender captures and creates it first (sdk/opening.py)
        self._opening: Opening | None = None
        self._opened = threading.Event()
        self._start_once = threading.Lock()
        self._buffer: collections.deque[tuple[Any, float, dict[str, Any]]] = collections.deque()
        # Points buffered = logged - drained; each counter has one writer (the training
        # loop, the builder thread), so neither needs a lock.
        self._max_points = max(1, settings.buffer_points)
        self._logged = 0
        self._drained = 0
        self._full = False  # the training loop waits for room
        self._room: queue.SimpleQueue[None] = queue.SimpleQueue()
        self._ops: collections.deque[dict[str, Any]] = collections.deque()
        self._step = 0
        self._seq = 0
        # joined: a launched job's run, ended by its launcher (sdk/join.py)
        self._joined = False
        self._floors: dict[str, int] = {}  # per key: steps at or below are stored already
        self._halt: str | None = None  # None while logging is open; "stop" or "finished"
        self._stop_reason: str | None = None
        self._final: tuple[str, str | None] = ("finished", None)
        self._finish_once = threading.Lock()
        self._closing = Flag()
        self._wake = Wakeup()
        self._deadline = 0.0
        self._next_guard = 0.0  # when run.log next checks the background threads
        self._warn = WarnOnce()
        self._good_keys: set[str] = set()
        self.summary = Summary(self._warn, self._wake)
        # a few batches in flight between the threads: bounded memory, overlap of work
        self._outq: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=4)
        self._thread = threading.Thread(target=self._work, name=f"lablink-{self.id}", daemon=True)
        self._sender = threading.Thread(
            target=self._send, name=f"lablink-{self.id}-send", daemon=True
        )

    # -- the training loop's side -------------------------------------------------------
    def log(self, data: Mapping[str, Any], step: int | None = None) -> None:
        """Record metric values at ``step`` (the previous step + 1 when omitted).

        Never blocks on I/O and never raises for bad values: a value that is not a
        number (or a key that is empty or too long) is reported once and skipped.

        Raises:
            RunStopped: the server asked this run to stop (``stop_signal=exception``).
        """
        if self._halt is not None:
            return self._halted()
        try:
            values = dict(data)
            if step is None:
                step = self._step
            self._step = step + 1
        except (TypeError, ValueError):
            self._warn(
                "log-call", "run.log(%r, step=%r) ignored: it takes a dict and an int", data, step
            )
            return None
        if self._floors:
            values = {k: v for k, v in values.items() if step > self._floors.get(k, -1)}
        now = _time()
        self._buffer.append((step, now, values))
        self._logged += len(values)
        if self._logged - self._drained >= self._max_points:
            self._wait_for_room()
        if now >= self._next_guard:
            self._guard_threads(now)
        return None

    def _guard_threads(self, now: float) -> None:
        """Restart a background thread that died, loudly.

        The builder sends heartbeats: if it died, the server would mark a live run
        crashed. Checked from ``run.log`` at most once a second (one float compare per
        call otherwise) and from ``finish``.
        """
        self._next_guard = now + 1.0
        if self._closing.is_set():
            return  # ending: the threads stop on their own
        for attr, target, suffix in (("_thread", self._work, ""), ("_sender", self._send, "-send")):
            thread: threading.Thread = getattr(self, attr)
            if thread.is_alive() or thread.ident is None:
                continue  # alive, or never started (init has not returned yet)
            logger.error(
                "lablink: the background thread %s of run %s died; restarting it so "
                "heartbeats and points keep flowing",
                thread.name,
                self.id,
            )
            fresh = threading.Thread(target=target, name=f"lablink-{self.id}{suffix}", daemon=True)
            setattr(self, attr, fresh)
            fresh.start()

    def _halted(self) -> None:
        if self._halt == "stop":
            raise RunStopped(f"run {self.id} was asked to stop: {self._stop_reason}")
        self._warn("log-after-finish", "run %s has finished; run.log is ignored", self.id)

    def _wait_for_room(self) -> None:
        # The buffer is full (settings.buffer_points): wait for the background thread
        # rather than drop points. It drains to the server or, offline, to the spool.
        # The builder puts a token in _room after each batch it takes while _full is set.
        self._full = True
        self._start_threads()
        try:
            while self._logged - self._drained >= self._max_points // 2:
                if not self._thread.is_alive():
                    break
                self._wake.set()
                with contextlib.suppress(queue.Empty):
                    self._room.get(timeout=self._settings.flush_interval)
        finally:
            self._full = False

    def tag(self, *tags: str, remove: Sequence[str] = ()) -> None:
        """Add tags (and remove others); sent with the next flush."""
        self._enqueue({"op": "tag", "add": list(tags), "remove": list(remove)})

    def note(self, text: str, outcome: str | None = None) -> None:
        """Add a note; ``outcome="negative"`` records a negative result."""
        self._enqueue({"op": "note", "text": text, "outcome": outcome})

    def use(self, kind: str, ref: str, digest: str | None = None) -> None:
        """Record an input of the run (a dataset version, say) for its lineage."""
        self._enqueue({"op": "input", "kind": kind, "ref": ref, "digest": digest})

    def log_artifact(
        self, path: str | os.PathLike[str], name: str | None = None, kind: str = "file"
    ) -> None:
        """Upload a file now (streamed) and attach it to the run as ``name``.

        If the server is away the upload is spooled and made, from the same path, when
        it is back: keep the file until then.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no file at {path}")
        op = {"op": "artifact", "path": str(path.resolve()), "name": name or path.name}
        op["kind"] = kind
        # uploaded now only once the run exists on the server; else in order, later
        if self._opened.wait(self._finish_timeout) and self._outbox.online:
            try:
                self._transport.upload_artifact(self.id, path, op["name"], kind)
                return
            except Exception as exc:
                if classify(exc) == REFUSAL:
                    raise
                logger.warning("lablink: artifact %s spooled: %s", path, exc)
        self._enqueue(op)

    def sync(self, timeout: float = 30.0) -> bool:
        """Deliver (or spool) everything logged so far; False if ``timeout`` ran out.

        The run itself goes first: once this returns True the server has the run
        (unless it is away, and the run waits in the spool).
        """
        done = threading.Event()
        # ops go out after the buffered points, and the sender keeps their order
        self._enqueue({"op": "sync", "done": done})
        return done.wait(timeout)

    def _enqueue(self, op: dict[str, Any]) -> None:
        if self._finish_once.locked():
            self._warn("op-after-finish", "run %s has finished; %s is ignored", self.id, op["op"])
            return
        op["run_id"] = self.id
        self._ops.append(op)
        self._wake.set()

    # -- ending -------------------------------------------------------------------------
    def finish(
        self, status: str = "finished", reason: str | None = None, *, timeout: float | None = None
    ) -> None:
        """Flush every point, then end the run with ``status``. Later calls do nothing.

        Waits up to ``timeout`` seconds (default: ``init``'s ``finish_timeout``) for a
        server that is away; what it could not deliver stays in the spool, replayed by a
        later ``lablink.init``.
        """
        if not self._finish_once.acquire(blocking=False):
            return
        if timeout is not None:
            self._finish_timeout = timeout
        if self._stop_reason is not None:  # asked to stop: however it ended, it was killed
            status, reason = "killed", self._stop_reason
        self._halt = "finished"
        self._start_threads()  # ended before the starter thread got to it
        self._guard_threads(_time())  # a dead builder could never queue the final status
        self._final = (status, _clip(reason))
        self._deadline = time.monotonic() + self._finish_timeout
        self._closing.set()
        self._wake.set()
        # One time limit for the whole ending: the sender stops retrying at the deadline,
        # and FINISH_GRACE covers the request it may have in flight then.
        end = self._deadline + FINISH_GRACE
        for thread in (self._thread, self._sender):  # the builder ends first, then the sender
            if thread.is_alive() and thread is not threading.current_thread():
                thread.join(max(0.0, end - time.monotonic()))
        if self._replayer is not None:  # leftover spools of earlier runs, same transport
            self._replayer.join(max(0.0, end - time.monotonic()))
        hooks.unregister(self)
        threads = (self._thread, self._sender, self._replayer)
        busy = any(t is not None and t.is_alive() for t in threads)
        if self._owns_transport and not busy:
            self._transport.close()

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.finish(*self._exit_status(exc_type, exc, tb))

    def _exit_status(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> tuple[str, str | None]:
        signalled = hooks.signal_raised(self)
        if signalled is not None and isinstance(exc, KeyboardInterrupt | SystemExit):
            return "killed", f"received {signalled}"  # raised by the signal's handler
        return exit_status(exc_type, exc, tb)

    def __repr__(self) -> str:
        return f"<lablink.Run {self.id} {self.project}/{self.name}>"

    # -- the background threads ---------------------------------------------------------
    # Two threads, so that building the next batch overlaps sending the last one: the
    # builder drains the buffer into ops (batches with their seq, summary, tags, notes,
    # heartbeats) and queues them; the sender delivers them in order through the
    # Outbox, which alone touches the spool.
    def _start(self) -> None:
        if self._opening is None:
            self._opened.set()
        starter.submit(self._start_threads)  # no thread start on init's path

    def _start_threads(self) -> None:
        """Start the builder (it starts the sender) unless started: by the starter thread,
        or by ``finish`` or a full buffer if they come first."""
        with self._start_once:
            if self._thread.ident is None:
                self._thread.start()

    def _work(self) -> None:
        sampler = None
        interval = self._settings.heartbeat_interval
        next_beat = time.monotonic() + interval
        ended = False
        try:
            if self._sender.ident is None:
                self._sender.start()
            sampler = self._open_sampler()
            while True:
                self._wake.clear()  # before the work: a wake-up during it is not lost
                closing = self._closing.is_set()
                try:
                    self._flush()
                    if time.monotonic() >= next_beat:
                        next_beat = time.monotonic() + interval
                        self._queue_heartbeat(sampler.sample() if sampler else {})
                except Exception:  # never let the thread die: it holds every point
                    logger.exception("lablink: error in the background thread of run %s", self.id)
                if closing:
                    break
                wait = min(self._settings.flush_interval, max(0.0, next_beat - time.monotonic()))
                self._wake.wait(wait)
            # after finish(): everything is queued; the status goes last
            status, reason = self._final
            if self._joined:
                from lablink.sdk.launched import report_status

                report_status(status, reason)
            else:
                self._queue({"op": "finish", "run_id": self.id, "status": status, "reason": reason})
            ended = True
        except BaseException:  # even SystemExit, which threading would swallow silently
            # Not silent: a dead thread means no heartbeats, and the server would mark a live
            # run crashed; _guard_threads restarts it from run.log.
            logger.critical("lablink: the background thread of run %s died", self.id, exc_info=True)
        finally:
            if ended or self._closing.is_set():
                self._outq.put(None)  # the sender's cue to wait out an outage, then stop
            if sampler is not None:
                sampler.close()

    def _send(self) -> None:
        outbox = self._outbox
        if not self._opened.is_set():
            self._open()
        while True:
            try:
                op = self._outq.get(timeout=self._settings.flush_interval)
            except queue.Empty:
                op = {}
            try:
                if op is None:
                    outbox.drain(self._deadline)
                    outbox.close()
                    return
                if op.get("op") == "heartbeat":
                    self._heartbeat(op)
                elif op.get("op") == "sync":
                    op["done"].set()
                elif op:
                    outbox.deliver(op)
                outbox.tick()
            except Exception:
                logger.exception("lablink: error sending updates of run %s", self.id)

    def _open(self) -> None:
        """Capture where the run comes from and create it, before any other op."""
        try:
            if self._opening is not None:
                self._opening.send(self._outbox)
        except Exception:
            logger.exception("lablink: error creating run %s", self.id)
        finally:
            self._opened.set()

    def _queue(self, op: dict[str, Any]) -> None:
        self._outq.put(op)  # blocks while the sender is behind: back-pressure, not loss

    def _open_sampler(self) -> Any:
        if not self._settings.system_metrics:
            return None
        try:
            from lablink.sdk.system import SystemSampler

            return SystemSampler()
        except Exception as exc:
            logger.warning("lablink: system metrics are off: %s", exc)
            return None

    def _flush(self) -> None:
        """Queue what the training loop logged so far, then queued ops and summary values."""
        remaining = len(self._buffer)
        while remaining > 0:
            remaining -= self._send_points(remaining)
        while self._ops:
            self._queue(self._ops.popleft())
        values = self.summary.take()
        if values:
            self._queue({"op": "summary", "run_id": self.id, "values": values})

    def _send_points(self, entries: int) -> int:
        """Turn up to ``entries`` buffered log calls into one batch; returns how many."""
        buf, good, points, taken = self._buffer, self._good_keys, 0, 0
        columns: dict[str, tuple[list[int], list[float], list[float]]] = {}
        while taken < entries and points < MAX_BATCH_POINTS:
            step, now, data = buf.popleft()
            taken += 1
            self._drained += len(data)
            if type(step) is not int or not 0 <= step <= MAX_WIRE_INT:
                step = self._check_step(step)
                if step is None:
                    continue
            for key, value in data.items():
                column = columns.get(key)
                if column is None:
                    if key not in good and not self._check_key(key):
                        continue
                    column = columns[key] = ([], [], [])
                try:
                    if isinstance(value, str | bytes):
                        raise TypeError(type(value).__name__)
                    number = float(value)
                except Exception:
                    self._warn(f"value:{key}", "non-numeric value for %r skipped: %r", key, value)
                    continue
                column[0].append(step)
                column[1].append(now)
                column[2].append(number)
                points += 1
        metrics = {
            k: {"steps": s, "times": t, "values": v} for k, (s, t, v) in columns.items() if s
        }
        if self._full:
            self._room.put(None)  # the training loop waits for room: never blocks here
        if metrics:
            self._queue(
                {"op": "batch", "run_id": self.id, "seq": self._next_seq()} | {"metrics": metrics}
            )
        return taken

    def _next_seq(self) -> int:
        seq, self._seq = self._seq, self._seq + 1
        return seq

    def _check_step(self, step: Any) -> int | None:
        try:
            value = int(step)
            if value == step and 0 <= value <= MAX_WIRE_INT:
                return value
        except (TypeError, ValueError, OverflowError):
            pass
        self._warn("step", "points at step %r skipped: %s", step, STEPS_RULE)
        return None

    def _check_key(self, key: Any) -> bool:
        problem = metric_key_problem(key)
        if problem:
            self._warn(f"key:{key!r}", "metric %r skipped: %s", key, problem)
            return False
        self._good_keys.add(key)
        return True

    def _queue_heartbeat(self, system: dict[str, float]) -> None:
        seq = self._next_seq() if system else None
        self._queue({"op": "heartbeat", "run_id": self.id, "seq": seq, "system": system})

    def _heartbeat(self, op: Mapping[str, Any]) -> None:
        """Send a heartbeat (in the sender); its sys/* points go to the spool if offline."""
        system, seq = op["system"], op["seq"]
        spooled = {"op": "batch", "run_id": self.id, "seq": seq}
        if not self._outbox.online or self._outbox.refused is not None:
            if system:
                self._outbox.deliver(spooled | {"metrics": _system_batch(system)})
            return
        try:
            answer = self._transport.heartbeat(self.id, system or None, seq)
        except Exception as exc:
            if classify(exc) != OUTAGE:  # a heartbeat is not retried: the next one follows
                logger.warning("lablink: heartbeat of run %s failed: %s", self.id, exc)
                return
            self._outbox.go_offline(exc)
            if system:  # the sys/* points ride in the spool instead
                self._outbox.deliver(spooled | {"metrics": _system_batch(system)})
            return
        stop = answer.get("stop")
        if stop:
            self._on_stop(str(stop))

    def _on_stop(self, reason: str) -> None:
        if self._stop_reason is not None:
            return
        self._stop_reason = reason
        logger.warning("lablink: run %s was asked to stop: %s", self.id, reason)
        if self._settings.stop_signal == "sigterm" and hooks.handles(signal.SIGTERM):
            os.kill(os.getpid(), signal.SIGTERM)  # our handler ends the run as killed
            return
        if self._settings.stop_signal == "sigterm":  # init ran outside the main thread
            logger.warning("lablink: no SIGTERM handler of ours; run.log raises RunStopped")
        if self._halt is None:
            self._halt = "stop"


def current() -> Run | None:
    """The run opened last that is still open (None: none is)."""
    for run in reversed(hooks.active()):
        if isinstance(run, Run):
            return run
    return None


def _system_batch(system: Mapping[str, float]) -> dict[str, Any]:
    now = _time()  # as the server files heartbeat metrics: step = whole seconds
    return {k: {"steps": [int(now)], "times": [now], "values": [v]} for k, v in system.items()}


def _clip(reason: str | None) -> str | None:
    if reason is None or len(reason) <= MAX_REASON_CHARS:
        return reason
    return "...\n" + reason[-MAX_REASON_CHARS:]


def exit_status(
    exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
) -> tuple[str, str | None]:
    """The status and reason for a run that ends with ``exc`` (None: normally)."""
    if exc_type is None or exc is None:
        return "finished", None
    if isinstance(exc, RunStopped):
        return "killed", str(exc)
    if isinstance(exc, KeyboardInterrupt):
        return "killed", "KeyboardInterrupt"
    if isinstance(exc, SystemExit) and exc.code in (0, None):
        return "finished", None
    return "failed", "".join(traceback.format_exception(exc_type, exc, tb))
