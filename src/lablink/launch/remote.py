"""A launched job that a cluster (Ray, Slurm) runs: submit, follow, stop, restart.

The run, its attempts, restarts and the final status are ``Job``'s, as for a local
job. Each attempt is one submission; the launcher polls the cluster (bounded waits,
never a blocking call), copies the job's output into the run's logs, and on a timeout,
``jobs stop`` or a signal asks the cluster to cancel the job. The command starts with
one line that says where it runs (host, CUDA_VISIBLE_DEVICES): the launcher reads it
into the run and leaves it out of the stored output.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from lablink.launch.job import Job, _fmt_seconds
from lablink.launch.logs import LogSink
from lablink.launch.options import LaunchOptions
from lablink.launch.placement import Placement
from lablink.launch.process import Attempt
from lablink.sdk.transport import Transport
from lablink.settings import Settings

POLL_SECONDS = 0.5
LOST_SECONDS = 60.0  # the cluster unreachable this long: the attempt is given up
CANCEL_WAIT = 60.0  # after the grace period, how long a cancel may take to show
WHERE_MARK = "lablink-where "
# the first thing the job's shell runs: the host and the GPUs the cluster gave it
WHERE_LINE = (
    'printf \'lablink-where {"host": "%s", "gpus": "%s"}\\n\' '
    '"$(hostname)" "${CUDA_VISIBLE_DEVICES-}"'
)


@dataclasses.dataclass
class Ended:
    """How a cluster says a job ended, in lablink's statuses."""

    status: str
    reason: str | None = None
    exit_code: int | None = None
    host: str | None = None


class Cluster(Protocol):
    """What a backend does for ``RemoteJob``; every call returns within seconds."""

    backend: str
    placement: Placement

    def describe(self) -> dict[str, Any]:
        """Where jobs go (address, partition), for the job's record."""

    def submit(self, job: RemoteJob, attempt: int, env: dict[str, str]) -> str:
        """Submit one attempt of ``job`` with ``env``; returns the cluster's job id."""

    def poll(self, job_id: str) -> Ended | None:
        """The job's end, or None while it is pending or running."""

    def output(self, job_id: str, final: bool) -> list[tuple[str, bytes]]:
        """Lines ``(stream, text)`` written since the last call (all that is left when
        ``final``)."""

    def cancel(self, job_id: str) -> None:
        """Ask the cluster to end the job (SIGTERM, then SIGKILL after its own grace)."""


class RemoteJob(Job):
    """A job whose attempts a ``Cluster`` runs."""

    def __init__(
        self,
        cluster: Cluster,
        settings: Settings,
        transport: Transport | Callable[[], Transport],
        project: str,
        command: Sequence[str],
        options: LaunchOptions,
        **kwargs: Any,
    ) -> None:
        super().__init__(settings, transport, project, command, options, **kwargs)
        self.cluster = cluster
        self.backend = cluster.backend
        self._placed = False

    def _placement(self) -> dict[str, Any]:
        return {**self.cluster.describe(), "resources": self.cluster.placement.resources()}

    def _attempt(self, number: int, deadline: float | None, sink: LogSink) -> Attempt:
        attempt = Attempt(number, time.time())
        try:
            attempt.job_id = self.cluster.submit(self, number, self._lablink_env(number))
        except Exception as exc:  # the cluster refused or went away: a failed attempt
            attempt.ended_at, attempt.status = time.time(), "failed"
            attempt.reason = f"could not submit to {self.backend}: {_short(exc)}"
            sink.lines("err", [f"lablink: {attempt.reason}".encode()])
            return attempt
        self._placed = False
        self._where(attempt, self.cluster.placement.resources())
        ended_by: tuple[str, str] | None = None
        cancelled_at = 0.0
        next_beat = time.monotonic()
        lost_since: float | None = None
        ended: Ended | None = None
        while ended is None:
            try:
                self._copy_output(attempt, sink, final=False)
                ended = self.cluster.poll(attempt.job_id)
                lost_since = None
            except Exception as exc:  # a blip in reaching the cluster must not end the job
                lost_since = lost_since or time.monotonic()
                if time.monotonic() - lost_since > LOST_SECONDS:
                    ended = Ended("failed", f"lost contact with {self.backend}: {_short(exc)}")
            if ended is not None:
                break
            now = time.monotonic()
            if ended_by is None:
                if self._outside is not None:
                    status = "preempted" if self._outside == "SIGTERM" else "killed"
                    ended_by = (status, f"the launcher received {self._outside}")
                elif deadline is not None and now >= deadline:
                    limit = _fmt_seconds(self.options.timeout or 0)
                    ended_by = ("timed_out", f"timeout of {limit} reached; the job was cancelled")
                elif now >= next_beat:
                    next_beat = now + 2.0
                    ended_by = self._beat()
                if ended_by is not None:
                    cancelled_at = now
                    self._cancel(attempt.job_id)
            elif now - cancelled_at > self.options.grace + CANCEL_WAIT:
                ended = Ended(ended_by[0], f"{ended_by[1]} (the cluster never confirmed it)")
            time.sleep(POLL_SECONDS)
        with contextlib.suppress(Exception):  # the output is best effort once it has ended
            self._copy_output(attempt, sink, final=True)
        attempt.ended_at = time.time()
        attempt.exit_code = ended.exit_code
        attempt.host = attempt.host or ended.host
        if ended_by is not None and ended.status != "finished":
            attempt.status, attempt.reason = ended_by
        else:
            attempt.status, attempt.reason = ended.status, ended.reason
        self._where(attempt, self.cluster.placement.resources())
        return attempt

    def _cancel(self, job_id: str) -> None:
        with contextlib.suppress(Exception):  # polled again: a job that ends anyway ends it
            self.cluster.cancel(job_id)

    def _copy_output(self, attempt: Attempt, sink: LogSink, final: bool) -> None:
        assert attempt.job_id is not None
        keep: dict[str, list[bytes]] = {}
        for stream, line in self.cluster.output(attempt.job_id, final):
            if stream == "out" and not self._placed:
                # what the cluster prints before the command starts is its, not the job's
                text = line.decode("utf-8", "replace")
                if text.startswith(WHERE_MARK):
                    self._placed = True
                    self._read_where(attempt, text[len(WHERE_MARK) :])
                continue
            keep.setdefault(stream, []).append(line)
        for stream, lines in keep.items():
            if self.echo:
                out = sys.stderr if stream == "err" else sys.stdout
                for line in lines:
                    print(line.decode("utf-8", "replace"), file=out, flush=True)
            sink.lines(stream, lines)

    def _read_where(self, attempt: Attempt, text: str) -> None:
        try:
            where = json.loads(text)
        except ValueError:
            return
        attempt.host = str(where.get("host") or "") or None
        attempt.gpus = str(where.get("gpus") or "") or None
        self._where(attempt, self.cluster.placement.resources())


def _short(exc: BaseException) -> str:
    """The first line of an exception's message, bounded."""
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]
