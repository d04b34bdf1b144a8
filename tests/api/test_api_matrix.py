"""Every route of the app by every kind of caller: the status each gets, on both stores.

The routes come from the app itself (``app.routes``), so a new route fails
``test_every_route_has_an_expectation`` until it is given a kind here; each kind says
what each caller gets. Path parameters are real objects of project ``vision`` (a run,
its artifact and diff, an incident, a dataset, a schema, a sweep, MLflow ids), so a
refusal is the access check's and not a missing object's. The callers:

- ``anonymous`` (no credential) and ``wrong`` (an unknown token): 401 (a page: the
  sign-in redirect, 303; a page asked for with a refused token: 401);
- ``viewer`` and ``member`` of ``vision``;
- ``other``: admin of another project, nothing in ``vision``: 404 for anything of
  ``vision``, as if it did not exist;
- ``admin``: a server admin.

One server per store serves the whole matrix. Allowed writes are sent with a body the
route refuses (400) wherever the write would change what later rows read; ``ok`` below
is any answer but a refusal (401, 403, 404) or a server error.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from helpers import AppServer, make_settings
from lablink.checks.watch_rules import Finding
from lablink.core.datasets.manifest import FileEntry, Manifest
from lablink.core.guard import Guard, Limits
from lablink.core.lab import Lab
from lablink.core.oidc_config import OidcConfig
from lablink.core.review_report import ReviewOptions
from lablink.core.reviews import Reviewer
from lablink.core.schemas import Schemas
from lablink.errors import NotFound
from lablink.server.access import rule
from lablink.server.app import create_app
from lablink.server.auth import AuthConfig
from lablink.store.registry_sql import LoggedModelRow
from oidc_provider import CLIENT_ID, CLIENT_SECRET, Person, Provider

CALLERS = ("anonymous", "wrong", "viewer", "member", "other", "admin")
OK = "ok"
# kind -> what each caller in CALLERS gets
KINDS: dict[str, tuple[int | str, ...]] = {
    "public": (OK, OK, OK, OK, OK, OK),
    "read": (401, 401, OK, OK, 404, OK),
    "write": (401, 401, 403, OK, 404, OK),
    "any": (401, 401, OK, OK, OK, OK),  # lists filtered to what the caller reads, /me
    "shared-read": (401, 401, OK, OK, OK, OK),  # datasets, schemas: a role anywhere
    "shared-write": (401, 401, 403, OK, OK, OK),  # member (or admin) anywhere
    "project-admin": (401, 401, 403, 403, 404, OK),
    "admin": (401, 401, 403, 403, 403, OK),
    "not-yours": (401, 401, 404, 404, 404, 404),  # someone else's token under /me
    "unknown": (401, 401, 404, 404, 404, 404),  # an MLflow endpoint lablink lacks
    "page": (303, 401, OK, OK, 404, OK),
    "page-any": (303, 401, OK, OK, OK, OK),
    "page-data": (401, 401, OK, OK, 404, OK),
    "page-data-any": (401, 401, OK, OK, OK, OK),
    "page-write": (303, 401, 403, 403, 403, 403),  # forms that refuse a token (a script)
    "signin": (OK, 401, OK, OK, OK, OK),
    "signin-post": (403, 401, 403, 403, 403, 403),  # no sign-in form's CSRF cookie
    "signout": (303, 401, OK, OK, OK, OK),  # a token ends no session: nothing to refuse
    "shared-none": (401, 401, 404, 404, 404, 404),  # allowed, but there is nothing there
    "page-admin": (303, 401, 403, 403, 403, OK),  # the server admins' pages
    "page-form": (303, 401, 403, OK, 404, OK),  # a form of a project's (a token needs no CSRF)
    "page-shared-form": (303, 401, 403, OK, OK, OK),  # a form about datasets
    "oidc": (OK, OK, OK, OK, OK, OK),  # single sign-on: public (off to the provider)
    "oidc-back": (401, 401, 401, 401, 401, 401),  # back from a sign-in nobody started
}
ALLOWED = {200, 201, 204, 207, 302, 303, 307, 400, 409, 415}
BAD = {"__matrix__": 1}  # refused by every JSON body (unknown fields are)


@dataclass
class Row:
    kind: str
    url: str = ""  # the path with its parameters filled in; "" fills from World
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    form: dict[str, str] | None = None
    fresh: Callable[[Lab], None] | None = None  # puts back what the row deletes, per caller


@dataclass
class World:
    lab: Lab
    url: str
    tokens: dict[str, str]
    values: dict[str, str]


def mlflow(kind: str, json_args: dict[str, Any] | None = None, **params: str) -> Row:
    return Row(kind, params=params, json=json_args)


def spare_model(run: str) -> Callable[[Lab], None]:
    """Registered model ``spare``, version 1 from ``run`` (of vision), as a deletion finds it."""

    def fresh(lab: Lab) -> None:
        try:
            lab.registry.version("spare", 1)
        except NotFound:
            with contextlib.suppress(NotFound):
                lab.registry.delete("spare")
            lab.registry.create("mia", "spare")
            lab.registry.create_version("mia", "spare", f"runs:/{run}/model.pt")

    return fresh


def spare_logged_model(model_id: str, run: str) -> Callable[[Lab], None]:
    """Logged model ``model_id`` of ``run`` with tag ``t``, as a deletion finds it."""

    def fresh(lab: Lab) -> None:
        sql = lab.logged_models.sql
        try:
            row = lab.logged_models.get(model_id)
        except NotFound:
            sql.add_logged_model(
                LoggedModelRow(model_id, run, "spare", "spare", None, "", {}, {}, 1.7e9, 1.7e9)
            )
            row = lab.logged_models.get(model_id)
        if "t" not in row.tags:
            lab.logged_models.set_tags(model_id, {"t": "1"})

    return fresh


def rows(w: dict[str, str]) -> dict[tuple[str, str], Row]:
    """What each route is, and how to call it (``w``: the objects' ids)."""
    run, digest = w["run"], w["digest"]
    api = "/api/v1"
    m = "/api/2.0/mlflow"
    exp = w["experiment"]
    mr, mv = f"{m}/registered-models", f"{m}/model-versions"
    return {
        ("GET", "/openapi.json"): Row("public"),
        ("HEAD", "/openapi.json"): Row("public"),
        ("GET", "/healthz"): Row("public"),
        ("GET", "/static/{name}"): Row("public", "/static/base.js"),
        ("HEAD", "/static/{name}"): Row("public", "/static/base.js"),
        ("GET", "/favicon.ico"): Row("public"),
        ("HEAD", "/favicon.ico"): Row("public"),
        ("GET", "/signin"): Row("signin"),
        ("POST", "/signin"): Row("signin-post", form={"user": "x", "password": "y"}),
        # -- runs
        ("GET", f"{api}/projects"): Row("any"),
        ("POST", f"{api}/runs/{{run_id}}/batches"): Row("write", json=BAD),
        ("POST", f"{api}/runs/{{run_id}}/heartbeat"): Row("write", json=BAD),
        ("GET", f"{api}/runs/{{run_id}}/history"): Row("read", params={"key": "loss"}),
        ("GET", f"{api}/compare"): Row("read", params={"run": [run, w["spare_run"]]}),
        ("POST", f"{api}/runs"): Row("write", json={"project": "vision", "name": "m"}),
        ("POST", f"{api}/runs/batch"): Row("write", json={"runs": [{"project": "vision"}]}),
        ("GET", f"{api}/runs"): Row("read", params={"project": "vision"}),
        ("GET", f"{api}/runs/{{ref}}"): Row("read", f"{api}/runs/{run}"),
        ("POST", f"{api}/runs/{{run_id}}/finish"): Row("write", json=BAD),
        ("POST", f"{api}/runs/{{run_id}}/tags"): Row("write", json=BAD),
        ("POST", f"{api}/runs/{{run_id}}/notes"): Row("write", json=BAD),
        ("POST", f"{api}/runs/{{run_id}}/inputs"): Row("write", json=BAD),
        ("POST", f"{api}/runs/{{run_id}}/summary"): Row("write", json=BAD),
        ("POST", f"{api}/runs/{{run_id}}/config"): Row("write", json=BAD),
        ("POST", f"{api}/runs/{{run_id}}/stop"): Row("write", json=BAD),
        # -- blobs: a vision artifact's (a dataset's files are any role's)
        ("PUT", f"{api}/blobs/{{digest}}"): Row("shared-write", json=BAD),
        ("HEAD", f"{api}/blobs/{{digest}}"): Row("read"),
        ("GET", f"{api}/blobs/{{digest}}"): Row("read"),
        ("POST", f"{api}/blobs/missing"): Row("shared-read", json={"digests": [digest]}),
        ("POST", f"{api}/runs/{{run_id}}/artifacts"): Row("write", json=BAD),
        ("GET", f"{api}/projects/{{project}}/artifacts"): Row("read"),
        ("GET", f"{api}/runs/{{run_id}}/artifacts"): Row("read"),
        # -- datasets and the data plane
        ("GET", f"{api}/datasets"): Row("shared-read"),
        ("GET", f"{api}/datasets/-/resolve"): Row("shared-read", params={"ref": "tables"}),
        ("GET", f"{api}/datasets/-/diff"): Row(
            "shared-read", params={"old": "tables@v1", "new": "tables@v1"}
        ),
        ("GET", f"{api}/datasets/{{name}}"): Row("shared-read", f"{api}/datasets/tables"),
        ("POST", f"{api}/datasets/{{name}}/versions"): Row(
            "shared-write", f"{api}/datasets/tables/versions", json=BAD
        ),
        ("GET", f"{api}/datasets/{{name}}/versions/{{ref}}"): Row(
            "shared-read", f"{api}/datasets/tables/versions/v1"
        ),
        ("GET", f"{api}/datasets/{{name}}/versions/{{ref}}/files"): Row(
            "shared-read", f"{api}/datasets/tables/versions/v1/files"
        ),
        ("GET", f"{api}/datasets/{{name}}/versions/{{ref}}/profile"): Row(
            "shared-none", f"{api}/datasets/tables/versions/v1/profile"
        ),
        ("GET", f"{api}/datasets/{{name}}/versions/{{ref}}/used-by"): Row(
            "shared-read", f"{api}/datasets/tables/versions/v1/used-by"
        ),
        ("GET", f"{api}/datasets/{{name}}/aliases"): Row("shared-read"),
        ("POST", f"{api}/datasets/{{name}}/aliases"): Row("shared-write", json=BAD),
        ("DELETE", f"{api}/datasets/{{name}}/aliases/{{alias}}"): Row(
            "shared-write", f"{api}/datasets/tables/aliases/latest"
        ),
        ("POST", f"{api}/data/missing"): Row("shared-read", json={"digests": [digest]}),
        ("POST", f"{api}/data/packs"): Row("shared-write", json=BAD),
        ("POST", f"{api}/data/fetch"): Row("shared-read", json={"digests": [w["file"]]}),
        ("POST", f"{api}/data/access"): Row("shared-read", json={"digests": [digest]}),
        ("POST", f"{api}/data/verify"): Row("shared-write", json={"digest": w["file"]}),
        # -- registered models, as lablink's API shows them (the registry's rule)
        ("GET", f"{api}/models"): Row("any"),
        ("GET", f"{api}/models/{{name}}"): Row("read", f"{api}/models/clf"),
        # -- events
        ("GET", f"{api}/events"): Row("any"),
        ("GET", f"{api}/runs/{{run_id}}/events"): Row("read"),
        ("GET", f"{api}/projects/{{project}}/events"): Row("read"),
        # -- schemas
        ("GET", f"{api}/schemas"): Row("shared-read"),
        ("GET", f"{api}/schemas/{{subject}}"): Row("shared-read"),
        ("GET", f"{api}/schemas/{{subject}}/versions/{{version}}"): Row("shared-read"),
        ("POST", f"{api}/schemas/{{subject}}/versions"): Row("shared-write", json=BAD),
        ("POST", f"{api}/schemas/{{subject}}/check"): Row("shared-read", json=BAD),
        ("GET", f"{api}/schemas/{{subject}}/diff"): Row(
            "shared-read", params={"old": "1", "new": "1"}
        ),
        # -- incidents
        ("GET", f"{api}/incidents"): Row("any"),
        ("GET", f"{api}/incidents/{{incident_id}}"): Row("read"),
        ("POST", f"{api}/incidents/{{incident_id}}/ack"): Row("write", json=BAD),
        ("POST", f"{api}/incidents/{{incident_id}}/resolve"): Row("write", json=BAD),
        # -- people
        ("GET", f"{api}/me"): Row("any"),
        ("GET", f"{api}/me/tokens"): Row("any"),
        ("POST", f"{api}/me/tokens"): Row("any", json=BAD),
        ("DELETE", f"{api}/me/tokens/{{token_id}}"): Row("not-yours"),
        ("GET", f"{api}/admin/users"): Row("admin"),
        ("POST", f"{api}/admin/users"): Row("admin", json=BAD),
        ("POST", f"{api}/admin/users/{{user}}/disable"): Row("admin", json=BAD),
        ("POST", f"{api}/admin/users/{{user}}/enable"): Row("admin", json=BAD),
        ("PUT", f"{api}/admin/users/{{user}}/password"): Row("admin", json=BAD),
        ("GET", f"{api}/admin/tokens"): Row("admin"),
        ("POST", f"{api}/admin/tokens"): Row("admin", json=BAD),
        ("DELETE", f"{api}/admin/tokens/{{token_id}}"): Row("admin"),
        ("GET", f"{api}/admin/grants"): Row("admin"),
        ("GET", f"{api}/admin/projects/{{project}}/grants"): Row("project-admin"),
        ("PUT", f"{api}/admin/projects/{{project}}/grants/{{user}}"): Row(
            "project-admin", json=BAD
        ),
        ("DELETE", f"{api}/admin/projects/{{project}}/grants/{{user}}"): Row("project-admin"),
        ("GET", f"{api}/admin/audit"): Row("admin"),
        ("GET", f"{api}/admin/audit/export"): Row("admin"),
        # -- the team roster and on-call: any signed-in user reads, server admins write
        ("GET", f"{api}/team"): Row("any"),
        ("GET", f"{api}/team/overlap"): Row("any"),
        ("GET", f"{api}/team/{{name}}"): Row("any", f"{api}/team/kenji"),
        ("PUT", f"{api}/team/{{name}}"): Row("admin", f"{api}/team/kenji", json=BAD),
        ("DELETE", f"{api}/team/{{name}}"): Row("admin", f"{api}/team/lee"),
        ("POST", f"{api}/team/sync"): Row("admin", json=BAD),
        ("GET", f"{api}/oncall/now"): Row("any"),
        ("GET", f"{api}/oncall/schedule"): Row("any"),
        ("GET", f"{api}/oncall/rotations"): Row("any"),
        ("PUT", f"{api}/oncall/rotations/{{rotation}}"): Row("admin", json=BAD),
        ("DELETE", f"{api}/oncall/rotations/{{rotation}}"): Row(
            "admin", f"{api}/oncall/rotations/spare"
        ),
        ("GET", f"{api}/oncall/rotations/{{rotation}}/ics"): Row("any"),
        ("POST", f"{api}/oncall/overrides"): Row("admin", json=BAD),
        # -- data reviews: the datasets' rule (the author may not decide: a test below)
        ("GET", f"{api}/reviews"): Row("shared-read"),
        ("GET", f"{api}/datasets/{{name}}/versions/{{ref}}/review"): Row("shared-read"),
        ("POST", f"{api}/datasets/{{name}}/versions/{{ref}}/review"): Row("shared-write", json=BAD),
        **{
            ("POST", f"{api}/datasets/{{name}}/versions/{{ref}}/review/{step}"): Row(
                "shared-write", json=BAD
            )
            for step in ("comment", "approve", "reject", "revoke")
        },
        # -- MLflow-compatible: experiment = project, run ids are lablink's
        ("POST", f"{m}/experiments/create"): Row("shared-write", json={"name": "vision"}),
        ("GET", f"{m}/experiments/get"): mlflow("read", experiment_id=exp),
        ("GET", f"{m}/experiments/get-by-name"): mlflow("read", experiment_name="vision"),
        ("GET", f"{m}/experiments/search"): mlflow("any"),
        ("POST", f"{m}/experiments/search"): mlflow("any", {}),
        ("POST", f"{m}/experiments/update"): mlflow("write", {"experiment_id": exp}),
        ("POST", f"{m}/experiments/set-experiment-tag"): mlflow(
            "write", {"experiment_id": exp, "key": "k", "value": "v"}
        ),
        ("POST", f"{m}/experiments/delete"): mlflow("write", {"experiment_id": exp}),
        ("POST", f"{m}/experiments/restore"): mlflow("write", {"experiment_id": exp}),
        ("POST", f"{m}/runs/create"): mlflow("write", {"experiment_id": exp}),
        ("GET", f"{m}/runs/get"): mlflow("read", run_id=run),
        ("POST", f"{m}/runs/update"): mlflow("write", {"run_id": run}),
        ("POST", f"{m}/runs/delete"): mlflow("write", {"run_id": w["spare_run"]}),
        ("POST", f"{m}/runs/restore"): mlflow("write", {"run_id": w["spare_run"]}),
        ("POST", f"{m}/runs/log-metric"): mlflow(
            "write", {"run_id": run, "key": "m", "value": 1.0, "timestamp": 1, "step": 0}
        ),
        ("POST", f"{m}/runs/log-parameter"): mlflow(
            "write", {"run_id": run, "key": "p", "value": "1"}
        ),
        ("POST", f"{m}/runs/set-tag"): mlflow("write", {"run_id": run, "key": "t", "value": "1"}),
        ("POST", f"{m}/runs/delete-tag"): mlflow("write", {"run_id": run}),
        ("POST", f"{m}/runs/log-batch"): mlflow("write", {"run_id": run}),
        ("POST", f"{m}/runs/log-inputs"): mlflow("write", {"run_id": run}),
        ("POST", f"{m}/runs/search"): mlflow("read", {"experiment_ids": [exp]}),
        ("GET", f"{m}/metrics/get-history"): mlflow("read", run_id=run, metric_key="loss"),
        ("GET", f"{m}/metrics/get-history-bulk-interval"): mlflow(
            "read", run_ids=run, metric_key="loss"
        ),
        ("POST", f"{m}/logged-models/search"): mlflow("any", {}),
        ("POST", f"{m}/runs/outputs"): mlflow("write", {"run_id": run, "models": "x"}),
        ("GET", "/api/3.0/mlflow/server-info"): Row("any"),
        # -- MLflow logged models: their run's project
        ("POST", f"{m}/logged-models"): mlflow("write", {"experiment_id": exp}),
        ("GET", f"{m}/logged-models/{{model_id}}"): Row("read"),
        ("PATCH", f"{m}/logged-models/{{model_id}}"): mlflow("write", {"status": "x"}),
        ("DELETE", f"{m}/logged-models/{{model_id}}"): Row(
            "write",
            f"{m}/logged-models/{w['spare_model']}",
            fresh=spare_logged_model(w["spare_model"], run),
        ),
        ("POST", f"{m}/logged-models/{{model_id}}/params"): mlflow("write", {"params": "x"}),
        ("PATCH", f"{m}/logged-models/{{model_id}}/tags"): mlflow("write", {"tags": "x"}),
        ("DELETE", f"{m}/logged-models/{{model_id}}/tags/{{key:path}}"): Row(
            "write",
            f"{m}/logged-models/{w['spare_model']}/tags/t",
            fresh=spare_logged_model(w["spare_model"], run),
        ),
        # -- MLflow model registry: ``clf`` belongs to vision (its version 1's run)
        ("POST", f"{mr}/create"): mlflow("shared-write", {"name": ""}),
        ("GET", f"{mr}/get"): mlflow("read", name="clf"),
        ("POST", f"{mr}/rename"): mlflow("write", {"name": "clf", "new_name": ""}),
        ("PATCH", f"{mr}/update"): mlflow("write", {"name": "clf", "description": 1}),
        ("DELETE", f"{mr}/delete"): Row("write", json={"name": "spare"}, fresh=spare_model(run)),
        ("GET", f"{mr}/search"): mlflow("any"),
        ("POST", f"{mr}/search"): mlflow("any", {}),
        ("POST", f"{mr}/set-tag"): mlflow("write", {"name": "clf", "key": "", "value": "v"}),
        ("DELETE", f"{mr}/delete-tag"): mlflow("write", {"name": "clf", "key": "none"}),
        ("GET", f"{mr}/get-latest-versions"): mlflow("read", name="clf"),
        ("POST", f"{mr}/get-latest-versions"): mlflow("read", {"name": "clf"}),
        ("POST", f"{mr}/alias"): mlflow("write", {"name": "clf", "alias": "v1", "version": "1"}),
        ("DELETE", f"{mr}/alias"): mlflow("write", {"name": "clf", "alias": "v1"}),
        ("GET", f"{mr}/alias"): mlflow("read", name="clf", alias="champion"),
        ("POST", f"{mv}/create"): mlflow("write", {"name": "clf", "source": "s3://x"}),
        ("GET", f"{mv}/get"): mlflow("read", name="clf", version="1"),
        ("PATCH", f"{mv}/update"): mlflow(
            "write", {"name": "clf", "version": "1", "description": 1}
        ),
        ("POST", f"{mv}/transition-stage"): mlflow(
            "write", {"name": "clf", "version": "1", "stage": "x"}
        ),
        ("DELETE", f"{mv}/delete"): Row(
            "write", json={"name": "spare", "version": "1"}, fresh=spare_model(run)
        ),
        ("POST", f"{mv}/set-tag"): mlflow(
            "write", {"name": "clf", "version": "1", "key": "", "value": "v"}
        ),
        ("DELETE", f"{mv}/delete-tag"): mlflow(
            "write", {"name": "clf", "version": "1", "key": "none"}
        ),
        ("GET", f"{mv}/get-download-uri"): mlflow("read", name="clf", version="1"),
        ("GET", f"{mv}/search"): mlflow("any"),
        ("POST", f"{mv}/search"): mlflow("any", {}),
        ("GET", "/api/2.0/mlflow-artifacts/artifacts"): mlflow(
            "read", path=f"{exp}/{run}/artifacts"
        ),
        ("GET", "/api/2.0/mlflow-artifacts/artifacts/{path:path}"): Row(
            "read", f"/api/2.0/mlflow-artifacts/artifacts/{exp}/{run}/artifacts/model.pt"
        ),
        ("PUT", "/api/2.0/mlflow-artifacts/artifacts/{path:path}"): Row(
            "write",
            f"/api/2.0/mlflow-artifacts/artifacts/{exp}/{run}/artifacts/up.txt",
            json="up",
        ),
        **{
            (method, f"{prefix}/{{rest:path}}"): Row("unknown", f"{prefix}/nothing/here")
            for prefix in ("/api/2.0/mlflow", "/api/3.0/mlflow", "/ajax-api/2.0/mlflow")
            for method in ("GET", "POST", "PUT", "PATCH", "DELETE")
        },
        # -- the web UI
        ("GET", "/docs"): Row("page-any"),
        ("GET", "/ui-data/history"): Row("page-data", params={"run": run, "key": "loss"}),
        ("GET", "/ui-data/events"): Row("page-data-any"),
        ("GET", "/"): Row("page-any"),
        ("GET", "/p/{project}"): Row("page"),
        ("GET", "/compare"): Row("page", params={"run": [run, w["spare_run"]]}),
        ("GET", "/r/{run_id}"): Row("page"),
        ("GET", "/r/{run_id}/artifacts/{name:path}"): Row("page", f"/r/{run}/artifacts/model.pt"),
        ("GET", "/r/{run_id}/diff"): Row("page"),
        ("GET", "/p/{project}/params"): Row("page"),
        ("GET", "/incidents"): Row("page-any"),
        ("GET", "/datasets"): Row("page-any"),
        ("GET", "/datasets/{name}"): Row("page-any", "/datasets/tables"),
        ("GET", "/sweeps/{sweep_id}"): Row("page"),
        ("GET", "/models"): Row("page-any"),
        ("GET", "/models/{name}"): Row("page", "/models/clf"),
        ("POST", "/signout"): Row("signout", form={}),
        ("GET", "/me"): Row("page-any"),
        ("POST", "/me/tokens"): Row("page-write", form={"name": "x"}),
        ("POST", "/me/tokens/{token_id}/revoke"): Row("page-write", form={}),
        # -- device login (lablink login): the API takes no credential, the page a person
        ("POST", f"{api}/login/device"): Row("public", json=BAD),
        ("POST", f"{api}/login/device/token"): Row("public", json=BAD),
        ("GET", "/login/device"): Row("page-any"),
        ("POST", "/login/device"): Row("page-write", form={"code": "BCDF-GHJK"}),
        ("POST", "/incidents/{incident_id}/ack"): Row("page-form", form={}),
        ("GET", "/r/{run_id}/logs"): Row("page"),
        ("GET", "/ui-data/runs/{run_id}/logs"): Row("page-data"),
        ("GET", "/ui-data/runs/{run_id}/attempts"): Row("page-data"),
        ("GET", "/team"): Row("page-any"),
        ("GET", "/team/busfactor"): Row("page-any"),
        ("GET", "/datasets/{name}/v/{version}/review"): Row("page-any"),
        ("GET", "/datasets/{name}/v/{version}/review/sample"): Row(
            "page-any", params={"path": "t.csv"}
        ),
        ("POST", "/datasets/{name}/v/{version}/review/{action}"): Row(
            "page-shared-form", "/datasets/tables/v/1/review/comment", form={}
        ),
        ("GET", "/signin/oidc"): Row("oidc"),
        ("GET", "/signin/oidc/callback"): Row("oidc-back", params={"code": "c", "state": "s"}),
        ("GET", "/admin/users"): Row("page-admin"),
        ("GET", "/admin/projects"): Row("page-admin"),
        ("GET", "/admin/audit"): Row("page-admin"),
        ("POST", "/admin/users"): Row("page-admin", form={"name": "x"}),
        ("POST", "/admin/users/{name}/{change}"): Row(
            "page-admin", "/admin/users/victim/enable", form={}
        ),
        ("POST", "/admin/projects/grants"): Row("page-admin", form={}),
        ("POST", "/admin/projects/revoke"): Row(
            "page-admin", form={"project": "audio", "user": "victim"}
        ),
    }


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) the app routes, from the app itself."""
    found = set()
    for route in iter_route_contexts(app.routes):
        for method in route.methods or ():
            found.add((method, str(route.path)))
    return found


# -- the world: one server per store ------------------------------------------------------
@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    home = tmp_path_factory.mktemp("matrix") / "home"
    home.mkdir()
    schema = None
    if request.param == "sqlite":
        url = f"sqlite:///{home / 'lablink.db'}"
    else:
        base = str(request.getfixturevalue("postgres_base"))
        schema = "t_" + uuid.uuid4().hex[:12]
        engine = sa.create_engine(base)
        with engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        engine.dispose()
        url = f"{base}?options=-csearch_path%3D{schema}"
    with Lab(make_settings(home, db=url, user="tester@example.org")) as lab:
        yield from _serve(lab, home)
    if schema is not None:
        engine = sa.create_engine(str(request.getfixturevalue("postgres_base")))
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        engine.dispose()


def _serve(lab: Lab, home: Path) -> Iterator[World]:
    people = lab.people
    # the wrong token's 401s and the sign-ins must not lock the test's address out
    # (core/guard.py)
    people.guard = Guard(
        Limits(
            free_failures_address=10**9,
            free_failures_user=10**9,  # single sign-on locks by address as by a name
            token_burst=10**6,
            audit_burst=1,
            signin_burst=10**6,
        ),
        lambda: people.clock(),
    )
    tokens = {"wrong": "ll_abcdefgh_" + "x" * 43}
    for caller, user, admin in (
        ("viewer", "kenji", False),
        ("member", "mia", False),
        ("other", "lee", False),
        ("admin", "ana", True),
    ):
        people.add_user("root", user, f"{user}@lab.org", admin=admin)
        role = "admin" if admin else "member"
        tokens[caller] = people.create_token("root", user, "laptop", None, role).secret
    people.add_user("root", "nobody", "nobody@lab.org")  # signed in, no role anywhere
    tokens["nobody"] = people.create_token("root", "nobody", "laptop", None, "member").secret
    people.add_user("root", "victim", "victim@lab.org")
    victim_token = people.create_token("root", "victim", "spare").token.id

    tracking = lab.tracking
    diff = tracking.put_blob(iter([b"+AWS_SECRET_ACCESS_KEY=...\n"]))
    capture = {"git_dirty": True, "git_diff_digest": diff}
    run = tracking.create_run("ana", "vision", "baseline", {"lr": 0.1}, capture=capture).id
    lab.tracking.log_batch(
        run, 1, {"loss": {"steps": [0, 1], "times": [1.7e9, 1.7e9], "values": [1.0, 0.5]}}
    )
    spare = tracking.create_run("ana", "vision", "spare").id
    audio = tracking.create_run("ana", "audio", "whisper").id
    people.grant("root", "vision", "kenji", "viewer")
    people.grant("root", "vision", "mia", "member")
    people.grant("root", "audio", "lee", "admin")
    people.grant("root", "vision", "victim", "viewer")  # for the grant routes to revoke
    people.grant("root", "audio", "victim", "viewer")  # for the admin page's form to revoke
    digest = tracking.put_blob(iter([b"weights" * 100]))
    tracking.add_artifact(run, "model.pt", "model", digest)
    # a launched job's output and attempts, for the log panel
    line = {"t": 1.7e9, "a": 1, "s": "out", "l": "epoch 1"}
    chunk = tracking.put_blob(iter([json.dumps(line).encode() + b"\n"]))
    tracking.add_artifact(run, "logs/000001.jsonl", "log", chunk)
    job = tracking.put_blob(iter([json.dumps({"attempts": [{"number": 1}]}).encode()]))
    tracking.add_artifact(run, "launch/job.json", "launch", job)
    incident = lab.watchdog.incidents.raise_finding(
        run, Finding("nan", "loss", "high", "stop", "reopen", "loss is NaN", {})
    ).incident.id

    file, _ = lab.blobs.put_bytes(b"a,b\n1,2\n", "blake3")
    manifest = Manifest.build("blake3", [FileEntry("t.csv", 8, file)])
    manifest_digest, _ = lab.blobs.put_bytes(manifest.encode(), "blake3")
    lab.datasets.commit("mia", "tables", manifest_digest)
    lab.datasets.commit("mia", "labels", manifest_digest)
    # tables for the matrix, labels for the author rule (asked for by someone else)
    lab.reviews.request(Reviewer("mia", verified=True), "tables@v1", ReviewOptions())
    lab.reviews.request(Reviewer("ana", verified=True), "labels@v1", ReviewOptions())
    lab.team.add("ana", "kenji", "Europe/Berlin", ["Mon-Fri 09:00-17:00"])
    lab.team.add("ana", "lee", "UTC", ["Mon-Fri 09:00-17:00"])  # for the matrix to remove
    lab.team.create_rotation("ana", "research", ["kenji"])
    lab.team.create_rotation("ana", "spare", ["kenji"])  # for the matrix to remove
    Schemas(lab.store).register("events", "fields:\n  - name: id\n    type: integer\n", "ana")

    sweep = "m" + uuid.uuid4().hex[:6]
    spec = {
        "name": "s",
        "project": "vision",
        "method": "grid",
        "metric": {"name": "loss", "goal": "minimize"},
        "space": {"lr": {"distribution": "choice", "values": [0.1]}},
        "budget": {"trials": None, "time": None},
    }
    spec_digest = tracking.put_blob([json.dumps(spec).encode()])
    trial = tracking.create_run("ana", "vision", "t0", {"lr": 0.1}, ["sweep", f"sweep:{sweep}"])
    tracking.add_artifact(trial.id, "sweep/spec.json", "sweep", spec_digest)

    experiment = lab.mlflow.experiment_of("vision").experiment_id
    # the registry: clf belongs to vision (its first version's run), spare is deleted
    lab.registry.create("mia", "clf")
    lab.registry.create_version("mia", "clf", f"runs:/{run}/model.pt")
    lab.registry.set_alias("mia", "clf", "champion", 1)
    spare_model(run)(lab)
    logged = lab.logged_models.create(str(experiment), run, "net", None, {}, {"t": "1"})
    spare_logged = "m-" + uuid.uuid4().hex
    spare_logged_model(spare_logged, run)(lab)
    lab.dataset_aliases.set("mia", "tables@v1", "prod")
    lab.registry.create("mia", "draft")  # no version yet: no project (a test below)
    loose = tracking.put_blob(iter([b"uploaded, never committed"]))
    values = {
        "diff": diff,
        "loose": loose,
        "run": run,
        "run_id": run,
        "spare_run": spare,
        "project": "vision",
        "digest": digest,
        "file": file,
        "incident_id": str(incident),
        "subject": "events",
        "version": "1",
        "token_id": str(victim_token),
        "user": "victim",
        "sweep_id": sweep,
        "experiment": str(experiment),
        "name": "tables",
        "ref": "v1",
        "rotation": "research",
        "model_id": logged.model_id,
        "spare_model": spare_logged,
        "alias": "prod",
        "audio_run": audio,
    }
    provider = Provider(Person("sub-ana", "ana@lab.org")).start()
    oidc = OidcConfig(provider.url, CLIENT_ID, CLIENT_SECRET, "Test IdP")
    server = AppServer(create_app(lab, auth=AuthConfig("required", oidc=oidc))).start()
    try:
        yield World(lab, server.url, tokens, values)
    finally:
        server.stop()
        provider.stop()


def fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"{(\w+)(:\w+)?}", lambda m: values[m.group(1)], path)


def call(client: httpx.Client, world: World, method: str, path: str, row: Row) -> int:
    url = row.url or fill(path, world.values)
    kwargs: dict[str, Any] = {"params": row.params}
    if row.form is not None:
        kwargs["data"] = row.form
    elif row.json is not None:
        kwargs["json"] = row.json
    elif method in ("POST", "PUT", "PATCH"):
        kwargs["json"] = {}
    with client.stream(method, url, **kwargs) as answer:
        if not path.endswith("/events"):  # a live stream never ends: left unread
            answer.read()
    client.cookies.clear()  # each request stands alone (no sign-in form's cookie)
    return answer.status_code


def outcome(status: int, expected: int | str) -> int | str:
    if isinstance(expected, int):
        return status
    return OK if status in ALLOWED else status


# -- the tests ------------------------------------------------------------------------------
def test_every_route_has_an_expectation(world: World) -> None:
    app = create_app(world.lab, auth=AuthConfig("required"))
    table = set(rows(world.values))
    assert app_routes(app) - table == set(), "give these routes a kind in test_api_matrix"
    assert table - app_routes(app) == set(), "these rows name routes the app lacks"


def test_every_caller_gets_what_their_role_allows_on_every_route(world: World) -> None:
    wrong: list[str] = []
    clients = {
        caller: httpx.Client(
            base_url=world.url,
            timeout=20,
            headers={"Authorization": f"Bearer {world.tokens[caller]}"}
            if caller in world.tokens
            else {},
        )
        for caller in CALLERS
    }
    try:
        for (method, path), row in rows(world.values).items():
            for caller, expected in zip(CALLERS, KINDS[row.kind], strict=True):
                if row.fresh is not None:
                    row.fresh(world.lab)
                got = call(clients[caller], world, method, path, row)
                if got >= 500 or outcome(got, expected) != expected:
                    wrong.append(f"{method} {path} as {caller}: {got}, expected {expected}")
    finally:
        for client in clients.values():
            client.close()
    assert wrong == [], "\n".join(wrong)


def test_a_blob_is_read_through_what_holds_it(world: World) -> None:
    """A captured diff as its run's project, a dataset file as any role, a blob nobody
    holds only as a server admin; a hidden one is "not stored", as a missing one is."""
    v = world.values
    expected = {
        "diff": {"viewer": 200, "member": 200, "other": 404, "admin": 200},
        "file": {"viewer": 200, "member": 200, "other": 200, "admin": 200},
        "loose": {"viewer": 404, "member": 404, "other": 404, "admin": 200},
    }
    for blob, answers in expected.items():
        for caller, status in answers.items():
            headers = {"Authorization": f"Bearer {world.tokens[caller]}"}
            got = httpx.get(f"{world.url}/api/v1/blobs/{v[blob]}", headers=headers)
            assert got.status_code == status, (blob, caller, got.text)
            if status == 404:
                assert got.json()["error"]["message"] == f"blob {v[blob]} is not stored"


def test_a_version_is_approved_by_someone_other_than_its_author(world: World) -> None:
    """``labels@v1`` was made by mia (a member) and its review asked for by ana: mia may
    not approve it (by the API or the page's form), a viewer may not either, and a role
    elsewhere (lee, admin of another project) may, as datasets are shared."""
    review = f"{world.url}/api/v1/datasets/labels/versions/v1/review"

    def as_(caller: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {world.tokens[caller]}"}

    for caller in ("member", "viewer"):
        got = httpx.post(f"{review}/approve", json={"note": "ok"}, headers=as_(caller))
        assert got.status_code == 403, (caller, got.text)
        got = httpx.post(f"{review}/reject", json={"note": "no"}, headers=as_(caller))
        assert got.status_code == 403, (caller, got.text)
    form = f"{world.url}/datasets/labels/v/1/review/approve"
    assert httpx.post(form, data={}, headers=as_("member")).status_code == 403
    assert httpx.get(review, headers=as_("viewer")).json()["state"] == "pending"
    got = httpx.post(f"{review}/approve", json={}, headers=as_("other"))
    assert got.status_code == 200, got.text
    assert got.json()["state"] == "approved" and got.json()["approvers"] == ["lee"]
    got = httpx.post(f"{review}/revoke", json={}, headers=as_("member"))
    assert got.status_code == 403, got.text  # only an approver, or a server admin


def test_a_hidden_model_answers_as_a_missing_one(world: World) -> None:
    """``other`` reads nothing of vision: its registered model (with its version and
    alias), its logged model and its experiment answer what a missing one answers, word
    for word, names aside (no run id, no "it exists" told by another message)."""
    v, m = world.values, "/api/2.0/mlflow"
    nope = "m-" + "0" * 32
    exp = v["experiment"]

    def both(method: str, path: str, hidden: dict[str, Any], missing: dict[str, Any]) -> Any:
        return (method, path, hidden), (method, path, missing)

    cases = [  # (method, path, args) of vision's, then of one that does not exist
        (("GET", "/api/v1/models/clf", {}), ("GET", "/api/v1/models/nope", {})),
        both("GET", f"{m}/registered-models/get", {"name": "clf"}, {"name": "nope"}),
        both(
            "GET",
            f"{m}/registered-models/alias",
            {"name": "clf", "alias": "champion"},
            {"name": "nope", "alias": "champion"},
        ),
        both(
            "GET",
            f"{m}/model-versions/get",
            {"name": "clf", "version": "1"},
            {"name": "nope", "version": "1"},
        ),
        (
            ("GET", f"{m}/logged-models/{v['model_id']}", {}),
            ("GET", f"{m}/logged-models/{nope}", {}),
        ),
        (("GET", f"/api/v1/runs/{v['run']}", {}), ("GET", f"/api/v1/runs/{'0' * 12}", {})),
        both("GET", f"{m}/runs/get", {"run_id": v["run"]}, {"run_id": "0" * 12}),
        both("GET", f"{m}/experiments/get", {"experiment_id": exp}, {"experiment_id": "999999"}),
        both(
            "GET",
            f"{m}/experiments/get-by-name",
            {"experiment_name": "vision"},
            {"experiment_name": "nope"},
        ),
        *(
            both("POST", f"{m}/{r}", {"experiment_ids": [exp]}, {"experiment_ids": ["999999"]})
            for r in ("runs/search", "logged-models/search")
        ),
        # a version made from a hidden model's: the model is named, not its run
        *(
            both(
                "POST",
                f"{m}/model-versions/create",
                {"name": "draft", "source": f"models:/clf{at}"},
                {"name": "draft", "source": f"models:/nope{at}"},
            )
            for at in ("/1", "@champion")
        ),
        both(
            "POST",
            f"{m}/model-versions/create",
            {"name": "draft", "source": f"models:/{v['model_id']}"},
            {"name": "draft", "source": f"models:/{nope}"},
        ),
        both(  # lee writes audio's run, naming vision's logged model as its output
            "POST",
            f"{m}/runs/outputs",
            {"run_id": v["audio_run"], "models": [{"model_id": v["model_id"], "step": 0}]},
            {"run_id": v["audio_run"], "models": [{"model_id": nope, "step": 0}]},
        ),
    ]
    names = ("clf", "nope", v["model_id"], nope, exp, "999999", "vision", v["run"], "0" * 12)

    def answer(client: httpx.Client, method: str, path: str, args: Any) -> tuple[int, str]:
        got = client.get(path, params=args) if method == "GET" else client.post(path, json=args)
        body = got.json()
        text = str(body["error"]["message"] if "error" in body else body.get("message", ""))
        for name in names:
            text = re.sub(rf"\b{re.escape(name)}\b", "X", text)
        return got.status_code, text

    headers = {"Authorization": f"Bearer {world.tokens['other']}"}
    with httpx.Client(base_url=world.url, headers=headers, timeout=20) as client:
        for hidden, missing in cases:
            got, want = answer(client, *hidden), answer(client, *missing)
            assert got == want and got[0] == 404, (hidden, got, want)


def test_a_model_without_versions_is_any_roles(world: World) -> None:
    """``draft`` has no version, so no project: any role reads it, a member of any
    project changes it, a viewer (of vision only) does not; the list shows it to all."""
    m = "/api/2.0/mlflow/registered-models"
    expected = {  # caller -> (read, write)
        "viewer": (200, 403),
        "member": (200, 200),
        "other": (200, 200),
        "admin": (200, 200),
    }
    for caller, (read, write) in expected.items():
        headers = {"Authorization": f"Bearer {world.tokens[caller]}"}
        with httpx.Client(base_url=world.url, headers=headers, timeout=20) as client:
            got = client.get(f"{m}/get", params={"name": "draft"})
            assert got.status_code == read, (caller, got.text)
            assert client.get("/api/v1/models/draft").status_code == read, caller
            listed = [x["name"] for x in client.get("/api/v1/models").json()["models"]]
            assert "draft" in listed and ("clf" in listed) == (caller != "other"), (caller, listed)
            got = client.post(f"{m}/set-tag", json={"name": "draft", "key": caller, "value": "1"})
            assert got.status_code == write, (caller, got.text)


def test_a_model_without_versions_needs_a_role_somewhere(world: World) -> None:
    """Someone signed in with no role anywhere reads no model: ``draft`` is refused as
    shared datasets are, and no list or search shows it."""
    m = "/api/2.0/mlflow"
    headers = {"Authorization": f"Bearer {world.tokens['nobody']}"}
    with httpx.Client(base_url=world.url, headers=headers, timeout=20) as client:
        assert client.get(f"{m}/registered-models/get", params={"name": "draft"}).status_code == 403
        assert client.get("/api/v1/models/draft").status_code == 403
        assert client.get("/api/v1/models").json()["models"] == []
        found = client.post(f"{m}/registered-models/search", json={}).json()
        assert found.get("registered_models", []) == []


def test_the_team_rule_takes_whole_path_segments() -> None:
    """A later route merely starting with ``/team`` gets its own rule (here a project's,
    or none: refused), not the roster's "anyone signed in reads"."""
    assert rule("GET", "/api/v1/team", set()) == "team"
    assert rule("PUT", "/api/v1/team/{name}", {"name"}) == "team"
    assert rule("GET", "/api/v1/oncall/now", set()) == "team"
    assert rule("GET", "/api/v1/teams/{project}", {"project"}) == "project"
    assert rule("GET", "/api/v1/teamwork", set()) is None
