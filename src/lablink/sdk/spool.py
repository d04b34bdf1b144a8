"""Delivery that loses nothing: send each write, spool it to disk while the server is away.

Every write the SDK makes on behalf of a run (creating it, point batches, summary
values, tags, notes, artifacts, the final status) is an *op*: a small JSON-ready dict.
``Outbox.deliver`` sends an op through the transport; ``classify`` sorts what can go
wrong, the same way for both transports:

- an *outage* (a 503, a refused connection, a locked or restarting database): the op,
  and every op after it, is appended to ``<spool_dir>/<run_id>.jsonl``; one WARNING
  says so. The outbox retries with backoff and, once the server answers, replays the
  file in order and deletes it.
- a *failure* (a 500: a server bug, an unexpected database error): the op is spooled
  and retried up to ``MAX_TRIES`` times, then set aside in
  ``<spool_dir>/failed/<run_id>.jsonl`` with a WARNING, and the ops behind it flow on.
- a *refusal* (a 4xx: bad data, a run that has ended; an artifact file that is gone):
  logged and dropped at once, since retrying could never succeed.

Point batches carry a run-scoped ``seq`` and the server ingests by ``(run, seq)``
idempotently, so a replay never doubles a point. When the run ends while the server is
unreachable it does not wait: the spool stays for later.

A spool left behind (the process ended while the server was still away) is replayed by
``replay_all``, which ``lablink.init`` runs in the background for the same server and
``lablink sync`` runs on demand. A
run holds an exclusive ``flock`` on its spool while it lives, so ``replay_all`` never
touches the spool of a run that is still running in another process.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import errno
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
# A server-side failure (a bug, a constraint the client could not foresee) is tried this
# many times per op, then the op is set aside so that the ops behind it still flow.
MAX_TRIES = 5
FAILED_DIR = "failed"

OUTAGE = "outage"  # the server or database is away: keep everything, retry later
FAILURE = "failure"  # the server failed on this op: retry a few times, then set it aside
REFUSAL = "refusal"  # the op itself is wrong (a 4xx, a file that is gone): set it aside now

# Database exceptions under the direct transport, told apart by class name so that the
# SDK needs no database driver to classify them: locks and lost connections pass.
_DB_MODULES = ("sqlalchemy", "psycopg", "sqlite3")
_DB_OUTAGES = frozenset({"OperationalError", "InterfaceError", "TimeoutError"})
_DB_REFUSALS = frozenset({"IntegrityError", "DataError"})
_DISK_FULL = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})


def classify(exc: BaseException) -> str:
    """What a failed op means: ``OUTAGE``, ``FAILURE`` or ``REFUSAL``.

    The same answer for both transports: a 503 or a locked database is an outage; a
    500 or an unexpected exception is a failure; a 4xx, a constraint violation or an
    artifact file that is gone is a refusal.
    """
    if isinstance(exc, LablinkError):
        if exc.status < 500:
            return REFUSAL
        return FAILURE if exc.status == 500 else OUTAGE
    if isinstance(exc, ConnectionError | TimeoutError):
        return OUTAGE
    if isinstance(exc, FileNotFoundError | IsADirectoryError | PermissionError):
        return REFUSAL
    if isinstance(exc, OSError):
        return OUTAGE if exc.errno in _DISK_FULL else FAILURE
    if type(exc).__module__.startswith(_DB_MODULES):
        names = {cls.__name__ for cls in type(exc).__mro__}
        if names & _DB_REFUSALS:
            return REFUSAL
        if names & _DB_OUTAGES:
            return OUTAGE
    return FAILURE


def is_transient(exc: BaseException) -> bool:
    """Whether a failed op should be kept and retried (an outage or a failure)."""
    return classify(exc) != REFUSAL


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


def _attempt(transport: Transport, op: Mapping[str, Any], tries: int, log: OpLog) -> str:
    """Apply ``op``, which failed ``tries`` times before.

    Returns ``"done"`` (delivered, refused, or set aside after its last try),
    ``OUTAGE`` (keep it and everything after it) or ``FAILURE`` (try it again later).
    """
    try:
        apply(transport, op)
    except Exception as exc:
        verdict = classify(exc)
        if verdict == OUTAGE:
            return OUTAGE
        if verdict == REFUSAL:
            log.refused(op, exc)
            return "done"
        if tries + 1 < MAX_TRIES:
            log.failed(op, exc, tries + 1)
            return FAILURE
        log.set_aside(op, exc)
    return "done"


class OpLog:
    """Says what happened to ops that could not be delivered, without drowning the log.

    Refusals: the first few at WARNING, then now and then (a run the watchdog has ended
    refuses every later batch). Failures: WARNING on the first try and when the op is
    set aside into ``<spool_dir>/failed/<run>.jsonl``, where it can be read or replayed
    by hand once the server is fixed.
    """

    LOUD = 3

    def __init__(self, spool_dir: Path | None) -> None:
        self.spool_dir = spool_dir
        self.count = 0  # ops refused
        self.set_aside_count = 0

    def refused(self, op: Mapping[str, Any], exc: BaseException) -> None:
        """Report an op that can never be delivered; it is dropped."""
        self.count += 1
        level = (
            logging.WARNING if self.count <= self.LOUD or self.count % 1000 == 0 else logging.DEBUG
        )
        who = "the server refused" if isinstance(exc, LablinkError) else "cannot send"
        logger.log(
            level,
            "lablink: %s %s of run %s; dropped (%d so far): %s",
            who,
            _describe(op),
            op.get("run_id"),
            self.count,
            exc,
        )

    def failed(self, op: Mapping[str, Any], exc: BaseException, tries: int) -> None:
        """Report a failed try of an op that will be tried again."""
        logger.log(
            logging.WARNING if tries == 1 else logging.DEBUG,
            "lablink: the server failed on %s of run %s (try %d of %d); retrying: %s",
            _describe(op),
            op.get("run_id"),
            tries,
            MAX_TRIES,
            exc,
        )

    def set_aside(self, op: Mapping[str, Any], exc: BaseException) -> None:
        """Move an op that failed every try out of the way, into the failed folder."""
        self.set_aside_count += 1
        where = "the log above"
        if self.spool_dir is not None:
            folder = self.spool_dir / FAILED_DIR
            path = folder / f"{op.get('run_id', 'unknown')}.jsonl"
            record = {k: v for k, v in op.items() if k != "tries"} | {"error": str(exc)}
            try:
                folder.mkdir(parents=True, exist_ok=True)
                with open(path, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(record, separators=(",", ":")) + "\n")
                where = str(path)
            except (OSError, TypeError, ValueError) as write_error:
                where = f"nowhere ({write_error})"
        logger.warning(
            "lablink: the server failed %d times on %s of run %s; set aside in %s so the "
            "updates after it go through: %s",
            MAX_TRIES,
            _describe(op),
            op.get("run_id"),
            where,
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
        self._tries: dict[int, int] = {}  # failed tries of the spooled op at an offset
        self._stalled = OUTAGE  # why the last replay stopped
        self._backoff = MIN_BACKOFF
        self._next_try = 0.0
        self._warned = False
        self.log = OpLog(spool_dir)

    @property
    def path(self) -> Path:
        """Where this run's spool lives (while the server is away)."""
        return self.spool_dir / f"{self.run_id}.jsonl"

    def deliver(self, op: Mapping[str, Any]) -> Any:
        """Send ``op`` now, or spool it if the server is away. Never raises for outages.

        Raises:
            LablinkError: the server refused the ``create`` op (a bad project name).
        """
        if self.online:
            try:
                return apply(self.transport, op)
            except Exception as exc:
                verdict = classify(exc)
                if verdict == REFUSAL:
                    if op["op"] == "create":
                        raise  # a bad project name or config: the caller must hear it
                    self.log.refused(op, exc)
                    return None
                self.go_offline(exc)
                if verdict == FAILURE:
                    self.log.failed(op, exc, 1)
                    offset = self._spool(op)
                    if offset >= 0:
                        self._tries[offset] = 1
                    return None
        self._spool(op)
        return None

    def go_offline(self, exc: BaseException) -> None:
        """Start spooling; say once per run that the server is unreachable."""
        if not self.online:
            return
        self.online = False
        self._backoff = MIN_BACKOFF
        self._next_try = time.monotonic() + self._backoff
        if not self._warned and classify(exc) == OUTAGE:
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

    def drain(self, deadline: float) -> bool:
        """Replay the spool before the run ends; True when everything went.

        Gives up at once while the server is unreachable (the spool stays for a later
        replay: waiting would only delay the end of the training script), and retries
        ops the server failed on until they are delivered or set aside, or until
        ``deadline`` (monotonic) passes.
        """
        self._next_try = time.monotonic()
        while not self.online:
            now = time.monotonic()
            if now >= deadline:
                return False
            time.sleep(max(0.0, min(self._next_try, deadline) - now))
            if self.replay():
                return True
            if self._stalled == OUTAGE:
                return False
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
                    tries = self._tries.get(self._offset, 0)
                    outcome = _attempt(self.transport, op, tries, self.log)
                    if outcome != "done":
                        self._tries[self._offset] = tries + (outcome == FAILURE)
                        self._stalled = outcome
                        self._backoff = min(self._backoff * 2, MAX_BACKOFF)
                        self._next_try = time.monotonic() + self._backoff
                        return False
                    self._tries.pop(self._offset, None)
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
                "in %s. Nothing is lost: the next lablink.init for this server replays them, "
                "or run `lablink sync` to send them now.",
                self.spooled,
                self.run_id,
                self.path,
            )

    def _spool(self, op: Mapping[str, Any]) -> int:
        """Append ``op`` to the spool; returns the offset of its line."""
        try:
            line = json.dumps(op, separators=(",", ":")).encode() + b"\n"
        except (TypeError, ValueError) as exc:
            logger.warning("lablink: %s is not JSON and was dropped: %s", _describe(op), exc)
            return -1
        if self._fh is None:
            self._fh = self._open_spool()
        offset = self._fh.tell()
        self._fh.write(line)
        self._fh.flush()  # in the OS's hands: survives the process being killed
        self.spooled += 1
        return offset

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
        self._tries.clear()
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
    """What ``replay_all`` did: spools fully replayed, ops sent, spools still left.

    ``other`` holds spools written for another server or database, left alone.
    """

    replayed: list[str] = dataclasses.field(default_factory=list)
    ops: int = 0
    left: list[str] = dataclasses.field(default_factory=list)
    other: list[str] = dataclasses.field(default_factory=list)


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
            if done is None:
                report.other.append(path.name)
            else:
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
        yield fh if _lock(fh, blocking=False) and _still_at(path, fh) else None


def _still_at(path: Path, fh: IO[bytes]) -> bool:
    """Whether the locked file is still the one at ``path``.

    Between our open and our lock, another replay may have rewritten the spool
    (``os.replace``) or a new run renamed its own into place: the file we hold is then
    an orphan, and replaying it would resend ops (notes are not idempotent).
    """
    try:
        return os.stat(path).st_ino == os.fstat(fh.fileno()).st_ino
    except FileNotFoundError:
        return False


def _replay_file(
    transport: Transport, path: Path, fh: IO[bytes], target: str, report: ReplayReport
) -> bool | None:
    """Replay one locked spool: True when all went, False when some is left, None when
    it is not a spool for ``target``."""
    log = OpLog(path.parent)
    lines = fh.readlines()
    header = _parse(lines[0], path) if lines else None
    if header is None or header.get("op") != "run" or header.get("target") != target:
        return None
    if not isinstance(header.get("v", 1), int) or header.get("v", 1) > SPOOL_VERSION:
        # written by a newer lablink whose ops this one may misread: leave it for that one
        return None
    for i, line in enumerate(lines[1:], start=1):
        op = _parse(line, path) if line.endswith(b"\n") else None
        if op is None:
            continue
        tries = int(op.get("tries", 0))
        outcome = _attempt(transport, op, tries, log)
        if outcome != "done":
            # keep the header and what is left, so nothing is sent twice next time; the
            # failed op carries its count of tries, so it cannot block the rest forever
            head = line
            if outcome == FAILURE:
                head = json.dumps(op | {"tries": tries + 1}, separators=(",", ":")).encode()
                head += b"\n"
            _rewrite(path, lines[0] + head + b"".join(lines[i + 1 :]))
            return False
        report.ops += 1
    path.unlink()
    return True


def _rewrite(path: Path, content: bytes) -> None:
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(content)
    os.replace(tmp, path)


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
