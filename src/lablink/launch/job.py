"""A launched job on this machine: one run, its attempts, its output and its limits.

The run id is minted here and the command learns it from ``LABLINK_RUN_ID``
(``lablink.init`` inside joins it, waiting for the run if it is not stored yet). A local
job's command starts first and its run is created beside it (open the store, read the
git state), so the command starts at once. Bad input fails before anything starts; a run that
cannot be created ends the command. The launcher alone ends the
run: ``finished`` on exit 0; ``timed_out`` at the deadline; ``killed`` on
``jobs stop``, SIGINT (or SIGHUP, a local job) to the launcher; ``preempted`` when
SIGTERM comes from outside; otherwise ``failed``,
restarted up to ``restarts`` times with backoff, every attempt in the same run. A
watchdog rule with ``action = "restart"`` ends the attempt as ``restarted`` (its
process group SIGTERMed, SIGKILLed after the grace) and counts as a restart too.

``Job`` holds what every backend shares (the run, the attempts loop, the record,
stopping); ``LocalJob`` runs each attempt as a process group on this machine, and
``lablink.launch.remote.RemoteJob`` hands it to Ray or Slurm.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from lablink.checks.watch_policy import LAUNCHED_TAG, merge, parse_policy
from lablink.errors import InvalidInput
from lablink.launch.background import Background
from lablink.launch.logs import LogSink
from lablink.launch.options import LaunchOptions
from lablink.launch.process import Attempt, Group
from lablink.sdk.launched import ATTEMPT_ENV, PENDING_ENV, RUN_ENV, STATUS_ENV

if TYPE_CHECKING:
    from lablink.sdk.transport import Transport
    from lablink.settings import Settings

JOB_ARTIFACT = "launch/job.json"
JOB_TAG = LAUNCHED_TAG
BEAT_SECONDS = 2.0  # how soon `jobs stop` or a watchdog restart is noticed
# An attempt that ended so is followed by another (while --restarts allow): a failure,
# a preemption, or a watchdog rule whose action is "restart".
RESTARTABLE = ("failed", "preempted", "restarted")


class Job:
    """Runs ``command`` as a job of ``project`` under ``options``; a backend gives
    ``_attempt``.

    ``transport`` is the store, or a function that opens it: then it is opened in the
    thread that creates the run, off the way to starting the command.
    """

    backend = "local"
    # whether the first attempt starts before the run exists (the attempt starts the
    # run's creation); otherwise the run is created before it
    create_beside = False
    # whether SIGHUP (the launching terminal gone) ends the job, as SIGINT does
    end_on_hangup = False

    def __init__(
        self,
        settings: Settings,
        transport: Transport | Callable[[], Transport],
        project: str,
        command: Sequence[str],
        options: LaunchOptions,
        *,
        name: str | None = None,
        tags: Sequence[str] = (),
        echo: bool = True,
        config: Mapping[str, Any] | None = None,
        watch: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        handle_signals: bool = True,
    ) -> None:
        if not command:
            raise InvalidInput("no command to launch", "put it after --: lablink launch -- CMD ...")
        self.settings = settings
        # a Transport is not callable: a function given is what opens one
        self._opener = transport if callable(transport) else None
        self._opened = None if callable(transport) else transport
        self._lock = threading.Lock()
        self._creation: Background[str] | None = None
        self.project = project
        self.command = list(command)
        self.options = options
        self.name = name
        self.tags = [*tags, JOB_TAG]
        self.echo = echo
        self.config = dict(config or {})
        self.watch = dict(watch or {})
        self.extra_env = dict(env or {})
        # signal handlers can only be set from the main thread: a sweep runs jobs in
        # worker threads and ends them with ``interrupt`` instead
        self.handle_signals = handle_signals
        self.attempts: list[Attempt] = []
        self.run_id = ""
        self._outside: str | None = None  # a signal the launcher itself received
        self._current: Attempt | None = None  # the attempt running now, once it started
        self._started = 0.0
        self._wake = threading.Event()

    # -- the run ------------------------------------------------------------------------
    @property
    def transport(self) -> Transport:
        """The store, once the job's run is in it (waits for the run to be created)."""
        self._begin_create().get()
        return self._store()

    def create(self) -> str:
        """Create the job's run (git state, host, the command line); returns its id."""
        if self._creation is None:
            self._check()
        return self._begin_create().get()

    def close(self) -> None:
        """Close the store if this job opened it."""
        with self._lock:
            opened, self._opened = self._opened, None
        if opened is not None and self._opener is not None:
            opened.close()

    def _store(self) -> Transport:
        with self._lock:
            if self._opened is None:
                assert self._opener is not None
                self._opened = self._opener()
            return self._opened

    def _check(self) -> None:
        """What the store would refuse, refused before anything starts (no run is made)."""
        from lablink.checks.names import new_run_id
        from lablink.checks.run_fields import check_new_run

        self.run_id = self.run_id or new_run_id()
        check_new_run(self.project, self.name, self.config, self.tags, self.run_id)
        if self._policy():
            parse_policy(self._policy())

    def _policy(self) -> dict[str, Any]:
        # the repository's [watch] with the job's own over it, as ``lablink.init`` sends
        # them: a server applies the team's rules (a "restart" action among them) too
        return merge(self.settings.project_config.get("watch") or {}, self.watch)

    def _begin_create(self) -> Background[str]:
        """Start creating the run in a worker thread (once); its ``get`` waits for it."""
        with self._lock:
            if self._creation is None:
                self._creation = Background(self._create_run, "lablink-create-run")
            return self._creation

    def _create_run(self) -> str:
        from lablink.homedir import own_paths
        from lablink.sdk import redact
        from lablink.sdk.capture import capture

        s = self.settings
        own = own_paths(s.home, s.spool_dir, s.cache_dir, s.blobs, s.db)
        captured = capture(own=own, exclude=s.capture_exclude, config=self.config)
        captured.fields["command"] = redact.redact_argv(self.command)[0]
        policy = self._policy()
        if policy:
            captured.fields["watch"] = policy
        store = self._store()
        if captured.diff is not None:
            store.put_blob(captured.diff)
        run = store.create_run(
            self.project, self.name, captured.config, self.tags, self.run_id, captured.fields
        )
        return run.id

    def _not_created(self) -> BaseException | None:
        """Why the run could not be created (waiting for its creation); None once it is."""
        if self._creation is None:
            return None
        with contextlib.suppress(BaseException):
            self._creation.get()
        return self._creation.error()

    def _record(self, started: float) -> None:
        data: dict[str, Any] = {
            "backend": self.backend,
            **self._placement(),
            "host": os.uname().nodename,
            "launcher_pid": os.getpid(),
            "command": self.command,
            "started_at": started,
            "options": {
                "timeout": self.options.timeout,
                "grace": self.options.grace,
                "restarts": self.options.restarts,
                "backoff": self.options.backoff,
            },
            "attempts": [a.to_dict() for a in self.attempts],
        }
        current = self._current
        if current is not None and all(a is not current for a in self.attempts):
            data["attempts"].append(current.to_dict())  # the run page shows it running
        with tempfile.TemporaryDirectory(prefix="lablink-job-") as tmp:
            path = Path(tmp) / "job.json"
            path.write_text(json.dumps(data, indent=1))
            self.transport.upload_artifact(self.run_id, path, JOB_ARTIFACT, "launch")

    # -- the attempts -------------------------------------------------------------------
    def run(self) -> int:
        """Create the run (unless ``create`` was called), run the attempts, end the run;
        returns the exit status to use."""
        if self._creation is None:
            self._check()  # bad input fails here, before the command starts
            if not self.create_beside:
                self.create()
        started = self._started = time.time()
        deadline = None if self.options.timeout is None else time.monotonic() + self.options.timeout
        sink = LogSink(lambda: self.transport, self.run_id)
        old = (
            {sig: signal.signal(sig, self._on_signal) for sig in _handled(self.end_on_hangup)}
            if self.handle_signals
            else {}
        )
        status, reason, code = "failed", None, 1
        try:
            if self._creation is not None:  # else the first attempt records itself
                self._record(started)
            for number in range(1, self.options.restarts + 2):
                sink.attempt = number
                attempt = self._attempt(number, deadline, sink)
                self.attempts.append(attempt)
                if self._not_created() is not None:
                    break
                self.transport.note(self.run_id, _attempt_note(attempt), None)
                self._record(started)
                status, reason = attempt.status, attempt.reason
                # the command's own exit status when it failed; 1 when it was ended otherwise
                code = 0 if status == "finished" else 1
                if status == "failed" and attempt.exit_code is not None and attempt.exit_code > 0:
                    code = attempt.exit_code
                if status == "finished":
                    break
                if status not in RESTARTABLE or self._outside is not None:
                    break
                if number > self.options.restarts:
                    break
                ended = self._pause(self.options.backoff_for(number), deadline)
                if ended is not None:
                    if ended[0] == "killed":
                        status, reason, code = ended[0], ended[1], 1
                    break
            if self._outside is not None and status in ("failed", "restarted"):
                status = "preempted" if self._outside == "SIGTERM" else "killed"
            elif status == "restarted":  # the watchdog asked for one restart too many
                status = "killed"
                reason = f"{reason}; no restarts left (--restarts {self.options.restarts})"
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)
            failed = self._not_created()
            sink.close(store=failed is None)
            if len(self.attempts) > 1:
                reason = f"{reason or status} (attempt {len(self.attempts)})"
            if failed is None:
                self.transport.finish_run(self.run_id, status, reason)
        if failed is not None:
            # a store that made the run but failed to answer must not leave it running
            with contextlib.suppress(Exception):
                self._store().finish_run(self.run_id, "failed", f"not created: {failed}")
            raise failed
        return code

    def _attempt(self, number: int, deadline: float | None, sink: LogSink) -> Attempt:
        raise NotImplementedError

    def _placement(self) -> dict[str, Any]:
        """What the backend records about where jobs go (address, resources asked)."""
        return {}

    def _lablink_env(self, attempt: int) -> dict[str, str]:
        """What the job needs to record into the run: the run, the attempt, the store."""
        env = {k: v for k, v in os.environ.items() if k.startswith("LABLINK_")}
        env.update(self.extra_env)
        env[RUN_ENV], env[ATTEMPT_ENV] = self.run_id, str(attempt)
        if self.create_beside:  # the run may be stored a moment after the command starts
            env[PENDING_ENV] = self.run_id
        else:
            env.pop(PENDING_ENV, None)
        env["LABLINK_HOME"] = str(self.settings.home)
        env["LABLINK_DB"] = self.settings.db
        for key, value in (
            ("LABLINK_SERVER", self.settings.server),
            ("LABLINK_TOKEN", self.settings.token),
        ):
            if value:
                env[key] = value
        return env

    def _where(self, attempt: Attempt, resources: Mapping[str, Any] | None = None) -> None:
        """Record where ``attempt`` runs as the run's ``launch/...`` summary values."""
        values: dict[str, Any] = {"launch/backend": self.backend}
        for key in ("job_id", "host", "gpus"):
            value = getattr(attempt, key)
            if value is not None:
                values[f"launch/{key}"] = value
        if resources:
            values["launch/resources"] = dict(resources)
        with contextlib.suppress(Exception):  # a record of placement must not end the job
            self.transport.set_summary(self.run_id, values)
            self._current = attempt
            self._record(self._started)

    def _beat(self) -> tuple[str, str] | None:
        """Whether the store asks the attempt to end: ``("killed", why)`` on a stop
        request, ``("restarted", why)`` on a watchdog restart (taken here, once)."""
        try:
            answer = self.transport.heartbeat(self.run_id, None, None, take_restart=True)
        except Exception:  # the server away must not end the job
            return None
        restart, stop = answer.get("restart"), answer.get("stop")
        if restart:
            return ("restarted", str(restart))
        return ("killed", f"stopped: {stop}") if stop else None

    def _pause(self, seconds: float, deadline: float | None) -> tuple[str, str] | None:
        """Wait out the backoff, heartbeating; what ends the job instead: a signal, the
        deadline, or a stop asked meanwhile (``("killed", why)``). A restart asked of the
        attempt that has ended is spent here, not by the next one."""
        if deadline is not None and time.monotonic() + seconds >= deadline:
            return ("timed_out", "the timeout would pass before the next attempt")
        until = time.monotonic() + seconds
        while True:
            self._wake.wait(max(0.0, min(BEAT_SECONDS, until - time.monotonic())))
            if self._outside is not None:
                return ("signal", self._outside)
            asked = self._beat()
            if asked is not None and asked[0] == "killed":
                return asked
            if time.monotonic() >= until:
                return None

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.interrupt(signal.Signals(signum).name)

    def interrupt(self, name: str) -> None:
        """End the job as if the launcher received signal ``name`` (SIGTERM: preempted,
        anything else: killed); safe from any thread."""
        self._outside = name
        self._wake.set()


class LocalJob(Job):
    """Runs each attempt as a process group on this machine."""

    backend = "local"
    create_beside = True
    # its output goes to files only the launcher reads: without the launcher they
    # would fill with no one reading them (through a pipe, the job's next write died)
    end_on_hangup = True

    def _attempt(self, number: int, deadline: float | None, sink: LogSink) -> Attempt:
        attempt = Attempt(number, time.time())
        status_file = Path(tempfile.mkstemp(prefix="lablink-status-")[1])
        env = self._env(number, status_file)
        group, failure = _start(self.command, env, sink, self.echo, self.options.grace)
        creation = self._begin_create()  # the run is made while the command starts
        if group is None:
            attempt.ended_at, attempt.status = time.time(), "failed"
            attempt.reason = f"cannot execute {self.command[0]!r}: {failure}"
            sink.lines("err", [f"lablink: {attempt.reason}".encode()])
            status_file.unlink(missing_ok=True)
            return attempt
        attempt.job_id, attempt.host = str(group.proc.pid), os.uname().nodename
        attempt.gpus = env.get("CUDA_VISIBLE_DEVICES")
        placed = False
        ended_by: tuple[str, str] | None = None
        next_beat = time.monotonic() + BEAT_SECONDS
        while True:
            try:
                group.proc.wait(0.1)
                break
            except subprocess.TimeoutExpired:
                pass
            now = time.monotonic()
            if self._outside is not None:
                status = "preempted" if self._outside == "SIGTERM" else "killed"
                ended_by = (status, f"the launcher received {self._outside}")
            elif deadline is not None and now >= deadline:
                limit = _fmt_seconds(self.options.timeout or 0)
                ended_by = ("timed_out", f"timeout of {limit} reached; the process group was ended")
            elif creation.error() is not None:
                ended_by = ("failed", f"the run could not be created: {creation.error()}")
            elif not placed:
                if creation.done():
                    placed = True
                    self._where(attempt)
            elif now >= next_beat:
                next_beat = now + BEAT_SECONDS
                ended_by = self._beat()
            if ended_by is not None:
                group.end(self.options.grace)
                break
        if _leftovers(group):  # children the leader left behind go with it
            group.end(0)
        group.release()
        group.finish_output()
        attempt.ended_at = time.time()
        attempt.exit_code = group.proc.returncode
        if ended_by is not None:
            attempt.status, attempt.reason = ended_by
        else:
            attempt.status, attempt.reason = _exit_verdict(group.proc.returncode, status_file)
        status_file.unlink(missing_ok=True)
        return attempt

    def _env(self, attempt: int, status_file: Path) -> dict[str, str]:
        env = {**os.environ, **self._lablink_env(attempt)}
        env[STATUS_ENV] = str(status_file)
        return env


def _start(
    command: Sequence[str], env: Mapping[str, str], sink: LogSink, echo: bool, grace: float
) -> tuple[Group | None, str]:
    """The started command, or None and why it cannot be executed."""
    if shutil.which(command[0], path=env.get("PATH")) is None and not os.access(
        command[0], os.X_OK
    ):
        return None, "not found or not executable"
    try:
        return Group(command, env, sink, echo, grace), ""
    except OSError as exc:
        return None, str(exc.strerror or exc)


def _handled(hangup_too: bool) -> list[signal.Signals]:
    """The signals that end a job from the launcher: SIGTERM (preempted), SIGINT, and
    with ``hangup_too`` SIGHUP, unless ``nohup`` ignores it."""
    signals = [signal.SIGTERM, signal.SIGINT]
    hangup = getattr(signal, "SIGHUP", None)
    if hangup_too and hangup is not None and signal.getsignal(hangup) is not signal.SIG_IGN:
        signals.append(hangup)
    return signals


def _leftovers(group: Group) -> bool:
    """Whether children of an ended leader are still in its process group."""
    try:
        os.killpg(group.proc.pid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def _exit_verdict(code: int, status_file: Path) -> tuple[str, str | None]:
    if code == 0:
        return "finished", None
    if code == -signal.SIGTERM:  # SIGTERMed from outside: a scheduler took the machine back
        return "preempted", "the process received SIGTERM"
    reported: Mapping[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        reported = json.loads(status_file.read_text() or "{}")
    if code < 0:
        return "failed", f"killed by {signal.Signals(-code).name}"
    detail = reported.get("reason") if reported.get("status") == "failed" else None
    reason = f"exit status {code}"
    return "failed", f"{reason}: {detail}" if detail else reason


def _attempt_note(a: Attempt) -> str:
    took = _fmt_seconds((a.ended_at or a.started_at) - a.started_at)
    why = f": {a.reason}" if a.reason else ""
    return f"attempt {a.number} {a.status} after {took} (exit {a.exit_code}){why}"


def _fmt_seconds(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f}h"
    if seconds >= 60:
        return f"{seconds / 60:.1f}m"
    return f"{seconds:.1f}s"
