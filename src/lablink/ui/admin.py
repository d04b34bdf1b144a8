"""``/admin/...``: the server admins' pages for users, project grants and the audit log.

Each page calls the same ``core/people.py`` operations as the admin API
(``server/api/admin.py``), with the signed-in admin as the actor the audit log records.
Only a server admin sees them: anyone else gets a 403 page, and a server without
sign-in (``--auth off``) a 404, as there is nobody to administer. Every form posts the
page's CSRF token, checked before these views run (``server/auth.py``). A new user's
first token is shown once, in the answer to the form that made them.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from lablink.checks.durations import parse_duration
from lablink.core.lab import Lab
from lablink.errors import Forbidden, InvalidInput, LablinkError, NotFound
from lablink.identity import ROLES, Identity
from lablink.ui.render import Renderer
from lablink.ui.signin import NO_STORE, form_fields

AUDIT_PAGE = 50


def admin_of(request: Request) -> Identity:
    """The signed-in server admin.

    Raises:
        NotFound: the server runs without sign-in.
        Forbidden: the viewer is not a server admin.
    """
    identity: Identity | None = request.scope.get("state", {}).get("identity")
    if identity is None:
        raise NotFound("this server runs without sign-in", "there are no users to administer")
    if not identity.is_admin:
        raise Forbidden(
            f"{identity.user} is not a server admin",
            "a server admin manages users, grants and the audit log",
        )
    return identity


def _checked(value: str) -> bool:
    return value in ("1", "on", "true", "yes")


def admin_router(lab: Lab, renderer: Renderer) -> APIRouter:
    """The admin pages and their forms."""
    router = APIRouter(include_in_schema=False)
    people = lab.people

    def refuse(exc: LablinkError) -> Response:
        return renderer.error(exc, "Refused" if exc.status == 403 else "Not found")

    # -- users --------------------------------------------------------------------------------
    def users_page(status: int = 200, **extra: Any) -> Response:
        context = {"users": people.list_users(), "new": None, "error": None, **extra}
        return renderer.page("admin_users.html", context, status, NO_STORE)

    @router.get("/admin/users")
    def users(request: Request) -> Response:
        try:
            admin_of(request)
        except LablinkError as exc:
            return refuse(exc)
        return users_page()

    @router.post("/admin/users")
    async def add_user(request: Request) -> Response:
        fields = await form_fields(request)

        def add() -> Response:
            actor = admin_of(request).user
            service = _checked(fields.get("service", ""))
            try:
                user, token = people.invite(
                    actor,
                    fields.get("name", "").strip(),
                    fields.get("email", "").strip() or None,
                    admin=_checked(fields.get("admin", "")),
                    service=service,
                )
            except (InvalidInput, LablinkError) as exc:
                if exc.status in (401, 403):
                    raise
                error = {"message": exc.message, "hint": exc.hint}
                return users_page(exc.status, error=error)
            return users_page(201, new={"user": user, "token": token})

        try:
            return await run_in_threadpool(add)
        except LablinkError as exc:
            return refuse(exc)

    @router.post("/admin/users/{name}/{change}")
    def change_user(request: Request, name: str, change: str) -> Response:
        try:
            actor = admin_of(request).user
            if change == "disable":
                if name == actor:
                    raise Forbidden("you cannot disable yourself", "ask another server admin")
                people.disable(actor, name)
            elif change == "enable":
                people.enable(actor, name)
            elif change in ("admin", "unadmin"):
                if name == actor and change == "unadmin":
                    raise Forbidden("you cannot stop being a server admin yourself")
                people.set_admin(actor, name, change == "admin")
            else:
                raise NotFound(f"no such change: {change!r}")
        except LablinkError as exc:
            return refuse(exc)
        return RedirectResponse("/admin/users", status_code=303)

    # -- projects and grants ---------------------------------------------------------------
    def projects_page(status: int = 200, **extra: Any) -> Response:
        grants = people.grants()
        names = sorted({p.name for p in lab.tracking.list_projects()} | {g.project for g in grants})
        projects = [{"name": n, "grants": [g for g in grants if g.project == n]} for n in names]
        context = {
            "projects": projects,
            "users": [u.name for u in people.list_users()],
            "roles": ROLES,
            "error": None,
            **extra,
        }
        return renderer.page("admin_projects.html", context, status, NO_STORE)

    @router.get("/admin/projects")
    def projects(request: Request) -> Response:
        try:
            admin_of(request)
        except LablinkError as exc:
            return refuse(exc)
        return projects_page()

    @router.post("/admin/projects/grants")
    async def grant(request: Request) -> Response:
        fields = await form_fields(request)

        def give() -> Response:
            actor = admin_of(request).user
            try:
                people.grant(
                    actor,
                    fields.get("project", "").strip(),
                    fields.get("user", "").strip(),
                    fields.get("role", ""),
                    create=_checked(fields.get("create", "")),
                )
            except LablinkError as exc:
                if exc.status in (401, 403):
                    raise
                return projects_page(exc.status, error={"message": exc.message, "hint": exc.hint})
            return RedirectResponse("/admin/projects", status_code=303)

        try:
            return await run_in_threadpool(give)
        except LablinkError as exc:
            return refuse(exc)

    @router.post("/admin/projects/revoke")
    async def revoke(request: Request) -> Response:
        fields = await form_fields(request)

        def take() -> None:
            actor = admin_of(request).user
            people.revoke_grant(actor, fields.get("project", ""), fields.get("user", ""))

        try:
            await run_in_threadpool(take)
        except LablinkError as exc:
            return refuse(exc)
        return RedirectResponse("/admin/projects", status_code=303)

    # -- the audit log ------------------------------------------------------------------------
    @router.get("/admin/audit")
    def audit(
        request: Request, user: str = "", action: str = "", since: str = "", before: str = ""
    ) -> Response:
        try:
            admin_of(request)
        except LablinkError as exc:
            return refuse(exc)
        query = {"user": user.strip()[:100], "action": action.strip()[:50], "since": since.strip()}
        error = None
        entries: list[Any] = []
        after: float | None = None
        try:
            if query["since"]:
                after = people.clock() - parse_duration(query["since"][:20], "since")
            if before and not (before.isdigit() and len(before) < 19):
                raise InvalidInput(f"before={before[:20]!r} is not an entry id")
            entries = people.audit_log(
                after,
                query["user"] or None,
                query["action"] or None,
                AUDIT_PAGE,
                int(before) if before else None,
            )
        except LablinkError as exc:
            error = {"message": exc.message, "hint": exc.hint}
        filters = {k: v for k, v in query.items() if v}
        older = None
        if len(entries) == AUDIT_PAGE:
            older = "?" + urllib.parse.urlencode({**filters, "before": entries[-1].id})
        exported = {k: v for k, v in filters.items() if k != "since"}
        if after is not None:
            exported["since"] = str(int(after))
        context = {
            "entries": entries,
            "query": query,
            "older": older,
            "newest": "?" + urllib.parse.urlencode(filters) if before else None,
            "export": {
                fmt: "/api/v1/admin/audit/export?"
                + urllib.parse.urlencode({**exported, "format": fmt})
                for fmt in ("csv", "jsonl")
            },
            "error": error,
        }
        return renderer.page("admin_audit.html", context, 400 if error else 200, NO_STORE)

    return router
