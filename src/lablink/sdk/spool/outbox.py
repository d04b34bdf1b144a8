"""The live outbox: one run's ops sent in order, spooled to disk while the server is away."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from lablink.sdk.spool.ops import (
    FAILED_DIR,
    FAILURE,
    OUTAGE,
    REFUSAL,
    SPOOL_VERSION,
    OpLog,
    apply,
    attempt,
    classify,
    describe,
    lock_file,
    parse_line,
)
from lablink.sdk.transport import Transport

logger = logging.getLogger("lablink.sdk.spool")

MIN_BACKOFF = 0.5
MAX_BACKOFF = 15.0


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
        # the server refused to create the run: every op of it is set aside, none sent
        self.refused: BaseException | None = None
        self.kept = 0
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
        if self.refused is not None:
            self.log.keep(op, self.refused)
            self.kept += 1
            return None
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

    def refuse(self, op: Mapping[str, Any], exc: BaseException) -> None:
        """The server refused ``op``, the run's ``create``: set it and all later ops aside.

        Nothing is lost: they go to ``<spool_dir>/failed/<run_id>.jsonl``, and an ERROR
        says why and where (the run was created in the background, after ``init``).
        """
        self.refused = exc
        self.deliver(op)
        hint = getattr(exc, "hint", None)
        logger.error(
            "lablink: the server refused to create run %s: %s%s. Its updates are not sent; "
            "they are kept in %s.",
            self.run_id,
            exc,
            f" ({hint})" if hint else "",
            self.spool_dir / FAILED_DIR / f"{self.run_id}.jsonl",
        )

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
        if not self.online and self.refused is None and time.monotonic() >= self._next_try:
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
                op = parse_line(line, self.path)
                if op is not None and op["op"] != "run":
                    tries = self._tries.get(self._offset, 0)
                    outcome = attempt(self.transport, op, tries, self.log)
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
        if self.refused is not None:
            logger.warning(
                "lablink: run %s was never created (the server refused it: %s); its %d "
                "updates are kept in %s",
                self.run_id,
                self.refused,
                self.kept,
                self.spool_dir / FAILED_DIR / f"{self.run_id}.jsonl",
            )
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
            logger.warning("lablink: %s is not JSON and was dropped: %s", describe(op), exc)
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
        lock_file(fh, blocking=True)
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
