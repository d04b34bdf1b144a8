"""Runs: create, search, show, finish, and annotate (tags, notes, inputs, summary).

Each route parses its input, calls one ``Tracking`` method and renders the result.
Plain ``def`` routes run in FastAPI's threadpool, so store calls never block the loop.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi import Body as BodyParam
from pydantic import Field, StringConstraints
from starlette.responses import Response

from lablink.checks.limits import MAX_BATCH_RUNS
from lablink.checks.run_view import parse_fields
from lablink.checks.wire_numbers import MAX_WIRE_INT
from lablink.core.lab import Lab
from lablink.core.run_batch import create_runs as create_runs_of
from lablink.errors import InvalidInput
from lablink.gcpause import gc_paused
from lablink.models import RUN_KEYS, NewRun, RunRecord
from lablink.run_columns import all_finite
from lablink.server.access import Access, Authorized
from lablink.server.deps import Actor, LabDep
from lablink.server.fields import (
    Body,
    Capture,
    Digest,
    InputKind,
    InputRef,
    JsonObject,
    Outcome,
    ProjectName,
    RunId,
    RunName,
    Status,
    Tag,
    Text,
)
from lablink.server.jsonio import JSONResponse, reply, reply_finite
from lablink.server.offloop import OffLoopRoute

router = APIRouter(prefix="/runs", tags=["runs"], route_class=OffLoopRoute)


class CreateRun(Body):
    """A new run; ``capture`` is what the SDK gathered (git, command, host, ...)."""

    project: ProjectName
    name: RunName | None = None
    config: JsonObject | None = None
    tags: list[Tag] | None = None
    id: RunId | None = None
    capture: Capture | None = None


class CreateRuns(Body):
    """Runs to create at once (importers, sweeps): all of them or none."""

    runs: Annotated[list[CreateRun], Field(min_length=1, max_length=MAX_BATCH_RUNS)]


class Finish(Body):
    """End a run: ``finished``, ``failed``, ``crashed``, ``killed``, ``timed_out`` or ``preempted``."""

    status: Status = "finished"
    reason: Text | None = None


class Tags(Body):
    """Tags to add and to remove."""

    add: list[Tag] = []
    remove: list[Tag] = []


class NoteIn(Body):
    """A note; ``outcome`` (positive, negative, inconclusive) marks the run's result."""

    text: Annotated[Text, StringConstraints(min_length=1, pattern=r"\S")]
    outcome: Outcome | None = None


class InputIn(Body):
    """Something the run read, such as a dataset version."""

    kind: InputKind
    ref: InputRef
    digest: Digest | None = None


class Stop(Body):
    """Ask a running run to stop; its SDK learns it from the next heartbeat."""

    reason: Text = "stop requested"


@router.post("", status_code=201, summary="Create a run")
def create_run(body: CreateRun, lab: LabDep, actor: Actor, access: Authorized) -> JSONResponse:
    """Start a run owned by the acting user; answers the run (201)."""
    if access is not None:
        access.check(body.project, "member")
    capture = body.capture.model_dump(exclude_none=True) if body.capture else None
    run = lab.tracking.create_run(
        actor, body.project, body.name, body.config, body.tags or (), body.id, capture
    )
    return reply(run.to_dict(), 201)


@router.post("/batch", status_code=201, summary="Create many runs")
def create_runs(body: CreateRuns, lab: LabDep, actor: Actor, access: Authorized) -> JSONResponse:
    """Start up to 1000 runs in one transaction, all or none; answers their ids (201).

    Each run is checked as ``POST /runs`` checks one; an error names the run by its
    index (``runs[3]: ...``) and stores nothing.
    """
    if access is not None:
        for project in dict.fromkeys(item.project for item in body.runs):
            access.check(project, "member")
    runs = [
        NewRun(
            item.project,
            item.name,
            item.config or {},
            item.tags or (),
            item.id,
            item.capture.model_dump(exclude_none=True) if item.capture else {},
        )
        for item in body.runs
    ]
    ids = create_runs_of(lab.tracking, actor, runs)
    return reply({"ids": ids}, 201)


@router.get("", summary="Search runs")
def search_runs(
    lab: LabDep,
    access: Authorized,
    project: Annotated[str | None, Query(max_length=200)] = None,
    filter: Annotated[str | None, Query(max_length=10_000)] = None,
    sort: Annotated[str | None, Query(max_length=300)] = None,
    desc: bool = True,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_WIRE_INT)] = 0,
    config: Annotated[bool, Query(description=_CONFIG_HELP)] = False,
    fields: Annotated[str | None, Query(max_length=2000, description=_FIELDS_HELP)] = None,
    form: Annotated[Literal["rows", "columns"], Query(description=_FORM_HELP)] = "rows",
) -> Response:
    """Runs matching a filter such as ``metrics.val/acc > 0.9 and tags.baseline``.

    With auth on, a caller who may not read every project names one.
    """
    if access is not None:
        project = searched_project(lab, access, project)
    chosen = parse_fields(fields) if fields is not None else None  # before the query
    tracking = lab.tracking
    if form == "columns":
        keys = chosen if chosen is not None else RUN_KEYS if config else _LISTED_KEYS
        columns, total = tracking.search_columns(
            project, filter, sort, desc, limit, offset, chosen, keys
        )
        answer = {"columns": columns, "total": total}
        with gc_paused():  # thousands of dicts, none of them garbage
            return reply_finite(answer) if all_finite(columns) else reply(answer)
    runs, total = tracking.search_runs(project, filter, sort, desc, limit, offset, chosen)
    with gc_paused():
        if chosen is not None:
            listed = [_selected(run, chosen) for run in runs]
        else:
            listed = [run.to_dict() if config else _listed(run) for run in runs]
        return reply({"runs": listed, "total": total})


def searched_project(lab: Lab, access: Access, project: str | None) -> str | None:
    """The project a search may cover: ``project`` when readable (else 404), None
    (every project) only for a caller who may read them all.

    Raises:
        NotFound: the caller may not read ``project``.
        InvalidInput: no project given by a caller who may not read every one.
    """
    project = project or access.identity.project  # a project's token searches it
    if project is not None:
        access.check(project, "viewer")
        return project
    readable = access.readable()
    names = [p.name for p in lab.tracking.list_projects()]
    if all(readable(name) for name in names):
        return None
    raise InvalidInput(
        "name a project to search: you may not read every project",
        "pass ?project=NAME (lablink runs ls --project NAME)",
    )


_CONFIG_HELP = (
    "also send each run's config and params (left out by default: a page of runs "
    "needs neither, and they are the bulk of a run)"
)


_FORM_HELP = (
    '`columns`: answer `{"columns": {field: [one value per run]}, "total"}`, each metric '
    "summary as `[count, last_step, last_value, min_value, max_value, summary_value]`; "
    "smaller and faster to write and read than `rows` (a JSON object per run)"
)

_FIELDS_HELP = (
    "comma-separated run fields to answer with, e.g. `lean` (id, name, status, times, "
    "tags, params, metric summaries) or `id,name,metrics`; id, project, name, status and "
    "created_at always come along. Overrides `config`."
)


def _selected(run: RunRecord, fields: tuple[str, ...]) -> dict[str, Any]:
    """A run as listed with ``fields=``: those keys only."""
    return run.to_dict(fields)  # the store left the other fields blank


_LISTED_KEYS = tuple(k for k in RUN_KEYS if k not in ("config", "params"))


def _listed(run: RunRecord) -> dict[str, Any]:
    """A run as listed: everything but its config and params, which are not copied."""
    return run.to_dict(_LISTED_KEYS)


@router.get("/{ref}", summary="Show a run")
def get_run(ref: str, lab: LabDep) -> JSONResponse:
    """One run by id or unique id prefix."""
    return reply(lab.tracking.get_run(ref).to_dict())


@router.post("/{run_id}/finish", summary="Finish a run")
def finish_run(run_id: str, body: Finish, lab: LabDep, actor: Actor) -> JSONResponse:
    """End a run with a final status (ending an ended run again changes nothing)."""
    return reply(lab.tracking.finish_run(actor, run_id, body.status, body.reason).to_dict())


@router.post("/{run_id}/tags", summary="Add and remove tags")
def tag_run(run_id: str, body: Tags, lab: LabDep, actor: Actor) -> JSONResponse:
    """Add and remove tags; answers the run."""
    return reply(lab.tracking.tag(actor, run_id, body.add, body.remove).to_dict())


@router.post("/{run_id}/notes", summary="Add a note")
def note_run(run_id: str, body: NoteIn, lab: LabDep, actor: Actor) -> JSONResponse:
    """Add a note by the acting user; answers the run."""
    return reply(lab.tracking.note(actor, run_id, body.text, body.outcome).to_dict())


@router.post("/{run_id}/inputs", summary="Record an input")
def add_input(run_id: str, body: InputIn, lab: LabDep) -> JSONResponse:
    """Record that the run read ``ref`` (lineage)."""
    lab.tracking.add_input(run_id, body.kind, body.ref, body.digest)
    return reply({})


@router.post("/{run_id}/summary", summary="Merge into the summary")
def set_summary(
    run_id: str, summary: Annotated[JsonObject, BodyParam()], lab: LabDep
) -> JSONResponse:
    """Merge ``{key: value}`` into the run's summary (numbers become filterable)."""
    lab.tracking.set_summary(run_id, summary)
    return reply({})


class ConfigIn(Body):
    """Config values merged over the run's own (nested dicts allowed)."""

    config: JsonObject


@router.post("/{run_id}/config", summary="Merge values into a running run's config")
def merge_config(run_id: str, body: ConfigIn, lab: LabDep, actor: Actor) -> JSONResponse:
    """Merge the config over the run's; answers the run."""
    return reply(lab.tracking.merge_config(run_id, body.config).to_dict())


@router.post("/{run_id}/stop", summary="Ask a run to stop")
def stop_run(run_id: str, body: Stop, lab: LabDep, actor: Actor) -> JSONResponse:
    """Set the run's stop request; answers the run."""
    lab.tracking.request_stop(actor, run_id, body.reason)
    return reply(lab.tracking.get_run(run_id).to_dict())
