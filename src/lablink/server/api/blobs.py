"""Content-addressed blobs (artifacts, diffs, dataset files) and run artifacts.

Uploads stream: ``PUT /blobs/{digest}`` hashes the body chunk by chunk while writing it
to a temporary file, and keeps it only if it hashes to ``digest``. Neither direction
holds a whole blob in memory, and uploads are exempt from the request size limit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import anyio.from_thread
from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from lablink.checks import widths
from lablink.checks.routes import API_PREFIX, MLFLOW_ARTIFACTS
from lablink.core.lab import Lab
from lablink.errors import InvalidInput, NotFound
from lablink.server.access import readable_blobs
from lablink.server.deps import LabDep
from lablink.server.fields import ArtifactName, Body, Digest, Kind
from lablink.server.file_stream import FileStream
from lablink.server.jsonio import JSONResponse, reply
from lablink.server.offloop import OffLoopRoute
from lablink.store.blobs import CHUNK, check_digest

router = APIRouter(tags=["blobs"], route_class=OffLoopRoute)

MAX_MISSING = 10_000
MAX_PAGE = 10_000  # artifacts in one page of a run's listing
BATCH = CHUNK  # upload bytes handed to the writing thread at a time


class Missing(Body):
    """Digests the client is about to upload."""

    digests: list[Digest]


class ArtifactIn(Body):
    """Attach an uploaded blob to a run under ``name``."""

    name: ArtifactName
    kind: Kind = "file"
    digest: Digest


def upload_path(path: str) -> bool:
    """Whether a path is a blob or MLflow artifact upload (exempt from the size limit)."""
    if path.startswith(MLFLOW_ARTIFACTS + "/"):
        return True
    return path.startswith(f"{API_PREFIX}/blobs/") and path != f"{API_PREFIX}/blobs/missing"


def _blob_size(lab: Lab, digest: str, request: Request) -> int:
    """The size of a blob the caller may read; one they may not is "not stored"."""
    check_digest(digest)
    try:
        if digest not in readable_blobs(request, [digest]):
            raise FileNotFoundError(digest)
        return int(lab.blobs.fs.size(lab.blobs.path(digest)))
    except FileNotFoundError:
        raise NotFound(f"blob {digest} is not stored", "upload it with PUT") from None


@router.put("/blobs/{digest}", status_code=201, summary="Upload a blob")
async def put_blob(digest: str, request: Request, lab: LabDep) -> JSONResponse:
    """Store the raw body, verified against ``digest`` (``sha256:<64 hex>``)."""
    check_digest(digest)
    stream = request.stream()
    size = 0

    async def next_batch() -> bytes | None:
        # Network chunks are ~64 KiB: gather a MB on the event loop per thread hop.
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
        # Runs in a worker thread: each batch is pulled from the event loop on demand.
        nonlocal size
        while (batch := anyio.from_thread.run(next_batch)) is not None:
            size += len(batch)
            yield batch

    stored = await run_in_threadpool(lab.tracking.put_blob, chunks(), digest)
    return reply({"digest": stored, "size": size}, 201)


@router.head("/blobs/{digest}", summary="Is a blob stored?")
async def head_blob(digest: str, request: Request, lab: LabDep) -> Response:
    """200 with ``Content-Length`` when stored (and readable by the caller), else 404."""
    size = await run_in_threadpool(_blob_size, lab, digest, request)
    return Response(headers={"content-length": str(size), "etag": f'"{digest}"'})


@router.get("/blobs/{digest}", summary="Download a blob")
async def get_blob(digest: str, request: Request, lab: LabDep) -> StreamingResponse:
    """The blob's bytes, streamed; 404 for one the caller may not read."""
    size = await run_in_threadpool(_blob_size, lab, digest, request)
    fh = await run_in_threadpool(lab.blobs.open, digest)
    return FileStream(fh, headers={"content-length": str(size), "etag": f'"{digest}"'})


@router.post("/blobs/missing", summary="Which blobs are not stored yet")
def missing_blobs(body: Missing, lab: LabDep) -> JSONResponse:
    """The subset of ``digests`` the server does not hold (upload only those)."""
    if len(body.digests) > MAX_MISSING:
        raise InvalidInput(f"ask about at most {MAX_MISSING} digests at a time")
    for digest in body.digests:
        check_digest(digest)
    return reply({"missing": [d for d in body.digests if not lab.blobs.exists(d)]})


@router.post("/runs/{run_id}/artifacts", status_code=201, summary="Attach an artifact")
def add_artifact(run_id: str, body: ArtifactIn, lab: LabDep) -> JSONResponse:
    """Attach an uploaded blob to the run under ``name`` (replacing that name)."""
    artifact = lab.tracking.add_artifact(run_id, body.name, body.kind, body.digest)
    return reply(dataclasses.asdict(artifact), 201)


@router.get("/projects/{project}/artifacts", summary="List a project's artifacts")
def project_artifacts(
    project: str,
    lab: LabDep,
    kind: str | None = Query(None, max_length=widths.ARTIFACT_KIND, description="Only this kind."),
) -> JSONResponse:
    """The artifacts of every run of the project (of one kind), by run and name: one call
    where a run-by-run listing would take one per run."""
    artifacts = lab.tracking.project_artifacts(project, kind)
    return reply({"artifacts": [dataclasses.asdict(a) for a in artifacts]})


@router.get("/runs/{run_id}/artifacts", summary="List artifacts")
def list_artifacts(
    run_id: str,
    lab: LabDep,
    prefix: str | None = Query(
        None, max_length=widths.ARTIFACT_NAME, description="Only names that start so."
    ),
    after: str | None = Query(
        None,
        max_length=widths.ARTIFACT_NAME,
        description="Only names after this one: the last name of the previous page.",
    ),
    limit: int | None = Query(None, ge=1, le=MAX_PAGE, description="At most this many."),
) -> JSONResponse:
    """A run's artifacts by name; with ``prefix``, ``after`` or ``limit``, one page of
    them in name order, so a follower (``lablink jobs logs -f``) asks only for new ones."""
    if prefix is None and after is None and limit is None:
        artifacts = lab.tracking.list_artifacts(run_id)
    else:
        artifacts = lab.tracking.artifact_page(run_id, prefix or "", after, limit or MAX_PAGE)
    return reply({"artifacts": [dataclasses.asdict(a) for a in artifacts]})
