"""Reading what a launcher stored about its job."""

from __future__ import annotations

import json
import tempfile
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
