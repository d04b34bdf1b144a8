"""The admin pages (``/admin/users``, ``/admin/projects``, ``/admin/audit``) over HTTP.

On SQLite and PostgreSQL, with httpx signed in as a browser would be; the browser's
part is ``test_ui_admin_browser.py``. Only a server admin gets in; every form needs its CSRF token.
"""

from __future__ import annotations

import re

import httpx
from signin_support import Team, csrf_of, signed_in
from signin_support import server as server
from signin_support import team as team

from helpers import AppServer
from lablink.server.app import create_app


def post(client: httpx.Client, page: str, action: str, **fields: str) -> httpx.Response:
    """Send a form of ``page`` with the page's CSRF token."""
    token = csrf_of(client.get(page).text)
    return client.post(action, data={"csrf_token": token, **fields})


def test_only_a_server_admin_gets_in(server: AppServer, team: Team) -> None:
    with signed_in(server, "kenji") as kenji:
        for page in ("/admin/users", "/admin/projects", "/admin/audit"):
            refused = kenji.get(page)
            assert refused.status_code == 403, page
            assert "kenji is not a server admin" in refused.text
        token = csrf_of(kenji.get("/me").text)
        added = kenji.post("/admin/users", data={"csrf_token": token, "name": "eve"})
        assert added.status_code == 403
        granted = kenji.post(
            "/admin/projects/grants",
            data={"csrf_token": token, "project": "vision", "user": "kenji", "role": "admin"},
        )
        assert granted.status_code == 403
        assert 'data-role="admin"' not in kenji.get("/me").text
    assert team.lab.people.role_for("kenji", "vision") == "viewer"
    with httpx.Client(base_url=server.url, timeout=10) as anonymous:
        assert anonymous.get("/admin/users").headers["location"].startswith("/signin")
    with AppServer(create_app(team.lab)).start() as off, httpx.Client(base_url=off.url) as c:
        assert c.get("/admin/users").status_code == 404  # auth off: nobody to administer


def test_an_admin_adds_disables_and_promotes_users(server: AppServer, team: Team) -> None:
    people = team.lab.people
    with signed_in(server, "ana") as ana:
        listed = ana.get("/admin/users")
        assert listed.status_code == 200
        assert 'data-user="kenji"' in listed.text
        added = post(ana, "/admin/users", "/admin/users", name="zoe", email="zoe@lab.org")
        assert added.status_code == 201
        secret = re.search(r"<code>(ll_[^<]+)</code>", added.text)
        assert secret, added.text
        assert people.authenticate_token(secret.group(1)).user == "zoe"
        assert "ll_" not in ana.get("/admin/users").text  # shown once
        bad = post(ana, "/admin/users", "/admin/users", name="yan")
        assert bad.status_code == 400
        assert "yan needs an e-mail address" in bad.text
        taken = post(ana, "/admin/users", "/admin/users", name="zoe", email="z@lab.org")
        assert taken.status_code == 409
        assert post(ana, "/admin/users", "/admin/users/zoe/disable").status_code == 303
        assert people.get_user("zoe").disabled
        assert post(ana, "/admin/users", "/admin/users/zoe/enable").status_code == 303
        assert post(ana, "/admin/users", "/admin/users/zoe/admin").status_code == 303
        assert people.get_user("zoe").is_admin
        assert post(ana, "/admin/users", "/admin/users/ana/disable").status_code == 403
        assert post(ana, "/admin/users", "/admin/users/nobody2/disable").status_code == 404
        no_csrf = ana.post("/admin/users/zoe/disable")
        assert no_csrf.status_code == 403
    assert not people.get_user("zoe").disabled
    actions = [e.action for e in people.audit_log(user="zoe")]
    assert actions[:4] == ["user.admin", "user.enable", "user.disable", "user.add"]
    assert people.audit_log(user="zoe")[0].actor == "ana"


def test_an_admin_grants_and_revokes_roles(server: AppServer, team: Team) -> None:
    people = team.lab.people
    with signed_in(server, "ana") as ana:
        page = ana.get("/admin/projects")
        assert page.status_code == 200
        assert 'data-project="vision"' in page.text and 'data-grant="mia"' in page.text
        fields = {"project": "audio", "user": "kenji", "role": "member"}
        assert post(ana, "/admin/projects", "/admin/projects/grants", **fields).status_code == 303
        assert people.role_for("kenji", "audio") == "member"
        ghost = post(
            ana, "/admin/projects", "/admin/projects/grants", **{**fields, "user": "ghost"}
        )
        assert ghost.status_code == 404
        assert "ghost" in ghost.text
        new = {"project": "speech", "user": "mia", "role": "admin", "create": "1"}
        assert post(ana, "/admin/projects", "/admin/projects/grants", **new).status_code == 303
        assert 'data-project="speech"' in ana.get("/admin/projects").text
        gone = post(ana, "/admin/projects", "/admin/projects/revoke", project="audio", user="kenji")
        assert gone.status_code == 303
    assert people.role_for("kenji", "audio") is None
    assert [e.action for e in people.audit_log(user="kenji")][:2] == ["grant.revoke", "grant.set"]
    assert people.audit_log(action="grant.refused")[0].actor == "ana"


def test_the_audit_log_filters_pages_and_exports(server: AppServer, team: Team) -> None:
    people = team.lab.people
    for n in range(60):
        people.audit("ci", "test.ping", None, {"n": n})
    with signed_in(server, "ana") as ana:
        first = ana.get("/admin/audit", params={"action": "test.", "since": "1d"})
        assert first.status_code == 200
        assert first.text.count('data-role="action">test.ping<') == 50
        older = re.search(r'href="/admin/audit(\?[^"]+)" data-role="older"', first.text)
        assert older, first.text
        second = ana.get("/admin/audit" + older.group(1).replace("&amp;", "&"))
        assert second.text.count('data-role="action">test.ping<') == 10
        assert 'data-role="older"' not in second.text
        export = re.search(r'href="([^"]+)" data-role="export-csv"', first.text)
        assert export
        csv = ana.get(export.group(1).replace("&amp;", "&"))
        assert csv.status_code == 200
        assert csv.text.count("test.ping") == 60
        mine = ana.get("/admin/audit", params={"user": "kenji"})
        assert "test.ping" not in mine.text and "grant.set" in mine.text
        bad = ana.get("/admin/audit", params={"since": "soon"})
        assert bad.status_code == 400
        assert "cannot read &#39;soon&#39; as a duration" in bad.text
        assert ana.get("/admin/audit", params={"before": "x"}).status_code == 400
