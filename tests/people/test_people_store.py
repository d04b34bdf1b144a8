"""Users, passwords, tokens, grants and the audit log on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa
from people_support import Clock

from lablink.core.lab import Lab
from lablink.core.people import TOUCH_EVERY, People
from lablink.errors import AlreadyExists, Conflict, InvalidInput, NotFound, Unauthorized
from lablink.store import schema as t

ROOT = "root@example.org"
PASSWORD = "correct horse battery"


def rows(lab: Lab, table: sa.Table) -> list[sa.Row[object]]:
    with lab.store.engine.connect() as conn:  # type: ignore[attr-defined]
        return list(conn.execute(sa.select(table)))


def actions(people: People) -> list[str]:
    return [e.action for e in reversed(people.audit_log())]


def test_users_are_added_listed_and_names_are_unique(people: People) -> None:
    ana = people.add_user(ROOT, "ana", "ana@lab.org", "Ana Lima", admin=True)
    ci = people.add_user(ROOT, "ci", service=True)
    assert (ana.kind, ana.is_admin, ana.display_name, ana.has_password) == (
        "user",
        True,
        "Ana Lima",
        False,
    )
    assert (ci.kind, ci.email, ci.is_admin) == ("service", None, False)
    assert [u.name for u in people.list_users()] == ["ana", "ci"]
    with pytest.raises(AlreadyExists, match="already exists"):
        people.add_user(ROOT, "ana", "other@lab.org")
    with pytest.raises(InvalidInput, match="needs an e-mail"):
        people.add_user(ROOT, "bob")
    with pytest.raises(NotFound, match="no user 'bob'"):
        people.get_user("bob")
    assert actions(people) == ["user.add", "user.add"]  # refusals changed nothing


def test_a_password_is_stored_only_as_an_argon2_hash(lab: Lab, people: People) -> None:
    people.add_user(ROOT, "ana", "ana@lab.org")
    assert people.set_password(ROOT, "ana", PASSWORD).has_password
    [row] = rows(lab, t.users)
    assert row.password_hash.startswith("$argon2id$")
    every_value = repr([tuple(r) for table in (t.users, t.audit_log) for r in rows(lab, table)])
    assert PASSWORD not in every_value
    assert people.verify_password("ana", PASSWORD).user == "ana"
    for name, password in (("ana", "wrong password"), ("nobody", PASSWORD), ("ana", "x" * 2000)):
        with pytest.raises(Unauthorized, match="wrong user name or password"):
            people.verify_password(name, password)
    with pytest.raises(InvalidInput, match="8 to 1024"):
        people.set_password(ROOT, "ana", "short")


def test_sign_in_records_successes_and_failures(people: People) -> None:
    people.add_user(ROOT, "ana", "ana@lab.org")
    people.set_password(ROOT, "ana", PASSWORD)
    with pytest.raises(Unauthorized, match="wrong user name or password"):
        people.sign_in("ana", "guess one", ip="10.0.0.9")
    assert people.sign_in("ana", PASSWORD, ip="10.0.0.8").user == "ana"
    people.disable(ROOT, "ana")
    with pytest.raises(Unauthorized, match="disabled"):
        people.sign_in("ana", PASSWORD)
    failed, ok = people.audit_log(action="signin.failed"), people.audit_log(action="signin")
    assert [(e.ip, e.detail["reason"]) for e in failed] == [
        (None, "user ana is disabled"),
        ("10.0.0.9", "wrong user name or password"),
    ]
    assert [(e.actor, e.ip) for e in ok] == [("ana", "10.0.0.8")]


def test_a_failed_sign_in_as_nobody_keeps_no_trace_of_what_was_typed(
    lab: Lab, people: People
) -> None:
    with pytest.raises(Unauthorized, match="wrong user name or password"):
        people.sign_in("hunter2-typed-in-the-name-field", "anything at all")
    [entry] = people.audit_log()
    assert (entry.actor, entry.action, entry.target) == ("anonymous", "signin.failed", None)
    assert "hunter2" not in repr([tuple(r) for r in rows(lab, t.audit_log)])


def test_a_token_is_shown_once_stored_hashed_and_authenticates(
    lab: Lab, people: People, clock: Clock
) -> None:
    people.add_user(ROOT, "ana", "ana@lab.org")
    lab.store.ensure_project("vision")
    new = people.create_token(ROOT, "ana", "laptop", "vision", "viewer", expires_in=3600)
    secret = new.secret.split("_", 2)[2]
    [row] = rows(lab, t.tokens)
    assert row.secret_hash == "sha256:" + hashlib.sha256(secret.encode()).hexdigest()
    every_value = repr([tuple(r) for table in (t.tokens, t.audit_log) for r in rows(lab, table)])
    assert secret not in every_value and new.secret not in every_value
    assert new.token.expires_at == clock.now + 3600 and new.token.last_used_at is None
    identity = people.authenticate_token(new.secret)
    assert (identity.user, identity.role, identity.project, identity.is_admin) == (
        "ana", "viewer", "vision", False
    )  # fmt: skip
    assert identity.token_id == new.token.id
    [listed] = people.list_tokens("ana")
    assert listed.last_used_at == clock.now and listed.display == f"ll_{listed.prefix}_…"


def test_last_use_is_written_at_most_once_a_minute(people: People, clock: Clock) -> None:
    people.add_user(ROOT, "ci", service=True)
    new = people.create_token(ROOT, "ci", "ci")
    first = clock.now
    people.authenticate_token(new.secret)
    clock.advance(TOUCH_EVERY / 2)
    people.authenticate_token(new.secret)
    assert people.list_tokens()[0].last_used_at == first
    clock.advance(TOUCH_EVERY)
    people.authenticate_token(new.secret)
    assert people.list_tokens()[0].last_used_at == clock.now


def test_expired_revoked_unknown_and_disabled_tokens_are_refused_and_audited(
    people: People, clock: Clock
) -> None:
    people.add_user(ROOT, "ana", "ana@lab.org")
    expiring = people.create_token(ROOT, "ana", "short", expires_in=60)
    revoked = people.create_token(ROOT, "ana", "gone")
    kept = people.create_token(ROOT, "ana", "kept")
    assert people.revoke_token(ROOT, revoked.token.id).revoked_at == clock.now
    clock.advance(61)
    prefix = kept.token.prefix
    refused = {
        expiring.secret: "is expired",
        revoked.secret: "is revoked",
        "ll_zzzzzzzz_" + "a" * 43: "unknown token",
        f"ll_{prefix}_" + "a" * 43: "unknown token",  # a real prefix, a wrong secret
        "Bearer nonsense": "malformed token",
    }
    for text, message in refused.items():
        with pytest.raises(Unauthorized, match=message):
            people.authenticate_token(text, ip="192.0.2.1")
    assert people.authenticate_token(kept.secret).user == "ana"
    people.disable(ROOT, "ana")
    with pytest.raises(Unauthorized, match="user ana is disabled"):
        people.authenticate_token(kept.secret)
    people.enable(ROOT, "ana")
    assert people.authenticate_token(kept.secret).user == "ana"
    entries = people.audit_log(action="token.refused")
    assert len(entries) == 6 and {e.ip for e in entries} == {"192.0.2.1", None}
    assert entries[-1].detail == {
        "reason": f"token {expiring.token.id} (short) is expired",
        "prefix": expiring.token.prefix,
    }


def test_token_active_reads_the_store_not_the_cache(lab: Lab, people: People, clock: Clock) -> None:
    people.add_user(ROOT, "ana", "ana@lab.org")
    expiring = people.create_token(ROOT, "ana", "short", expires_in=60)
    revoked = people.create_token(ROOT, "ana", "gone")
    people.authenticate_token(revoked.secret)  # now held in this People's memory
    used = people.list_tokens("ana")[0].last_used_at
    assert people.token_active(expiring.token.id) and people.token_active(revoked.token.id)
    # Revoked by another process: only the store knows.
    other = People(lab.store, clock=clock)
    other.revoke_token(ROOT, revoked.token.id)
    assert people.authenticate_token(revoked.secret).user == "ana"  # the cache still says yes
    assert not people.token_active(revoked.token.id)
    assert people.token_active(expiring.token.id)
    clock.advance(60)
    assert not people.token_active(expiring.token.id)
    kept = people.create_token(ROOT, "ana", "kept")
    people.disable(ROOT, "ana")
    assert not people.token_active(kept.token.id)
    people.enable(ROOT, "ana")
    assert people.token_active(kept.token.id)
    assert not people.token_active(999)
    assert people.list_tokens("ana")[-2].last_used_at == used  # asking is not a use


def test_revoking_twice_or_an_unknown_token_is_refused(people: People) -> None:
    people.add_user(ROOT, "ci", service=True)
    new = people.create_token(ROOT, "ci", "ci")
    people.revoke_token(ROOT, new.token.id)
    with pytest.raises(Conflict, match="already revoked"):
        people.revoke_token(ROOT, new.token.id)
    with pytest.raises(NotFound, match="no token 999"):
        people.revoke_token(ROOT, 999)
    with pytest.raises(InvalidInput, match="positive integer"):
        people.revoke_token(ROOT, 0)
    assert actions(people) == ["user.add", "token.create", "token.revoke"]


def test_tokens_for_unknown_users_or_projects_or_roles_are_refused(people: People) -> None:
    people.add_user(ROOT, "ci", service=True)
    with pytest.raises(NotFound, match="no user 'ghost'"):
        people.create_token(ROOT, "ghost", "ci")
    with pytest.raises(NotFound, match="no project 'nowhere'"):
        people.create_token(ROOT, "ci", "ci", project="nowhere")
    with pytest.raises(InvalidInput, match="not one of"):
        people.create_token(ROOT, "ci", "ci", role="owner")
    with pytest.raises(InvalidInput, match="between a second and ten years"):
        people.create_token(ROOT, "ci", "ci", expires_in=-5)
    assert people.list_tokens() == []


def test_roles_come_from_grants_and_a_server_admin_is_admin_everywhere(
    lab: Lab, people: People
) -> None:
    people.add_user(ROOT, "root", "root@lab.org", admin=True)
    people.add_user(ROOT, "kenji", "kenji@lab.org")
    lab.store.ensure_project("vision")
    assert people.role_for("kenji", "vision") is None
    assert people.grant(ROOT, "vision", "kenji", "viewer").role == "viewer"
    assert people.role_for("kenji", "vision") == "viewer"
    people.grant(ROOT, "vision", "kenji", "member")  # replaces the earlier grant
    assert people.role_for("kenji", "vision") == "member"
    assert [(g.project, g.user, g.role) for g in people.grants()] == [("vision", "kenji", "member")]
    assert people.role_for("kenji", "nlp") is None
    assert people.role_for("root", "nlp") == "admin" and people.role_for("ghost", "vision") is None
    people.disable(ROOT, "kenji")
    assert people.role_for("kenji", "vision") is None


def test_a_bad_grant_changes_nothing(lab: Lab, people: People) -> None:
    people.add_user(ROOT, "kenji", "kenji@lab.org")
    with pytest.raises(NotFound, match="no user 'ghost'"):
        people.grant(ROOT, "vision", "ghost", "viewer", create=True)
    with pytest.raises(NotFound, match="grant with --create"):
        people.grant(ROOT, "vision", "kenji", "viewer")
    with pytest.raises(InvalidInput, match="not one of"):
        people.grant(ROOT, "vision", "kenji", "owner", create=True)
    assert lab.store.list_projects() == [] and people.grants() == []
    # nothing changed; the two attempts on names that are not there are kept
    assert actions(people) == ["user.add", "grant.refused", "grant.refused"]
    people.grant(ROOT, "vision", "kenji", "admin", create=True)
    assert [p.name for p in lab.store.list_projects()] == ["vision"]


def test_a_token_acts_as_its_user_within_its_role_and_project(lab: Lab, people: People) -> None:
    people.add_user(ROOT, "root", "root@lab.org", admin=True)
    people.add_user(ROOT, "kenji", "kenji@lab.org")
    for project in ("vision", "nlp"):
        lab.store.ensure_project(project)
    people.grant(ROOT, "vision", "kenji", "viewer")
    people.grant(ROOT, "nlp", "kenji", "admin")

    def role(user: str, project: str | None, token_role: str, where: str) -> str | None:
        new = people.create_token(ROOT, user, "t", project, token_role)
        return people.role_of(people.authenticate_token(new.secret), where)

    assert role("kenji", None, "admin", "vision") == "viewer"  # a token never raises a role
    assert role("kenji", None, "member", "nlp") == "member"  # ...but caps it
    assert role("kenji", "nlp", "admin", "vision") is None  # scoped to another project
    assert role("root", None, "member", "vision") == "member"
    admin = people.authenticate_token(people.create_token(ROOT, "root", "t", None, "admin").secret)
    scoped = people.authenticate_token(
        people.create_token(ROOT, "root", "t", "nlp", "admin").secret
    )
    assert admin.is_admin and not scoped.is_admin
    password = people.verify_password  # a password sign-in has no limits of its own
    people.set_password(ROOT, "kenji", PASSWORD)
    assert people.role_of(password("kenji", PASSWORD), "nlp") == "admin"


def test_the_audit_log_is_append_only_in_the_database(lab: Lab, people: People) -> None:
    people.add_user(ROOT, "ana", "ana@lab.org")
    engine = lab.store.engine  # type: ignore[attr-defined]
    for statement in (t.audit_log.update().values(actor="someone else"), t.audit_log.delete()):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(statement)
    [entry] = people.audit_log()
    assert (entry.actor, entry.action, entry.target) == (ROOT, "user.add", "user:ana")


def test_the_audit_log_filters_by_time_user_and_action(people: People, clock: Clock) -> None:
    people.add_user(ROOT, "ana", "ana@lab.org")
    clock.advance(3600)
    start = clock.now
    token = people.create_token(ROOT, "ana", "ci")
    people.audit("ana", "settings.change", "project:vision", {"key": "x"}, "10.1.1.1")
    people.revoke_token("ana", token.token.id)
    assert [e.action for e in people.audit_log(since=start)] == [
        "token.revoke", "settings.change", "token.create"
    ]  # fmt: skip
    assert [e.action for e in people.audit_log(user="ana")] == [
        "token.revoke", "settings.change", "user.add"
    ]  # fmt: skip
    assert [e.action for e in people.audit_log(action="token.")] == ["token.revoke", "token.create"]
    assert [e.action for e in people.audit_log(action="token")] == []
    assert len(people.audit_log(limit=2)) == 2
    for bad in (0, 10_001, True):
        with pytest.raises(InvalidInput, match="limit"):
            people.audit_log(limit=bad)
