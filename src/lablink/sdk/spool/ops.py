"""The op vocabulary: what an op is, how it is applied, and what its failure means.

An op is a small JSON-ready dict (``{"op": "batch", "run_id": ..., ...}``); ``apply``
performs one through a transport and ``classify`` sorts what can go wrong into an
outage, a failure or a refusal, the same way for both transports. A spool file is one
header line (``{"op": "run", ...}``) and then one op per line.
"""

from __future__ import annotations

import base64
import errno
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from lablink.errors import AlreadyExists, LablinkError
from lablink.sdk.transport import Transport

try:  # POSIX; elsewhere spools are not locked (one process per spool folder)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger("lablink.sdk.spool")

SPOOL_VERSION = 1
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


def attempt(transport: Transport, op: Mapping[str, Any], tries: int, log: OpLog) -> str:
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
            describe(op),
            op.get("run_id"),
            self.count,
            exc,
        )

    def failed(self, op: Mapping[str, Any], exc: BaseException, tries: int) -> None:
        """Report a failed try of an op that will be tried again."""
        logger.log(
            logging.WARNING if tries == 1 else logging.DEBUG,
            "lablink: the server failed on %s of run %s (try %d of %d); retrying: %s",
            describe(op),
            op.get("run_id"),
            tries,
            MAX_TRIES,
            exc,
        )

    def set_aside(self, op: Mapping[str, Any], exc: BaseException) -> None:
        """Move an op that failed every try out of the way, into the failed folder."""
        self.set_aside_count += 1
        where = self.keep(op, exc)
        logger.warning(
            "lablink: the server failed %d times on %s of run %s; set aside in %s so the "
            "updates after it go through: %s",
            MAX_TRIES,
            describe(op),
            op.get("run_id"),
            where,
            exc,
        )

    def keep(self, op: Mapping[str, Any], exc: BaseException) -> str:
        """Append ``op`` with its error to ``<spool_dir>/failed/<run>.jsonl``; says where."""
        if self.spool_dir is None:
            return "the log above"
        path = self.spool_dir / FAILED_DIR / f"{op.get('run_id', 'unknown')}.jsonl"
        record = {k: v for k, v in op.items() if k != "tries"} | {"error": str(exc)}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record, separators=(",", ":")) + "\n")
        except (OSError, TypeError, ValueError) as write_error:
            return f"nowhere ({write_error})"
        return str(path)


def describe(op: Mapping[str, Any]) -> str:
    """An op in words, for the log."""
    if op["op"] == "batch":
        points = sum(len(s["values"]) for s in op["metrics"].values())
        return f"batch {op['seq']} ({points} points)"
    return f"the {op['op']} update"


def lock_file(fh: IO[bytes], blocking: bool) -> bool:
    """Take the exclusive lock a live run holds on its spool; False if another has it."""
    if fcntl is None:  # pragma: no cover - Windows
        return True
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True


def parse_line(line: bytes, path: Path) -> dict[str, Any] | None:
    """One spool line as an op, or None (with a WARNING) for a damaged line."""
    try:
        op = json.loads(line)
    except ValueError:
        logger.warning("lablink: skipping a damaged line in %s", path)
        return None
    return op if isinstance(op, dict) and "op" in op else None
