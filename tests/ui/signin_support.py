"""A team with passwords on a server with auth on, and a browser-like client that signs in."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx

from lablink.core.lab import Lab

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
