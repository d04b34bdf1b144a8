"""The Slurm backend: each attempt is a batch job, submitted with ``sbatch --parsable``.

The sbatch script is written to be read (and run again by hand): the resources asked
as ``#SBATCH`` lines, the run's ``LABLINK_*`` variables, then the command. It is kept
with the run as the artifact ``launch/job.sbatch``. The token, if any, is never written
into it: sbatch passes the submitting environment on (``--export=ALL``, its default).
The job's stdout and stderr go to files under ``LABLINK_HOME/jobs/RUN_ID/``, which the
launcher reads as they grow, so that folder must be on a filesystem the nodes share.
The launcher follows the job with ``scontrol show job`` (``sacct`` once Slurm has
forgotten it) and ends it with ``scancel``; a restart submits the script again.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lablink.errors import ServiceUnavailable
from lablink.launch.placement import Placement
from lablink.launch.remote import WHERE_LINE, Ended
from lablink.settings import Settings

if TYPE_CHECKING:
    from lablink.launch.remote import RemoteJob

SCRIPT_ARTIFACT = "launch/job.sbatch"
# Slurm's job states that end a job, as lablink's; the others (PENDING, RUNNING,
# COMPLETING, CONFIGURING, SUSPENDED, REQUEUED, ...) are still going
STATES = {
    "COMPLETED": "finished",
    "FAILED": "failed",
    "CANCELLED": "killed",
    "TIMEOUT": "timed_out",
    "DEADLINE": "timed_out",
    "PREEMPTED": "preempted",
    "NODE_FAIL": "failed",
    "BOOT_FAIL": "failed",
    "OUT_OF_MEMORY": "failed",
}
REASONS = {
    "CANCELLED": "cancelled on Slurm",
    "TIMEOUT": "Slurm's time limit was reached",
    "DEADLINE": "Slurm's deadline was reached",
    "PREEMPTED": "preempted by Slurm",
    "NODE_FAIL": "the node failed",
    "BOOT_FAIL": "the node failed to boot",
    "OUT_OF_MEMORY": "out of memory",
}
# variables written into the script; the others come from the submitting environment
SHOWN_ENV = ("LABLINK_RUN_ID", "LABLINK_HOME", "LABLINK_DB", "LABLINK_SERVER", "LABLINK_PARAMS")
_TIMEOUT = 30  # seconds any one Slurm command may take


def slurm_status(state: str) -> str | None:
    """Lablink's status for Slurm job state ``state`` (``CANCELLED by 0`` reads as
    ``CANCELLED``); None while the job has not ended."""
    words = state.strip().split()
    return STATES.get(words[0].rstrip("+").upper()) if words else None


def ended(state: str, exit_code: str, host: str | None) -> Ended | None:
    """The end of a job in ``state`` with Slurm's ``exit_code`` (``CODE:SIGNAL``)."""
    status = slurm_status(state)
    if status is None:
        return None
    name = state.strip().split()[0].rstrip("+").upper()
    code_text, _, signal_text = exit_code.partition(":")
    code = int(code_text) if code_text.isdigit() else None
    signal = int(signal_text) if signal_text.isdigit() else 0
    reason = REASONS.get(name)
    if status == "failed" and reason is None:
        reason = f"killed by signal {signal}" if signal else f"exit status {code}"
    if status == "finished":
        reason = None
    return Ended(status, reason, code, host if host and host != "(null)" else None)


def render_script(
    command: list[str],
    placement: Placement,
    env: dict[str, str],
    *,
    name: str,
    workdir: Path,
    logs: Path,
) -> str:
    """The sbatch script for ``command`` asking for ``placement``'s resources."""
    p = placement
    lines = [
        "#!/bin/bash",
        f"# written by lablink launch for run {env.get('LABLINK_RUN_ID', '')}",
        f"#SBATCH --job-name={name}",
        f"#SBATCH --output={logs}/slurm-%j.out",
        f"#SBATCH --error={logs}/slurm-%j.err",
        f"#SBATCH --chdir={workdir}",
    ]
    if p.partition is not None:
        lines.append(f"#SBATCH --partition={p.partition}")
    if p.gpus is not None:
        lines.append(f"#SBATCH --gpus={p.gpus}")
    if p.cpus is not None:
        lines.append(f"#SBATCH --cpus-per-task={p.cpus}")
    if p.memory is not None:
        lines.append(f"#SBATCH --mem={max(1, -(-p.memory // (1 << 20)))}M")
    if p.time is not None:
        lines.append(f"#SBATCH --time={p.time}")
    lines += [
        "",
        "# the run this job records into (lablink.init() joins it); LABLINK_ATTEMPT and",
        "# LABLINK_TOKEN come from the environment sbatch was called with",
        *(f"export {k}={shlex.quote(env[k])}" for k in SHOWN_ENV if env.get(k)),
        "",
        "# where the job runs: the launcher reads this line into the run",
        WHERE_LINE,
        "",
        f"exec {shlex.join(command)}",
        "",
    ]
    return "\n".join(lines)


class SlurmCluster:
    """The Slurm cluster that this machine's ``sbatch`` submits to."""

    backend = "slurm"

    def __init__(self, placement: Placement, settings: Settings) -> None:
        if shutil.which("sbatch") is None:
            raise ServiceUnavailable(
                "no sbatch on PATH: the slurm backend submits with Slurm's client tools",
                "run lablink launch on a Slurm login node (sbatch, scontrol and scancel on "
                "PATH), or use --backend local",
            )
        self.placement = placement
        self.settings = settings
        self._read: dict[tuple[str, str], int] = {}
        self._script: Path | None = None
        self.logs = Path(settings.home).resolve() / "jobs"  # the run's folder once submitted

    def describe(self) -> dict[str, Any]:
        return {"partition": self.placement.partition}

    def submit(self, job: RemoteJob, attempt: int, env: dict[str, str]) -> str:
        self.logs = Path(self.settings.home).resolve() / "jobs" / job.run_id
        self.logs.mkdir(parents=True, exist_ok=True)
        if self._script is None:  # one script for every attempt: a restart resubmits it
            text = render_script(
                job.command,
                self.placement,
                env,
                name=f"lablink-{job.name or job.run_id}",
                workdir=Path.cwd().resolve(),
                logs=self.logs,
            )
            self._script = self.logs / "job.sbatch"
            self._script.write_text(text)
            job.transport.upload_artifact(job.run_id, self._script, SCRIPT_ARTIFACT, "launch")
        done = subprocess.run(
            ["sbatch", "--parsable", str(self._script)],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=_TIMEOUT,
        )
        if done.returncode != 0:
            raise RuntimeError(f"sbatch: {done.stderr.strip() or done.stdout.strip()}")
        return done.stdout.strip().split(";")[0]

    def poll(self, job_id: str) -> Ended | None:
        shown = subprocess.run(
            ["scontrol", "show", "job", "-o", job_id],
            capture_output=True,
            text=True,
            timeout=_TIMEOUT,
        )
        if shown.returncode == 0 and shown.stdout.strip():
            fields = dict(part.split("=", 1) for part in shown.stdout.split() if "=" in part)
            return ended(
                fields.get("JobState", ""), fields.get("ExitCode", ""), fields.get("NodeList")
            )
        # Slurm forgets an ended job after MinJobAge; the accounting still has it
        acct = subprocess.run(
            ["sacct", "-n", "-P", "-X", "-j", job_id, "-o", "State,ExitCode,NodeList"],
            capture_output=True,
            text=True,
            timeout=_TIMEOUT,
        )
        row = acct.stdout.strip().splitlines()
        if acct.returncode != 0 or not row:
            raise RuntimeError(f"Slurm knows no job {job_id}: {shown.stderr.strip()}")
        state, code, host = [*row[0].split("|"), "", "", ""][:3]
        return ended(state, code, host)

    def output(self, job_id: str, final: bool) -> list[tuple[str, bytes]]:
        found: list[tuple[str, bytes]] = []
        for stream in ("out", "err"):
            path = self.logs / f"slurm-{job_id}.{stream}"
            start = self._read.get((job_id, stream), 0)
            try:
                with path.open("rb") as f:
                    f.seek(start)
                    data = f.read()
            except FileNotFoundError:
                continue
            end = len(data) if final else data.rfind(b"\n") + 1
            if end <= 0:
                continue
            self._read[(job_id, stream)] = start + end
            found += [(stream, line) for line in data[:end].splitlines()]
        return found

    def cancel(self, job_id: str) -> None:
        subprocess.run(["scancel", job_id], capture_output=True, timeout=_TIMEOUT, check=True)


def cancel(job_id: str) -> None:
    """Cancel Slurm job ``job_id`` (``jobs stop`` when its launcher is gone)."""
    subprocess.run(["scancel", job_id], capture_output=True, timeout=_TIMEOUT, check=False)
