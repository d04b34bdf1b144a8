"""``lablink.checkpoint``: save checkpoints as run artifacts, find the last one again.

In a job that ``lablink launch`` restarts, attempt k+1 calls ``latest()`` to get the
file attempt k saved last, downloaded next to the run's other client files.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from lablink.sdk.join import launched_run_id
from lablink.sdk.run import Run, current

KIND = "checkpoint"
_NAME = re.compile(r"^checkpoints/(\d{12})/(.+)$")


def _run() -> Run:
    run = current()
    if run is None:
        raise RuntimeError("no active run: call lablink.init() before lablink.checkpoint")
    return run


def save(path: str | os.PathLike[str], step: int) -> str:
    """Store the file at ``path`` as the run's checkpoint for ``step``; returns its name.

    The points logged before it are delivered first, so a restart that resumes from
    this checkpoint finds every earlier step stored.
    """
    if not isinstance(step, int) or step < 0:
        raise ValueError(f"step must be a non-negative int, not {step!r}")
    run = _run()
    run.sync()
    name = f"checkpoints/{step:012d}/{Path(path).name}"
    run.log_artifact(path, name=name, kind=KIND)
    return name


def latest() -> str | None:
    """Local path of the run's checkpoint with the highest step, or None if it has none."""
    run = current()
    if run is None and launched_run_id() is None:
        return None
    if run is None:
        raise RuntimeError("call lablink.init() before lablink.checkpoint.latest()")
    best: tuple[int, str, str] | None = None
    for artifact in run.transport.list_artifacts(run.id):
        match = _NAME.match(artifact.name)
        if artifact.kind != KIND or match is None:
            continue
        key = (int(match.group(1)), artifact.name, artifact.digest)
        if best is None or key > best:
            best = key
    if best is None:
        return None
    step, name, digest = best
    dest = Path(run.settings.cache_dir) / "checkpoints" / run.id / f"{step:012d}" / Path(name).name
    if not (dest.is_file() and dest.stat().st_size > 0):
        dest.parent.mkdir(parents=True, exist_ok=True)
        run.transport.download_blob(digest, dest)
    return str(dest)
