"""Data reviews over HTTP.

    GET  /api/v1/reviews?pending=true&mine=true&limit=100          newest first
    GET  /api/v1/datasets/{name}/versions/{ref}/review              report, state, log
    POST /api/v1/datasets/{name}/versions/{ref}/review              request (member)
    POST /api/v1/datasets/{name}/versions/{ref}/review/comment      {"note"} (member)
    POST /api/v1/datasets/{name}/versions/{ref}/review/approve      {"note"?}
    POST /api/v1/datasets/{name}/versions/{ref}/review/reject       {"note"}
    POST /api/v1/datasets/{name}/versions/{ref}/review/revoke       {"note"?}

Reviews are about datasets, which the whole server shares: reading needs viewer in
some project, writing member (``server/access.py``). Who decides is the identity the
server's authentication proved, never a name in the request: a server without auth
refuses approve, reject and revoke, and the core refuses the version's author.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import Field, StringConstraints

from lablink.checks.review_policy import MAX_APPROVALS
from lablink.core.review_options import ReviewOptions
from lablink.core.reviews import MAX_REVIEWERS, Reviewer
from lablink.errors import Forbidden
from lablink.server.access import Authorized
from lablink.server.deps import Actor, LabDep
from lablink.server.fields import Body, Integral, Text
from lablink.server.jsonio import JSONResponse, reply
from lablink.server.offloop import OffLoopRoute

router = APIRouter(tags=["reviews"], route_class=OffLoopRoute)

Name = Annotated[str, Field(min_length=1, max_length=200)]
REVIEW = "/datasets/{name}/versions/{ref}/review"


class RequestIn(Body):
    """What the automated report looks at, and whom to ask."""

    reviewers: Annotated[list[Name], Field(max_length=MAX_REVIEWERS)] = []
    splits: dict[Name, Annotated[str, Field(min_length=1, max_length=4096)]] = {}
    key: Name | None = None
    label: Name | None = None
    groups: Annotated[list[Name], Field(max_length=100)] = []
    probabilities: Annotated[str, Field(min_length=1, max_length=4096)] | None = None
    approvals: Annotated[int, Field(ge=1, le=MAX_APPROVALS), Integral] | None = None


class NoteIn(Body):
    """A remark, or the reason for a decision."""

    note: Text | None = None


class NeededNoteIn(Body):
    """A remark, or the reason for a rejection: some text is required."""

    note: Annotated[Text, StringConstraints(min_length=1, pattern=r"\S")]


def reviewer_of(request: Request, access: object, actor: str, deciding: bool) -> Reviewer:
    """Who acts: the authenticated identity, or (auth off) the stated user, unproven.

    Raises:
        Forbidden: a decision on a server that does not know who is calling.
    """
    identity = request.scope.get("state", {}).get("identity")
    if identity is not None:
        return Reviewer(identity.user, verified=True, is_admin=identity.is_admin)
    if deciding:
        raise Forbidden(
            "approving, rejecting or revoking a review needs a server that knows who is calling",
            "serve with --auth required (or proxy); an embedded store approves locally, "
            "without --server",
        )
    return Reviewer(actor)


def _ref(name: str, ref: str) -> str:
    return name if ref == "latest" else f"{name}@{ref}"


@router.get("/reviews", summary="List reviews")
def list_reviews(
    lab: LabDep,
    actor: Actor,
    pending: bool = False,
    mine: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JSONResponse:
    """Reviews newest first; ``pending`` keeps those awaiting a decision, ``mine`` those
    the caller requested, reviews or authored."""
    found = lab.reviews.list(pending, actor if mine else None, limit)
    return reply({"reviews": [r.to_dict(report=False) for r in found]})


@router.get(REVIEW, summary="Show a review")
def show_review(name: str, ref: str, lab: LabDep) -> JSONResponse:
    """The stored report, the state, the approvers, the discussion and the
    notifications (whom, through what, why, sent or held until when)."""
    return reply(lab.reviews.show(_ref(name, ref)))


@router.post(REVIEW, status_code=201, summary="Request a review")
def request_review(
    name: str, ref: str, body: RequestIn, request: Request, lab: LabDep, actor: Actor,
    access: Authorized,
) -> JSONResponse:  # fmt: skip
    """Compute the report and open the review; the reviewers are notified.

    400 for a split path not in the version, a column not in its tables, or a reviewer
    unknown to the server; 409 when the version has a review already.
    """
    who = reviewer_of(request, access, actor, deciding=False)
    options = ReviewOptions(
        splits=dict(body.splits),
        key=body.key,
        label=body.label,
        groups=tuple(body.groups),
        probabilities=body.probabilities,
    )
    outcome = lab.reviews.request(
        who, _ref(name, ref), options, reviewers=body.reviewers, approvals=body.approvals
    )
    return reply(outcome.to_dict(), 201)


@router.post(REVIEW + "/comment", summary="Comment on a review")
def comment(
    name: str, ref: str, body: NeededNoteIn, request: Request, lab: LabDep, actor: Actor,
    access: Authorized,
) -> JSONResponse:  # fmt: skip
    """Add a remark to the discussion."""
    who = reviewer_of(request, access, actor, deciding=False)
    return reply(lab.reviews.comment(who, _ref(name, ref), body.note).to_dict())


@router.post(REVIEW + "/approve", summary="Approve a version")
def approve(
    name: str, ref: str, request: Request, lab: LabDep, actor: Actor, access: Authorized,
    body: NoteIn | None = None,
) -> JSONResponse:  # fmt: skip
    """Approve the version for training; 403 for its author, 409 for a second approval."""
    who = reviewer_of(request, access, actor, deciding=True)
    note = body.note if body else None
    return reply(lab.reviews.approve(who, _ref(name, ref), note).to_dict())


@router.post(REVIEW + "/reject", summary="Reject a version")
def reject(
    name: str, ref: str, body: NeededNoteIn, request: Request, lab: LabDep, actor: Actor,
    access: Authorized,
) -> JSONResponse:  # fmt: skip
    """Reject the version, saying why."""
    who = reviewer_of(request, access, actor, deciding=True)
    return reply(lab.reviews.reject(who, _ref(name, ref), body.note).to_dict())


@router.post(REVIEW + "/revoke", summary="Revoke an approval")
def revoke(
    name: str, ref: str, request: Request, lab: LabDep, actor: Actor, access: Authorized,
    body: NoteIn | None = None,
) -> JSONResponse:  # fmt: skip
    """Withdraw the caller's approval (a server admin's withdraws them all)."""
    who = reviewer_of(request, access, actor, deciding=True)
    note = body.note if body else None
    return reply(lab.reviews.revoke(who, _ref(name, ref), note).to_dict())
