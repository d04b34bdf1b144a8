"""Per-project roles on every API route: viewer reads, member writes, admin administers.

``authorize`` is a dependency of every API router. It finds the project a route is
about from its path (``{project}``, a run, an incident) and checks the caller's role
there: a read the caller may not make answers 404, as if the run or project did not
exist, and a write they may not make 403 (404 when they cannot even read it).

Datasets, schemas and blobs are shared by the whole server, not owned by a project:
reading them needs viewer in at least one project, writing them member in at least
one. A blob is read only by those who may read a run or dataset version holding it
(``readable_blobs``): an artifact of a project's run stays within that project. Data
reviews (``/reviews``, ``/datasets/.../review``) follow the datasets' rule; who may
approve beyond that (not the version's author) is the core's rule (``core/reviews.py``).
Routes that list across projects (projects, run search, incidents, the event
stream) check nothing here and filter their answer with ``Access.readable``; so do
the MLflow-compatible routes (``server/mlflow/guard.py``), which name the project in
their arguments. A route
that fits none of these rules is refused (403) rather than left open, and the route
matrix in the tests keeps that from happening unnoticed.

The people routes (``server/api/admin.py``) need auth on, as without it anyone could
hand themselves a token that a later ``--auth required`` would honour. Those under
``/admin/`` need a server admin (an unscoped admin token of one), except a project's
grants (``/admin/projects/{project}/...``), which its admins manage too; ``/me``
routes are each caller's own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from lablink.checks.routes import API_PREFIX, is_mlflow_path
from lablink.core.lab import Lab
from lablink.errors import Forbidden, InvalidInput, NotFound
from lablink.identity import Identity, allows

VIEWER, MEMBER, ADMIN = "viewer", "member", "admin"
ADMIN_PREFIX = "/admin/"
# Kinds of rule that need an authenticated caller (no auth: refused).
PEOPLE_RULES = frozenset(("admin", "project-admin", "me"))
# Route paths below are written without the API prefix, as routers declare them.
# Shared resources, guarded by the caller's best role in any project.
SHARED = ("/datasets", "/data/", "/schemas", "/blobs/", "/reviews")
# The team roster and on-call: any signed-in user reads, server admins write.
# Whole segments: a later ``/teams/{project}`` must not fall under this rule.
TEAM = ("/team/", "/oncall/")
# Called before the caller has a credential: ``lablink login``'s device flow, which
# answers only to the device code it handed out (``server/browser.py`` PUBLIC_API).
PUBLIC = frozenset(("/login/device", "/login/device/token"))
# POSTs that only read (a question in a body, not a change).
READ_POSTS = frozenset(
    (
        "/blobs/missing",
        "/data/missing",
        "/data/fetch",
        "/data/access",
        "/schemas/{subject}/check",
    )
)
# Routes that answer only what the caller may read, or check a project named in the body.
SELF_CHECKED = frozenset(
    ("GET", p)
    for p in (
        "/projects",
        "/runs",
        "/incidents",
        "/events",
        "/compare",
        "/models",
        "/models/{name}",
    )
) | {
    ("POST", "/runs"),
    ("POST", "/runs/batch"),  # checks every project its runs name
    ("GET", "/ui-data/events"),  # the UI's copy of /events
}
RUN_CACHE = 10_000  # run id → project; a run never changes project


class Access:
    """What one authenticated caller may do; every method is a blocking store read."""

    def __init__(self, lab: Lab, identity: Identity) -> None:
        self.lab = lab
        self.identity = identity
        self._roles: dict[str, str | None] = {}
        self._anywhere: dict[str, bool] = {}

    def role(self, project: str) -> str | None:
        """The caller's role in ``project`` (None: not even viewer)."""
        if project not in self._roles:
            self._roles[project] = self.lab.people.role_of(self.identity, project)
        return self._roles[project]

    def can(self, project: str, needed: str) -> bool:
        """Whether the caller holds at least ``needed`` in ``project``."""
        return self.identity.is_admin or allows(self.role(project), needed)

    def check(self, project: str, needed: str, what: str | NotFound | None = None) -> None:
        """Require ``needed`` in ``project``.

        Raises:
            NotFound: the caller may not read it (``what`` names what is hidden, or is
                the very error a missing one raises).
            Forbidden: they may read but not do this.
        """
        if self.can(project, needed):
            return
        if needed != VIEWER and self.can(project, VIEWER):
            raise Forbidden(
                f"{self.identity.user} is not {'an' if needed == ADMIN else 'a'} {needed} "
                f"of project {project}",
                f"a project admin grants it: lablink projects grant {project} "
                f"{self.identity.user} {needed}",
            )
        if isinstance(what, NotFound):
            raise what
        raise NotFound(f"{what or 'project ' + repr(project)} not found")

    def readable(self) -> Callable[[str], bool]:
        """A test of "may the caller read this project?", remembering its answers."""
        return lambda project: self.can(project, VIEWER)

    def holds_anywhere(self, needed: str) -> bool:
        """Whether the caller holds ``needed`` in at least one project (remembered)."""
        if self.identity.is_admin:
            return True
        if needed not in self._anywhere:
            scope = self.identity.project
            projects = (
                [scope]
                if scope
                else [g.project for g in self.lab.people.grants(user=self.identity.user)]
            )
            self._anywhere[needed] = any(self.can(p, needed) for p in projects)
        return self._anywhere[needed]

    def anywhere(self, needed: str) -> None:
        """Require ``needed`` in at least one project (for shared resources).

        Raises:
            Forbidden: the caller holds no such role anywhere.
        """
        if not self.holds_anywhere(needed):
            raise Forbidden(
                f"{self.identity.user} is not a {needed} of any project",
                "datasets, schemas and blobs are shared: any project's role grants them",
            )


def run_not_found(ref: str) -> NotFound:
    """What a run the caller may not read answers: what a missing run answers
    (``store/runs_sql.py``), so that no message tells that it exists."""
    return NotFound(f"no run with id {ref!r}", "list runs with `lablink runs ls`")


def check_model(access: Access | None, project: str | None, needed: str, what: str) -> None:
    """Require ``needed`` where a registered model belongs: its project, or (a model
    without versions yet has none) any project, as for shared datasets.

    Raises:
        NotFound: the caller may not read it.
        Forbidden: they may read but not change it.
    """
    if access is None:
        return
    if project is None:
        access.anywhere(needed)
    else:
        access.check(project, needed, what)


def model_readable(access: Access | None, project: str | None) -> bool:
    """Whether the caller may read a registered model of ``project`` (None: a model
    without versions, which a role anywhere reads)."""
    if access is None:
        return True
    return access.holds_anywhere(VIEWER) if project is None else access.can(project, VIEWER)


def access_of(request: Request) -> Access | None:
    """The caller's ``Access``, or None when the server runs without auth."""
    identity = request.scope.get("state", {}).get("identity")
    if identity is None:
        return None
    return Access(request.app.state.lab, identity)


def readable_blobs(request: Request, digests: Iterable[str]) -> set[str]:
    """The subset of ``digests`` the caller may read: those held by a dataset version
    or by a run of a project they read (``core/blob_readers.py``); all without auth.

    A blocking store read. Routes answer the others as if they were not stored.
    """
    wanted = list(digests)
    access = access_of(request)
    if access is None or access.identity.is_admin:
        return set(wanted)
    lab: Lab = request.app.state.lab
    # Reaching a blob route at all took a role somewhere (the ``shared`` rule), which
    # is what reading datasets takes.
    return lab.blob_readers.readable(wanted, access.readable(), datasets=True)


async def authorize(request: Request) -> Access | None:
    """Check the caller's role for this route.

    Without auth nothing is read from the store, so the check runs on the event loop:
    a thread hop costs more than the check, on every request, and ingestion requests are
    many and small. With auth, the role and run reads run in the threadpool.

    Raises:
        NotFound: a read of something the caller may not see.
        Forbidden: a write the caller's role does not allow, or a route with no rule.
    """
    method, path = request.method, bare(request.scope["route"].path)
    # An MLflow route sees its path without the prefix that makes it one: ask by URL.
    url_path = request.scope["path"]
    routed = url_path if is_mlflow_path(url_path) else path
    kind = rule(method, routed, set(request.path_params))  # path: bare
    access = access_of(request)
    if access is None:
        if kind in PEOPLE_RULES:
            raise Forbidden(
                f"{method} {path} needs a server that knows who is calling",
                "serve with --auth required (or proxy), or run the command where the "
                "database is, without --server",
            )
        return None
    await run_in_threadpool(_check_role, request, access, kind)
    return access


def _check_role(request: Request, access: Access, kind: str | None) -> None:
    """``authorize``'s checks for an authenticated caller (blocking store reads)."""
    method, path, params = request.method, bare(request.scope["route"].path), request.path_params
    needed = VIEWER if method in ("GET", "HEAD") or path in READ_POSTS else MEMBER
    lab: Lab = request.app.state.lab
    if kind == "admin":
        if not access.identity.is_admin:
            raise Forbidden(
                f"{access.identity.user} is not a server admin (with an unscoped admin token)",
                "ask a server admin; your own tokens are under /api/v1/me/tokens",
            )
    elif kind == "project-admin":
        access.check(params["project"], ADMIN)
    elif kind in ("me", "public"):
        pass
    elif kind == "project":
        access.check(params["project"], needed)
    elif kind == "run":
        check_run_role(request, access, str(params.get("run_id", params.get("ref"))), needed)
    elif kind == "incident":
        incident = lab.watchdog.incidents.get(incident_number(params["incident_id"]))
        access.check(incident.project, needed, f"incident {incident.id}")
    elif kind == "shared":
        access.anywhere(needed)
    elif kind == "team":
        if needed != VIEWER and not access.identity.is_admin:
            raise Forbidden(
                f"{access.identity.user} is not a server admin: the roster and rotations "
                "are changed by server admins",
                "ask a server admin, or keep them in lablink.toml and have an admin sync it",
            )
    elif kind is None:
        raise Forbidden(f"{method} {path} has no access rule", "this is a lablink bug: report it")


def check_run_role(request: Request, access: Access, ref: str, needed: str) -> None:
    """Require ``needed`` in the project of run ``ref`` (a blocking store read at most).

    Raises:
        NotFound: the run is missing, or the caller may not read it.
        Forbidden: they may read it but not do this.
    """
    access.check(run_project(request, ref), needed, run_not_found(ref))


def rule(method: str, path: str, params: set[str]) -> str | None:
    """Which check a route gets: ``public`` (no credential yet), ``admin`` (server admins),
    ``project-admin``, ``me`` (any caller, about themselves), ``team``, ``project``, ``run``, ``incident``, ``shared``,
    ``self`` (it filters or checks itself), or None (no rule: refused)."""
    if is_mlflow_path(path):
        return "self"  # MLflow names projects in its arguments: each route checks itself
    path = bare(path)
    if path.startswith(ADMIN_PREFIX):
        return "project-admin" if "project" in params else "admin"
    if path == "/me" or path.startswith("/me/"):
        return "me"
    if path in PUBLIC:
        return "public"
    if path == "/team" or path.startswith(TEAM):
        return "team"
    if "project" in params:
        return "project"
    if "run_id" in params or path == "/runs/{ref}":
        return "run"
    if "incident_id" in params:
        return "incident"
    if path.startswith(SHARED):
        return "shared"
    return "self" if (method, path) in SELF_CHECKED else None


def incident_number(text: str) -> int:
    """An incident id from a path, as the number it is. Raises ``InvalidInput``."""
    if text.isascii() and text.isdigit() and 0 < len(text) < 19 and int(text) > 0:
        return int(text)
    raise InvalidInput(f"an incident id is a positive integer, not {text[:40]!r}")


def bare(path: str) -> str:
    """A route's path without the API prefix (routes see it with or without)."""
    return path[len(API_PREFIX) :] if path.startswith(API_PREFIX + "/") else path


def run_project(request: Request, ref: str) -> str:
    """The project of run ``ref`` (an id or a prefix). Raises ``NotFound``."""
    lab: Lab = request.app.state.lab
    cache: dict[str, str] = request.app.state.run_projects
    found = cache.get(ref)
    if found is None:
        run = lab.tracking.get_run(ref)
        remember_run_project(request, run.id, found := run.project)
    return found


def remember_run_project(request: Request, run_id: str, project: str) -> None:
    """Note the project of run ``run_id`` (as a route that created it knows it), so the
    access checks of the calls that follow need no store read."""
    cache: dict[str, str] = request.app.state.run_projects
    if len(cache) >= RUN_CACHE:
        cache.clear()  # crude but bounded; refills on use
    cache[run_id] = project


Authorized = Annotated[Access | None, Depends(authorize)]
