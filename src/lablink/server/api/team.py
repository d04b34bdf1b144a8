"""The team roster and on-call over HTTP.

    GET    /api/v1/team                              the roster, with local times now
    GET    /api/v1/team/overlap?week=2026-W50&min=2  core hours of a week
    GET    /api/v1/team/{name}                       one teammate
    PUT    /api/v1/team/{name}      {"tz", "hours", "focus", "away", "contacts", "email"}
    DELETE /api/v1/team/{name}
    POST   /api/v1/team/sync        {"team": {...}, "oncall": {...}}  (lablink.toml tables)
    GET    /api/v1/oncall/now                        who is on call, and next
    GET    /api/v1/oncall/schedule?weeks=4&rotation=research
    GET    /api/v1/oncall/rotations
    PUT    /api/v1/oncall/rotations/{rotation}       {"members", "handoff", ...}
    DELETE /api/v1/oncall/rotations/{rotation}
    GET    /api/v1/oncall/rotations/{rotation}/ics?weeks=12   text/calendar
    POST   /api/v1/oncall/overrides {"person", "start", "end", "rotation"}

Any signed-in user reads; writes need a server admin (``server/access.py``). Contacts
come back masked. Each route calls one ``core/team.py`` use case as the acting user.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import Field, StringConstraints

from lablink.server.deps import Actor, LabDep
from lablink.server.fields import Body
from lablink.server.jsonio import JSONResponse, reply
from lablink.server.offloop import OffLoopRoute

router = APIRouter(tags=["team"], route_class=OffLoopRoute)
Name = Annotated[str, Path(min_length=1, max_length=100, description="a user name")]
RotationName = Annotated[str, Path(min_length=1, max_length=100, description="a rotation")]
Short = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Many = Annotated[list[Short], Field(max_length=50)]


class MemberBody(Body):
    """A teammate's week and contacts, as ``lablink team add`` takes them."""

    tz: Short
    hours: Many
    focus: Many = []
    away: Many = []
    contacts: Annotated[
        list[Annotated[str, StringConstraints(max_length=2000)]], Field(max_length=20)
    ] = []
    email: Annotated[str, StringConstraints(max_length=320)] | None = None


class RotationBody(Body):
    """A rotation, as ``lablink oncall rotation create`` takes it."""

    members: Many
    handoff: Short = "Mon 09:00"
    daily: bool = False
    follow_sun: bool = False
    escalate_after: Short = "15m"
    fallback: Short | None = None
    tz: Short = "UTC"
    projects: Many = []


class OverrideBody(Body):
    """Someone on call for a while."""

    person: Short
    start: Short
    end: Short
    rotation: Short | None = None


class SyncBody(Body):
    """The ``[team]`` and ``[oncall]`` tables of a lablink.toml, as JSON."""

    team: dict[str, Any] = {}
    oncall: dict[str, Any] = {}


@router.get("/team", summary="The team roster")
def members(lab: LabDep) -> JSONResponse:
    """Every teammate with their zone, hours, focus blocks, away periods, masked contacts,
    local time now and state (working, focus, off, away)."""
    at = lab.team.clock()
    return reply({"members": [m.to_dict(at) for m in lab.team.members()]})


@router.get("/team/overlap", summary="Core hours of a week")
def overlap(
    lab: LabDep,
    week: Annotated[str | None, Query(max_length=10, description="ISO week, 2026-W50")] = None,
    min: Annotated[int | None, Query(ge=1, le=1000, description="at least this many")] = None,
) -> JSONResponse:
    """Stretches of the week when all (or ``min``) people are free, in local times."""
    return reply(lab.team.overlap(week, min).to_dict())


@router.post("/team/sync", summary="Load [team] and [oncall] tables")
def sync(body: SyncBody, lab: LabDep, actor: Actor) -> JSONResponse:
    """Make the roster and rotations those of a lablink.toml (checked first, one write)."""
    return reply(lab.team.sync(actor, {"team": body.team, "oncall": body.oncall}))


@router.get("/team/{name}", summary="One teammate")
def member(name: Name, lab: LabDep) -> JSONResponse:
    """One teammate's entry."""
    return reply(lab.team.member(name).to_dict(lab.team.clock()))


@router.put("/team/{name}", summary="Add or replace a teammate")
def put_member(name: Name, body: MemberBody, lab: LabDep, actor: Actor) -> JSONResponse:
    """Add a teammate (their user is created when an e-mail is given) or replace them."""
    found = lab.team.add(actor, name, **body.model_dump())
    return reply(found.to_dict(lab.team.clock()))


@router.delete("/team/{name}", summary="Take someone off the team")
def delete_member(name: Name, lab: LabDep, actor: Actor) -> JSONResponse:
    """Their user and history stay."""
    lab.team.remove(actor, name)
    return reply({"removed": name})


@router.get("/oncall/now", summary="Who is on call now")
def now(lab: LabDep) -> JSONResponse:
    """Per rotation: the shift under way and the next one."""
    return reply({"rotations": lab.team.now()})


@router.get("/oncall/schedule", summary="On-call shifts ahead")
def schedule(
    lab: LabDep,
    weeks: Annotated[int, Query(ge=1, le=52)] = 4,
    rotation: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
) -> JSONResponse:
    """Shifts from now on, of one rotation or all."""
    return reply({"shifts": [s.to_dict() for s in lab.team.schedule(weeks, rotation)]})


@router.get("/oncall/rotations", summary="List rotations")
def rotations(lab: LabDep) -> JSONResponse:
    """Every rotation's definition."""
    return reply({"rotations": [r.to_dict() for r in lab.team.rotations()]})


@router.put("/oncall/rotations/{rotation}", summary="Create or replace a rotation")
def put_rotation(
    rotation: RotationName, body: RotationBody, lab: LabDep, actor: Actor
) -> JSONResponse:
    """Members must be on the team; its overrides stay."""
    return reply(lab.team.create_rotation(actor, rotation, **body.model_dump()).to_dict())


@router.delete("/oncall/rotations/{rotation}", summary="Remove a rotation")
def delete_rotation(rotation: RotationName, lab: LabDep, actor: Actor) -> JSONResponse:
    """The rotation and its overrides."""
    lab.team.remove_rotation(actor, rotation)
    return reply({"removed": rotation})


@router.get("/oncall/rotations/{rotation}/ics", summary="A rotation as a calendar")
def ics(
    rotation: RotationName, lab: LabDep, weeks: Annotated[int, Query(ge=1, le=52)] = 12
) -> Response:
    """One VEVENT per shift (text/calendar), for calendar subscriptions."""
    data = lab.team.ics(rotation, weeks)
    return Response(data, media_type="text/calendar; charset=utf-8")


@router.post("/oncall/overrides", summary="Override the schedule")
def override(body: OverrideBody, lab: LabDep, actor: Actor) -> JSONResponse:
    """Put someone on call from ``start`` to ``end``; refused outside the schedule."""
    found = lab.team.override(actor, body.person, body.start, body.end, body.rotation)
    return reply(found.to_dict())
