"""Sign-in, sessions, CSRF and project roles on the web UI, over HTTP on a real server.

Each test runs on SQLite and PostgreSQL. The client is httpx with its cookie jar, sending
what a browser sends; the browser itself is in ``test_ui_signin_browser.py``.
"""

from __future__ import annotations

import re
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import uvicorn
from signin_support import PASSWORD, Team, browser_from, csrf_of, sign_in, signed_in
from signin_support import module_addresses as module_addresses
from signin_support import module_server as module_server
from signin_support import module_team as module_team
from signin_support import server as server
from signin_support import team as team

from helpers import AppServer, Loopback
from lablink.core.lab import Lab
from lablink.server.app import create_app
from lablink.server.auth import AuthConfig
from lablink.server.browser import SESSION_COOKIE, safe_next

API = "/api/v1"


@pytest.fixture
def browser_client(server: AppServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10, headers={"Accept": "text/html"}) as c:
        yield c


def set_cookie_of(response: httpx.Response, name: str) -> str:
    found = [h for h in response.headers.get_list("set-cookie") if h.startswith(name + "=")]
    assert found, response.headers
    return found[0]


def test_pages_ask_for_a_sign_in_and_ui_data_answers_401(
    browser_client: httpx.Client, team: Team
) -> None:
    c = browser_client
    home = c.get("/")
    assert home.status_code == 303 and home.headers["location"] == "/signin"
    run = c.get(f"/r/{team.vision_run}", params={"x": "time"})
    assert run.status_code == 303
    target = parse_qs(urlsplit(run.headers["location"]).query)["next"][0]
    assert target == f"/r/{team.vision_run}?x=time"
    for path in (
        "/me",
        "/incidents",
        "/datasets",
        "/compare",
        "/docs",
        f"/r/{team.vision_run}/diff",
    ):
        assert c.get(path).status_code == 303, path
    for path in (
        f"/ui-data/history?run={team.vision_run}&key=loss",
        "/ui-data/events",
        f"/ui-data/runs/{team.vision_run}/logs",
        f"/ui-data/runs/{team.vision_run}/attempts",
    ):
        refused = c.get(path)
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "unauthorized"
    assert c.get("/static/ui.css").status_code == 200
    assert c.get("/healthz").status_code == 200
    form = c.get("/signin")
    assert form.status_code == 200 and 'type="password"' in form.text
    assert form.headers["cache-control"] == "no-store"


def test_a_wrong_password_is_refused_and_the_right_one_signs_in(
    browser_client: httpx.Client, team: Team
) -> None:
    wrong = sign_in(browser_client, "kenji", "not the password")
    assert wrong.status_code == 401 and "wrong user name or password" in wrong.text
    assert SESSION_COOKIE not in browser_client.cookies
    unknown = sign_in(browser_client, "eve", PASSWORD)
    assert unknown.status_code == 401
    done = sign_in(browser_client, "kenji", next=f"/r/{team.vision_run}")
    assert done.status_code == 303 and done.headers["location"] == f"/r/{team.vision_run}"
    cookie = set_cookie_of(done, SESSION_COOKIE).lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    assert "max-age=2592000" in cookie and "secure" not in cookie  # plain HTTP here
    page = browser_client.get(f"/r/{team.vision_run}")
    assert page.status_code == 200 and 'data-role="user">kenji<' in page.text
    audit = [e for e in team.lab.people.audit_log() if e.action.startswith("signin")]
    assert [(e.action, e.actor) for e in audit] == [
        ("signin", "kenji"),
        ("signin.failed", "anonymous"),
        ("signin.failed", "kenji"),
    ]
    assert all(e.ip == "127.0.0.1" for e in audit)


def test_repeated_failures_lock_the_form_with_a_429(
    browser_client: httpx.Client, team: Team
) -> None:
    free = team.lab.people.guard.limits.free_failures_user
    for _ in range(free):
        assert sign_in(browser_client, "kenji", "not the password").status_code == 401
    locked = sign_in(browser_client, "kenji", PASSWORD)  # even the right password waits
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    assert 'type="password"' in locked.text  # the form again, with the reason
    assert SESSION_COOKIE not in browser_client.cookies


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "evil.example",
        "/signout",
        "/%0d%0aSet-Cookie:x=1".replace("%0d%0a", "\r\n"),
    ],
)
def test_sign_in_never_redirects_off_the_site(
    module_server: AppServer, module_addresses: Loopback, target: str
) -> None:
    assert safe_next(target) == "/"
    # One server for all cases; each signs in from its own address, so the per-address
    # sign-in allowance is never another case's.
    with browser_from(module_server, module_addresses.next()) as client:
        done = sign_in(client, "kenji", next=target)
    assert done.status_code == 303 and done.headers["location"] == "/"


def test_safe_next_keeps_a_path_with_its_query() -> None:
    assert safe_next("/p/vision?filter=a%3D1#top") == "/p/vision?filter=a%3D1#top"
    assert safe_next(None) == "/"


def test_forged_expired_and_disabled_sessions_sign_out(server: AppServer, team: Team) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as forged:
        forged.cookies.set(SESSION_COOKIE, "x" * 43)
        refused = forged.get("/")
        assert refused.status_code == 303 and refused.headers["location"] == "/signin"
        assert set_cookie_of(refused, SESSION_COOKIE).startswith(f'{SESSION_COOKIE}="";')
        assert forged.get(f"{API}/projects").status_code == 401
    with signed_in(server, "mia") as client:
        team.clock.now += 13 * 86400  # used within the idle limit: still signed in
        assert client.get("/").status_code == 200
        team.clock.now += 13 * 86400
        assert client.get("/").status_code == 200
        team.clock.now += 5 * 86400  # 31 days after sign-in: past the absolute end
        assert client.get("/").status_code == 303
    with signed_in(server, "mia") as idle:
        team.clock.now += 15 * 86400
        assert idle.get("/").status_code == 303
    with signed_in(server, "kenji") as disabled:
        assert disabled.get("/").status_code == 200
        team.lab.people.disable("root", "kenji")
        assert disabled.get("/").status_code == 303
        assert disabled.get(f"{API}/projects").status_code == 401


def test_a_form_post_without_its_csrf_token_changes_nothing(server: AppServer, team: Team) -> None:
    with signed_in(server, "mia") as mia:
        me = mia.get("/me")
        token = csrf_of(me.text)
        before = team.lab.people.list_tokens("mia")
        fields = {"name": "laptop", "role": "member", "expires": "30 days"}
        missing = mia.post("/me/tokens", data=fields)
        wrong = mia.post("/me/tokens", data={**fields, "csrf_token": "0" * 64})
        elsewhere = mia.post(
            "/me/tokens",
            data={**fields, "csrf_token": token},
            headers={"Origin": "https://evil.example"},
        )
        for refused in (missing, wrong, elsewhere):
            assert refused.status_code == 403, refused.text
            assert "text/html" in refused.headers["content-type"] and "CSRF" in refused.text
        assert team.lab.people.list_tokens("mia") == before
        made = mia.post("/me/tokens", data={**fields, "csrf_token": token})
        assert made.status_code == 201 and made.headers["cache-control"] == "no-store"
        secret = re.search(r"<code>(ll_[^<]+)</code>", made.text)
        assert secret is not None
        assert team.lab.people.authenticate_token(secret.group(1)).user == "mia"
        token_id = team.lab.people.list_tokens("mia")[0].id
        revoked = mia.post(f"/me/tokens/{token_id}/revoke", data={"csrf_token": token})
        assert revoked.status_code == 303
        assert team.lab.people.list_tokens("mia")[0].revoked_at is not None
        ana_token = team.lab.people.create_token("root", "ana", "ci").token.id
        others = mia.post(f"/me/tokens/{ana_token}/revoke", data={"csrf_token": token})
        assert others.status_code == 404
        assert team.lab.people.list_tokens("ana")[0].revoked_at is None


def test_the_api_takes_the_cookie_but_writes_need_the_csrf_header(
    server: AppServer, team: Team
) -> None:
    with signed_in(server, "mia") as mia:
        token = csrf_of(mia.get("/me").text)
        assert mia.get(f"{API}/runs/{team.vision_run}").json()["id"] == team.vision_run
        note = {"text": "from the browser"}
        refused = mia.post(f"{API}/runs/{team.vision_run}/notes", json=note)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
        wrong = mia.post(
            f"{API}/runs/{team.vision_run}/notes", json=note, headers={"X-CSRF-Token": "x"}
        )
        assert wrong.status_code == 403
        assert team.lab.tracking.get_run(team.vision_run).notes == []
        done = mia.post(
            f"{API}/runs/{team.vision_run}/notes", json=note, headers={"X-CSRF-Token": token}
        )
        assert done.status_code == 200, done.text
        assert done.json()["notes"][-1]["author"] == "mia"


def test_signing_out_ends_the_session_on_the_server(server: AppServer, team: Team) -> None:
    with signed_in(server, "mia") as mia:
        token = csrf_of(mia.get("/me").text)
        old = mia.cookies[SESSION_COOKIE]
        assert mia.post("/signout").status_code == 403  # no CSRF token: still signed in
        assert mia.get("/").status_code == 200
        out = mia.post("/signout", data={"csrf_token": token})
        assert out.status_code == 303 and out.headers["location"] == "/signin"
        assert SESSION_COOKIE not in mia.cookies
    with httpx.Client(base_url=server.url, timeout=10) as replay:
        replay.cookies.set(SESSION_COOKIE, old)
        assert replay.get("/").status_code == 303
        assert replay.get(f"{API}/projects").status_code == 401
    assert [e.action for e in team.lab.people.audit_log(user="mia", action="signout")] == [
        "signout"
    ]


def test_a_viewer_sees_only_their_projects(server: AppServer, team: Team) -> None:
    v, a = team.vision_run, team.audio_run
    with signed_in(server, "lee") as lee:
        home = lee.get("/")
        assert "/p/audio" in home.text and "/p/vision" not in home.text
        assert lee.get("/p/audio").status_code == 200
        assert lee.get(f"/r/{a}").status_code == 200
        for path in (
            "/p/vision",
            "/p/vision/params",
            f"/r/{v}",
            f"/r/{v[:8]}",
            f"/r/{v}/diff",
            f"/r/{v}/artifacts/model.pt",
            f"/r/{v}/logs",
            f"/compare?run={v}&run={a}",
            f"/incidents?run={v}",
        ):
            answer = lee.get(path)
            assert answer.status_code == 404, path
            assert "baseline" not in answer.text
        history = lee.get("/ui-data/history", params={"run": v, "key": "loss"})
        assert history.status_code == 404 and history.json()["error"]["code"] == "not_found"
        for path in (f"/ui-data/runs/{v}/logs", f"/ui-data/runs/{v}/attempts"):
            refused = lee.get(path)
            assert refused.status_code == 404 and refused.json()["error"]["code"] == "not_found"
        assert lee.get(f"/ui-data/runs/{a}/logs").json()["lines"] == []
        events = lee.get("/ui-data/events", params={"run": v})
        assert events.status_code == 404
        assert lee.get("/datasets").status_code == 200
        me = lee.get("/me")
        assert 'href="/p/audio"' in me.text and "/p/vision" not in me.text
    with signed_in(server, "nobody") as nobody:
        assert nobody.get("/datasets").status_code == 403
        assert "/p/" not in nobody.get("/").text
    with signed_in(server, "ana") as ana:
        assert ana.get(f"/r/{v}").status_code == 200 and ana.get(f"/r/{a}").status_code == 200


def test_the_live_stream_carries_only_readable_projects(server: AppServer, team: Team) -> None:
    from api.apitools import SseReader

    with signed_in(server, "lee") as lee, lee.stream("GET", "/ui-data/events") as response:
        stream = SseReader(response)
        stream.wait_comment("ready")
        team.lab.tracking.create_run("ana", "vision", "hidden")
        shown = team.lab.tracking.create_run("ana", "audio", "shown")
        event = stream.next_event()
        assert (event.data["project"], event.data["run_id"]) == ("audio", shown.id)


@pytest.fixture
def quick_session_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Streams read their session every 50 ms (the server runs in this process)."""
    from lablink.server.api import events

    monkeypatch.setattr(events, "CREDENTIAL_CHECK_SECONDS", 0.05)


@pytest.mark.usefixtures("quick_session_checks")
def test_signing_out_ends_the_sessions_live_stream(server: AppServer, team: Team) -> None:
    from api.apitools import assert_only_this_stream_ends

    with (
        signed_in(server, "lee") as lee,
        signed_in(server, "lee") as other,
        lee.stream("GET", "/ui-data/events") as response,
        other.stream("GET", f"{API}/events", params={"project": "audio"}) as kept,
    ):

        def sign_out() -> None:
            out = lee.post("/signout", data={"csrf_token": csrf_of(lee.get("/me").text)})
            assert out.status_code == 303

        # this session ends; another session of the same user goes on
        assert_only_this_stream_ends(team.lab, response, kept, sign_out, "session ended")


@pytest.mark.usefixtures("quick_session_checks")
def test_disabling_a_user_ends_their_live_streams(server: AppServer, team: Team) -> None:
    from api.apitools import SseReader

    with signed_in(server, "lee") as lee, lee.stream("GET", f"{API}/events") as response:
        stream = SseReader(response)
        stream.wait_comment("ready")
        team.lab.people.disable("root", "lee")
        stream.wait_comment("session ended")
        with pytest.raises(AssertionError, match="the event stream ended"):
            stream.next_event()


def test_a_token_shows_pages_but_cannot_mint_tokens(server: AppServer, team: Team) -> None:
    secret = team.lab.people.create_token("root", "lee", "ci", "audio", "viewer").secret
    with httpx.Client(
        base_url=server.url, timeout=10, headers={"Authorization": f"Bearer {secret}"}
    ) as ci:
        assert ci.get(f"/r/{team.audio_run}").status_code == 200
        assert ci.get(f"/r/{team.vision_run}").status_code == 404
        made = ci.post("/me/tokens", data={"name": "more", "role": "admin"})
        assert made.status_code == 403
    assert [t.name for t in team.lab.people.list_tokens("lee")] == ["ci"]


def test_security_headers_on_pages(server: AppServer, team: Team) -> None:
    with signed_in(server, "ana") as ana:
        for path in ("/", f"/r/{team.vision_run}", "/me"):
            headers = ana.get(path).headers
            csp = headers["content-security-policy"]
            assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
            assert "form-action 'self'" in csp and "default-src 'self'" in csp
            assert headers["x-frame-options"] == "DENY"
            assert headers["x-content-type-options"] == "nosniff"
            assert headers["referrer-policy"] == "same-origin"


@pytest.mark.parametrize("trusted", ["127.0.0.1", "10.9.8.7"])
def test_proxy_mode_signs_the_ui_in_from_the_trusted_header(team: Team, trusted: str) -> None:
    config = AuthConfig("proxy", "X-Forwarded-User", (trusted,))
    with (
        AppServer(create_app(team.lab, auth=config)).start() as srv,
        httpx.Client(base_url=srv.url, timeout=10, headers={"X-Forwarded-User": "lee"}) as lee,
    ):
        home = lee.get("/")
        if trusted != "127.0.0.1":
            assert home.status_code == 303  # not from the proxy: sign in with a password
            return
        assert home.status_code == 200 and "/p/audio" in home.text and "/p/vision" not in home.text
        assert lee.get(f"/r/{team.vision_run}").status_code == 404
        token = csrf_of(lee.get("/me").text)
        fields = {"name": "laptop", "role": "viewer", "expires": "7 days"}
        assert lee.post("/me/tokens", data=fields).status_code == 403
        assert lee.post("/me/tokens", data={**fields, "csrf_token": token}).status_code == 201


def test_auth_off_needs_no_sign_in(lab: Lab) -> None:
    run = lab.tracking.create_run("ana", "vision", "baseline").id
    with (
        AppServer(create_app(lab)).start() as srv,
        httpx.Client(base_url=srv.url, timeout=10) as client,
    ):
        home = client.get("/")
        assert home.status_code == 200 and "Sign out" not in home.text
        assert client.get(f"/r/{run}").status_code == 200
        assert client.get("/signin").status_code == 303
        assert client.post("/signin", data={"user": "x", "password": "y"}).status_code == 303
        assert client.get("/me").status_code == 404
        assert not client.cookies


class TlsServer(AppServer):
    """``AppServer`` over HTTPS with the test CA's certificate."""

    def __init__(self, app: object, cert: Path, key: Path) -> None:
        super().__init__(app)
        self.url = f"https://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,  # type: ignore[arg-type]
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            ssl_certfile=str(cert),
            ssl_keyfile=str(key),
        )
        self.server = uvicorn.Server(config)
        self.server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self.thread = threading.Thread(target=self.server.run, daemon=True)


def test_the_session_cookie_is_secure_over_tls(team: Team, tmp_path: Path) -> None:
    from tlscerts import make_certs

    certs = make_certs(tmp_path / "certs")
    trust = ssl.create_default_context(cafile=str(certs.ca))
    app = create_app(team.lab, auth=AuthConfig("required"))
    with (
        TlsServer(app, certs.cert, certs.key).start() as srv,
        httpx.Client(base_url=srv.url, timeout=10, verify=trust) as client,
    ):
        form = client.get("/signin")
        assert "secure" in set_cookie_of(form, "lablink_signin").lower()
        done = sign_in(client, "mia")
        cookie = set_cookie_of(done, SESSION_COOKIE).lower()
        assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie
        assert client.get("/").status_code == 200
