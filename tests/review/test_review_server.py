"""Reviews over a real server with auth on: two identities, the CLI and the SDK."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from reviewtools import add_version, make_people, split_folder

import lablink
from helpers import AppServer
from lablink.core.lab import Lab
from lablink.core.review_report import ReviewOptions
from lablink.core.reviews import Reviewer
from lablink.server.app import create_app
from lablink.server.auth import AuthConfig

SPLITS = "train=train/,val=val/"


class Team:
    """A server with auth required, and tokens for ana (author), kenji and mia."""

    def __init__(self, lab: Lab, url: str, tokens: dict[str, str]) -> None:
        self.lab, self.url, self.tokens = lab, url, tokens

    def cli(self, who: str, *args: str, code: int = 0) -> Any:
        from typer.testing import CliRunner

        from lablink.cli.main import app

        env = {
            "LABLINK_SERVER": self.url,
            "LABLINK_TOKEN": self.tokens[who],
            "LABLINK_HOME": str(Path(self.lab.settings.home) / f"client-{who}"),
            "COLUMNS": "200",
        }
        result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
        return result

    def api(self, who: str) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@pytest.fixture
def team(lab: Lab) -> Iterator[Team]:
    make_people(lab, "ana", "kenji", "mia")
    lab.people.add_user("root", "vic", "vic@lab.org")
    lab.people.grant("root", "vision", "vic", "viewer")
    tokens = {
        name: lab.people.create_token("root", name, "t", None, "member").secret
        for name in ("ana", "kenji", "mia", "vic")
    }
    with AppServer(create_app(lab, auth=AuthConfig("required"))).start() as srv:
        yield Team(lab, srv.url, tokens)
        srv.stop()


def _state(lab: Lab) -> str:
    reviews = lab.reviews.list(limit=1000)
    return json.dumps([r.to_dict() for r in reviews], sort_keys=True)


def test_two_identities_approve_and_the_author_is_refused(team: Team, tmp_path: Path) -> None:
    ref = add_version(team.lab, split_folder(tmp_path / "images"), "images", "ana")
    asked = team.cli("ana", "review", "request", ref, "--reviewer", "kenji", "--splits", SPLITS)
    assert "requested from kenji" in asked.stdout
    refused = team.cli("ana", "review", "approve", ref, code=1)
    assert "ana made images@v1 and cannot approve it" in refused.stderr
    team.cli("kenji", "review", "approve", ref, "--note", "checked the blank frames")
    again = team.cli("kenji", "review", "approve", ref, code=1)
    assert "kenji has already approved" in again.stderr
    shown = json.loads(team.cli("mia", "review", "show", ref, "--json").stdout)
    assert shown["state"] == "approved" and shown["approvers"] == ["kenji"]
    assert [(e["actor"], e["action"], e["verified"]) for e in shown["events"]] == [
        ("ana", "request", True),
        ("kenji", "approve", True),
    ]
    text = team.cli("mia", "review", "show", ref).stdout
    assert text.index("report") < text.index("leakage.exact") < text.index("discussion")
    listed = json.loads(team.cli("kenji", "review", "ls", "--mine", "--json").stdout)
    assert [r["ref"] for r in listed["reviews"]] == [ref]


def test_bad_input_is_refused_and_changes_nothing(team: Team, tmp_path: Path) -> None:
    ref = add_version(team.lab, split_folder(tmp_path / "images"), "images", "ana")
    before = _state(team.lab)
    cases = [
        (("review", "request", "images@v9"), "images"),
        (("review", "request", ref, "--splits", "test=test/"), "test"),
        (("review", "request", ref, "--key", "subject"), "subject"),
        (("review", "request", ref, "--reviewer", "zoe"), "'zoe' is not known"),
        (("review", "request", ref, "--splits", "train"), "NAME=PATH"),
        (("review", "approve", ref), "has no review"),
    ]
    for args, message in cases:
        result = team.cli("ana", *args, code=1)
        assert message in result.stderr, (args, result.stderr)
        assert _state(team.lab) == before, args
    team.cli("ana", "review", "request", ref, "--reviewer", "kenji")
    before = _state(team.lab)
    assert "mia is not a reviewer" in team.cli("mia", "review", "approve", ref, code=1).stderr
    assert "ana made" in team.cli("ana", "review", "reject", ref, "-m", "no", code=1).stderr
    with team.api("vic") as vic:  # a viewer reads, but may not decide or comment
        assert vic.get("/api/v1/datasets/images/versions/v1/review").status_code == 200
        answer = vic.post("/api/v1/datasets/images/versions/v1/review/comment", json={"note": "x"})
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "forbidden"
    assert _state(team.lab) == before
    team.cli("mia", "review", "comment", ref, "val/img900.bin is a copy")
    team.cli("kenji", "review", "reject", ref, "--note", "train/val leak")
    assert "was rejected" in team.cli("kenji", "review", "approve", ref, code=1).stderr


def test_require_review_refuses_an_unapproved_version(
    team: Team, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = add_version(team.lab, split_folder(tmp_path / "images"), "images", "ana")
    monkeypatch.setenv("LABLINK_HOME", str(tmp_path / "client"))
    options = {"server": team.url, "token": team.tokens["mia"]}
    with pytest.raises(lablink.DatasetNotApproved, match="images@v1 has not been reviewed") as e:
        lablink.dataset(ref, require_review=True, **options)
    assert "lablink review request images@v1" in (e.value.hint or "")
    team.cli("ana", "review", "request", ref, "--reviewer", "kenji")
    with pytest.raises(lablink.DatasetNotApproved, match="its review is pending"):
        lablink.dataset(ref, require_review=True, **options)
    team.cli("kenji", "review", "approve", ref)
    assert lablink.dataset(ref, require_review=True, **options).ref == ref


def test_a_server_without_auth_refuses_decisions(lab: Lab, tmp_path: Path) -> None:
    make_people(lab, "kenji")
    ref = add_version(lab, split_folder(tmp_path / "images"), "images", "ana")
    lab.reviews.request(Reviewer("ana"), ref, ReviewOptions())
    with AppServer(create_app(lab)).start() as srv, httpx.Client(base_url=srv.url) as client:
        answer = client.post(
            "/api/v1/datasets/images/versions/v1/review/approve",
            json={},
            headers={"X-Lablink-User": "kenji"},
        )
        srv.stop()
    assert answer.status_code == 403
    assert "knows who is calling" in answer.json()["error"]["message"]
    assert lab.reviews.get(ref).state == "pending"
