"""One attempt of a job: a process group whose output is followed line by line.

The command runs in a new session, so its children form one process group and a
timeout, a stop or a preemption ends all of them, never a bare pid: SIGTERM first,
SIGKILL after the grace period.

A launcher that dies without ending the group (SIGKILL, the OOM killer) cannot end it,
so a small shell script, the reaper, waits beside each group on a pipe from the
launcher: the launcher writes ``done`` once the group has ended; the end of the pipe
without it means the launcher is gone, and the reaper ends the group the same way.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence

from lablink.launch.logs import LogSink
from lablink.launch.tail import Tail

# Run by /bin/sh with the group's id and the grace period in seconds; stdin is the pipe.
# (``kill -s SIG -- -PGID``: the form both dash and bash read as a process group.)
REAPER = """
read -r word && [ "$word" = done ] && exit 0
kill -s TERM -- "-$1" 2>/dev/null || exit 0
waited=0
while [ "$waited" -lt "$2" ] && kill -s 0 -- "-$1" 2>/dev/null; do
  sleep 1
  waited=$((waited + 1))
done
kill -s KILL -- "-$1" 2>/dev/null
exit 0
"""
REAPER_NAME = "lablink-reaper"


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
        grace: float = 30.0,
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
        self._reaper = _start_reaper(self.proc.pid, grace)
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

    def release(self) -> None:
        """Tell the reaper that the group has ended: it exits without a signal."""
        if self._reaper is None:
            return
        reaper, pipe = self._reaper
        self._reaper = None
        with contextlib.suppress(OSError):
            os.write(pipe, b"done\n")
        os.close(pipe)
        with contextlib.suppress(subprocess.TimeoutExpired):
            reaper.wait(5)

    def finish_output(self) -> None:
        """Read the rest of the output (the group has ended) and hand it over."""
        self.output.finish()


def _start_reaper(pgid: int, grace: float) -> tuple[subprocess.Popen[bytes], int] | None:
    """The reaper of group ``pgid`` and the end of its pipe the launcher keeps (not
    inherited by what the launcher starts later); None if it cannot start (the job
    runs on, as it would without one)."""
    read_end, write_end = os.pipe()
    try:
        reaper = subprocess.Popen(
            ["/bin/sh", "-c", REAPER, REAPER_NAME, str(pgid), str(math.ceil(grace))],
            stdin=read_end,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # out of reach of the terminal's Ctrl-C and hangup
        )
    except OSError:
        os.close(write_end)
        return None
    finally:
        os.close(read_end)
    return reaper, write_end


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False
