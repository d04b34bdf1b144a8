"""One attempt of a job: a process group whose output is read line by line.

The command runs in a new session, so its children form one process group and a
timeout, a stop or a preemption ends all of them, never a bare pid: SIGTERM first,
SIGKILL after the grace period.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import IO

PIPE_BYTES = 1 << 20
# (stream, the complete lines of one read joined by newlines, the last one's left off),
# called from the reader threads
BlockFn = Callable[[str, bytes], None]


@dataclasses.dataclass
class Attempt:
    """What happened to one attempt."""

    number: int
    started_at: float
    ended_at: float | None = None
    exit_code: int | None = None
    status: str = "running"
    reason: str | None = None
    # where it ran: the job's id on its backend (a pid, a Ray or Slurm job id), the
    # host, and the GPUs it was given (CUDA_VISIBLE_DEVICES); None while not known
    job_id: str | None = None
    host: str | None = None
    gpus: str | None = None

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


class Group:
    """A started command: its process, its readers, and how to end its group."""

    def __init__(
        self, command: Sequence[str], env: Mapping[str, str], on_block: BlockFn, echo: bool
    ) -> None:
        self.proc = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env),
            start_new_session=True,
        )
        assert self.proc.stdout is not None and self.proc.stderr is not None
        for pipe in (self.proc.stdout, self.proc.stderr):
            _widen(pipe)
        self._readers = [
            threading.Thread(
                target=_read, args=(pipe, name, on_block, sink if echo else None), daemon=True
            )
            for pipe, name, sink in (
                (self.proc.stdout, "out", sys.stdout),
                (self.proc.stderr, "err", sys.stderr),
            )
        ]
        for reader in self._readers:
            reader.start()

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the whole process group (if any of it is left)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    def end(self, grace: float) -> None:
        """SIGTERM the group, SIGKILL it after ``grace`` seconds if the leader lives on."""
        self.signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(grace)
        # children that ignored SIGTERM may outlive the leader: the group goes in any case
        if _group_alive(self.proc.pid):
            deadline = time.monotonic() + grace
            while _group_alive(self.proc.pid) and time.monotonic() < deadline:
                time.sleep(0.05)
        self.signal(signal.SIGKILL)
        self.proc.wait()

    def finish_output(self) -> None:
        """Wait for the readers to reach the end of the pipes."""
        for reader in self._readers:
            reader.join(5)


def _widen(pipe: IO[bytes]) -> None:
    """A 1 MiB pipe instead of 64 KiB: a job printing fast blocks less often, and each
    read takes more at once (Linux; elsewhere, or over the system's limit, it stays)."""
    size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if size is not None:
        with contextlib.suppress(OSError):
            fcntl.fcntl(pipe.fileno(), size, PIPE_BYTES)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def _read(pipe: IO[bytes], name: str, on_block: BlockFn, echo: IO[str] | None) -> None:
    """Read in large chunks and hand over whole lines a read at a time: per-line work
    would slow the job."""
    out = echo.buffer if echo is not None and hasattr(echo, "buffer") else None
    fd, rest = pipe.fileno(), b""
    while True:
        data = os.read(fd, PIPE_BYTES)
        if not data:
            break
        if out is not None:
            try:
                out.write(data)
                out.flush()
            except (OSError, ValueError):
                out = None
        end = data.rfind(b"\n")
        if end < 0:
            rest += data
            if len(rest) >= PIPE_BYTES:  # no newline for a long while (a progress bar)
                on_block(name, rest)
                rest = b""
            continue
        on_block(name, rest + data[:end])
        rest = data[end + 1 :]
    if rest:
        on_block(name, rest)
    pipe.close()
