"""Versioned datasets: metadata under ``/datasets``, the data plane under ``/data``.

Metadata: list datasets, a dataset's log, commit a version (its manifest blob and
files uploaded first), show a version and its files, lineage, diff, resolve a reference.
Data plane: which blobs are missing (one request for a whole manifest), packs of
blobs in (upload) and out (download), and re-verification of a blob a client found
corrupt. Single large blobs go through ``/blobs/{digest}`` (``api/blobs.py``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import ConfigDict, Field, model_validator
from pydantic.json_schema import SkipJsonSchema
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.responses import StreamingResponse

from lablink.checks.wire_numbers import MAX_VERSION
from lablink.core.datasets.packs import TruncatedPack
from lablink.core.datasets.transfer import check_digests
from lablink.errors import InvalidInput, NotFound
from lablink.server.access import readable_blobs
from lablink.server.deps import Actor, LabDep
from lablink.server.fields import Body, Digest, InputRef, Integral, RunId, SchemaRef, Text
from lablink.server.jsonio import JSONResponse, reply
from lablink.server.offloop import OffLoopRoute
from lablink.store.blobs import check_digest

router = APIRouter(tags=["datasets"], route_class=OffLoopRoute)

RefText = Annotated[str, Query(min_length=1, max_length=300)]
MAX_VERIFY = 1000  # rehashing is the server's work: bounded per request


class CommitIn(Body):
    """Make an uploaded manifest the next version of a dataset."""

    manifest: Digest
    message: Text | None = None
    parents: list[InputRef] = []
    source_run: RunId | None = None
    source_command: Text | None = None
    version: Annotated[int, Field(ge=1, le=MAX_VERSION), Integral] | None = None
    profile_digest: Digest | None = None
    schema_ref: SchemaRef | None = None


class Digests(Body):
    """Blob ids: the ones to check, or to download."""

    digests: list[Digest]


class VerifyIn(Body):
    """Blobs a client or an edge cache found corrupt: the server rehashes its copies.

    ``digest`` names one blob (the answer is ``{digest, ok}``); ``digests`` names up to
    1,000 (the answer lists them under ``ok``, ``corrupt`` and ``missing``).
    """

    # The schema says what the validator checks: exactly one of the two, never null, so
    # a client (or a fuzzer) reading the spec sends what the server takes.
    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": ["digest"]}, {"required": ["digests"]}]}
    )

    digest: Digest | SkipJsonSchema[None] = None
    digests: (
        Annotated[list[Digest], Field(min_length=1, max_length=MAX_VERIFY)] | SkipJsonSchema[None]
    ) = None

    @model_validator(mode="after")
    def _one_of(self) -> VerifyIn:
        if (self.digest is None) == (self.digests is None):
            raise ValueError("give either digest or digests")
        if self.digests is not None and not 0 < len(self.digests) <= MAX_VERIFY:
            raise ValueError(f"give 1 to {MAX_VERIFY} digests")
        return self


def verify_answer(results: dict[str, bool | None]) -> dict[str, list[str]]:
    """The ``digests`` form's answer: which were sound, corrupt (quarantined), absent."""
    return {
        "ok": [d for d, ok in results.items() if ok],
        "corrupt": [d for d, ok in results.items() if ok is False],
        "missing": [d for d, ok in results.items() if ok is None],
    }


def _ref(name: str, ref: str) -> str:
    return name if ref == "latest" else f"{name}@{ref}"


# -- metadata -----------------------------------------------------------------------------
@router.get("/datasets", summary="List datasets")
def list_datasets(lab: LabDep) -> JSONResponse:
    """Every dataset with its latest version, files and size."""
    import dataclasses

    return reply({"datasets": [dataclasses.asdict(d) for d in lab.datasets.list_datasets()]})


@router.get("/datasets/-/resolve", summary="Resolve a reference")
def resolve(lab: LabDep, ref: RefText) -> JSONResponse:
    """The version ``ref`` names: ``name``, ``name@v3``, ``name@latest``, ``blake3:<hex>``."""
    return reply(lab.datasets.resolve(ref).to_dict())


@router.get("/datasets/-/diff", summary="Diff two versions")
def diff_versions(lab: LabDep, old: RefText, new: RefText) -> JSONResponse:
    """Files added, removed and changed from ``old`` to ``new``."""
    return reply(lab.datasets.diff(old, new))


@router.get("/datasets/{name}", summary="A dataset's versions")
def dataset_log(name: str, lab: LabDep) -> JSONResponse:
    """The versions of ``name``, newest first."""
    versions = lab.datasets.log(name)
    return reply({"dataset": name, "versions": [v.to_dict() for v in versions]})


class AliasIn(Body):
    """Point an alias at a version: ``{"alias": "prod", "version": "v7"}``."""

    alias: Annotated[str, Field(min_length=1, max_length=64)]
    version: Annotated[str, Field(min_length=1, max_length=200)]


@router.get("/datasets/{name}/aliases", summary="A dataset's aliases and their moves")
def list_aliases(name: str, lab: LabDep) -> JSONResponse:
    """Where each alias points, and the latest moves (who, when, from and to)."""
    aliases = lab.dataset_aliases
    return reply(
        {
            "dataset": name,
            "aliases": [a.to_dict() for a in aliases.of(name)],
            "moves": [m.to_dict() for m in aliases.moves(name)],
        }
    )


@router.post("/datasets/{name}/aliases", summary="Set or move an alias")
def set_alias(name: str, body: AliasIn, lab: LabDep, actor: Actor) -> JSONResponse:
    """Point ``alias`` at a version of ``name`` (``v7``, a digest prefix or another alias)."""
    version, previous = lab.dataset_aliases.set(actor, _ref(name, body.version), body.alias)
    return reply(
        {"dataset": name, "alias": body.alias, "version": version.version, "previous": previous}
    )


@router.delete("/datasets/{name}/aliases/{alias}", summary="Delete an alias")
def delete_alias(name: str, alias: str, lab: LabDep, actor: Actor) -> JSONResponse:
    """Remove an alias (the move is recorded)."""
    previous = lab.dataset_aliases.delete(actor, name, alias)
    return reply({"dataset": name, "alias": alias, "version": None, "previous": previous})


@router.post("/datasets/{name}/versions", status_code=201, summary="Commit a version")
def commit(name: str, body: CommitIn, lab: LabDep, actor: Actor) -> JSONResponse:
    """201 with the new version; 200 with the latest when the files are unchanged.

    409 ``conflict`` when files are still missing (``details.missing``): nothing is
    created until every blob has arrived.
    """
    version, created = lab.datasets.commit(
        actor,
        name,
        body.manifest,
        message=body.message,
        parents=body.parents,
        source_run=body.source_run,
        source_command=body.source_command,
        version=body.version,
        profile_digest=body.profile_digest,
        schema_ref=body.schema_ref,
    )
    return reply({"version": version.to_dict(), "created": created}, 201 if created else 200)


@router.get("/datasets/{name}/versions/{ref}", summary="Show a version")
def show_version(name: str, ref: str, lab: LabDep) -> JSONResponse:
    """One version: ``ref`` is ``v3``, ``latest`` or a digest prefix."""
    return reply(lab.datasets.resolve(_ref(name, ref)).to_dict())


@router.get("/datasets/{name}/versions/{ref}/files", summary="A version's files")
def version_files(name: str, ref: str, lab: LabDep) -> JSONResponse:
    """The manifest: path, size and digest of every file."""
    version, manifest = lab.datasets.manifest(_ref(name, ref))
    files = [f.to_dict() for f in manifest.files]
    return reply({"version": version.to_dict(), "algorithm": manifest.algorithm, "files": files})


@router.get("/datasets/{name}/versions/{ref}/profile", summary="A version's table profile")
def version_profile(name: str, ref: str, lab: LabDep) -> JSONResponse:
    """Per-column statistics of the version's tables, stored when it was added.

    404 when the version holds no table files (or was added with ``--no-profile``).
    """
    version, profile = lab.datasets.profile(_ref(name, ref))
    return reply({"version": version.to_dict(), "profile": profile})


@router.get("/datasets/{name}/versions/{ref}/used-by", summary="Lineage downstream")
def used_by(name: str, ref: str, lab: LabDep) -> JSONResponse:
    """Runs that read the version and versions made from it."""
    return reply(lab.datasets.used_by(_ref(name, ref)))


# -- data plane ---------------------------------------------------------------------------
@router.post("/data/missing", summary="Which blobs are not stored")
def missing(body: Digests, lab: LabDep) -> JSONResponse:
    """The subset of ``digests`` to upload; up to 100,000 per request."""
    return reply({"missing": lab.datasets.transfers.missing(check_digests(body.digests))})


@router.post("/data/packs", status_code=201, summary="Upload a pack of blobs")
async def upload_pack(request: Request, lab: LabDep) -> JSONResponse:
    """A pack body (see ``core/datasets/packs.py``); each blob is verified and stored.

    The body (a few MB: clients send packs of at most 4 MB, and the request size limit
    holds) is gathered on the event loop, then parsed and written in one worker
    thread: one hop between threads per pack, and no worker thread blocked on a slow
    network while holding the write lock.
    """
    chunks: list[bytes] = []
    try:
        async for chunk in request.stream():
            chunks.append(chunk)
    except ClientDisconnect:
        raise InvalidInput("the client disconnected before the pack was sent") from None
    try:
        stored = await run_in_threadpool(lab.datasets.transfers.put_pack, chunks)
    except TruncatedPack as exc:
        raise InvalidInput(f"the pack is cut off: {exc}", "send it again") from None
    size = sum(s for _, s in stored)
    return reply({"stored": len(stored), "bytes": size}, 201)


@router.post("/data/fetch", summary="Download a pack of blobs")
def fetch_pack(body: Digests, request: Request, lab: LabDep) -> StreamingResponse:
    """The blobs as one pack; ones not stored, or that the caller may not read, come as
    ``missing`` frames."""
    digests = check_digests(body.digests)
    hidden = set(digests) - readable_blobs(request, digests)
    pack = lab.datasets.transfers.read_pack(digests, hidden)
    return StreamingResponse(pack, media_type="application/octet-stream")


@router.post("/data/access", summary="Which blobs the caller may read")
def access(body: Digests, request: Request) -> JSONResponse:
    """The subset of ``digests`` the caller may read (held by a dataset version, or by a
    run of a project they read), up to 100,000 per request.

    Edge caches ask this, with their caller's credentials, before serving a cached
    blob. A digest left out is unreadable or not stored: the answer does not say which.
    """
    digests = check_digests(body.digests)
    allowed = readable_blobs(request, digests)
    return reply({"readable": [d for d in dict.fromkeys(digests) if d in allowed]})


@router.post("/data/verify", summary="Re-verify stored blobs")
def verify(body: VerifyIn, request: Request, lab: LabDep) -> JSONResponse:
    """Rehash the server's copies; corrupt ones are quarantined, so a push replaces them.

    ``{digest}`` answers ``{digest, ok}`` (404 when not stored); ``{digests}`` (an
    edge cache reporting what its upstream sent) answers ``{ok, corrupt, missing}``.
    A blob the caller may not read counts as not stored.
    """
    transfers = lab.datasets.transfers
    if body.digests is not None:
        digests = check_digests(body.digests)
        allowed = readable_blobs(request, digests)
        results = transfers.verify_many([d for d in digests if d in allowed])
        results.update({d: None for d in digests if d not in allowed})
        return reply(verify_answer(results))
    assert body.digest is not None
    digest = check_digest(body.digest)
    if digest not in readable_blobs(request, [digest]):
        raise NotFound(f"blob {digest} is not stored")
    return reply({"digest": body.digest, "ok": transfers.verify(digest)})
