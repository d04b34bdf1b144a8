"""Delivery that loses nothing: send each write, spool it to disk while the server is away.

Every write the SDK makes on behalf of a run (creating it, point batches, summary
values, tags, notes, artifacts, the final status) is an *op*: a small JSON-ready dict.
``Outbox.deliver`` sends an op through the transport. When the server cannot be reached
(``ServiceUnavailable``, a 5xx, a connection or database error) the op, and every op
after it, is appended to ``<spool_dir>/<run_id>.jsonl``; one WARNING says so. The outbox
retries with backoff and, once the server answers, replays the file in order and
deletes it. Point batches carry a run-scoped ``seq`` and the server ingests by
``(run, seq)`` idempotently, so a replay never doubles a point.

An op the server rejects with a 4xx (bad data, a run that has ended) is logged and
dropped: retrying it could never succeed.

A spool left behind (the process ended while the server was still away) is replayed by
``replay_all``, which ``lablink.init`` runs in the background for the same server. A
run holds an exclusive ``flock`` on its spool while it lives, so ``replay_all`` never
touches the spool of a run that is still running in another process.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import logging
import os
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from lablink.errors import AlreadyExists, LablinkError
from lablink.sdk.transport import Transport

try:  # POSIX; elsewhere spools are not locked (one process per spool folder)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

SPOOL_VERSION = 1
MIN_BACKOFF = 0.5
MAX_BACKOFF = 15.0
# Errors whose class comes from these modules are outages of the database under the
# direct transport (locked SQLite, PostgreSQL restarting): retry them like a 5xx.
_TRANSIENT_MODULES = ("sqlalchemy", "psycopg", "sqlite3")


def is_transient(exc: BaseException) -> bool:
    """Whether a failed op should be spooled and retried (True) or dropped (False)."""
    if isinstance(exc, LablinkError):
        return exc.status >= 500
    if isinstance(exc, OSError):
        return True
    return any(type(exc).__module__.startswith(m) for m in _TRANSIENT_MODULES)


def blob_op(run_id: str, data: bytes) -> dict[str, Any]:
    """An op that stores bytes as a blob (the git diff, say)."""
    return {"op": "blob", "run_id": run_id, "data": base64.b64encode(data).decode("ascii")}


def apply(transport: Transport, op: Mapping[str, Any]) -> Any:
    """Perform one op through ``transport``; raises what the transport raises."""
    kind, run_id = op["op"], op["run_id"]
    if kind == "batch":
        return transport.log_batch(run_id, op["seq"], op["metrics"])
    if kind == "summary":
        return transport.set_summary(run_id, op["values"])
    if kind == "create":
        try:
            return transport.create_run(
                op["project"], op["name"], op["config"], op["tags"], run_id, op["capture"]
            )
        except AlreadyExists:  # created before, its answer lost on the way back
            return None
    if kind == "blob":
        return transport.put_blob(base64.b64decode(op["data"]))
    if kind == "tag":
        return transport.tag(run_id, op["add"], op["remove"])
    if kind == "note":
        return transport.note(run_id, op["text"], op["outcome"])
    if kind == "input":
        return transport.add_input(run_id, op["kind"], op["ref"], op["digest"])
    if kind == "artifact":
        path = Path(op["path"])
        if not path.is_file():
            raise FileNotFoundError(f"artifact {path} is gone; it cannot be uploaded")
        return transport.upload_artifact(run_id, path, op["name"], op["kind"])
    if kind == "finish":
        return transport.finish_run(run_id, op["status"], op["reason"])
    raise ValueError(f"unknown spooled op {kind!r}")


def _apply_or_drop(transport: Transport, op: Mapping[str, Any], drops: Drops) -> bool:
    """Apply ``op``; True when it is done with (delivered or dropped), False to retry."""
    try:
        apply(transport, op)
    except Exception as exc:
        if op["op"] == "artifact" and isinstance(exc, FileNotFoundError):
            logger.warning("lablink: %s", exc)
            return True
        if is_transient(exc):
            return False
        drops.report(op, exc)
    return True


class Drops:
    """Reports ops the server refused: the first few at WARNING, then now and then.

    A run the watchdog has ended refuses every later batch; one line per batch would
    drown the training log.
    """

    LOUD = 3

    def __init__(self) -> None:
        self.count = 0

    def report(self, op: Mapping[str, Any], exc: BaseException) -> None:
        self.count += 1
        level = (
            logging.WARNING if self.count <= self.LOUD or self.count % 1000 == 0 else logging.DEBUG
        )
        logger.log(
            level,
            "lablink: the server refused %s of run %s; dropped (%d so far): %s",
            _describe(op),
            op.get("run_id"),
            self.count,
            exc,
        )


def _describe(op: Mapping[str, Any]) -> str:
    if op["op"] == "batch":
        points = sum(len(s["values"]) for s in op["metrics"].values())
        return f"batch {op['seq']} ({points} points)"
    return f"the {op['op']} update"


class Outbox:
    """Sends one run's ops in order; spools and replays them across outages.

    Used by one thread only (the run's background thread).
    """

    def __init__(self, transport: Transport, run_id: str, spool_dir: Path, target: str) -> None:
        self.transport = transport
        self.run_id = run_id
        self.spool_dir = spool_dir
        self.target = target
        self.online = True
        self.spooled = 0  # ops written to the spool and not yet delivered
        self._fh: IO[bytes] | None = None
        self._offset = 0  # bytes of the spool already delivered
        self._backoff = MIN_BACKOFF
        self._next_try = 0.0
        self._warned = False
        self.drops = Drops()

    @property
    def path(self) -> Path:
        """Where this run's spool lives (while the server is away)."""
        return self.spool_dir / f"{self.run_id}.jsonl"

    def deliver(self, op: Mapping[str, Any]) -> Any:
        """Send ``op`` now, or spool it if the server is away. Never raises for outages."""
        if self.online:
            try:
                return apply(self.transport, op)
            except Exception as exc:
                if not is_transient(exc):
                    if op["op"] == "create":
                        raise  # a bad project name or config: the caller must hear it
                    self.drops.report(op, exc)
                    return None
                self.go_offline(exc)
        self._spool(op)
        return None

    def go_offline(self, exc: BaseException) -> None:
        """Start spooling; warn once per run."""
        if not self.online:
            return
        self.online = False
        self._backoff = MIN_BACKOFF
        self._next_try = time.monotonic() + self._backoff
        if not self._warned:
            self._warned = True
            logger.warning(
                "lablink: the server is unreachable (%s); spooling to %s and retrying. "
                "Nothing is lost: the spool is replayed when the server is back.",
                exc,
                self.path,
            )

    def tick(self) -> None:
        """Retry the server when the backoff allows; replays the spool if it answers."""
        if not self.online and time.monotonic() >= self._next_try:
            self.replay()

    def drain(self, deadline: float, poll: float = 1.0) -> bool:
        """Retry until the spool is replayed or ``deadline`` (monotonic) passes."""
        while not self.online:
            now = time.monotonic()
            if now >= deadline:
                return False
            time.sleep(max(0.0, min(self._next_try, now + poll, deadline) - now))
            self._next_try = min(self._next_try, time.monotonic())
            self.replay()
        return True

    def replay(self) -> bool:
        """Send spooled ops in order from where the last replay stopped; True when all went."""
        if self.online:
            return True
        if self._fh is None:  # offline without a spool: e.g. only a heartbeat failed
            self.online = True
            return True
        self._fh.flush()
        with open(self.path, "rb") as fh:
            fh.seek(self._offset)
            for line in fh:
                if not line.endswith(b"\n"):
                    break  # never happens in-process: lines are written whole
                op = _parse(line, self.path)
                if op is not None and op["op"] != "run":
                    if not _apply_or_drop(self.transport, op, self.drops):
                        self._backoff = min(self._backoff * 2, MAX_BACKOFF)
                        self._next_try = time.monotonic() + self._backoff
                        return False
                    self.spooled -= 1
                self._offset += len(line)
        logger.info("lablink: the server is back; replayed the spool of run %s", self.run_id)
        self._remove_spool()
        self.online = True
        return True

    def close(self) -> None:
        """Release the spool (kept on disk if anything is still in it)."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
            logger.warning(
                "lablink: the server is still unreachable; %d updates of run %s stay spooled "
                "in %s. Nothing is lost: the next lablink.init for this server replays them.",
                self.spooled,
                self.run_id,
                self.path,
            )

    def _spool(self, op: Mapping[str, Any]) -> None:
        try:
            line = json.dumps(op, separators=(",", ":")).encode() + b"\n"
        except (TypeError, ValueError) as exc:
            logger.warning("lablink: %s is not JSON and was dropped: %s", _describe(op), exc)
            return
        if self._fh is None:
            self._fh = self._open_spool()
        self._fh.write(line)
        self._fh.flush()  # in the OS's hands: survives the process being killed
        self.spooled += 1

    def _open_spool(self) -> IO[bytes]:
        # Created under a temporary name, locked, then renamed into place: replay_all
        # never sees an unlocked spool of a live run.
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        fh = open(tmp, "ab")  # noqa: SIM115 - held open (and locked) while the run lives
        _lock(fh, blocking=True)
        header = {"op": "run", "run_id": self.run_id, "target": self.target, "v": SPOOL_VERSION}
        fh.write(json.dumps(header).encode() + b"\n")
        fh.flush()
        os.replace(tmp, self.path)
        self._offset = 0
        return fh

    def _remove_spool(self) -> None:
        if self._fh is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            self._fh.close()
            self._fh = None
        self._offset = 0
        self.spooled = 0


def _lock(fh: IO[bytes], blocking: bool) -> bool:
    if fcntl is None:  # pragma: no cover - Windows
        return True
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True


def _parse(line: bytes, path: Path) -> dict[str, Any] | None:
    try:
        op = json.loads(line)
    except ValueError:
        logger.warning("lablink: skipping a damaged line in %s", path)
        return None
    return op if isinstance(op, dict) and "op" in op else None


@dataclasses.dataclass
class ReplayReport:
    """What ``replay_all`` did: spools fully replayed, ops sent, spools still left."""

    replayed: list[str] = dataclasses.field(default_factory=list)
    ops: int = 0
    left: list[str] = dataclasses.field(default_factory=list)


def target_of(transport: Transport) -> str:
    """Which server or database a transport writes to (spools are replayed there only)."""
    settings = getattr(transport, "settings", None)
    if settings is None:
        return ""
    return str(settings.server or settings.db)


def replay_all(
    transport: Transport,
    spool_dir: Path | None = None,
    target: str | None = None,
) -> ReplayReport:
    """Replay spools left by ended processes for the transport's server, in order.

    Spools of runs still alive (locked) and spools for another server are skipped. A
    spool whose server is still away stays, cut to the ops not yet delivered.

    Args:
        transport: where to send the ops.
        spool_dir: the spool folder; default: the transport's ``settings.spool_dir``.
        target: only spools written for this server or database URL; default: the
            transport's.
    """
    settings = getattr(transport, "settings", None)
    if spool_dir is None:
        if settings is None:
            raise ValueError("replay_all needs spool_dir for a transport without settings")
        spool_dir = Path(settings.spool_dir)
    target = target_of(transport) if target is None else target
    report = ReplayReport()
    if not spool_dir.is_dir():
        return report
    for path in sorted(spool_dir.glob("*.jsonl")):
        with _locked(path) as fh:
            if fh is None:
                continue
            done = _replay_file(transport, path, fh, target, report)
            (report.replayed if done else report.left).append(path.name)
    return report


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[IO[bytes] | None]:
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below, after the yield
    except FileNotFoundError:
        yield None
        return
    with fh:
        yield fh if _lock(fh, blocking=False) else None


def _replay_file(
    transport: Transport, path: Path, fh: IO[bytes], target: str, report: ReplayReport
) -> bool:
    drops = Drops()
    lines = fh.readlines()
    header = _parse(lines[0], path) if lines else None
    if header is None or header.get("op") != "run" or header.get("target") != target:
        return False
    for i, line in enumerate(lines[1:], start=1):
        op = _parse(line, path) if line.endswith(b"\n") else None
        if op is None:
            continue
        if not _apply_or_drop(transport, op, drops):
            # keep the header and what is left, so nothing is sent twice next time
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(lines[0] + b"".join(lines[i:]))
            os.replace(tmp, path)
            return False
        report.ops += 1
    path.unlink()
    return True


def replay_in_background(transport: Transport) -> threading.Thread | None:
    """Start ``replay_all`` in a daemon thread if the spool folder holds any spool."""
    settings = getattr(transport, "settings", None)
    if settings is None:
        return None
    try:
        if not any(Path(settings.spool_dir).glob("*.jsonl")):
            return None
    except OSError:
        return None
    thread = threading.Thread(
        target=_replay_quietly, args=(transport,), name="lablink-replay", daemon=True
    )
    thread.start()
    return thread


def _replay_quietly(transport: Transport) -> None:
    try:
        report = replay_all(transport)
    except Exception as exc:
        logger.warning("lablink: replaying leftover spools failed: %s", exc)
        return
    if report.replayed:
        logger.info(
            "lablink: replayed %d spooled updates of %d earlier runs",
            report.ops,
            len(report.replayed),
        )
