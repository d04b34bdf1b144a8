"""``--auth required`` and ``--auth proxy`` on a real server, over SQLite and PostgreSQL.

The people (an admin, a viewer and a member of ``vision``, a member of ``audio`` only,
one with no grant at all) and their tokens are made through ``lab.people``; every
request then goes over HTTP with a token, as a teammate's SDK would send it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from apitools import API, SseReader, assert_envelope, assert_only_this_stream_ends

from helpers import AppServer, Loopback
from lablink.core.lab import Lab
from lablink.server.access import rule
from lablink.server.app import create_app
from lablink.server.auth import AuthConfig
from lablink.settings import Settings


class Clock:
    """Time that passes only when the test says so (token expiry without sleeping)."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Team:
    lab: Lab
    clock: Clock
    tokens: dict[str, str]
    vision_run: str
    audio_run: str


def make_team(lab: Lab) -> Team:
    clock = Clock()
    people = lab.people
    people.clock = clock
    tokens: dict[str, str] = {}
    for name, admin in (("ana", True), ("kenji", False), ("mia", False), ("lee", False)):
        people.add_user("root", name, f"{name}@lab.org", admin=admin)
        role = "admin" if admin else "member"
        tokens[name] = people.create_token("root", name, "laptop", None, role).secret
    people.add_user("root", "nobody", "nobody@lab.org")
    tokens["nobody"] = people.create_token("root", "nobody", "laptop").secret
    vision = lab.tracking.create_run("ana", "vision", "baseline").id
    audio = lab.tracking.create_run("ana", "audio", "whisper").id
    people.grant("root", "vision", "kenji", "viewer")
    people.grant("root", "vision", "mia", "member")
    people.grant("root", "audio", "lee", "member")
    return Team(lab, clock, tokens, vision, audio)


@pytest.fixture
def team(lab: Lab) -> Team:
    return make_team(lab)


@pytest.fixture(scope="module")
def module_team(module_lab: Lab) -> Team:
    """``team`` once per module and backend, for cases that change nothing."""
    return make_team(module_lab)


@pytest.fixture(scope="module")
def module_server(module_team: Team) -> Iterator[AppServer]:
    yield from served(module_team.lab, AuthConfig("required"))


@pytest.fixture(scope="module")
def module_addresses() -> Loopback:
    """Fresh client addresses for the cases sharing ``module_server``."""
    return Loopback(block=8)


def served(lab: Lab, config: AuthConfig) -> Iterator[AppServer]:
    srv = AppServer(create_app(lab, auth=config)).start()
    yield srv
    srv.stop()


@pytest.fixture
def server(team: Team) -> Iterator[AppServer]:
    yield from served(team.lab, AuthConfig("required"))


@pytest.fixture
def as_user(server: AppServer, team: Team) -> Iterator[dict[str, httpx.Client]]:
    clients = {
        name: httpx.Client(
            base_url=server.url, timeout=10, headers={"Authorization": f"Bearer {token}"}
        )
        for name, token in team.tokens.items()
    }
    clients["anonymous"] = httpx.Client(base_url=server.url, timeout=10)
    yield clients
    for client in clients.values():
        client.close()


def note(client: httpx.Client, run_id: str, text: str = "looks good") -> httpx.Response:
    return client.post(f"{API}/runs/{run_id}/notes", json={"text": text})


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Basic YW5hOnNlY3JldA==",
        "Bearer",
        "Bearer not-a-lablink-token",
        "Bearer ll_abcdefgh_" + "x" * 43,
    ],
    ids=["none", "basic", "empty", "malformed", "unknown"],
)
def test_a_call_without_a_valid_token_is_401_and_changes_nothing(
    module_server: AppServer,
    module_team: Team,
    module_addresses: Loopback,
    authorization: str | None,
) -> None:
    # One server for all cases, each from its own address: bad tokens count per address,
    # so no case's refusals bring another's address nearer its lock.
    server, team = module_server, module_team
    headers = {"Authorization": authorization} if authorization else {}
    local = httpx.HTTPTransport(local_address=module_addresses.next())
    with httpx.Client(base_url=server.url, timeout=10, headers=headers, transport=local) as client:
        for response in (
            client.get(f"{API}/runs/{team.vision_run}"),
            note(client, team.vision_run),
            client.get(f"{API}/projects"),
        ):
            assert_envelope(response, 401, "unauthorized")
            assert response.headers["www-authenticate"] == "Bearer"
    assert team.lab.tracking.get_run(team.vision_run).notes == []


def test_expired_revoked_and_disabled_tokens_are_refused(
    as_user: dict[str, httpx.Client], team: Team
) -> None:
    people = team.lab.people
    brief = people.create_token("root", "mia", "brief", None, "member", expires_in=60)
    with httpx.Client(
        base_url=str(as_user["mia"].base_url), headers={"Authorization": f"Bearer {brief.secret}"}
    ) as client:
        assert client.get(f"{API}/runs/{team.vision_run}").status_code == 200
        team.clock.now += 61
        refused = client.get(f"{API}/runs/{team.vision_run}")
        assert_envelope(refused, 401, "unauthorized")
        assert "expired" in refused.json()["error"]["message"]

    assert as_user["mia"].get(f"{API}/projects").status_code == 200
    people.revoke_token("root", people.list_tokens("mia")[-1].id)
    assert "revoked" in as_user["mia"].get(f"{API}/projects").json()["error"]["message"]

    people.disable("root", "kenji")
    assert_envelope(as_user["kenji"].get(f"{API}/projects"), 401, "unauthorized")
    refusals = people.audit_log(action="token.refused")
    assert len(refusals) == 3


def test_a_viewer_reads_but_may_not_write(as_user: dict[str, httpx.Client], team: Team) -> None:
    kenji = as_user["kenji"]
    assert kenji.get(f"{API}/runs/{team.vision_run}").json()["id"] == team.vision_run
    assert kenji.get(f"{API}/runs", params={"project": "vision"}).json()["total"] == 1
    for response in (
        note(kenji, team.vision_run),
        kenji.post(f"{API}/runs/{team.vision_run}/tags", json={"add": ["best"]}),
        kenji.post(f"{API}/runs", json={"project": "vision", "name": "mine"}),
        kenji.post(f"{API}/runs/batch", json={"runs": [{"project": "vision"}]}),
    ):
        assert_envelope(response, 403, "forbidden")
    run = team.lab.tracking.get_run(team.vision_run)
    assert run.notes == [] and run.tags == []


def test_without_a_grant_a_project_and_its_runs_do_not_exist(
    as_user: dict[str, httpx.Client], team: Team
) -> None:
    lee = as_user["lee"]
    for response in (
        lee.get(f"{API}/runs/{team.vision_run}"),
        lee.get(f"{API}/runs/{team.vision_run[:8]}"),
        lee.get(f"{API}/runs/{team.vision_run}/artifacts"),
        note(lee, team.vision_run),
        lee.get(f"{API}/runs", params={"project": "vision"}),
        lee.get(f"{API}/compare", params={"run": [team.vision_run, team.audio_run]}),
        lee.get(f"{API}/projects/vision/events"),
        # one run of a hidden project refuses the whole batch
        lee.post(f"{API}/runs/batch", json={"runs": [{"project": "audio"}, {"project": "vision"}]}),
    ):
        assert_envelope(response, 404, "not_found")
    assert [p["name"] for p in lee.get(f"{API}/projects").json()["projects"]] == ["audio"]
    assert_envelope(lee.get(f"{API}/runs"), 400, "bad_request")
    assert lee.get(f"{API}/runs/{team.audio_run}").status_code == 200
    ana = as_user["ana"]
    assert ana.get(f"{API}/runs").json()["total"] == 2
    assert {p["name"] for p in ana.get(f"{API}/projects").json()["projects"]} == {
        "audio",
        "vision",
    }


def test_writes_are_recorded_under_the_tokens_user(
    as_user: dict[str, httpx.Client], team: Team
) -> None:
    mia = as_user["mia"]
    created = mia.post(f"{API}/runs", json={"project": "vision", "name": "mine"})
    assert created.status_code == 201 and created.json()["user"] == "mia"
    assert note(mia, team.vision_run).json()["notes"][-1]["author"] == "mia"
    spoofed = mia.post(
        f"{API}/runs/{team.vision_run}/notes",
        json={"text": "as ana"},
        headers={"X-Lablink-User": "ana"},
    )
    assert_envelope(spoofed, 400, "bad_request")
    assert "X-Lablink-User" in spoofed.json()["error"]["message"]
    authors = [n.author for n in team.lab.tracking.get_run(team.vision_run).notes]
    assert team.lab.tracking.get_run(created.json()["id"]).user == "mia"
    assert authors == ["mia"]
    batch = mia.post(f"{API}/runs/batch", json={"runs": [{"project": "vision"}] * 2})
    assert batch.status_code == 201 and len(batch.json()["ids"]) == 2
    assert {team.lab.tracking.get_run(i).user for i in batch.json()["ids"]} == {"mia"}


def test_shared_resources_need_a_role_in_some_project(as_user: dict[str, httpx.Client]) -> None:
    assert as_user["lee"].get(f"{API}/datasets").status_code == 200
    assert as_user["kenji"].get(f"{API}/schemas").status_code == 200
    assert_envelope(as_user["nobody"].get(f"{API}/datasets"), 403, "forbidden")
    missing = as_user["kenji"].post(f"{API}/blobs/missing", json={"digests": []})
    assert missing.status_code == 200, missing.text


def test_the_event_stream_carries_only_readable_projects(
    as_user: dict[str, httpx.Client], team: Team
) -> None:
    with as_user["lee"].stream("GET", f"{API}/events") as response:
        stream = SseReader(response)
        stream.wait_comment("ready")
        as_user["ana"].post(f"{API}/runs", json={"project": "vision", "name": "hidden"})
        shown = as_user["ana"].post(f"{API}/runs", json={"project": "audio", "name": "shown"})
        event = stream.next_event()
        assert event.data["project"] == "audio"
        assert event.data["run_id"] == shown.json()["id"]


@pytest.fixture
def quick_credential_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Streams read their token every 50 ms (the server runs in this process)."""
    from lablink.server.api import events

    monkeypatch.setattr(events, "CREDENTIAL_CHECK_SECONDS", 0.05)


def bearer(server: AppServer, secret: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, timeout=10, headers={"Authorization": f"Bearer {secret}"}
    )


@pytest.mark.usefixtures("quick_credential_checks")
def test_revoking_a_token_ends_its_live_stream_only(server: AppServer, team: Team) -> None:
    people = team.lab.people
    desk = people.create_token("root", "lee", "desk", None, "member")
    with (
        bearer(server, team.tokens["lee"]) as laptop,
        bearer(server, desk.secret) as other,
        laptop.stream("GET", f"{API}/events") as response,
        other.stream("GET", f"{API}/events", params={"project": "audio"}) as kept,
    ):
        # the laptop's token ends; the same user's other token goes on
        laptop_token = people.list_tokens("lee")[-1].id
        assert_only_this_stream_ends(
            team.lab,
            response,
            kept,
            lambda: people.revoke_token("root", laptop_token),
            "token ended",
        )


@pytest.mark.parametrize("end", ["expired", "disabled"])
@pytest.mark.usefixtures("quick_credential_checks")
def test_an_expired_token_or_disabled_user_ends_the_live_stream(
    server: AppServer, team: Team, end: str
) -> None:
    brief = team.lab.people.create_token("root", "lee", "brief", None, "member", expires_in=60)
    with bearer(server, brief.secret) as lee, lee.stream("GET", f"{API}/events") as response:
        stream = SseReader(response)
        stream.wait_comment("ready")
        if end == "expired":
            team.clock.now += 61
        else:
            team.lab.people.disable("root", "lee")
        stream.wait_comment("token ended")
        with pytest.raises(AssertionError, match="the event stream ended"):
            stream.next_event()


def test_a_project_token_is_held_to_its_project_and_role(server: AppServer, team: Team) -> None:
    scoped = team.lab.people.create_token("root", "ana", "ci", "audio", "viewer").secret
    with httpx.Client(
        base_url=server.url, timeout=10, headers={"Authorization": f"Bearer {scoped}"}
    ) as ci:
        assert_envelope(ci.get(f"{API}/runs/{team.vision_run}"), 404, "not_found")
        assert ci.get(f"{API}/runs").json()["total"] == 1  # its project by default
        assert_envelope(note(ci, team.audio_run), 403, "forbidden")


def test_every_api_route_has_an_access_rule(lab: Lab) -> None:
    """From the app's own spec, so a new route cannot escape the rules."""
    spec = create_app(lab, auth=AuthConfig("required")).openapi()
    checked = 0
    for path, operations in spec["paths"].items():
        if not path.startswith(API + "/"):
            continue
        for method in operations:
            params = set(re.findall(r"{(\w+)}", path))
            assert rule(method.upper(), path, params) is not None, (method, path)
            checked += 1
    assert checked > 40


@pytest.mark.parametrize("trusted", ["127.0.0.1", "10.9.8.7"])
def test_proxy_mode_believes_the_header_only_from_a_trusted_proxy(team: Team, trusted: str) -> None:
    for srv in served(team.lab, AuthConfig("proxy", "X-Forwarded-User", (trusted,))):
        with httpx.Client(base_url=srv.url, timeout=10) as client:
            as_mia = {"X-Forwarded-User": "mia"}
            answer = client.post(
                f"{API}/runs/{team.vision_run}/notes", json={"text": "hi"}, headers=as_mia
            )
            if trusted == "127.0.0.1":
                assert answer.json()["notes"][-1]["author"] == "mia"
                unknown = client.get(f"{API}/projects", headers={"X-Forwarded-User": "eve"})
                assert_envelope(unknown, 401, "unauthorized")
                assert_envelope(client.get(f"{API}/projects"), 401, "unauthorized")
            else:
                assert_envelope(answer, 401, "unauthorized")
                token = {"Authorization": f"Bearer {team.tokens['mia']}"}
                assert client.get(f"{API}/projects", headers=token).status_code == 200


def test_auth_off_keeps_the_shared_token_and_the_user_header(lab: Lab, team: Team) -> None:
    for srv in served(lab, AuthConfig("off")):
        with httpx.Client(base_url=srv.url, timeout=10) as client:
            answer = client.post(
                f"{API}/runs/{team.vision_run}/notes",
                json={"text": "hi"},
                headers={"X-Lablink-User": "someone"},
            )
            assert answer.json()["notes"][-1]["author"] == "someone"


def test_login_keeps_a_private_token_that_the_sdk_then_writes_with(
    server: AppServer, team: Team, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from lablink.cli.main import app
    from lablink.sdk.http import HttpTransport

    config = tmp_path / "user" / "config.toml"
    config.parent.mkdir()
    config.write_text('user = "someone"\n\n[data]\nendpoints = ["http://edge:8500"]\n')
    env = {"LABLINK_CONFIG": str(config), "COLUMNS": "200"}
    runner = CliRunner()
    bad = runner.invoke(
        app, ["login", "--server", server.url, "--token", "ll_abcdefgh_" + "x" * 43], env=env
    )
    assert bad.exit_code == 1 and "unknown token" in bad.stderr
    token = team.tokens["mia"]
    done = runner.invoke(
        app, ["login", "--server", server.url, "--token", "-"], input=token + "\n", env=env
    )
    assert done.exit_code == 0, done.stderr
    assert config.stat().st_mode & 0o777 == 0o600
    settings = Settings.load(environ={"LABLINK_CONFIG": str(config)}, cwd=tmp_path)
    assert (settings.server, settings.token, settings.user) == (server.url, token, "someone")
    transport = HttpTransport(settings)
    try:
        run = transport.create_run("vision", "from the sdk", {}, (), None, {})
        assert run.user == "mia"
    finally:
        transport.close()
