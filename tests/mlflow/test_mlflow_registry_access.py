"""Roles on the model registry: MLflow's routes, ``/api/v1/models`` and the pages."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from mlflow.exceptions import MlflowException

import mlflow
from helpers import AppServer
from lablink.core.lab import Lab
from lablink.server.app import create_app
from lablink.server.auth import AuthConfig
from mlflow import MlflowClient


@pytest.fixture
def secured(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, dict[str, str]]]:
    people = lab.people
    tokens = {}
    for name in ("mia", "kenji", "eve"):
        people.add_user("root", name, f"{name}@lab.org")
        tokens[name] = people.create_token("root", name, "laptop", None, "member").secret
    lab.tracking.create_run("mia", "vision", "seed")
    lab.tracking.create_run("eve", "secret", "seed")
    people.grant("root", "vision", "mia", "member")
    people.grant("root", "vision", "kenji", "viewer")
    people.grant("root", "secret", "eve", "member")
    srv = AppServer(create_app(lab, auth=AuthConfig("required"))).start()
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    yield srv.url, tokens
    srv.stop()


def client_as(url: str, token: str, monkeypatch: pytest.MonkeyPatch) -> MlflowClient:
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    return MlflowClient(tracking_uri=url, registry_uri=url)


def code(call: object) -> str:
    with pytest.raises(MlflowException, match=r"\w") as info:
        call()  # type: ignore[operator]
    return str(info.value.error_code)


def test_a_model_takes_its_first_runs_project_and_its_roles(
    secured: tuple[str, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, tokens = secured
    mia = client_as(url, tokens["mia"], monkeypatch)
    eid = mia.get_experiment_by_name("vision").experiment_id
    run = mia.create_run(eid)
    mia.log_text(run.info.run_id, "w", "net/w.txt")
    mia.create_registered_model("net")
    mia.create_model_version("net", f"runs:/{run.info.run_id}/net")
    mia.set_registered_model_alias("net", "prod", "1")

    kenji = client_as(url, tokens["kenji"], monkeypatch)  # viewer of vision
    assert kenji.get_model_version_by_alias("net", "prod").version == "1"
    assert code(lambda: kenji.set_registered_model_alias("net", "x", "1")) == "PERMISSION_DENIED"
    assert code(lambda: kenji.delete_registered_model("net")) == "PERMISSION_DENIED"

    eve = client_as(url, tokens["eve"], monkeypatch)  # no role in vision
    assert code(lambda: eve.get_registered_model("net")) == "RESOURCE_DOES_NOT_EXIST"
    assert [m.name for m in eve.search_registered_models()] == []
    assert eve.search_model_versions("name = 'net'") == []
    # eve may not make a version of mia's model, nor from a run she cannot read
    eve.create_registered_model("eve-model")
    assert (
        code(lambda: eve.create_model_version("eve-model", f"runs:/{run.info.run_id}/net"))
        == "RESOURCE_DOES_NOT_EXIST"
    )
    assert (
        code(lambda: eve.create_model_version("net", f"runs:/{run.info.run_id}/net"))
        == "RESOURCE_DOES_NOT_EXIST"
    )

    api = f"{url}/api/v1/models"
    as_eve = {"Authorization": f"Bearer {tokens['eve']}"}
    as_kenji = {"Authorization": f"Bearer {tokens['kenji']}"}
    assert [m["name"] for m in httpx.get(api, headers=as_eve).json()["models"]] == ["eve-model"]
    assert httpx.get(f"{api}/net", headers=as_eve).status_code == 404
    shown = httpx.get(f"{api}/net", headers=as_kenji).json()
    assert shown["model"]["project"] == "vision" and shown["versions"][0]["aliases"] == ["prod"]
    assert httpx.get(api).status_code == 401
    assert httpx.get(f"{url}/models/net", headers=as_eve).status_code == 404
    assert "prod" in httpx.get(f"{url}/models/net", headers=as_kenji).text
    assert "net" not in httpx.get(f"{url}/models", headers=as_eve).text.split("<main")[-1]
    mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
