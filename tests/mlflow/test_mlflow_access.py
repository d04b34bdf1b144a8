"""Roles on the MLflow routes: MLFLOW_TRACKING_TOKEN authenticates, viewer reads, member writes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.routing import APIRoute
from mlflow.exceptions import MlflowException

from helpers import AppServer
from lablink.checks.routes import is_mlflow_path
from lablink.core.lab import Lab
from lablink.server.access import rule
from lablink.server.app import create_app
from lablink.server.auth import AuthConfig
from lablink.server.mlflow import ROUTERS
from mlflow import MlflowClient


@pytest.fixture
def secured(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, dict[str, str]]]:
    people = lab.people
    tokens = {}
    for name in ("kenji", "mia", "eve"):
        people.add_user("root", name, f"{name}@lab.org")
        tokens[name] = people.create_token("root", name, "laptop", None, "member").secret
    lab.tracking.create_run("mia", "vision", "baseline")
    people.grant("root", "vision", "kenji", "viewer")
    people.grant("root", "vision", "mia", "member")
    srv = AppServer(create_app(lab, auth=AuthConfig("required"))).start()
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    yield srv.url, tokens
    srv.stop()


def as_user(url: str, token: str | None, monkeypatch: pytest.MonkeyPatch) -> MlflowClient:
    if token is None:
        monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    else:
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    return MlflowClient(tracking_uri=url)


def test_roles_hold_on_mlflow_routes(
    secured: tuple[str, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, tokens = secured
    mia = as_user(url, tokens["mia"], monkeypatch)
    eid = mia.get_experiment_by_name("vision").experiment_id
    run = mia.create_run(eid, tags={"mlflow.user": "somebody-else"})
    assert run.info.user_id == "mia"  # the token's user, whatever the client claims
    mia.log_metric(run.info.run_id, "loss", 0.5)

    kenji = as_user(url, tokens["kenji"], monkeypatch)
    assert kenji.get_run(run.info.run_id).data.metrics == {"loss": 0.5}
    assert len(kenji.search_runs([eid])) == 2
    with pytest.raises(MlflowException, match="not a member") as denied:
        kenji.log_metric(run.info.run_id, "loss", 0.1)
    assert denied.value.error_code == "PERMISSION_DENIED"

    eve = as_user(url, tokens["eve"], monkeypatch)
    with pytest.raises(MlflowException, match="no run with id") as hidden:  # as a missing run
        eve.get_run(run.info.run_id)
    assert hidden.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert "vision" not in {e.name for e in eve.search_experiments()}

    anonymous = as_user(url, None, monkeypatch)
    with pytest.raises(MlflowException, match="requires a token") as refused:
        anonymous.get_run(run.info.run_id)
    assert refused.value.error_code == "UNAUTHENTICATED"


def test_every_mlflow_route_has_an_access_rule(lab: Lab) -> None:
    """The MLflow routes are outside the OpenAPI spec, so walk their routers; each route
    takes the caller's ``Access`` and checks it itself."""
    checked = 0
    for prefix, router in ROUTERS:
        for route in router.routes:
            assert isinstance(route, APIRoute)
            path = prefix + route.path
            assert is_mlflow_path(path)
            for method in route.methods:
                assert rule(method, path, set(route.param_convertors)) == "self"
                checked += 1
            names = {d.call.__name__ for d in route.dependant.dependencies if d.call}
            assert "authorize" in names, path
    assert checked > 25
