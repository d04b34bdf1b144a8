"""People over HTTP: users, tokens, grants and the audit log (server admins), and each
caller's own tokens.

    GET    /api/v1/me                                      who the credential is
    GET    /api/v1/me/tokens                               the caller's tokens
    POST   /api/v1/me/tokens          {name, project, role, expires_in}   (201, secret once)
    DELETE /api/v1/me/tokens/{id}                          revoke one of them
    GET    /api/v1/admin/users                             every user
    POST   /api/v1/admin/users        {name, email, admin, service, expires_in}  (201)
    POST   /api/v1/admin/users/{user}/disable | /enable
    PUT    /api/v1/admin/users/{user}/password {password}
    GET    /api/v1/admin/tokens?user=                      every token (or one user's)
    POST   /api/v1/admin/tokens       {user, name, project, role, expires_in}  (201)
    DELETE /api/v1/admin/tokens/{id}                       revoke
    GET    /api/v1/admin/grants?project=&user=
    GET    /api/v1/admin/projects/{project}/grants         also a project admin
    PUT    /api/v1/admin/projects/{project}/grants/{user} {role, create}   also a project admin
    DELETE /api/v1/admin/projects/{project}/grants/{user}                 also a project admin
    GET    /api/v1/admin/audit?since=&user=&action=&limit=&before=         newest first, paged
    GET    /api/v1/admin/audit/export?format=jsonl|csv&since=&user=&action=  streamed

Who may call what is ``server/access.py``'s ``admin`` and ``project-admin`` rules; they
need auth on (``--auth required|proxy``). Every change is audited with the caller as
actor, by the ``core/people.py`` operation each route calls.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import ConfigDict, Field, StringConstraints

from lablink.checks.names import NAME_PATTERN, check_project
from lablink.checks.wire_numbers import MAX_WIRE_INT
from lablink.core.audit_export import FORMATS, check_format, export_lines
from lablink.core.people import INITIAL_TOKEN_DAYS, MAX_AUDIT
from lablink.errors import Forbidden
from lablink.identity import (
    MAX_PASSWORD,
    MIN_PASSWORD,
    ROLES,
    TOKEN_NAME_PATTERN,
    USER_NAME_PATTERN,
    Identity,
    NewToken,
    lower_role,
    rank,
)
from lablink.server.access import Authorized
from lablink.server.deps import Actor, LabDep
from lablink.server.fields import Body
from lablink.server.jsonio import JSONResponse, reply
from lablink.server.offloop import OffLoopRoute

router = APIRouter(tags=["people"], route_class=OffLoopRoute)

TEN_YEARS = 10 * 365 * 86400.0
# The spec states what the core checks (``identity.py``), so generated clients and the
# fuzzing tests send what is taken; the core's own messages stay the answer.
UserName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=100),
    Field(json_schema_extra={"pattern": f"^(?:{USER_NAME_PATTERN})$"}),
]
UserPath = Annotated[str, Path(min_length=1, max_length=100, description="a user name")]
TokenId = Annotated[int, Path(ge=1, le=MAX_WIRE_INT, description="the token's id")]
Role = Annotated[
    str,
    StringConstraints(min_length=1, max_length=20),
    Field(json_schema_extra={"enum": list(ROLES)}),
]
Lifetime = Annotated[float | None, Field(gt=0, le=TEN_YEARS)]
Text200 = Annotated[str, StringConstraints(min_length=1, max_length=200)]
TokenName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200),
    Field(json_schema_extra={"pattern": f"^(?:{TOKEN_NAME_PATTERN})$"}),
]
Email = Annotated[
    str,
    StringConstraints(min_length=3, max_length=320),
    Field(json_schema_extra={"pattern": r"^[^@\s]+@[^@\s]+$"}),
]
ProjectName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200),
    Field(json_schema_extra={"pattern": f"^(?:{NAME_PATTERN})$"}),
]


class NewUser(Body):
    """A person (who needs an e-mail) or a service account, with a first token."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["email"], "properties": {"email": {"type": "string"}}},
                {"required": ["service"], "properties": {"service": {"const": True}}},
            ]
        }
    )

    name: UserName
    email: Email | None = None
    display_name: Text200 | None = None
    admin: bool = False
    service: bool = False
    expires_in: Lifetime = Field(
        INITIAL_TOKEN_DAYS * 86400.0, gt=0, le=TEN_YEARS, description="seconds; null: never"
    )


class NewOwnToken(Body):
    """A token of the caller's: where it is used, its project and role, its lifetime."""

    name: TokenName
    project: ProjectName | None = None
    role: Role = "member"
    expires_in: Lifetime = Field(
        INITIAL_TOKEN_DAYS * 86400.0, gt=0, le=TEN_YEARS, description="seconds; null: never"
    )


class NewTokenFor(NewOwnToken):
    """A token of any user's (server admins)."""

    user: UserName


class Password(Body):
    """A new password (8 to 1024 characters); only its argon2 hash is kept."""

    password: Annotated[
        str,
        StringConstraints(min_length=1, max_length=4096),
        Field(json_schema_extra={"minLength": MIN_PASSWORD, "maxLength": MAX_PASSWORD}),
    ]


class GrantIn(Body):
    """The role to give; ``create`` makes a project that has no runs yet (server admins)."""

    role: Role
    create: bool = False


def _new_token(new: NewToken) -> dict[str, object]:
    return {**new.token.to_dict(time.time()), "secret": new.secret}


def _identity(request: Request) -> Identity:
    identity: Identity = request.scope["state"]["identity"]
    return identity


# -- the caller --------------------------------------------------------------------------
@router.get("/me", summary="Who am I")
def me(request: Request, access: Authorized) -> JSONResponse:
    """The caller's user and their credential's limits (token id, role, project)."""
    identity = _identity(request)
    return reply(
        {
            "user": identity.user,
            "kind": identity.kind,
            "is_admin": identity.is_admin,
            "token_id": identity.token_id,
            "role": identity.role,
            "project": identity.project,
        }
    )


@router.get("/me/tokens", summary="List my tokens")
def my_tokens(request: Request, lab: LabDep, access: Authorized) -> JSONResponse:
    """The caller's tokens, newest first, in every state (never a secret)."""
    now = time.time()
    found = lab.people.list_tokens(_identity(request).user)
    return reply({"tokens": [k.to_dict(now) for k in found]})


@router.post("/me/tokens", status_code=201, summary="Create a token of mine")
def create_my_token(
    request: Request, body: NewOwnToken, lab: LabDep, actor: Actor, access: Authorized
) -> JSONResponse:
    """A token of the caller's, shown once (``secret``). A token can make no token that
    does more than itself: a project token only tokens of its project, at most its role."""
    identity = _identity(request)
    project = body.project if body.project is not None else identity.project
    if identity.project is not None and project != identity.project:
        raise Forbidden(
            f"this token works only in project {identity.project}; it cannot make one for "
            f"{project}",
            "use an unscoped token, or sign in",
        )
    if identity.role is not None and rank(lower_role(body.role, identity.role)) < rank(body.role):
        raise Forbidden(
            f"this token's role is {identity.role}; it cannot make a {body.role} token",
            "ask for a role no higher than the token's own",
        )
    new = lab.people.create_token(
        actor, identity.user, body.name, project, body.role, body.expires_in
    )
    return reply(_new_token(new), 201)


@router.delete("/me/tokens/{token_id}", summary="Revoke a token of mine")
def revoke_my_token(
    request: Request, token_id: TokenId, lab: LabDep, actor: Actor, access: Authorized
) -> JSONResponse:
    """Revoke one of the caller's tokens (another's is 404); it stops working at once."""
    token = lab.people.revoke_token(actor, token_id, owner=_identity(request).user)
    return reply(token.to_dict(time.time()))


# -- users -------------------------------------------------------------------------------
@router.get("/admin/users", summary="List users")
def list_users(lab: LabDep, access: Authorized) -> JSONResponse:
    """Every user and service account, by name."""
    return reply({"users": [u.to_dict() for u in lab.people.list_users()]})


@router.post("/admin/users", status_code=201, summary="Add a user")
def add_user(body: NewUser, lab: LabDep, actor: Actor, access: Authorized) -> JSONResponse:
    """Add a person or service account; answers them with their first token, shown once."""
    people = lab.people
    user = people.add_user(
        actor, body.name, body.email, body.display_name, body.admin, body.service
    )
    role = "admin" if body.admin else "member"
    token = people.create_token(actor, user.name, "initial", None, role, body.expires_in)
    return reply({"user": user.to_dict(), "token": _new_token(token)}, 201)


@router.post("/admin/users/{user}/disable", summary="Disable a user")
def disable_user(user: UserPath, lab: LabDep, actor: Actor, access: Authorized) -> JSONResponse:
    """Stop a user signing in; their tokens are refused at once on this server."""
    return reply(lab.people.disable(actor, user).to_dict())


@router.post("/admin/users/{user}/enable", summary="Enable a user")
def enable_user(user: UserPath, lab: LabDep, actor: Actor, access: Authorized) -> JSONResponse:
    """Let a disabled user back in."""
    return reply(lab.people.enable(actor, user).to_dict())


@router.put("/admin/users/{user}/password", summary="Set a user's password")
def set_password(
    user: UserPath, body: Password, lab: LabDep, actor: Actor, access: Authorized
) -> JSONResponse:
    """Store an argon2 hash of the password (8 to 1024 characters)."""
    return reply(lab.people.set_password(actor, user, body.password).to_dict())


# -- tokens ------------------------------------------------------------------------------
@router.get("/admin/tokens", summary="List tokens")
def list_tokens(
    lab: LabDep,
    access: Authorized,
    user: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
) -> JSONResponse:
    """Every token newest first, or ``user``'s, with state and last use (never a secret)."""
    now = time.time()
    return reply({"tokens": [k.to_dict(now) for k in lab.people.list_tokens(user)]})


@router.post("/admin/tokens", status_code=201, summary="Create a token")
def create_token(body: NewTokenFor, lab: LabDep, actor: Actor, access: Authorized) -> JSONResponse:
    """A token of any user, shown once (``secret``)."""
    new = lab.people.create_token(
        actor, body.user, body.name, body.project, body.role, body.expires_in
    )
    return reply(_new_token(new), 201)


@router.delete("/admin/tokens/{token_id}", summary="Revoke a token")
def revoke_token(token_id: TokenId, lab: LabDep, actor: Actor, access: Authorized) -> JSONResponse:
    """Revoke any token; it stops working at once on this server (others: within the
    token cache's few seconds)."""
    return reply(lab.people.revoke_token(actor, token_id).to_dict(time.time()))


# -- grants ------------------------------------------------------------------------------
@router.get("/admin/grants", summary="List grants")
def list_grants(
    lab: LabDep,
    access: Authorized,
    project: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    user: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
) -> JSONResponse:
    """Every grant by project then user, or one project's or user's."""
    return reply({"grants": [g.to_dict() for g in lab.people.grants(project, user)]})


@router.get("/admin/projects/{project}/grants", summary="List a project's grants")
def project_grants(project: str, lab: LabDep, access: Authorized) -> JSONResponse:
    """Who holds which role in ``project`` (its admins may ask)."""
    grants = lab.people.grants(check_project(project))
    return reply({"grants": [g.to_dict() for g in grants]})


@router.put("/admin/projects/{project}/grants/{user}", summary="Grant a role")
def grant(
    project: str,
    user: UserPath,
    body: GrantIn,
    request: Request,
    lab: LabDep,
    actor: Actor,
    access: Authorized,
) -> JSONResponse:
    """Give ``user`` ``role`` in ``project``, replacing their earlier role there."""
    if body.create and not _identity(request).is_admin:
        raise Forbidden("only a server admin makes projects", "leave out create")
    return reply(lab.people.grant(actor, project, user, body.role, body.create).to_dict())


@router.delete("/admin/projects/{project}/grants/{user}", summary="Revoke a grant")
def revoke_grant(
    project: str, user: UserPath, lab: LabDep, actor: Actor, access: Authorized
) -> JSONResponse:
    """Take ``user``'s role in ``project`` away; answers the grant that was."""
    return reply(lab.people.revoke_grant(actor, project, user).to_dict())


# -- audit -------------------------------------------------------------------------------
Since = Annotated[float | None, Query(ge=0, le=1e12, description="epoch seconds")]
Who = Annotated[str | None, Query(min_length=1, max_length=100)]
Action = Annotated[str | None, Query(min_length=1, max_length=50)]


@router.get("/admin/audit", summary="Query the audit log")
def audit(
    lab: LabDep,
    access: Authorized,
    since: Since = None,
    user: Who = None,
    action: Action = None,
    limit: Annotated[int, Query(ge=1, le=MAX_AUDIT)] = 100,
    before: Annotated[int | None, Query(ge=1, le=MAX_WIRE_INT)] = None,
) -> JSONResponse:
    """Entries newest first. ``user`` matches who acted or whom it was about; ``action``
    an action or a family (``token.``). ``next`` is the ``before`` of the next page."""
    found = lab.people.audit_log(since, user, action, limit, before)
    after = found[-1].id if len(found) == limit else None
    return reply({"entries": [e.to_dict() for e in found], "next": after})


@router.get("/admin/audit/export", summary="Export the audit log")
def export_audit(
    lab: LabDep,
    access: Authorized,
    format: Annotated[str, Query(description="jsonl or csv")] = "jsonl",
    since: Since = None,
    user: Who = None,
    action: Action = None,
) -> StreamingResponse:
    """Every matching entry, newest first, as JSON lines or CSV, streamed a page at a time."""
    fmt = check_format(format)
    entries = lab.people.audit_export(since, user, action)
    name = f"lablink-audit.{fmt}"
    return StreamingResponse(
        (line.encode() for line in export_lines(entries, fmt)),
        media_type=FORMATS[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
