"""Incidents over HTTP: list, show, acknowledge, resolve.

    GET  /api/v1/incidents?open=true&run=ID&project=P&limit=100   newest first
    GET  /api/v1/incidents/{id}                                    with deliveries
    POST /api/v1/incidents/{id}/ack                                open → acknowledged
    POST /api/v1/incidents/{id}/resolve  {"note": "..."}           → resolved

Each route calls one ``Incidents`` use case; the acting user is ``X-Lablink-User``.
Resolving a resolved incident is a 409.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from lablink.checks.wire_numbers import MAX_WIRE_INT
from lablink.server.access import Authorized
from lablink.server.deps import Actor, LabDep
from lablink.server.fields import Body, Text
from lablink.server.jsonio import JSONResponse, reply
from lablink.server.offloop import OffLoopRoute

router = APIRouter(prefix="/incidents", tags=["incidents"], route_class=OffLoopRoute)
IncidentId = Annotated[int, Path(ge=1, le=MAX_WIRE_INT, description="the incident's number")]


class Resolve(Body):
    """What was done about the incident."""

    note: Text | None = None


@router.get("", summary="List incidents")
def list_incidents(
    lab: LabDep,
    access: Authorized,
    open: bool = False,
    run: Annotated[str | None, Query(min_length=1, max_length=32)] = None,
    project: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JSONResponse:
    """Incidents newest first; ``open=true`` keeps the open and acknowledged ones."""
    found = lab.watchdog.incidents.list(open, run, project, limit)
    if access is not None:  # the caller's projects only (a page may come back short)
        readable = access.readable()
        found = [i for i in found if readable(i.project)]
    return reply({"incidents": [i.to_dict() for i in found]})


@router.get("/{incident_id}", summary="Show an incident")
def get_incident(incident_id: IncidentId, lab: LabDep) -> JSONResponse:
    """One incident with its notification deliveries and their attempts."""
    return reply(lab.watchdog.incidents.detail(incident_id))


@router.post("/{incident_id}/ack", summary="Acknowledge an incident")
def acknowledge(incident_id: IncidentId, lab: LabDep, actor: Actor) -> JSONResponse:
    """Mark the incident as being handled by the acting user."""
    return reply(lab.watchdog.incidents.acknowledge(actor, incident_id).to_dict())


@router.post("/{incident_id}/resolve", summary="Resolve an incident")
def resolve(
    incident_id: IncidentId, lab: LabDep, actor: Actor, body: Resolve | None = None
) -> JSONResponse:
    """Close the incident with a note on what was done."""
    note = body.note if body else None
    return reply(lab.watchdog.incidents.resolve(actor, incident_id, note).to_dict())
