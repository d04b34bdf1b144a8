"""Dataset version aliases (``images@prod``): set, move, delete, resolve, bad input; on
the embedded store and over a real server, with roles checked."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

import lablink
from helpers import AppServer, LoopbackServer, make_settings
from lablink.cli.main import app
from lablink.core.lab import Lab
from lablink.errors import InvalidInput, NotFound
from lablink.server.app import create_app
from lablink.server.auth import AuthConfig


class Cli:
    def __init__(self, env: dict[str, str]) -> None:
        self.runner = CliRunner()
        self.env = {"COLUMNS": "200", **env}

    def __call__(self, *args: str, code: int = 0) -> Result:
        result = self.runner.invoke(app, list(args), catch_exceptions=False, env=self.env)
        assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
        return result


def two_versions(cli: Cli, work: Path) -> None:
    src = work / "images"
    src.mkdir()
    (src / "a.txt").write_text("one")
    cli("data", "add", str(src), "-n", "images")
    (src / "b.txt").write_text("two")
    cli("data", "add", str(src), "-n", "images")


def check_aliases(cli: Cli, env_server: dict[str, str]) -> None:
    """The same story on either transport."""
    set_ = json.loads(cli("data", "alias", "images@v1", "prod", "--json").stdout)
    assert set_ == {"dataset": "images", "alias": "prod", "version": 1, "previous": None}
    shown = json.loads(cli("data", "show", "images@prod", "--json").stdout)
    assert shown["version"]["version"] == 1 and shown["aliases"] == ["prod"]
    moved = cli("data", "alias", "images@v2", "prod")
    assert "images@prod -> v2 (moved from v1)" in moved.stdout
    assert "aliases     prod" in cli("data", "show", "images@prod").stdout
    cli("data", "alias", "images@prod", "best")  # an alias of an alias: the version
    assert "@best, @prod" in cli("data", "log", "images").stdout
    found = lablink.dataset("images@best", record=False, **env_server)
    assert found.info.version == 2
    assert lablink.dataset("images@prod", record=False, **env_server).info.version == 2

    removed = cli("data", "alias", "images", "best", "--delete")
    assert "removed images@best (was v2)" in removed.stdout
    gone = cli("data", "show", "images@best", code=1)
    assert "has no version aliased 'best'" in gone.stderr

    for args, message in [
        (("images@v1", "v3"), "looks like a version"),
        (("images@v1", "7"), "looks like a version"),
        (("images@v1", "latest"), "reserved"),
        (("images@v1", "deadbeef00"), "looks like a digest"),
        (("images@v1", "two words"), "invalid alias"),
        (("images@v9", "prod"), "does not exist|no version"),
        (("nothing@v1", "prod"), "no dataset named 'nothing'"),
        (("images", "prod"), "name the version to alias"),
    ]:
        bad = cli("data", "alias", *args, code=1)
        assert any(m in bad.stderr for m in message.split("|")), (args, bad.stderr)
    missing = cli("data", "alias", "images", "nope", "--delete", code=1)
    assert "no alias 'nope'" in missing.stderr


def test_aliases_embedded(tmp_path: Path, work: Path) -> None:
    home = tmp_path / "home"
    cli = Cli({"LABLINK_HOME": str(home)})
    two_versions(cli, work)
    check_aliases(cli, {"home": str(home)})
    with Lab(make_settings(home)) as lab:
        moves = lab.dataset_aliases.moves("images")
    assert [(m.alias, m.previous, m.version) for m in moves][:3] == [
        ("best", 2, None),
        ("best", None, 2),
        ("prod", 1, 2),
    ]
    assert {m.actor for m in moves} == {"tester@example.org"}


def test_aliases_over_a_server(server: LoopbackServer, tmp_path: Path, work: Path) -> None:
    cli = Cli({"LABLINK_SERVER": server.url, "LABLINK_HOME": str(tmp_path / "client")})
    two_versions(cli, work)
    check_aliases(cli, {"server": server.url, "home": str(tmp_path / "client")})
    listed = httpx.get(f"{server.url}/api/v1/datasets/images/aliases").json()
    assert [a["alias"] for a in listed["aliases"]] == ["prod"]
    assert listed["moves"][0]["alias"] == "best" and listed["moves"][0]["version"] is None
    page = httpx.get(f"{server.url}/datasets/images").text
    assert "@prod" in page and "deleted" in page and "tester@example.org" in page


def test_the_core_names_bad_input(lab: Lab) -> None:
    with pytest.raises(NotFound, match="no dataset named"):
        lab.dataset_aliases.set("me", "ghost@v1", "prod")
    with pytest.raises(InvalidInput, match="bare digest"):
        lab.dataset_aliases.set("me", "blake3:0123456789abcdef", "prod")
    with pytest.raises(InvalidInput, match="looks like a version"):
        lab.dataset_aliases.set("me", "ghost@v1", "V2")


@pytest.fixture
def secured(lab: Lab) -> Iterator[tuple[str, dict[str, str]]]:
    people = lab.people
    tokens = {}
    for name in ("mia", "kenji"):
        people.add_user("root", name, f"{name}@lab.org")
        tokens[name] = people.create_token("root", name, "laptop", None, "member").secret
    lab.tracking.create_run("mia", "vision", "baseline")
    people.grant("root", "vision", "mia", "member")
    people.grant("root", "vision", "kenji", "viewer")
    srv = AppServer(create_app(lab, auth=AuthConfig("required"))).start()
    yield srv.url, tokens
    srv.stop()


def test_members_move_aliases_viewers_read_them(
    secured: tuple[str, dict[str, str]], tmp_path: Path, work: Path
) -> None:
    url, tokens = secured
    mia = Cli(
        {
            "LABLINK_SERVER": url,
            "LABLINK_TOKEN": tokens["mia"],
            "LABLINK_HOME": str(tmp_path / "mia"),
        }
    )
    two_versions(mia, work)
    mia("data", "alias", "images@v1", "prod")
    api = f"{url}/api/v1/datasets/images/aliases"
    kenji = {"Authorization": f"Bearer {tokens['kenji']}"}
    assert httpx.get(api, headers=kenji).json()["moves"][0]["actor"] == "mia"
    refused = httpx.post(api, json={"alias": "prod", "version": "v2"}, headers=kenji)
    assert refused.status_code == 403 and "not a member" in refused.json()["error"]["message"]
    refused = httpx.delete(f"{api}/prod", headers=kenji)
    assert refused.status_code == 403
    assert httpx.get(api).status_code == 401
