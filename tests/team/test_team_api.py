"""The team and on-call API on a real server with auth on (issue 20): any signed-in user
reads, only a server admin writes, and the CLI's ``--server`` mode goes through it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import icalendar
import pytest
from typer.testing import CliRunner

from helpers import AppServer
from lablink.cli.main import app
from lablink.core.lab import Lab
from lablink.server.app import create_app
from lablink.server.auth import AuthConfig

API = "/api/v1"
ANA = {"tz": "Europe/London", "hours": ["09:00-17:30"], "focus": ["Tue 13:00-16:00"],
       "contacts": ["json://hooks.lab.org/secret-path"], "email": "ana@lab.org"}  # fmt: skip


@pytest.fixture
def server(lab: Lab) -> Iterator[tuple[str, str, str]]:
    """A server with auth required: its URL, a server admin's token, a member's token."""
    lab.people.add_user("root", "root", "root@lab.org", admin=True)
    lab.people.add_user("root", "ben", "ben@lab.org")
    admin = lab.people.create_token("root", "root", "t", None, "admin").secret
    member = lab.people.create_token("root", "ben", "t", None, "member").secret
    with AppServer(create_app(lab, auth=AuthConfig("required"))).start() as srv:
        yield srv.url, admin, member
        srv.stop()


def client(url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=url + API, headers={"Authorization": f"Bearer {token}"})


def test_members_read_admins_write(server: tuple[str, str, str]) -> None:
    url, admin, member = server
    with (
        client(url, admin) as root,
        client(url, member) as ben,
        httpx.Client(base_url=url + API) as anon,
    ):
        assert root.put("/team/ana", json=ANA).status_code == 200
        refused = ben.put("/team/ben", json={**ANA, "email": None})
        assert refused.status_code == 403 and "server admin" in refused.json()["error"]["message"]
        assert anon.get("/team").status_code == 401
        [ana] = ben.get("/team").json()["members"]
        assert ana["name"] == "ana" and ana["state"] in ("working", "focus", "off", "away")
        assert "secret-path" not in json.dumps(ana)  # contacts leave the server masked
        put = root.put(
            "/oncall/rotations/research", json={"members": ["ana"], "escalate_after": "5m"}
        )
        assert put.status_code == 200, put.text
        assert ben.put("/oncall/rotations/x", json={"members": ["ana"]}).status_code == 403
        assert (
            ben.post(
                "/oncall/overrides", json={"person": "ana", "start": "now", "end": "now"}
            ).status_code
            == 403
        )
        assert ben.delete("/team/ana").status_code == 403
        [now] = ben.get("/oncall/now").json()["rotations"]
        assert now["now"]["person"] == "ana"
        ics = ben.get("/oncall/rotations/research/ics", params={"weeks": 2})
        assert ics.headers["content-type"].startswith("text/calendar")
        assert len(list(icalendar.Calendar.from_ical(ics.content).walk("VEVENT"))) >= 1
        overlap = ben.get("/team/overlap", params={"week": "2026-W50"}).json()
        assert overlap["slots"][0]["local"]["ana"] == "Mon 09:00-17:30 GMT"


def test_the_cli_talks_to_the_server_with_server(
    server: tuple[str, str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, admin, member = server
    monkeypatch.chdir(tmp_path)

    def lablink(token: str, *args: str, code: int = 0) -> str:
        found = CliRunner().invoke(
            app, ["--server", url, "--token", token, *args], catch_exceptions=False
        )
        assert found.exit_code == code, found.output
        return found.output

    lablink(admin, "team", "add", "kenji", "--tz", "Asia/Tokyo", "--hours", "09:00-18:00",
            "--email", "kenji@lab.org")  # fmt: skip
    assert "server admin" in lablink(
        member, "team", "add", "ben", "--tz", "UTC", "--hours", "09:00-17:00", code=1
    )
    assert "tz:" in lablink(
        admin, "team", "add", "kenji", "--tz", "Tokio", "--hours", "09:00-18:00", code=1
    )
    assert json.loads(lablink(member, "team", "show", "kenji", "--json"))["tz"] == "Asia/Tokyo"
    lablink(
        admin,
        "oncall",
        "rotation",
        "create",
        "ops",
        "--members",
        "kenji",
        "--daily",
        "--handoff",
        "09:00",
    )
    assert "ops: kenji" in lablink(member, "oncall", "now")
    out = tmp_path / "ops.ics"
    lablink(member, "oncall", "export", "ops", "--ics", str(out), "--weeks", "1")
    assert len(list(icalendar.Calendar.from_ical(out.read_bytes()).walk("VEVENT"))) >= 1
