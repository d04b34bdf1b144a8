"""MLflow's artifact proxy over lablink's artifacts and blob store.

Runs answer ``artifact_uri = mlflow-artifacts:/<experiment>/<run>/artifacts``, so the
MLflow client uploads, lists and downloads through these routes. A file is stored as a
content-addressed blob (streamed, never whole in memory) and attached to the run under
its relative path, so ``lablink runs show`` and the web UI list it too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio.from_thread
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from lablink.checks.routes import MLFLOW_ARTIFACTS
from lablink.errors import InvalidInput, NotFound
from lablink.server.file_stream import FileStream
from lablink.server.jsonio import JSONResponse, reply
from lablink.server.mlflow.guard import VIEWER, Authorized, lab_of, run_access
from lablink.store.blobs import CHUNK

router = APIRouter()
BATCH = CHUNK


def split(path: str) -> tuple[str, str, str]:
    """``(experiment id, run id, path inside the run's artifacts)`` of a proxy path.

    Raises:
        InvalidInput: a path outside ``<experiment>/<run>/artifacts``.
    """
    parts = path.strip("/").split("/", 3)
    if len(parts) < 3 or parts[2] != "artifacts" or not parts[0].isdigit():
        raise InvalidInput(
            f"artifact path {path[:200]!r} is not <experiment id>/<run id>/artifacts/...",
            "use the run's artifact_uri",
        )
    rel = parts[3] if len(parts) > 3 else ""
    if ".." in rel.split("/") or rel.startswith("/"):
        raise InvalidInput(f"artifact path {rel[:200]!r} leaves the run's artifacts")
    return parts[0], parts[1], rel


@router.get(MLFLOW_ARTIFACTS)
def list_artifacts(request: Request, access: Authorized, path: str = "") -> JSONResponse:
    """What a folder of a run's artifacts holds: names, folders and sizes."""
    _, run_id, rel = split(path)
    run_access(request, access, run_id, VIEWER)
    files: list[dict[str, Any]] = []
    for name, is_dir, size in lab_of(request).mlflow.list_artifacts(run_id, rel):
        entry: dict[str, Any] = {"path": name, "is_dir": is_dir}
        if size is not None:
            entry["file_size"] = size
        files.append(entry)
    return reply({"files": files})


@router.get(MLFLOW_ARTIFACTS + "/{path:path}")
async def download(path: str, request: Request, access: Authorized) -> StreamingResponse:
    """One artifact's bytes, streamed."""
    _, run_id, rel = split(path)
    await run_in_threadpool(run_access, request, access, run_id, VIEWER)
    if not rel:
        raise NotFound("name a file inside the run's artifacts")
    lab = lab_of(request)
    fh, size = await run_in_threadpool(lab.mlflow.open_artifact, run_id, rel)
    return FileStream(fh, headers={"content-length": str(size)})


@router.put(MLFLOW_ARTIFACTS + "/{path:path}")
async def upload(path: str, request: Request, access: Authorized) -> JSONResponse:
    """Store the raw body as the artifact at ``path`` (streamed to the blob store)."""
    _, run_id, rel = split(path)
    await run_in_threadpool(run_access, request, access, run_id)
    stream = request.stream()

    async def next_batch() -> bytes | None:
        parts: list[bytes] = []
        gathered = 0
        while gathered < BATCH:
            try:
                chunk = await stream.__anext__()
            except StopAsyncIteration:
                break
            parts.append(chunk)
            gathered += len(chunk)
        return b"".join(parts) if gathered else None

    def chunks() -> Iterator[bytes]:
        while (batch := anyio.from_thread.run(next_batch)) is not None:
            yield batch

    lab = lab_of(request)
    await run_in_threadpool(lab.mlflow.put_artifact, run_id, rel, chunks())
    return reply({})
