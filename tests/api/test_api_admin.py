# ruff: noqa: F811  (the team fixtures of test_api_auth.py are imported, then taken as arguments)
"""The people admin API on a real server with ``--auth required``, SQLite and PostgreSQL.

Uses the team of ``test_api_auth.py``: ana (server admin), kenji (viewer of vision),
mia (member of vision), lee (member of audio), nobody (no grant); mia is also made
admin of vision here where a test needs a project admin.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from apitools import API, assert_envelope
from test_api_auth import Team, as_user, served, server, team  # noqa: F401  (fixtures)

from helpers import AppServer
from lablink.core.guard import Guard, Limits
from lablink.core.lab import Lab
from lablink.server.auth import AuthConfig

Clients = dict[str, httpx.Client]


def test_no_credential_is_401_and_a_member_is_403(as_user: Clients) -> None:
    for path in ("/admin/users", "/admin/tokens", "/admin/audit", "/admin/grants", "/me"):
        assert_envelope(as_user["anonymous"].get(API + path), 401, "unauthorized")
    for path in ("/admin/users", "/admin/tokens", "/admin/audit", "/admin/grants"):
        assert_envelope(as_user["mia"].get(API + path), 403, "forbidden")
    refused = as_user["mia"].post(f"{API}/admin/users", json={"name": "eve", "email": "e@x.org"})
    assert_envelope(refused, 403, "forbidden")
    assert as_user["ana"].get(f"{API}/me").json()["is_admin"] is True


def test_an_admin_adds_a_user_whose_first_token_works_then_disables_them(
    as_user: Clients, team: Team, server: AppServer
) -> None:
    ana = as_user["ana"]
    added = ana.post(f"{API}/admin/users", json={"name": "zoe", "email": "zoe@lab.org"})
    assert added.status_code == 201, added.text
    body = added.json()
    assert body["user"]["name"] == "zoe" and body["token"]["secret"].startswith("ll_")
    assert [u["name"] for u in ana.get(f"{API}/admin/users").json()["users"]].count("zoe") == 1
    listed = ana.get(f"{API}/admin/tokens", params={"user": "zoe"}).json()["tokens"]
    assert "secret" not in listed[0] and listed[0]["name"] == "initial"
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {body['token']['secret']}"}
    ) as zoe:
        assert zoe.get(f"{API}/me").json()["user"] == "zoe"
        assert ana.post(f"{API}/admin/users/zoe/disable", json={}).json()["disabled"] is True
        assert_envelope(zoe.get(f"{API}/me"), 401, "unauthorized")  # at once, despite the cache
        ana.post(f"{API}/admin/users/zoe/enable", json={})
        assert zoe.get(f"{API}/me").status_code == 200
    taken = ana.post(f"{API}/admin/users", json={"name": "zoe", "email": "z@lab.org"})
    assert_envelope(taken, 409, "already_exists")
    actions = [
        e["action"] for e in ana.get(f"{API}/admin/audit", params={"user": "zoe"}).json()["entries"]
    ]
    assert actions == ["user.enable", "user.disable", "user.add"]


def test_revoke_takes_effect_at_once_on_the_same_server(
    as_user: Clients, team: Team, server: AppServer
) -> None:
    mia = as_user["mia"]
    made = mia.post(f"{API}/me/tokens", json={"name": "ci", "role": "viewer"})
    assert made.status_code == 201, made.text
    secret, token_id = made.json()["secret"], made.json()["id"]
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {secret}"}) as ci:
        assert ci.get(f"{API}/runs/{team.vision_run}").status_code == 200
        assert ci.get(f"{API}/runs/{team.vision_run}").status_code == 200  # from the cache
        # another's token is not found through /me; an admin may revoke any
        assert_envelope(as_user["lee"].delete(f"{API}/me/tokens/{token_id}"), 404, "not_found")
        assert mia.delete(f"{API}/me/tokens/{token_id}").json()["state"] == "revoked"
        refused = ci.get(f"{API}/runs/{team.vision_run}")
        assert_envelope(refused, 401, "unauthorized")
        assert "revoked" in refused.json()["error"]["message"]
    assert_envelope(mia.delete(f"{API}/me/tokens/{token_id}"), 409, "conflict")
    mine = mia.get(f"{API}/me/tokens").json()["tokens"]
    assert {k["user"] for k in mine} == {"mia"}


def test_a_token_cannot_make_a_token_that_does_more(server: AppServer, team: Team) -> None:
    scoped = team.lab.people.create_token("root", "mia", "ci", "vision", "viewer").secret
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {scoped}"}) as ci:
        wider = ci.post(f"{API}/me/tokens", json={"name": "x", "project": "audio"})
        assert_envelope(wider, 403, "forbidden")
        stronger = ci.post(f"{API}/me/tokens", json={"name": "x", "role": "member"})
        assert_envelope(stronger, 403, "forbidden")
        same = ci.post(f"{API}/me/tokens", json={"name": "x", "role": "viewer"})
        assert same.status_code == 201 and same.json()["project"] == "vision"


def test_grants_by_a_project_admin_and_the_server_admin(as_user: Clients, team: Team) -> None:
    team.lab.people.grant("root", "vision", "mia", "admin")
    ana, kenji = as_user["ana"], as_user["kenji"]
    # her laptop token stops at member: a token with the admin role acts as the admin
    limited = as_user["mia"].get(f"{API}/admin/projects/vision/grants")
    assert_envelope(limited, 403, "forbidden")
    admin_token = team.lab.people.create_token("root", "mia", "admin", None, "admin").secret
    mia = httpx.Client(
        base_url=str(ana.base_url), timeout=10, headers={"Authorization": f"Bearer {admin_token}"}
    )
    grants = mia.get(f"{API}/admin/projects/vision/grants").json()["grants"]
    assert {(g["user"], g["role"]) for g in grants} == {("kenji", "viewer"), ("mia", "admin")}
    put = mia.put(f"{API}/admin/projects/vision/grants/lee", json={"role": "viewer"})
    assert put.status_code == 200 and put.json()["granted_by"] == "mia"
    assert as_user["lee"].get(f"{API}/runs/{team.vision_run}").status_code == 200  # no stale cache
    # another project is not there for a vision admin; a viewer may not manage grants
    other = mia.put(f"{API}/admin/projects/audio/grants/kenji", json={"role": "viewer"})
    assert_envelope(other, 404, "not_found")
    assert_envelope(mia.get(f"{API}/admin/projects/audio/grants"), 404, "not_found")
    assert_envelope(kenji.get(f"{API}/admin/projects/vision/grants"), 403, "forbidden")
    assert_envelope(as_user["lee"].get(f"{API}/admin/projects/vision/grants"), 403, "forbidden")
    create = mia.put(
        f"{API}/admin/projects/vision/grants/lee", json={"role": "viewer", "create": True}
    )
    assert_envelope(create, 403, "forbidden")
    removed = mia.delete(f"{API}/admin/projects/vision/grants/lee")
    assert removed.json()["role"] == "viewer"
    assert_envelope(as_user["lee"].get(f"{API}/runs/{team.vision_run}"), 404, "not_found")
    assert_envelope(mia.delete(f"{API}/admin/projects/vision/grants/lee"), 404, "not_found")
    everything = ana.get(f"{API}/admin/grants", params={"user": "lee"}).json()["grants"]
    assert [(g["project"], g["role"]) for g in everything] == [("audio", "member")]
    made = ana.put(f"{API}/admin/projects/nlp/grants/lee", json={"role": "admin", "create": True})
    assert made.status_code == 200
    assert_envelope(mia.get(f"{API}/admin/users"), 403, "forbidden")  # not a server admin
    mia.close()


def test_a_grant_to_a_user_who_does_not_exist_is_404_and_audited(
    as_user: Clients, team: Team
) -> None:
    before = team.lab.people.grants()
    answer = as_user["ana"].put(
        f"{API}/admin/projects/vision/grants/ghost", json={"role": "member"}
    )
    assert_envelope(answer, 404, "not_found")
    assert team.lab.people.grants() == before
    [entry] = team.lab.people.audit_log(action="grant.refused")
    assert (entry.actor, entry.target, entry.detail["project"]) == ("ana", "user:ghost", "vision")


def test_the_audit_log_pages_and_exports_as_jsonl_and_csv(as_user: Clients, team: Team) -> None:
    ana = as_user["ana"]
    for i in range(5):
        team.lab.people.audit("root", "test.event", None, {"i": i, "formula": "=1+1"})
    first = ana.get(f"{API}/admin/audit", params={"action": "test.event", "limit": 3}).json()
    assert [e["detail"]["i"] for e in first["entries"]] == [4, 3, 2] and first["next"]
    rest = ana.get(
        f"{API}/admin/audit", params={"action": "test.event", "limit": 3, "before": first["next"]}
    ).json()
    assert [e["detail"]["i"] for e in rest["entries"]] == [1, 0] and rest["next"] is None
    lines = ana.get(f"{API}/admin/audit/export", params={"format": "jsonl"})
    assert lines.headers["content-type"].startswith("application/x-ndjson")
    entries = [json.loads(line) for line in lines.text.splitlines()]
    assert len(entries) == len(team.lab.people.audit_log(limit=1000))
    assert {e["action"] for e in entries} >= {"grant.set", "user.add", "test.event"}
    table = ana.get(f"{API}/admin/audit/export", params={"format": "csv", "action": "test."})
    assert table.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert [json.loads(r["detail"])["i"] for r in rows] == [4, 3, 2, 1, 0]
    assert rows[0]["actor"] == "root" and rows[0]["time"].startswith("20")
    bad = ana.get(f"{API}/admin/audit/export", params={"format": "xml"})
    assert_envelope(bad, 400, "bad_request")


@pytest.fixture
def strict(team: Team) -> Iterator[AppServer]:
    """The team's server with small limits: 3 free failures, locks of 30 s doubling."""
    people = team.lab.people
    limits = Limits(free_failures_user=3, free_failures_address=6, audit_burst=4, token_burst=20)
    people.guard = Guard(limits, lambda: people.clock())
    people.set_password("root", "mia", "the right passphrase")
    yield from served(team.lab, AuthConfig("required"))


def test_repeated_failed_sign_ins_lock_the_name_with_backoff(strict: AppServer, team: Team) -> None:
    from lablink.errors import TooManyRequests, Unauthorized

    people, clock = team.lab.people, team.clock
    for _ in range(3):
        with pytest.raises(Unauthorized, match="wrong user name or password"):
            people.check_password("mia", "a wrong guess", "10.0.0.1")
    with pytest.raises(TooManyRequests, match="too many failed sign-ins") as locked:
        people.check_password("mia", "the right passphrase", "10.0.0.2")
    assert locked.value.details["retry_after"] == 30
    clock.now += 30
    with pytest.raises(
        Unauthorized, match="wrong user name or password"
    ):  # one more failure: twice as long
        people.check_password("mia", "wrong again", "10.0.0.1")
    clock.now += 59
    with pytest.raises(TooManyRequests, match="too many failed sign-ins"):
        people.check_password("mia", "the right passphrase", "10.0.0.2")
    clock.now += 1
    assert people.check_password("mia", "the right passphrase", "10.0.0.2").user == "mia"


def test_sign_in_refusals_are_audited_within_a_budget(strict: AppServer, team: Team) -> None:
    from lablink.errors import TooManyRequests, Unauthorized

    people = team.lab.people
    for i in range(12):
        with pytest.raises((Unauthorized, TooManyRequests), match=r"wrong|too many"):
            people.check_password(f"guess{i}", "password1", "10.0.0.9")
    kept = people.audit_log(action="signin.")
    assert 0 < len(kept) <= 8  # 4 failed + 4 blocked at most, not 12


def test_bad_tokens_from_one_address_are_answered_429_with_retry_after(
    strict: AppServer, team: Team
) -> None:
    bad = {"Authorization": "Bearer ll_abcdefgh_" + "x" * 43}
    good = {"Authorization": f"Bearer {team.tokens['mia']}"}
    with httpx.Client(base_url=strict.url, timeout=10) as client:
        assert client.get(f"{API}/projects", headers=good).status_code == 200  # verified: cached
        for _ in range(6):
            assert_envelope(client.get(f"{API}/projects", headers=bad), 401, "unauthorized")
        blocked = client.get(f"{API}/projects", headers=bad)
        assert_envelope(blocked, 429, "too_many_requests")
        assert blocked.headers["retry-after"] == "30"
        assert client.get(f"{API}/projects", headers=good).status_code == 200
        team.clock.now += 30
        assert_envelope(client.get(f"{API}/projects", headers=bad), 401, "unauthorized")
    # 7 bad tokens, 4 written at once, the 7th after the budget refilled, with the count
    refused = team.lab.people.audit_log(action="token.refused")
    assert len(refused) == 5 and refused[0].detail["suppressed"] == 2
    assert len(team.lab.people.audit_log(action="token.blocked")) == 1


def test_a_token_is_held_to_its_rate(strict: AppServer, team: Team) -> None:
    good = {"Authorization": f"Bearer {team.tokens['lee']}"}
    with httpx.Client(base_url=strict.url, timeout=10, headers=good) as client:
        answers = [client.get(f"{API}/projects").status_code for _ in range(21)]
        assert answers[:20] == [200] * 20
        last = client.get(f"{API}/projects")
        assert_envelope(last, 429, "too_many_requests")
        assert int(last.headers["retry-after"]) >= 1
        team.clock.now += 1
        assert client.get(f"{API}/projects").status_code == 200


def test_admin_routes_need_auth_on(lab: Lab) -> None:
    for srv in served(lab, AuthConfig("off")):
        with httpx.Client(base_url=srv.url, timeout=10) as client:
            refused = client.post(f"{API}/admin/users", json={"name": "eve", "email": "e@x.org"})
            assert_envelope(refused, 403, "forbidden")
            assert "--auth required" in refused.json()["error"]["hint"]
    assert lab.people.list_users() == []


def test_the_cli_admin_commands_work_against_a_live_server(
    server: AppServer, team: Team, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from lablink.cli.main import app

    runner = CliRunner()

    def cli(token: str, *args: str, code: int = 0) -> Any:
        env = {"LABLINK_SERVER": server.url, "LABLINK_TOKEN": token, "COLUMNS": "200"}
        result = runner.invoke(app, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == code, (result.stdout, result.stderr)
        return result

    ana, mia = team.tokens["ana"], team.tokens["mia"]
    added = cli(ana, "users", "add", "zoe", "--email", "zoe@lab.org")
    assert "added user zoe" in added.stdout and "ll_" in added.stdout
    users = json.loads(cli(ana, "users", "ls", "--json").stdout)["users"]
    assert "zoe" in {u["name"] for u in users}
    assert "is member in vision" in cli(ana, "projects", "grant", "vision", "zoe", "member").stdout
    grants = json.loads(cli(ana, "projects", "grants", "vision", "--json").stdout)["grants"]
    assert ("zoe", "member") in {(g["user"], g["role"]) for g in grants}
    assert "no longer member" in cli(ana, "projects", "revoke", "vision", "zoe").stdout
    cli(ana, "users", "disable", "zoe")
    assert team.lab.people.get_user("zoe").disabled
    # refusals keep the CLI's exit codes: a refusal 1, a usage mistake 2
    ghost = cli(ana, "projects", "grant", "vision", "ghost", "viewer", code=1)
    assert "no user 'ghost'" in ghost.stderr
    cli(ana, "tokens", "create", "--user", "zoe", "--name", "ci", "--expires", "soon", code=2)
    assert "not a server admin" in cli(mia, "users", "ls", code=1).stderr
    # a member manages their own tokens through the same commands
    made = cli(mia, "tokens", "create", "--user", "mia", "--name", "laptop2", "--role", "viewer")
    mine = json.loads(cli(mia, "tokens", "ls", "--json").stdout)["tokens"]
    assert {k["user"] for k in mine} == {"mia"} and mine[0]["name"] == "laptop2"
    assert "revoked token" in cli(mia, "tokens", "revoke", str(mine[0]["id"])).stdout
    assert "ll_" in made.stdout
    # the audit log, as a table, JSON, and exports
    assert "user.disable" in cli(ana, "audit", "--user", "zoe").stdout
    lines = cli(ana, "audit", "--format", "jsonl", "--action", "grant.").stdout.splitlines()
    assert {json.loads(line)["action"] for line in lines} >= {"grant.set", "grant.revoke"}
    target = tmp_path / "audit.csv"
    cli(ana, "audit", "--format", "csv", "--export", str(target))
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert {"user.add", "token.revoke", "grant.refused"} <= {r["action"] for r in rows}
    assert "not a server admin" in cli(mia, "audit", "--format", "csv", code=1).stderr
