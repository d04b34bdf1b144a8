"""``lablink login`` by device flow (issue 15): start, approve in a browser, poll, token.

A real server on 127.0.0.1 with auth required, on SQLite and PostgreSQL. The approval is
made by a signed-in httpx client carrying the session cookie and the page's CSRF token,
as a browser sends them; the CLI runs as a real subprocess polling meanwhile.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from signin_support import (
    Team,
    browser_from,
    csrf_of,
    sign_in,
    signed_in,
    signed_in_from,
)
from signin_support import module_addresses as module_addresses
from signin_support import module_server as module_server
from signin_support import module_team as module_team
from signin_support import server as server
from signin_support import team as team

from helpers import AppServer, Loopback
from lablink.core.device_login import EXPIRES_IN, INTERVAL
from lablink.core.lab import Lab
from lablink.server.app import create_app
from lablink.settings import Settings

API = "/api/v1"
START, POLL = f"{API}/login/device", f"{API}/login/device/token"
SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.fixture
def cli(server: AppServer) -> Iterator[httpx.Client]:
    """The CLI's side: no credential at all."""
    with httpx.Client(base_url=server.url, timeout=10) as c:
        yield c


def start(cli: httpx.Client, name: str | None = "laptop") -> dict[str, Any]:
    answer = cli.post(START, json={"name": name} if name is not None else {})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def poll(cli: httpx.Client, device_code: str) -> httpx.Response:
    return cli.post(POLL, json={"device_code": device_code})


def code_of(answer: httpx.Response) -> str:
    assert answer.status_code == 400, answer.text
    return str(answer.json()["error"]["code"])


def decide(browser: httpx.Client, user_code: str, decision: str) -> httpx.Response:
    page = browser.get("/login/device", params={"code": user_code})
    assert page.status_code == 200, page.text
    fields = {"code": user_code, "decision": decision, "csrf_token": csrf_of(page.text)}
    return browser.post("/login/device", data=fields)


def test_start_answers_codes_and_stores_only_a_hash(cli: httpx.Client, team: Team) -> None:
    got = start(cli)
    assert got["expires_in"] == EXPIRES_IN and got["interval"] == INTERVAL
    user_code = got["user_code"]
    assert len(user_code) == 9 and user_code[4] == "-"
    assert not set(user_code.replace("-", "")) & set("AEIOU01L")
    assert got["verification_uri"] == str(cli.base_url).rstrip("/") + "/login/device"
    assert got["verification_uri_complete"] == got["verification_uri"] + f"?code={user_code}"
    assert len(got["device_code"]) >= 40
    import sqlalchemy as sa

    from lablink.store import schema as t

    with team.lab.store.engine.connect() as conn:
        rows = conn.execute(sa.select(t.device_logins)).all()
    assert len(rows) == 1 and got["device_code"] not in str(tuple(rows[0]))
    assert rows[0].label == "laptop" and rows[0].state == "pending"
    assert start(cli, None)["user_code"] != user_code  # the label defaults to cli


def test_approved_in_a_signed_in_browser_the_poll_gets_a_token_once(
    server: AppServer, cli: httpx.Client, team: Team
) -> None:
    got = start(cli)
    device = got["device_code"]
    assert code_of(poll(cli, device)) == "authorization_pending"
    assert code_of(poll(cli, device)) == "slow_down"  # the clock did not move
    team.clock.now += INTERVAL
    assert code_of(poll(cli, device)) == "authorization_pending"
    with signed_in(server, "mia") as mia:
        page = mia.get("/login/device", params={"code": got["user_code"].lower()})
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        assert 'data-role="device-label">laptop<' in page.text
        assert got["user_code"] in page.text
        done = decide(mia, got["user_code"], "approve")
        assert done.status_code == 200 and 'data-role="device-approved"' in done.text
        again = decide_without_page(mia, got["user_code"], csrf_of(page.text))
        assert again.status_code == 404  # decided already
    team.clock.now += INTERVAL
    answer = poll(cli, device)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["user"] == "mia" and body["token_type"] == "bearer"
    assert body["role"] == "member" and body["name"].startswith("login laptop ")
    assert body["expires_at"] == pytest.approx(team.clock.now + 90 * 86400)
    me = cli.get(f"{API}/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200 and me.json()["user"] == "mia"
    assert code_of(poll(cli, device)) == "expired_token"  # once
    actions = [(e.action, e.actor) for e in team.lab.people.audit_log(user="mia")]
    assert ("login.device.approve", "mia") in actions and ("token.create", "mia") in actions


def decide_without_page(browser: httpx.Client, user_code: str, csrf: str) -> httpx.Response:
    fields = {"code": user_code, "decision": "approve", "csrf_token": csrf}
    return browser.post("/login/device", data=fields)


def test_a_server_admin_gets_an_admin_token(
    server: AppServer, cli: httpx.Client, team: Team
) -> None:
    got = start(cli)
    with signed_in(server, "ana") as ana:
        assert decide(ana, got["user_code"], "approve").status_code == 200
    body = poll(cli, got["device_code"]).json()
    assert body["user"] == "ana" and body["role"] == "admin"


def test_a_denied_login_gets_no_token(server: AppServer, cli: httpx.Client, team: Team) -> None:
    got = start(cli)
    with signed_in(server, "kenji") as kenji:
        done = decide(kenji, got["user_code"], "deny")
        assert done.status_code == 200 and 'data-role="device-denied"' in done.text
    answer = poll(cli, got["device_code"])
    assert code_of(answer) == "access_denied" and "kenji" in answer.json()["error"]["message"]
    assert team.lab.people.list_tokens("kenji") == []
    actions = [e.action for e in team.lab.people.audit_log(user="kenji")]
    assert "login.device.deny" in actions


def test_an_expired_login_can_be_neither_approved_nor_taken(
    server: AppServer, cli: httpx.Client, team: Team
) -> None:
    got = start(cli)
    team.clock.now += EXPIRES_IN + 1
    with signed_in(server, "mia") as mia:
        page = mia.get("/login/device", params={"code": got["user_code"]})
        assert page.status_code == 404 and "no login waits for code" in page.text
        refused = decide_without_page(mia, got["user_code"], csrf_of(page.text))
        assert refused.status_code == 404
    answer = poll(cli, got["device_code"])
    assert code_of(answer) == "expired_token" and "expired" in answer.json()["error"]["message"]


def test_approved_but_taken_too_late_is_expired(
    server: AppServer, cli: httpx.Client, team: Team
) -> None:
    got = start(cli)
    with signed_in(server, "mia") as mia:
        assert decide(mia, got["user_code"], "approve").status_code == 200
    team.clock.now += EXPIRES_IN + 1
    assert code_of(poll(cli, got["device_code"])) == "expired_token"
    assert team.lab.people.list_tokens("mia") == []


def test_wrong_device_codes_and_bodies_are_refused(cli: httpx.Client) -> None:
    assert code_of(poll(cli, "x" * 43)) == "expired_token"
    for body in ({}, {"device_code": ""}, {"device_code": 5}, {"device_code": "x" * 101}):
        assert code_of(cli.post(POLL, json=body)) == "bad_request", body
    for body in ({"name": "a/b"}, {"name": ""}, {"name": 7}, {"colour": "red"}):
        assert code_of(cli.post(START, json=body)) == "bad_request", body


def test_a_post_without_the_pages_csrf_token_changes_nothing(
    server: AppServer, cli: httpx.Client, team: Team
) -> None:
    got = start(cli)
    with signed_in(server, "mia") as mia:
        fields = {"code": got["user_code"], "decision": "approve"}
        assert mia.post("/login/device", data=fields).status_code == 403
        wrong = mia.post("/login/device", data={**fields, "csrf_token": "0" * 64})
        assert wrong.status_code == 403
        csrf = csrf_of(mia.get("/login/device").text)
        odd = mia.post("/login/device", data={**fields, "decision": "maybe", "csrf_token": csrf})
        assert odd.status_code == 400 and "not approve or deny" in odd.text
    assert code_of(poll(cli, got["device_code"])) == "authorization_pending"


def test_a_token_cannot_approve_and_anonymous_is_sent_to_sign_in(
    server: AppServer, cli: httpx.Client, team: Team
) -> None:
    got = start(cli)
    token = team.lab.people.create_token("mia", "mia", "t").secret
    auth = {"Authorization": f"Bearer {token}"}
    fields = {"code": got["user_code"], "decision": "approve"}
    refused = cli.post("/login/device", data=fields, headers=auth)
    assert refused.status_code == 403
    anonymous = cli.get("/login/device", params={"code": got["user_code"]})
    assert anonymous.status_code == 303
    back = parse_qs(urlsplit(anonymous.headers["location"]).query)["next"][0]
    assert back == f"/login/device?code={got['user_code']}"
    with httpx.Client(base_url=server.url, timeout=10) as browser:
        landed = sign_in(browser, "mia", next=back)
        assert landed.status_code == 303 and landed.headers["location"] == back
        assert 'data-role="approve"' in browser.get(back).text
    assert code_of(poll(cli, got["device_code"])) == "authorization_pending"


def test_the_page_without_a_code_asks_for_one(server: AppServer) -> None:
    with signed_in(server, "mia") as mia:
        page = mia.get("/login/device")
        assert page.status_code == 200 and 'name="code"' in page.text
        bad = mia.get("/login/device", params={"code": "not-a-code"})
        assert bad.status_code == 400 and "is not a login code" in bad.text


def test_with_auth_off_there_is_nothing_to_log_in_for(lab: Lab) -> None:
    with (
        AppServer(create_app(lab)).start() as srv,
        httpx.Client(base_url=srv.url, timeout=10) as c,
    ):
        answer = c.post(START, json={})
        assert answer.status_code == 409 and "without sign-in" in answer.json()["error"]["message"]
        assert c.get("/login/device").status_code == 404
        srv.stop()


def test_starts_are_rate_limited_per_address(cli: httpx.Client) -> None:
    codes = [cli.post(START, json={}).status_code for _ in range(11)]
    assert codes[:10] == [201] * 10 and codes[10] == 429


# -- the CLI, a real subprocess ----------------------------------------------------------------
def run_login(
    server: AppServer, config: Path, *extra: str, browser: str | None = None
) -> subprocess.Popen[str]:
    """``lablink login`` in a subprocess; ``browser``: a ``BROWSER`` command to open
    the URL with (none: ``--no-browser``)."""
    env = {
        **os.environ,
        "PYTHONPATH": SRC,
        "PYTHONUNBUFFERED": "1",
        "LABLINK_CONFIG": str(config),
        "COLUMNS": "200",
    }
    if browser is not None:
        env["BROWSER"] = browser
    command = [sys.executable, "-m", "lablink.cli", "login", "--server", server.url]
    command += ["--no-browser"] if browser is None else []
    return subprocess.Popen(
        [*command, "--name", "laptop", *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def user_code_printed(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    for _ in range(20):  # a bounded read: the code comes in the first lines
        line = process.stdout.readline()
        if "enter the code" in line:
            return line.rsplit(" ", 1)[1].strip()
    raise AssertionError("lablink login printed no code")


def test_cli_login_waits_for_the_approval_and_keeps_the_token(
    server: AppServer, team: Team, tmp_path: Path
) -> None:
    team.lab.people.clock = time.time  # the CLI polls on real time
    config = tmp_path / "user" / "config.toml"
    opened = tmp_path / "opened.txt"
    opener = tmp_path / "open-url"
    opener.write_text(f'#!/bin/sh\nprintf %s "$1" > {opened}\n')
    opener.chmod(0o755)
    process = run_login(server, config, browser=f"{opener} %s")
    try:
        code = user_code_printed(process)
        with signed_in(server, "mia") as mia:
            assert decide(mia, code, "approve").status_code == 200
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "logged in to" in out and "as mia" in out
    assert opened.read_text() == f"{server.url}/login/device?code={code}"
    assert config.stat().st_mode & 0o777 == 0o600
    settings = Settings.load(environ={"LABLINK_CONFIG": str(config)}, cwd=tmp_path)
    assert settings.server == server.url and settings.token is not None
    me = httpx.get(
        f"{server.url}{API}/me", headers={"Authorization": f"Bearer {settings.token}"}, timeout=10
    )
    assert me.json()["user"] == "mia"


def test_cli_login_without_a_server_says_how_to_name_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from lablink.cli.main import app

    monkeypatch.chdir(tmp_path)  # no lablink.toml naming a server

    env = {"LABLINK_CONFIG": str(tmp_path / "none.toml"), "LABLINK_SERVER": ""}
    answer = CliRunner().invoke(app, ["login", "--no-browser"], env=env)
    assert answer.exit_code == 1 and "no server to log in to" in answer.stderr
    assert "--server" in answer.stderr


def test_cli_login_denied_fails_and_keeps_nothing(
    server: AppServer, team: Team, tmp_path: Path
) -> None:
    team.lab.people.clock = time.time
    config = tmp_path / "config.toml"
    process = run_login(server, config)
    try:
        code = user_code_printed(process)
        with signed_in(server, "mia") as mia:
            assert decide(mia, code, "deny").status_code == 200
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 1 and "mia denied this login" in err
    assert not config.exists()


# -- guessing user codes on the approval page ---------------------------------------------------
def wrong_codes(count: int, right: str) -> list[str]:
    return [c for c in (f"BCDF-GHJ{x}" for x in "MNPQRSTVWXZ") if c != right][:count]


def test_guessing_user_codes_is_refused_after_five_wrong_ones(
    server: AppServer, cli: httpx.Client, team: Team
) -> None:
    got = start(cli)
    code = got["user_code"]
    with signed_in_from(server, "mia", "127.0.0.2") as mia:
        csrf = csrf_of(mia.get("/login/device").text)
        guesses = wrong_codes(5, code)
        for guess in guesses[:4]:
            assert mia.get("/login/device", params={"code": guess}).status_code == 404
        fifth = decide_without_page(mia, guesses[4], csrf)  # a wrong POST counts too
        assert fifth.status_code == 404
        refused = mia.get("/login/device", params={"code": code})  # even the right one
        assert refused.status_code == 429 and refused.headers["retry-after"] == "30"
        assert "too many wrong login codes" in refused.text
        posted = decide_without_page(mia, code, csrf)
        assert posted.status_code == 429 and posted.headers["retry-after"] == "30"
        team.clock.now += 30  # the lock ends: the right code works again
        assert decide(mia, code, "approve").status_code == 200
    team.clock.now += INTERVAL
    assert poll(cli, got["device_code"]).status_code == 200


def test_a_locked_address_and_a_locked_session_leave_fresh_clients_alone(
    server: AppServer, cli: httpx.Client, team: Team
) -> None:
    got = start(cli)
    with signed_in_from(server, "mia", "127.0.0.3") as guesser:
        for guess in wrong_codes(5, got["user_code"]):
            assert guesser.get("/login/device", params={"code": guess}).status_code == 404
        locked = guesser.get("/login/device", params={"code": got["user_code"]})
        assert locked.status_code == 429
        # The same session from another address: the session is locked.
        with browser_from(server, "127.0.0.4") as moved:
            moved.cookies = guesser.cookies
            answer = moved.get("/login/device", params={"code": got["user_code"]})
            assert answer.status_code == 429
    # Another session from the locked address: the address is locked.
    with signed_in_from(server, "kenji", "127.0.0.3") as neighbour:
        answer = neighbour.get("/login/device", params={"code": got["user_code"]})
        assert answer.status_code == 429
    # A fresh client (its own session and address) approves with the right code.
    with signed_in_from(server, "lee", "127.0.0.5") as fresh:
        assert decide(fresh, got["user_code"], "approve").status_code == 200
    team.clock.now += INTERVAL
    answer = poll(cli, got["device_code"])
    assert answer.status_code == 200 and answer.json()["user"] == "lee"


@pytest.mark.parametrize(
    ("code", "status", "says"),
    [
        ("not-a-code", 400, "is not a login code"),
        ("BCDF-GHJ", 400, "is not a login code"),  # seven letters
        ("BCDF-GHJKM", 400, "is not a login code"),  # nine
        ("ABCD-EFGH", 400, "is not a login code"),  # vowels are not in the alphabet
        ("BCDF\x00GHJK", 400, "NUL character"),
        ("ßCDF-GHJK", 400, "is not a login code"),
        ("B" * 500, 400, "is not a login code"),
        ("   ", 200, 'name="code"'),  # blank: the form asks for one
        ("bcdf ghjk", 404, "no login waits for code BCDF-GHJK"),  # well formed, unknown
    ],
)
def test_bad_user_codes_on_the_page_are_answered_and_only_lookups_count(
    module_server: AppServer, module_addresses: Loopback, code: str, status: int, says: str
) -> None:
    # One server for all cases: each starts its own login, from its own address and
    # session, so no case's starts or wrong codes count against another's.
    address = module_addresses.next()
    local = httpx.HTTPTransport(local_address=address)
    with httpx.Client(base_url=module_server.url, timeout=10, transport=local) as cli:
        got = start(cli)
    with signed_in_from(module_server, "mia", address) as mia:
        csrf = csrf_of(mia.get("/login/device").text)
        answer = mia.get("/login/device", params={"code": code})
        assert answer.status_code == status and says in answer.text
        if status != 404:  # more than the free guesses: malformed codes never lock
            for _ in range(6):
                assert mia.get("/login/device", params={"code": code}).status_code == status
                posted = decide_without_page(mia, code, csrf)
                assert posted.status_code == 400, posted.text
        assert decide(mia, got["user_code"], "approve").status_code == 200
