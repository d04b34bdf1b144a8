"""The review page of a dataset version.

``/datasets/{name}/v/{version}/review`` shows the stored report (its summary line
first, then each check with its evidence), previews of flagged samples (images through
``.../review/sample?path=``, which serves only files of that version to a viewer who
may read datasets), the diff against the version before, the discussion, whom the review's notifications went to (sent, held until when, or not
reached, and why), and the
comment / approve / reject forms for a signed-in viewer who may use them. A version
with no review yet gets the request form instead (reviewers picked from the team roster
and the users, optional splits, key and label). The forms post to
``.../review/{action}`` with the session's CSRF token (checked by
``server/auth.py``) and call the same ``Reviews`` use cases as the JSON API, acting as
the signed-in identity. Without auth nothing proves who is looking, so the page shows
no forms and refuses their posts.
"""

from __future__ import annotations

import mimetypes
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Path, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from lablink.checks.wire_numbers import MAX_VERSION
from lablink.core.datasets.refs import parse_ref
from lablink.core.lab import Lab
from lablink.core.review_options import ReviewOptions, parse_splits
from lablink.core.reviews import MAX_REVIEWERS, Reviewer
from lablink.errors import Forbidden, InvalidInput, LablinkError, NotFound
from lablink.identity import allows
from lablink.models import Review
from lablink.server.access import MEMBER, access_of
from lablink.server.file_stream import FileStream
from lablink.ui.guard import check_anywhere
from lablink.ui.render import Renderer
from lablink.ui.signin import form_fields

SHOWN_DIFF = 50
SHOWN_FLAGGED = 60
PREVIEW_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"})
ACTIONS = ("comment", "approve", "reject")
Version = Path(ge=1, le=MAX_VERSION)


def review_url(ref: str) -> str | None:
    """The review page of a ``name@vN`` reference; None for other references."""
    try:
        parsed = parse_ref(ref)
    except InvalidInput:
        return None
    if parsed.name is None or parsed.version is None:
        return None
    return f"/datasets/{quote(parsed.name)}/v/{parsed.version}/review"


def previewable(path: str) -> bool:
    """Whether a flagged file is an image the page can show."""
    return mimetypes.guess_type(path)[0] in PREVIEW_TYPES


def version_diff(lab: Lab, name: str, version: int) -> dict[str, Any] | None:
    """Files added, removed and changed since the version before (None for v1)."""
    if version <= 1:
        return None
    try:
        found = lab.datasets.diff(f"{name}@v{version - 1}", f"{name}@v{version}")
    except NotFound:
        return None
    return {
        "old": found["old"],
        **{k: {"count": len(found[k]), "shown": found[k][:SHOWN_DIFF]} for k in ("added", "removed", "changed")},
    }  # fmt: skip


def allowed(request: Request, review: Review) -> dict[str, bool]:
    """Which forms the viewer gets: with auth on, a member somewhere may comment; one
    who did not make the version may decide (the core re-checks on every post)."""
    access = access_of(request)
    if access is None:
        return dict.fromkeys(ACTIONS, False)
    identity = access.identity
    member = identity.is_admin or any(
        allows(g.role, MEMBER) for g in access.lab.people.grants(user=identity.user)
    )
    if identity.role is not None and not allows(identity.role, MEMBER):
        member = False  # a viewer-role token
    decide = member and identity.user != review.author and review.state != "rejected"
    return {"comment": member, "approve": decide, "reject": decide}


def may_request(request: Request) -> bool:
    """Whether the viewer gets the request form: with auth on, a member somewhere."""
    access = access_of(request)
    if access is None:
        return False
    identity = access.identity
    if identity.role is not None and not allows(identity.role, MEMBER):
        return False  # a viewer-role token
    return identity.is_admin or any(
        allows(g.role, MEMBER) for g in access.lab.people.grants(user=identity.user)
    )


def candidates(lab: Lab, author: str) -> list[dict[str, str]]:
    """Whom the request form offers as reviewers: the team roster first (with each
    person's local time and whether they work now), then the other active users; never
    the version's author."""
    now = time.time()
    out: list[dict[str, str]] = []
    on_team = set()
    for member in lab.team.members():
        on_team.add(member.name)
        if member.name != author:
            state = member.week.state(now)
            local = f"{member.week.local(now):%a %H:%M} {member.week.tz}"
            out.append({"name": member.name, "label": f"{member.name} ({local}, {state})"})
    for user in lab.people.list_users():
        if user.kind != "user" or user.disabled or user.name in on_team or user.name == author:
            continue
        out.append({"name": user.name, "label": f"{user.name} (not on the team roster)"})
    return out


def request_input(fields: Mapping[str, str], reviewers: Sequence[str]) -> tuple[ReviewOptions, int | None]:  # fmt: skip
    """The request form's options and approvals. Raises ``InvalidInput`` naming the field."""
    if len(reviewers) > MAX_REVIEWERS:
        raise InvalidInput(f"reviewers: at most {MAX_REVIEWERS}", "pick fewer people")
    splits = parse_splits(fields.get("splits"))
    key = fields.get("key", "").strip() or None
    label = fields.get("label", "").strip() or None
    text = fields.get("approvals", "").strip()
    approvals = None
    if text:
        if not text.isdigit() or not 1 <= int(text) <= MAX_REVIEWERS:
            raise InvalidInput(
                f"approvals: {text!r} is not a whole number from 1 to {MAX_REVIEWERS}",
                "leave it empty for the team's [data] approvals",
            )
        approvals = int(text)
    return ReviewOptions(splits=splits, key=key, label=label), approvals


def reviews_router(lab: Lab, renderer: Renderer) -> APIRouter:
    """The review page, its forms and its sample previews; registers ``review_url``."""
    router = APIRouter(include_in_schema=False)
    renderer.env.globals["review_url"] = review_url
    renderer.env.globals["previewable"] = previewable

    def page(
        request: Request,
        name: str,
        version: int,
        error: Any = None,
        status: int = 200,
        form: Mapping[str, Any] | None = None,
    ) -> HTMLResponse:
        ref = f"{name}@v{version}"
        dataset = lab.datasets.resolve(ref)
        review = lab.reviews.find(ref)
        asking = review is None and may_request(request)
        context = {
            "can_request": asking,
            "deliveries": lab.reviews.deliveries_of(review) if review else [],
            "candidates": candidates(lab, dataset.created_by) if asking else [],
            "form": form or {},
            "name": name,
            "version": dataset,
            "review": review,
            "report": dict(review.report) if review else {},
            "flagged": list((review.report if review else {}).get("flagged", []))[:SHOWN_FLAGGED],
            "diff": version_diff(lab, name, version),
            "can": allowed(request, review) if review else dict.fromkeys(ACTIONS, False),
            "auth": access_of(request) is not None,
            "error": error,
            "now": time.time(),
        }
        return renderer.page("review.html", context, status)

    @router.get("/datasets/{name}/v/{version}/review", response_class=HTMLResponse)
    def review_page(request: Request, name: str, version: int = Version) -> HTMLResponse:
        try:
            check_anywhere(request)
            return page(request, name, version)
        except LablinkError as exc:
            return renderer.error(exc, "No such dataset version")

    @router.get("/datasets/{name}/v/{version}/review/sample")
    def sample(
        request: Request,
        name: str,
        version: int = Version,
        path: str = Query(..., min_length=1, max_length=4096),
    ) -> Response:
        try:
            check_anywhere(request)
            _, manifest = lab.datasets.manifest(f"{name}@v{version}")
            entry = next((f for f in manifest.files if f.path == path and f.link is None), None)
            if entry is None:
                raise NotFound(f"{name}@v{version} has no file {path!r}")
            kind = mimetypes.guess_type(path)[0]
            if kind not in PREVIEW_TYPES:
                raise InvalidInput(f"{path} is not an image the page can preview")
            handle = lab.blobs.open(entry.digest)
        except LablinkError as exc:
            return renderer.error(exc, "No such sample")
        headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=3600"}
        return FileStream(handle, media_type=kind, headers=headers)

    @router.post("/datasets/{name}/v/{version}/review/{action}")
    async def act(request: Request, name: str, action: str, version: int = Version) -> Response:
        fields = await form_fields(request)
        body = (await request.body()).decode("utf-8", "replace")
        picked = [r[:100] for r in parse_qs(body).get("reviewer", [])[: MAX_REVIEWERS + 1]]

        def run() -> None:
            check_anywhere(request)
            access = access_of(request)
            if access is None:
                raise Forbidden(
                    "reviews are decided on a server that knows who is calling",
                    "serve with --auth required, or use `lablink review` on an embedded store",
                )
            if action not in (*ACTIONS, "request"):
                raise NotFound(f"no review action {action!r}")
            access.anywhere(MEMBER)
            identity = access.identity
            who = Reviewer(identity.user, verified=True, is_admin=identity.is_admin)
            ref, note = f"{name}@v{version}", fields.get("note", "")
            if action == "request":
                options, approvals = request_input(fields, picked)
                lab.reviews.request(who, ref, options, picked, approvals)
            elif action == "comment":
                lab.reviews.comment(who, ref, note)
            elif action == "approve":
                lab.reviews.approve(who, ref, note or None)
            else:
                lab.reviews.reject(who, ref, note)

        try:
            await run_in_threadpool(run)
        except LablinkError as exc:
            error, status = {"message": exc.message, "hint": exc.hint}, exc.status
            form = {**fields, "reviewers": picked}
            try:
                return await run_in_threadpool(
                    lambda: page(request, name, version, error, status, form)
                )
            except LablinkError as outer:
                return renderer.error(outer, "No such dataset version")
        return RedirectResponse(f"/datasets/{quote(name)}/v/{version}/review", status_code=303)

    return router
