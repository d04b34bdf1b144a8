"""Replay of leftovers: spools that ended processes left behind, sent to their server."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from lablink.sdk.spool.ops import (
    FAILURE,
    SPOOL_VERSION,
    OpLog,
    attempt,
    lock_file,
    parse_line,
)
from lablink.sdk.transport import Transport

logger = logging.getLogger("lablink.sdk.spool")


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
        yield fh if lock_file(fh, blocking=False) and _still_at(path, fh) else None


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
    header = parse_line(lines[0], path) if lines else None
    if header is None or header.get("op") != "run" or header.get("target") != target:
        return None
    if not isinstance(header.get("v", 1), int) or header.get("v", 1) > SPOOL_VERSION:
        # written by a newer lablink whose ops this one may misread: leave it for that one
        return None
    for i, line in enumerate(lines[1:], start=1):
        op = parse_line(line, path) if line.endswith(b"\n") else None
        if op is None:
            continue
        tries = int(op.get("tries", 0))
        outcome = attempt(transport, op, tries, log)
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
