"""Single sign-on through a real OpenID Connect provider on 127.0.0.1 (``oidc_provider.py``).

Over HTTP with httpx, on SQLite and PostgreSQL: the client follows the redirects a
browser follows, between the lablink server and the provider. Every refusal is a page
that says why, and an entry in the audit log; a real Chromium signs in at the end of
``test_ui_oidc_browser.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from joserfc.jwk import RSAKey
from signin_support import Team, browser_from
from signin_support import module_addresses as module_addresses
from signin_support import module_team as module_team
from signin_support import team as team

from helpers import AppServer, Loopback
from lablink.core.lab import Lab
from lablink.core.oidc_config import OidcConfig
from lablink.server.app import create_app
from lablink.server.auth import AuthConfig
from lablink.server.browser import SESSION_COOKIE
from oidc_provider import CLIENT_ID, CLIENT_SECRET, KID, Person, Provider


@pytest.fixture
def provider() -> Iterator[Provider]:
    idp = Provider(Person("sub-ana", "ana@lab.org")).start()
    yield idp
    idp.stop()


def oidc_config(provider: Provider, **extra: object) -> OidcConfig:
    return OidcConfig(provider.url, CLIENT_ID, CLIENT_SECRET, "Test IdP", **extra)  # type: ignore[arg-type]


@pytest.fixture
def server(team: Team, provider: Provider) -> Iterator[AppServer]:
    auth = AuthConfig("required", oidc=oidc_config(provider))
    srv = AppServer(create_app(team.lab, auth=auth)).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def module_provider() -> Iterator[Provider]:
    """One provider for the cases sharing ``module_oidc_server``."""
    idp = Provider(Person("sub-ana", "ana@lab.org")).start()
    yield idp
    idp.stop()


@pytest.fixture(scope="module")
def module_oidc_server(module_team: Team, module_provider: Provider) -> Iterator[AppServer]:
    """``server`` over ``module_team`` and ``module_provider``: one per module and backend."""
    auth = AuthConfig("required", oidc=oidc_config(module_provider))
    srv = AppServer(create_app(module_team.lab, auth=auth)).start()
    yield srv
    srv.stop()


@pytest.fixture
def tampered(module_provider: Provider) -> Iterator[Provider]:
    """The module's provider for one case to tamper with; its claims honest again after."""
    module_provider.claims = {}
    yield module_provider
    module_provider.claims = {}


@pytest.fixture
def client(server: AppServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10, headers={"Accept": "text/html"}) as c:
        yield c


def to_provider(client: httpx.Client, next: str = "/") -> str:
    """Start a sign-in; the provider's answer: the callback URL it sends the browser to."""
    start = client.get("/signin/oidc", params={"next": next})
    assert start.status_code == 303, start.text
    with httpx.Client(timeout=10) as elsewhere:
        approved = elsewhere.get(start.headers["location"])
    assert approved.status_code == 302, approved.text
    return approved.headers["location"]


def come_back(client: httpx.Client, callback: str) -> httpx.Response:
    parts = urlsplit(callback)
    return client.get(parts.path + "?" + parts.query)


def failures(lab: Lab, ip: str | None = None) -> list[str]:
    """The reasons of failed sign-ins (only those from ``ip``, if given)."""
    entries = lab.people.audit_log(action="signin.failed")
    return [str(e.detail.get("reason")) for e in entries if ip is None or e.ip == ip]


def test_the_sign_in_page_offers_the_provider(client: httpx.Client) -> None:
    page = client.get("/signin", params={"next": "/me"})
    assert 'href="/signin/oidc?next=/me"' in page.text
    assert "Sign in with Test IdP" in page.text


def test_a_sign_in_through_the_provider_starts_a_session(
    client: httpx.Client, team: Team, provider: Provider
) -> None:
    start = client.get("/signin/oidc", params={"next": "/me"})
    query = parse_qs(urlsplit(start.headers["location"]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["client_id"] == [CLIENT_ID]
    assert {"state", "nonce", "code_challenge"} <= set(query)
    assert "lablink_oidc=" in start.headers["set-cookie"]
    with httpx.Client(timeout=10) as elsewhere:
        callback = elsewhere.get(start.headers["location"]).headers["location"]
    flow = client.cookies["lablink_oidc"]
    back = come_back(client, callback)
    assert back.status_code == 303, back.text
    assert back.headers["location"] == "/me"
    assert SESSION_COOKIE in client.cookies
    me = client.get("/me")
    assert me.status_code == 200
    assert 'data-role="me">ana<' in me.text
    entry = team.lab.people.audit_log(action="signin")[0]
    assert (entry.actor, entry.detail["method"], entry.detail["email"]) == (
        "ana",
        "oidc",
        "ana@lab.org",
    )
    assert entry.detail["issuer"] == provider.url
    # The code is spent: the same answer, with the same flow cookie, signs nobody in.
    with httpx.Client(base_url=client.base_url, timeout=10) as again:
        again.cookies.set("lablink_oidc", flow)
        replayed = come_back(again, callback)
        assert replayed.status_code == 401
        assert "refused the code (400" in replayed.text


def test_the_provider_is_down_or_unknown_to_a_server_without_it(
    team: Team, provider: Provider
) -> None:
    plain = AppServer(create_app(team.lab, auth=AuthConfig("required")))
    with plain.start(), httpx.Client(base_url=plain.url, timeout=10) as c:
        assert "Sign in with" not in c.get("/signin").text
        assert c.get("/signin/oidc").status_code == 404
        assert c.get("/signin/oidc/callback?code=x&state=y").status_code == 404
    config = OidcConfig("http://127.0.0.1:9", CLIENT_ID, CLIENT_SECRET, "Gone")
    srv = AppServer(create_app(team.lab, auth=AuthConfig("required", oidc=config)))
    with srv.start(), httpx.Client(base_url=srv.url, timeout=10) as c:
        down = c.get("/signin/oidc")
        assert down.status_code == 503
        assert "did not answer" in down.text


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        ({"aud": ["another-client"]}, "meant for another client (aud)"),
        ({"exp": 1_000_000_000}, "expired (exp)"),
        ({"nonce": "not-the-nonce"}, "not the answer to this sign-in (nonce)"),
        ({"iss": "http://127.0.0.1:1"}, "issued by another provider (iss)"),
        ({"email_verified": False}, "has not verified ana@lab.org"),
        ({"email": "stranger@lab.org"}, "no lablink user has the e-mail address stranger@lab.org"),
    ],
)
def test_a_bad_id_token_is_refused_with_a_page_and_an_audit_entry(
    module_oidc_server: AppServer,
    module_team: Team,
    module_addresses: Loopback,
    tampered: Provider,
    tamper: dict[str, object],
    reason: str,
) -> None:
    # One server for all cases; each comes from its own address, so its audit entry is
    # told from the others' by that address, and no case's failures lock another out.
    tampered.claims = tamper
    address = module_addresses.next()
    with browser_from(module_oidc_server, address) as client:
        back = come_back(client, to_provider(client))
        assert back.status_code == 401
        assert "Sign-in refused" in back.text
        assert reason in back.text
        assert SESSION_COOKIE not in client.cookies
        assert any(reason in r for r in failures(module_team.lab, address))
        assert client.get("/me").status_code == 303  # still signed out


def test_a_token_signed_with_another_key_is_refused(
    client: httpx.Client, team: Team, provider: Provider
) -> None:
    provider.signing_key = RSAKey.generate_key(2048, parameters={"kid": KID})
    back = come_back(client, to_provider(client))
    assert back.status_code == 401
    assert "signature does not verify" in back.text
    assert any("signature" in r for r in failures(team.lab))


def test_a_wrong_state_or_a_missing_cookie_is_refused(
    client: httpx.Client, team: Team, server: AppServer
) -> None:
    callback = urlsplit(to_provider(client))
    query = {k: v[0] for k, v in parse_qs(callback.query).items()}
    forged = come_back(client, "/signin/oidc/callback?" + urlencode({**query, "state": "x" * 32}))
    assert forged.status_code == 401
    assert "not for this browser (state differs)" in forged.text
    with httpx.Client(base_url=server.url, timeout=10) as stranger:
        # Another browser with the victim's answer: it never started a sign-in here.
        answer = come_back(stranger, "/signin/oidc/callback?" + urlencode(query))
    assert answer.status_code == 401
    assert "started no single sign-on" in answer.text
    assert client.get("/signin/oidc").status_code == 303  # a new sign-in, refused there
    denied = come_back(client, "/signin/oidc/callback?error=access_denied&state=s")
    assert "refused: access_denied" in denied.text
    assert len(failures(team.lab)) == 3


def test_a_disabled_user_is_refused(client: httpx.Client, team: Team) -> None:
    team.lab.people.disable("root", "ana")
    back = come_back(client, to_provider(client))
    assert back.status_code == 401
    assert "user ana is disabled" in back.text
    assert any("disabled" in r for r in failures(team.lab))


def test_an_unknown_address_becomes_a_viewer_when_allowed(team: Team, provider: Provider) -> None:
    provider.person = Person("sub-zoe", "Zoe.K@lab.org", name="Zoe K")
    config = oidc_config(provider, create_users=True, new_user_projects=("vision",))
    srv = AppServer(create_app(team.lab, auth=AuthConfig("required", oidc=config)))
    with srv.start(), httpx.Client(base_url=srv.url, timeout=10) as c:
        back = come_back(c, to_provider(c, "/p/vision"))
        assert back.status_code == 303, back.text
        assert c.get("/p/vision").status_code == 200
        assert c.get("/p/audio").status_code == 404
    user = team.lab.people.get_user("Zoe.K")
    assert (user.email, user.display_name, user.is_admin) == ("Zoe.K@lab.org", "Zoe K", False)
    assert team.lab.people.role_for("Zoe.K", "vision") == "viewer"


def test_repeated_failures_lock_the_address(client: httpx.Client, team: Team) -> None:
    for _ in range(5):
        assert come_back(client, "/signin/oidc/callback?code=c&state=s").status_code == 401
    locked = come_back(client, "/signin/oidc/callback?code=c&state=s")
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0
    assert "too many failed sign-ins" in locked.text
    assert team.lab.people.audit_log(action="signin.blocked")[0].detail["method"] == "oidc"
