"""One attempt of a job: a process group whose output is followed line by line.

The command runs in a new session, so its children form one process group and a
timeout, a stop or a preemption ends all of them, never a bare pid: SIGTERM first,
SIGKILL after the grace period.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence

from lablink.launch.logs import LogSink
from lablink.launch.tail import Tail


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
    """A started command: its process, the thread following its output, and how to end
    its group."""

    def __init__(
        self,
        command: Sequence[str],
        env: Mapping[str, str],
        sink: LogSink,
        echo: bool,
    ) -> None:
        # files, not pipes: a job printing faster than lablink stores never waits for it
        self.output = Tail(sink, echo)
        try:
            self.proc = subprocess.Popen(
                list(command),
                stdin=subprocess.DEVNULL,
                stdout=self.output.stdout,
                stderr=self.output.stderr,
                env=dict(env),
                start_new_session=True,
            )
        except BaseException:
            self.output.finish()
            raise
        self.output.start()

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
        """Read the rest of the output (the group has ended) and hand it over."""
        self.output.finish()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False
