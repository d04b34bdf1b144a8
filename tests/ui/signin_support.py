"""A team with passwords on a server with auth on, and clients that sign in to it.

The signed-in UI tests share their fixtures from here; a test module takes the ones it
uses by name, with the redundant alias that marks a re-export for the linters::

    from signin_support import page as page, server as server, team as team

A module narrows one by defining its own of that name (a ``team`` with a roster, a
``server`` with single sign-on), and lists the console errors its tests provoke on
purpose (a refused form's 403) in ``EXPECTED_PROBLEMS``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from browser_pages import launched_browser, watched_page
from playwright.sync_api import Browser, Page, expect

from helpers import AppServer, Loopback
from lablink.core.lab import Lab
from lablink.server.app import create_app
from lablink.server.auth import AuthConfig

PASSWORD = "correct horse battery"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


class Clock:
    """Time that passes only when a test says so (session expiry without sleeping)."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Team:
    lab: Lab
    clock: Clock
    vision_run: str
    audio_run: str


def make_team(lab: Lab) -> Team:
    """ana (server admin), kenji (viewer of vision), mia (member of vision), lee (member
    of audio) and nobody (no grant), each with ``PASSWORD``; one run in each project."""
    clock = Clock()
    people = lab.people
    people.clock = clock
    for name, admin in (("ana", True), ("kenji", False), ("mia", False), ("lee", False)):
        people.add_user("root", name, f"{name}@lab.org", admin=admin)
        people.set_password("root", name, PASSWORD)
    people.add_user("root", "nobody", "nobody@lab.org")
    people.set_password("root", "nobody", PASSWORD)
    vision = lab.tracking.create_run("ana", "vision", "baseline").id
    audio = lab.tracking.create_run("ana", "audio", "whisper").id
    people.grant("root", "vision", "kenji", "viewer")
    people.grant("root", "vision", "mia", "member")
    people.grant("root", "audio", "lee", "member")
    return Team(lab, clock, vision, audio)


def csrf_of(html: str) -> str:
    """The first CSRF token a page's forms carry."""
    found = CSRF_FIELD.search(html)
    assert found, "no csrf_token field in the page"
    return found.group(1)


def sign_in(
    client: httpx.Client, user: str, password: str = PASSWORD, next: str = "/"
) -> httpx.Response:
    """Open the sign-in form and send it, as a browser would (redirects not followed)."""
    form = client.get("/signin", params={"next": next})
    assert form.status_code == 200, form.text
    return client.post(
        "/signin",
        data={"user": user, "password": password, "next": next, "csrf_token": csrf_of(form.text)},
    )


@contextlib.contextmanager
def signed_in(server: AppServer, user: str) -> Iterator[httpx.Client]:
    """An httpx client signed in as ``user``, asking for pages as a browser does."""
    with httpx.Client(base_url=server.url, timeout=10, headers={"Accept": "text/html"}) as c:
        answer = sign_in(c, user)
        assert answer.status_code == 303, answer.text
        yield c


def browser_from(server: AppServer, address: str) -> httpx.Client:
    """A browser whose connections come from ``address``: another loopback address, so
    another client for the server's per-address counters."""
    transport = httpx.HTTPTransport(local_address=address)
    headers = {"Accept": "text/html"}
    return httpx.Client(base_url=server.url, timeout=10, headers=headers, transport=transport)


@contextlib.contextmanager
def signed_in_from(server: AppServer, user: str, address: str) -> Iterator[httpx.Client]:
    """``signed_in`` from ``address``: its own session and its own client address."""
    with browser_from(server, address) as c:
        answer = sign_in(c, user)
        assert answer.status_code == 303, answer.text
        yield c


def sign_in_page(page: Page, user: str, target: str | None = "/signin") -> None:
    """Sign ``user`` in through the form in a real browser (``target``: open it first;
    None: the form is already shown) and wait for the header to name them."""
    if target is not None:
        page.goto(target)
    page.fill('input[name="user"]', user)
    page.fill('input[name="password"]', PASSWORD)
    page.click('form.signin button[type="submit"]')
    expect(page.locator('[data-role="user"]')).to_have_text(user)


# -- fixtures ------------------------------------------------------------------------------
@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only: for browser tests, whose HTTP twins run on both backends."""
    return f"sqlite:///{tmp_path / 'home' / 'lablink.db'}"


@pytest.fixture
def team(lab: Lab) -> Team:
    """``make_team`` in the test's lab."""
    return make_team(lab)


@pytest.fixture
def server(team: Team) -> Iterator[AppServer]:
    """The team's lab served on loopback with ``--auth required``."""
    srv = AppServer(create_app(team.lab, auth=AuthConfig("required"))).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def module_team(module_lab: Lab) -> Team:
    """``make_team`` once per module and backend, for parametrised cases that keep apart
    by their own sessions and client addresses (``module_addresses``)."""
    return make_team(module_lab)


@pytest.fixture(scope="module")
def module_server(module_team: Team) -> Iterator[AppServer]:
    """``server`` over ``module_team``: one per module and backend."""
    srv = AppServer(create_app(module_team.lab, auth=AuthConfig("required"))).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def module_addresses() -> Loopback:
    """Fresh client addresses for the cases sharing ``module_server``."""
    return Loopback(block=7)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium per module."""
    yield from launched_browser()


@pytest.fixture
def page(request: pytest.FixtureRequest, browser: Browser, server: AppServer) -> Iterator[Page]:
    """A page on ``server``; any console or script error fails the test but those the
    module provokes on purpose, listed (a part of each message) in its
    ``EXPECTED_PROBLEMS``."""
    expected: tuple[str, ...] = getattr(request.module, "EXPECTED_PROBLEMS", ())
    with watched_page(browser, server.url) as (page, problems):
        yield page
    assert [p for p in problems if not any(e in p for e in expected)] == []
