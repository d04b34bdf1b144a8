"""``lablink users``, ``tokens``, ``projects grant`` and ``audit`` through the real CLI."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from people_support import Cli, Clock

from lablink.core.people import People
from lablink.errors import Unauthorized
from lablink.store import open_store

TOKEN = re.compile(r"^ll_[a-z0-9]{8}_\S+$", re.MULTILINE)
ACTOR = "tester@example.org"  # LABLINK_USER in every test (tests/conftest.py)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("LABLINK_HOME", str(home))
    return home


@pytest.fixture
def cli(home: Path) -> Cli:
    return Cli()


@pytest.fixture
def people(home: Path, cli: Cli) -> Iterator[People]:
    """The store the CLI wrote, opened the way a server would (on a clock of its own)."""
    cli("users", "ls")  # creates the database
    store = open_store(f"sqlite:///{home / 'lablink.db'}")
    yield People(store, clock=Clock(time.time()))
    store.close()


def token_in(output: str) -> str:
    [token] = TOKEN.findall(output)
    return str(token)


def test_an_admin_session_from_adding_people_to_reading_the_audit_log(
    cli: Cli, people: People
) -> None:
    added = cli("users", "add", "ana", "--email", "ana@lab.org", "--role", "admin")
    assert "added user ana (server admin)" in added.stdout and "not shown again" in added.stdout
    ana = people.authenticate_token(token_in(added.stdout))
    assert (ana.user, ana.is_admin, ana.role) == ("ana", True, "admin")
    cli("users", "add", "ci", "--service", "--expires", "never")
    users = json.loads(cli("users", "ls", "--json").stdout)["users"]
    assert [(u["name"], u["kind"], u["is_admin"]) for u in users] == [
        ("ana", "user", True),
        ("ci", "service", False),
    ]
    assert (
        "is viewer in vision"
        in cli("projects", "grant", "vision", "ana", "viewer", "--create").stdout
    )
    created = cli(
        "tokens", "create", "--user", "ci", "--name", "ci", "--project", "vision",
        "--role", "member", "--expires", "2w",
    )  # fmt: skip
    secret = token_in(created.stdout)
    ci = people.authenticate_token(secret)
    assert (ci.user, ci.project, ci.role) == ("ci", "vision", "member")
    assert people.role_of(ci, "vision") is None  # a token only narrows: ci has no grant yet
    listed = cli("tokens", "ls", "--user", "ci", "--json").stdout
    assert secret not in listed and secret.split("_", 2)[2] not in listed
    tokens = json.loads(listed)["tokens"]
    assert [(k["name"], k["project"], k["state"]) for k in tokens] == [
        ("ci", "vision", "active"),
        ("initial", None, "active"),
    ]
    assert tokens[1]["expires_at"] is None and tokens[0]["last_used_at"] is not None
    assert "revoked token" in cli("tokens", "revoke", str(tokens[0]["id"])).stdout
    # Another process (the CLI) revoked it: this one's token cache holds it a few seconds.
    assert people.authenticate_token(secret).user == "ci"
    people.clock.advance(people.guard.limits.cache_seconds)
    with pytest.raises(Unauthorized, match="revoked"):
        people.authenticate_token(secret)
    cli("users", "disable", "ana")
    people.clock.advance(people.guard.limits.cache_seconds)
    with pytest.raises(Unauthorized, match="disabled"):
        people.authenticate_token(token_in(added.stdout))
    entries = json.loads(cli("audit", "--json").stdout)["entries"]
    changes = [(e["actor"], e["action"], e["target"]) for e in entries if e["actor"] == ACTOR]
    assert changes[::-1] == [
        (ACTOR, "user.add", "user:ana"),
        (ACTOR, "token.create", "token:1"),
        (ACTOR, "user.add", "user:ci"),
        (ACTOR, "token.create", "token:2"),
        (ACTOR, "grant.set", "user:ana"),
        (ACTOR, "token.create", "token:3"),
        (ACTOR, "token.revoke", "token:3"),
        (ACTOR, "user.disable", "user:ana"),
    ]
    about_ana = json.loads(cli("audit", "--since", "7d", "--user", "ana", "--json").stdout)
    assert [e["action"] for e in about_ana["entries"]] == ["user.disable", "grant.set", "user.add"]
    table = cli("audit", "--action", "token.").stdout
    assert "token.revoke" in table and "user.add" not in table and secret not in table


def test_projects_still_lists_and_lists_granted_projects(cli: Cli) -> None:
    assert "no projects yet" in cli("projects").stdout
    cli("users", "add", "kenji", "--email", "kenji@lab.org")
    cli("projects", "grant", "vision", "kenji", "member", "--create")
    assert [p["name"] for p in json.loads(cli("projects", "--json").stdout)] == ["vision"]


def test_a_password_set_from_stdin_signs_in(cli: Cli, people: People) -> None:
    cli("users", "add", "ana", "--email", "ana@lab.org")
    cli("users", "passwd", "ana", "--password-stdin", stdin="a long passphrase\n")
    assert people.sign_in("ana", "a long passphrase").user == "ana"
    assert people.get_user("ana").has_password
    cli("users", "passwd", "ana", "--password-stdin", stdin="short\n", code=1)


@pytest.mark.parametrize(
    "args",
    [
        ("users", "add", "bob"),  # a person without an e-mail
        ("users", "add", "bob", "--email", "bob@lab.org", "--role", "root"),
        ("users", "add", "bob", "--email", "bob@lab.org", "--expires", "soon"),
        ("tokens", "create", "--user", "ana", "--name", "ci", "--expires", "banana"),
        ("tokens", "create", "--user", "ana", "--name", "ci", "--role", "owner"),
        ("tokens", "revoke", "one"),
        ("projects", "grant", "vision", "ana", "boss"),
        ("audit", "--since", "last week"),
        ("audit", "--limit", "0"),
    ],
)
def test_usage_mistakes_exit_2_with_error_and_hint(
    cli: Cli, people: People, args: tuple[str, ...]
) -> None:
    before = len(people.audit_log())
    result = cli(*args, code=2)
    assert result.stderr.startswith("error: ") and "\nhint: see `lablink " in result.stderr
    assert len(people.audit_log()) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("users", "add", "ana", "--email", "x@lab.org"), "user 'ana' already exists"),
        (("users", "add", "b b", "--email", "x@lab.org"), "user name 'b b' is not valid"),
        (("users", "disable", "ghost"), "no user 'ghost'"),
        (("tokens", "create", "--user", "ghost", "--name", "ci"), "no user 'ghost'"),
        (("tokens", "create", "--user", "ana", "--name", "ci", "-p", "nowhere"), "no project"),
        (("tokens", "ls", "--user", "ghost"), "no user 'ghost'"),
        (("tokens", "revoke", "99"), "no token 99"),
        (("projects", "grant", "nowhere", "ana", "viewer"), "no project 'nowhere'"),
        (("projects", "grant", "vision", "ghost", "viewer", "--create"), "no user 'ghost'"),
    ],
)
def test_refusals_exit_1_with_error_and_hint_and_change_nothing(
    cli: Cli, people: People, args: tuple[str, ...], message: str
) -> None:
    cli("users", "add", "ana", "--email", "ana@lab.org")
    before = len(people.audit_log())
    result = cli(*args, code=1)
    assert result.stderr.startswith(f"error: {message}") and "hint: " in result.stderr
    # A refused grant is kept as an attempt (a typo, or someone probing names).
    added = [e.action for e in people.audit_log()[: len(people.audit_log()) - before]]
    assert added == (["grant.refused"] if args[1] == "grant" else [])
    assert len(people.grants()) == 0


def test_admin_commands_with_a_server_url_call_that_server(cli: Cli) -> None:
    result = cli("--server", "http://127.0.0.1:9", "users", "ls", code=1)
    assert "cannot reach" in result.stderr and "127.0.0.1:9" in result.stderr


def test_the_installed_entry_point_adds_a_user_and_lists_tokens(home: Path) -> None:
    exe = Path(sys.executable).with_name("lablink")
    env = {**os.environ, "NO_COLOR": "1"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(exe), *args], capture_output=True, text=True, env=env, timeout=60, check=False
        )

    added = run("users", "add", "ci", "--service")
    assert added.returncode == 0, added.stderr
    token = token_in(added.stdout)
    listed = run("tokens", "ls", "--json")
    assert listed.returncode == 0 and token not in listed.stdout
    assert json.loads(listed.stdout)["tokens"][0]["display"] == token[:11] + "_…"
