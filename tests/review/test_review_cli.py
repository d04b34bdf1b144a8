"""The CLI on an embedded store: the single-user warning, and `lablink launch --data`
refusing unapproved data under the team rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from reviewtools import split_folder

from lablink.core.lab import Lab
from lablink.settings import Settings


def cli(*args: str, code: int = 0) -> Any:
    from typer.testing import CliRunner

    from lablink.cli.main import app

    result = CliRunner().invoke(app, list(args), catch_exceptions=False, env={"COLUMNS": "200"})
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    return result


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "repo"
    folder.mkdir()
    (folder / "lablink.toml").write_text("[data]\nrequire_review = true\n")
    monkeypatch.chdir(folder)
    monkeypatch.setenv("LABLINK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LABLINK_USER", "ana")
    return folder


def test_embedded_review_and_launch_under_the_team_rule(repo: Path, tmp_path: Path) -> None:
    cli("data", "add", str(split_folder(tmp_path / "images")), "--name", "images")
    refused = cli("launch", "-p", "train", "--data", "images@v1", "--", "true", code=1)
    assert "images@v1 has not been reviewed" in refused.stderr
    assert "lablink review request images@v1" in refused.stderr
    with Lab(Settings.load()) as lab:
        assert lab.tracking.list_projects() == []  # no run was started
    asked = cli("review", "request", "images@v1", "--splits", "train=train/,val=val/")
    assert "requested from any member" in asked.stdout
    shown = cli("review", "show", "images@v1").stdout
    assert "pending" in shown and "leakage.exact" in shown and "fail" in shown
    cli("review", "comment", "images@v1", "val/img900.bin repeats train/img003.bin")
    approved = cli("review", "approve", "images@v1", "--note", "known duplicate")
    assert "no second person" in approved.stderr  # nobody proves who approved
    listed = json.loads(cli("review", "ls", "--json").stdout)["reviews"]
    assert [(r["ref"], r["state"]) for r in listed] == [("images@v1", "approved")]
    assert cli("review", "ls", "--pending").stdout.strip() == "no pending reviews"
    cli("launch", "-p", "train", "--data", "images@v1", "--", "true")
    cli("review", "revoke", "images@v1", "--note", "found a blank frame")
    again = cli("launch", "-p", "train", "--data", "images@v1", "--", "true", code=1)
    assert "its review is revoked" in again.stderr
    reject = cli("review", "reject", "images@v1", code=2)  # --note is required
    assert "--note" in reject.stderr


def test_every_review_route_is_in_docs_data_md() -> None:
    import re

    from fastapi.routing import APIRoute

    from lablink.server.api import PREFIX
    from lablink.server.api.reviews import router

    docs = Path(__file__).parents[2] / "docs" / "data.md"
    text = re.sub(r"\{[^}]*\}", "{}", docs.read_text(encoding="utf-8"))
    paths = [PREFIX + r.path for r in router.routes if isinstance(r, APIRoute)]
    undocumented = [p for p in paths if re.sub(r"\{[^}]*\}", "{}", p) not in text]
    assert len(paths) >= 7 and undocumented == []
