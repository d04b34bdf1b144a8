"""The Ray backend: each attempt is a Ray job, submitted through the dashboard's Jobs API.

The job's entrypoint is the command, run in a copy of the repository (Ray's
``working_dir``; its .gitignore is honoured) with the run's ``LABLINK_*`` variables,
asking for ``entrypoint_num_gpus``/``num_cpus``/``memory``. Ray runs the entrypoint
with stdout and stderr together, so all of a Ray job's output is stored as ``out``.
"""

from __future__ import annotations

import logging
import shlex
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lablink.errors import InvalidInput, ServiceUnavailable
from lablink.launch.placement import DEFAULT_RAY_ADDRESS, Placement
from lablink.launch.remote import WHERE_LINE, Ended

if TYPE_CHECKING:
    from lablink.launch.remote import RemoteJob

# Ray's job statuses, as lablink's; PENDING and RUNNING are still going
STATUSES = {"SUCCEEDED": "finished", "FAILED": "failed", "STOPPED": "killed"}
_FIX = (
    "start a Ray head (ray start --head) and pass its dashboard with --address "
    f"(e.g. {DEFAULT_RAY_ADDRESS}), or set it as address in [launch] of lablink.toml"
)


def ray_status(name: str) -> str | None:
    """Lablink's status for Ray job status ``name``; None while it has not ended."""
    return STATUSES.get(name.upper().rsplit(".", 1)[-1])


class RayCluster:
    """A Ray cluster's Jobs API at ``placement.address``."""

    backend = "ray"

    def __init__(self, placement: Placement) -> None:
        try:
            from ray.job_submission import JobSubmissionClient
        except ImportError:
            raise InvalidInput(
                "the ray backend needs Ray's job client", "pip install 'lablink[ray]'"
            ) from None
        # Ray's client logs each package upload at INFO, between the job's echoed lines
        logging.getLogger("ray").setLevel(logging.WARNING)
        self.placement = placement
        self.address = placement.address or DEFAULT_RAY_ADDRESS
        try:
            self.client = JobSubmissionClient(self.address)
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
            raise ServiceUnavailable(f"cannot reach Ray at {self.address}: {first}", _FIX) from None
        self._read: dict[str, int] = {}

    def describe(self) -> dict[str, Any]:
        return {"address": self.address}

    def submit(self, job: RemoteJob, attempt: int, env: dict[str, str]) -> str:
        workdir = working_dir()
        excludes = [".git/"]
        home = Path(job.settings.home).resolve()
        if home.is_relative_to(workdir):  # the store is read through LABLINK_HOME
            excludes.append(home.relative_to(workdir).as_posix() + "/")
        p = self.placement
        asked: dict[str, Any] = {}
        if p.gpus is not None:
            asked["entrypoint_num_gpus"] = p.gpus
        if p.cpus is not None:
            asked["entrypoint_num_cpus"] = p.cpus
        if p.memory is not None:
            asked["entrypoint_memory"] = p.memory
        # the entrypoint starts in working_dir: go where the launch was made
        here = Path.cwd().resolve()
        cd = (
            f"cd {shlex.quote(here.relative_to(workdir).as_posix())} && " if here != workdir else ""
        )
        job_id: str = self.client.submit_job(
            entrypoint=f"{WHERE_LINE}; {cd}exec {shlex.join(job.command)}",
            submission_id=f"lablink-{job.run_id}-{attempt}",
            runtime_env={"working_dir": str(workdir), "excludes": excludes, "env_vars": env},
            metadata={"lablink_run": job.run_id, "lablink_attempt": str(attempt)},
            **asked,
        )
        return job_id

    def poll(self, job_id: str) -> Ended | None:
        status = ray_status(str(self.client.get_job_status(job_id)))
        if status is None:
            return None
        info = self.client.get_job_info(job_id)
        code = getattr(info, "driver_exit_code", None)
        if status == "finished":
            return Ended("finished", None, code if code is not None else 0)
        if status == "killed":
            return Ended("killed", "stopped on Ray", code)
        message = (info.message or "").strip().splitlines()
        reason = f"exit status {code}" if code else (message[0][:300] if message else "failed")
        return Ended("failed", reason, code)

    def output(self, job_id: str, final: bool) -> list[tuple[str, bytes]]:
        text = self.client.get_job_logs(job_id)
        start = self._read.get(job_id, 0)
        end = len(text) if final else text.rfind("\n", start) + 1
        if end <= start:
            return []
        self._read[job_id] = end
        # Ray logs the entrypoint it runs into the job's output, at times after the job's
        # own lines: it is Ray's, not the job's
        ray_line = f"Running entrypoint for job {job_id}: "
        return [
            ("out", line.encode())
            for line in text[start:end].splitlines()
            if not line.startswith(ray_line)
        ]

    def cancel(self, job_id: str) -> None:
        self.client.stop_job(job_id)


def working_dir() -> Path:
    """The repository the launch was made in, else the current directory."""
    cwd = Path.cwd().resolve()
    try:
        top = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return cwd
    return Path(top).resolve() if top else cwd


def stop(address: str, job_id: str) -> None:
    """Stop Ray job ``job_id`` at ``address`` (``jobs stop`` when its launcher is gone)."""
    RayCluster(Placement(backend="ray", address=address)).cancel(job_id)
