"""``lablink models ls|show`` on the embedded store and against a real server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from helpers import LoopbackServer, make_settings
from lablink.cli.main import app
from lablink.core.lab import Lab


def run_cli(env: dict[str, str], *args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(
        app, list(args), catch_exceptions=False, env={"COLUMNS": "200", **env}
    )
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    return result


def seed(lab: Lab) -> str:
    run = lab.tracking.create_run("ana", "vision", "trainer")
    lab.mlflow.put_artifact(run.id, "model/MLmodel", iter([b"flavors: {}\n"]))
    lab.registry.create("ana", "resnet", {"team": "cv"}, "a small net")
    lab.registry.create_version("ana", "resnet", f"runs:/{run.id}/model")
    lab.registry.create_version("ana", "resnet", f"runs:/{run.id}/model")
    lab.registry.set_alias("ana", "resnet", "prod", "1")
    lab.registry.create("ana", "empty")
    return run.id


def check(env: dict[str, str], run_id: str) -> None:
    listed = run_cli(env, "models", "ls").stdout
    assert "resnet" in listed and "v2" in listed and "@prod→v1" in listed and "vision" in listed
    as_json = json.loads(run_cli(env, "models", "ls", "--json").stdout)
    assert [m["name"] for m in as_json["models"]] == ["empty", "resnet"]
    shown = run_cli(env, "models", "show", "resnet").stdout
    assert "a small net" in shown and "@prod" in shown and run_id in shown
    detail = json.loads(run_cli(env, "models", "show", "resnet", "--json").stdout)
    assert [v["version"] for v in detail["versions"]] == [2, 1]
    assert detail["versions"][1]["aliases"] == ["prod"]
    assert detail["versions"][0]["path"] == "model" and detail["model"]["project"] == "vision"
    assert "no versions yet" in run_cli(env, "models", "show", "empty").stdout
    missing = run_cli(env, "models", "show", "nope", code=1)
    assert "registered model 'nope' not found" in missing.stderr
    bad = run_cli(env, "models", "show", "a/b", code=1)
    assert "invalid registered model name" in bad.stderr


def test_models_embedded(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    with Lab(make_settings(home)) as lab:
        run_id = seed(lab)
    check({"LABLINK_HOME": str(home)}, run_id)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_models_over_a_server(server: LoopbackServer, tmp_path: Path) -> None:
    run_id = seed(server.lab)
    check({"LABLINK_SERVER": server.url, "LABLINK_HOME": str(tmp_path / "client")}, run_id)


def test_no_models_yet(tmp_path: Path) -> None:
    out = run_cli({"LABLINK_HOME": str(tmp_path / "h")}, "models", "ls").stdout
    assert "no registered models yet" in out
