"""The MLflow model registry against lablink: a scikit-learn model logged, registered,
aliased and loaded back with the real client; every registry call and its error codes."""

from __future__ import annotations

import os
from collections.abc import Iterator

import mlflow.sklearn
import numpy as np
import pytest
from mlflow.entities import LoggedModelStatus
from mlflow.exceptions import MlflowException
from sklearn.linear_model import LogisticRegression

import mlflow
from helpers import LoopbackServer
from mlflow import MlflowClient

X = np.array([[0.0], [1.0], [2.0], [3.0], [4.0], [5.0]])
Y = np.array([0, 0, 0, 1, 1, 1])


@pytest.fixture(autouse=True)
def default_experiment(tracking_uri: str) -> Iterator[None]:
    """Each test starts in the Default experiment and leaves no other one active."""
    import mlflow.tracking.fluent as fluent

    fluent._active_experiment_id = None
    os.environ.pop("MLFLOW_EXPERIMENT_ID", None)  # another module's set_experiment
    yield
    fluent._active_experiment_id = None
    os.environ.pop("MLFLOW_EXPERIMENT_ID", None)  # set_experiment sets it


def error_code(call: object) -> str:
    with pytest.raises(MlflowException, match=r"\w") as info:
        call()  # type: ignore[operator]
    return str(info.value.error_code)


# autolog infers a model signature; MLflow warns that it cannot check an Any hint
@pytest.mark.filterwarnings("ignore:.*Any type hint")
def test_autolog_register_alias_and_load_by_alias(
    tracking_uri: str, server: LoopbackServer
) -> None:
    mlflow.set_experiment("iris-sk")
    mlflow.autolog(log_models=True, log_input_examples=False, silent=True)
    try:
        with mlflow.start_run() as run:
            model = LogisticRegression(C=0.5).fit(X, Y)
    finally:
        mlflow.autolog(disable=True)
    run_id = run.info.run_id
    client = MlflowClient()
    logged = client.get_run(run_id)
    assert logged.data.params["C"] == "0.5"
    assert "training_accuracy_score" in logged.data.metrics

    version = mlflow.register_model(f"runs:/{run_id}/model", "iris")
    assert version.version == "1" and version.run_id == run_id
    client.set_registered_model_alias("iris", "champion", "1")
    loaded = mlflow.pyfunc.load_model("models:/iris@champion")
    assert list(loaded.predict(X)) == list(model.predict(X))

    # the files are the run's artifacts in lablink too
    names = {a.name for a in server.lab.tracking.list_artifacts(run_id)}
    assert "model/MLmodel" in names
    assert server.lab.registry.by_alias("iris", "champion").run_id == run_id


@pytest.mark.filterwarnings("ignore:.*Any type hint")
def test_log_model_registers_through_a_logged_model(tracking_uri: str) -> None:
    with mlflow.start_run() as run:
        model = LogisticRegression().fit(X, Y)
        info = mlflow.sklearn.log_model(model, name="clf", registered_model_name="clf-reg")
    assert info.model_id.startswith("m-")
    client = MlflowClient()
    logged = client.get_logged_model(info.model_id)
    assert logged.source_run_id == run.info.run_id and logged.name == "clf"
    assert str(logged.status) in ("READY", "LoggedModelStatus.READY")
    found = client.search_logged_models([run.info.experiment_id], filter_string="name = 'clf'")
    assert [m.model_id for m in found] == [info.model_id]
    version = client.get_model_version("clf-reg", "1")
    assert version.source == f"models:/{info.model_id}"
    assert client.get_model_version_download_uri("clf-reg", "1").endswith(
        f"/{run.info.run_id}/artifacts/clf"
    )
    loaded = mlflow.pyfunc.load_model(f"models:/{info.model_id}")
    assert list(loaded.predict(X)) == list(model.predict(X))
    assert list(mlflow.pyfunc.load_model("models:/clf-reg/1").predict(X)) == list(Y)

    client.set_logged_model_tags(info.model_id, {"team": "nlp"})
    assert client.get_logged_model(info.model_id).tags["team"] == "nlp"
    client.delete_logged_model_tag(info.model_id, "team")
    assert "team" not in client.get_logged_model(info.model_id).tags
    assert error_code(lambda: client.get_logged_model("m-nope")) == "RESOURCE_DOES_NOT_EXIST"

    broken = client.create_logged_model(run.info.experiment_id, source_run_id=run.info.run_id)
    assert broken.name == "model" and broken.source_run_id == run.info.run_id
    failed = client.finalize_logged_model(broken.model_id, LoggedModelStatus.FAILED)
    assert failed.status == LoggedModelStatus.FAILED
    client.delete_logged_model(broken.model_id)
    assert error_code(lambda: client.get_logged_model(broken.model_id)) == (
        "RESOURCE_DOES_NOT_EXIST"
    )


def test_a_model_logged_outside_a_run_is_refused_clearly(tracking_uri: str) -> None:
    client = MlflowClient()
    with pytest.raises(MlflowException, match="inside a run") as info:
        client.create_logged_model("0", name="loose")
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"


# stages are deprecated in MLflow; clients still call them, so lablink serves them
@pytest.mark.filterwarnings("ignore:.*is deprecated since:FutureWarning")
def test_every_registry_call(tracking_uri: str) -> None:
    client = MlflowClient()
    with mlflow.start_run() as run:
        mlflow.log_text("weights", "net/weights.txt")
    rid = run.info.run_id
    created = client.create_registered_model("net", tags={"team": "cv"}, description="a net")
    assert created.name == "net" and created.tags == {"team": "cv"}
    assert created.description == "a net"

    v1 = client.create_model_version("net", f"runs:/{rid}/net", run_id=rid, tags={"k": "v"})
    v2 = client.create_model_version("net", f"runs:/{rid}/net", description="second")
    assert (v1.version, v2.version) == ("1", "2")
    assert v1.tags == {"k": "v"} and v2.description == "second" and v2.run_id == rid
    got = client.get_model_version("net", "1")
    assert got.source == f"runs:/{rid}/net" and got.current_stage == "None"
    uri = client.get_model_version_download_uri("net", "1")
    assert uri == f"mlflow-artifacts:/{run.info.experiment_id}/{rid}/artifacts/net"
    assert mlflow.artifacts.load_text("models:/net/1/weights.txt") == "weights"

    client.update_registered_model("net", description="better")
    assert client.get_registered_model("net").description == "better"
    client.update_model_version("net", "1", description="first")
    assert client.get_model_version("net", "1").description == "first"

    client.set_registered_model_tag("net", "owner", "ana")
    client.delete_registered_model_tag("net", "team")
    assert client.get_registered_model("net").tags == {"owner": "ana"}
    client.set_model_version_tag("net", "2", "ok", "yes")
    client.delete_model_version_tag("net", "1", "k")
    assert client.get_model_version("net", "2").tags == {"ok": "yes"}
    assert client.get_model_version("net", "1").tags == {}

    client.transition_model_version_stage("net", "1", "production")
    moved = client.transition_model_version_stage(
        "net", "2", "Production", archive_existing_versions=True
    )
    assert moved.current_stage == "Production"
    assert client.get_model_version("net", "1").current_stage == "Archived"
    latest = client.get_latest_versions("net", stages=["Production"])
    assert [v.version for v in latest] == ["2"]

    client.set_registered_model_alias("net", "prod", "1")
    client.set_registered_model_alias("net", "prod", "2")  # moves it
    assert client.get_model_version_by_alias("net", "prod").version == "2"
    assert client.get_registered_model("net").aliases == {"prod": "2"}
    client.delete_registered_model_alias("net", "prod")
    assert client.get_registered_model("net").aliases == {}

    client.create_registered_model("other")
    assert [m.name for m in client.search_registered_models(filter_string="name LIKE 'ne%'")] == [
        "net"
    ]
    assert [m.name for m in client.search_registered_models(max_results=1)] == ["net"]
    found = client.search_model_versions(f"name = 'net' and run_id = '{rid}'")
    assert sorted(v.version for v in found) == ["1", "2"]
    assert client.search_model_versions("tags.ok = 'yes'")[0].version == "2"
    newest = client.search_model_versions("name = 'net'", order_by=["version_number DESC"])
    assert [v.version for v in newest] == ["2", "1"]
    by_name = client.search_registered_models(order_by=["name DESC"])
    assert [m.name for m in by_name] == ["other", "net"]

    client.rename_registered_model("net", "net2")
    assert client.get_model_version("net2", "2").name == "net2"
    client.delete_model_version("net2", "1")
    assert [v.version for v in client.search_model_versions("name = 'net2'")] == ["2"]
    client.delete_registered_model("net2")
    assert [m.name for m in client.search_registered_models()] == ["other"]


@pytest.mark.filterwarnings("ignore:.*is deprecated since:FutureWarning")
def test_registry_errors_carry_mlflow_codes(tracking_uri: str) -> None:
    client = MlflowClient()
    with mlflow.start_run() as run:
        mlflow.log_text("w", "m/w.txt")
    rid = run.info.run_id
    client.create_registered_model("m")
    client.create_model_version("m", f"runs:/{rid}/m")
    cases = {
        "RESOURCE_ALREADY_EXISTS": [lambda: client.create_registered_model("m")],
        "RESOURCE_DOES_NOT_EXIST": [
            lambda: client.get_registered_model("nope"),
            lambda: client.get_model_version("m", "9"),
            lambda: client.get_model_version_by_alias("m", "nope"),
            lambda: client.delete_registered_model_alias("m", "nope"),
            lambda: client.create_model_version("m", "runs:/ffffffffffff/m"),
            lambda: client.create_model_version("nope", f"runs:/{rid}/m"),
            lambda: client.delete_registered_model("nope"),
        ],
        "INVALID_PARAMETER_VALUE": [
            lambda: client.create_registered_model(""),
            lambda: client.create_registered_model("a/b"),
            lambda: client.set_registered_model_alias("m", "v3", "1"),
            lambda: client.set_registered_model_alias("m", "latest", "1"),
            lambda: client.set_registered_model_alias("m", "has space", "1"),
            lambda: client.get_model_version("m", "one"),
            lambda: client.transition_model_version_stage("m", "1", "Live"),
            lambda: client.create_model_version("m", "s3://bucket/model"),
            lambda: client.search_registered_models(filter_string="name ~ 'x'"),
        ],
    }
    for code, calls in cases.items():
        for call in calls:
            assert error_code(call) == code
    assert client.create_model_version("m", f"runs:/{rid}/m").version == "2"


def test_hostile_registry_requests_get_mlflow_4xx_envelopes(
    tracking_uri: str, server: LoopbackServer
) -> None:
    import httpx

    api = "/api/2.0/mlflow"
    MlflowClient().create_registered_model("h")
    cases = [
        ("POST", "/registered-models/create", {"name": 5}),
        ("POST", "/registered-models/create", {"name": "x" * 300}),
        ("POST", "/registered-models/create", {"name": "t", "tags": "nope"}),
        ("POST", "/registered-models/create", {"name": "t", "tags": [{"key": 1}]}),
        ("GET", "/registered-models/get", {}),
        ("POST", "/registered-models/rename", {"name": "h", "new_name": ["x"]}),
        ("POST", "/registered-models/set-tag", {"name": "h", "key": "k", "value": 3}),
        ("POST", "/registered-models/alias", {"name": "h", "alias": {"a": 1}, "version": "1"}),
        ("POST", "/registered-models/alias", {"name": "h", "alias": "a", "version": "99"}),
        ("GET", "/registered-models/search", {"max_results": "0"}),
        ("GET", "/registered-models/search", {"page_token": "garbage"}),
        ("GET", "/registered-models/search", {"order_by": "tags.x nonsense words"}),
        ("POST", "/model-versions/create", {"name": "h"}),
        ("POST", "/model-versions/create", {"name": "h", "source": 7}),
        ("POST", "/model-versions/create", {"name": "h", "source": "runs:/"}),
        ("POST", "/model-versions/create", {"name": "h", "source": "models:/"}),
        ("POST", "/model-versions/create", {"name": "h", "source": "models:/h@"}),
        ("GET", "/model-versions/get", {"name": "h", "version": "-1"}),
        ("GET", "/model-versions/get", {"name": "h", "version": "9" * 30}),
        ("POST", "/model-versions/transition-stage", {"name": "h", "version": "1", "stage": 5}),
        ("GET", "/model-versions/search", {"filter": "name = "}),
        ("GET", "/model-versions/search", {"max_results": "-5"}),
        ("POST", "/logged-models", {"experiment_id": "0", "source_run_id": "nosuchrun"}),
        ("POST", "/logged-models", {"experiment_id": "x"}),
        ("PATCH", "/logged-models/m-nope", {"status": "LOGGED_MODEL_READY"}),
        ("POST", "/logged-models/search", {"experiment_ids": ["nope"]}),
    ]
    with httpx.Client(base_url=server.url + api, timeout=30) as http:
        for method, path, args in cases:
            if method == "GET":
                answer = http.request(method, path, params=args)
            else:
                answer = http.request(method, path, json=args)
            assert 400 <= answer.status_code < 500, (method, path, args, answer.text)
            assert answer.json()["error_code"] in (
                "INVALID_PARAMETER_VALUE",
                "RESOURCE_DOES_NOT_EXIST",
            ), (path, args, answer.text)
        raw = http.post(
            "/registered-models/create",
            content=b"{nope",
            headers={"content-type": "application/json"},
        )
        assert raw.status_code == 400 and raw.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert [m.name for m in MlflowClient().search_registered_models()] == ["h"]


def test_server_info_answers_the_client_at_start(server: LoopbackServer) -> None:
    import httpx

    info = httpx.get(f"{server.url}/api/3.0/mlflow/server-info", timeout=10)
    assert info.status_code == 200
    body = info.json()
    assert body["artifact_serving_enabled"] is True
    assert body["multipart_uploads_enabled"] is False and body["workspaces_enabled"] is False
