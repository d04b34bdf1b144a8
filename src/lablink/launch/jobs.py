"""Reading what a launcher stored about its job."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lablink.launch.job import JOB_ARTIFACT
from lablink.sdk.transport import Transport


def job_record(transport: Transport, run_id: str) -> dict[str, Any]:
    """The job's ``launch/job.json`` (backend, options, attempts); {} for a plain run."""
    for artifact in transport.list_artifacts(run_id):
        if artifact.name == JOB_ARTIFACT:
            with tempfile.TemporaryDirectory(prefix="lablink-job-") as tmp:
                path = transport.download_blob(artifact.digest, Path(tmp) / "job.json")
                data: dict[str, Any] = json.loads(path.read_text())
                return data
    return {}


def cancel_on_cluster(record: Mapping[str, Any], summary: Mapping[str, Any]) -> str | None:
    """Cancel the current attempt of a Ray or Slurm job on its cluster, so that ``jobs
    stop`` works even when the launcher that follows the job is gone; what was done, or
    None. The attempt's job id is the run's ``launch/job_id`` (set at submission)."""
    backend = record.get("backend")
    job_id = summary.get("launch/job_id")
    if not job_id or backend not in ("ray", "slurm"):
        return None
    try:
        if backend == "ray":
            from lablink.launch.ray_backend import stop

            stop(str(record.get("address") or ""), str(job_id))
        else:
            from lablink.launch.slurm_backend import cancel

            cancel(str(job_id))
    except Exception as exc:  # the launcher, if it runs, still ends the job
        return f"could not stop {backend} job {job_id} directly: {exc}"
    return f"stopped {backend} job {job_id}"
