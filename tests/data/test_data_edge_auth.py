"""Edge caches with auth on: a cached blob goes only to callers the origin allows.

A real origin (``--auth required``) over SQLite and PostgreSQL and a real edge in front
of it, both on 127.0.0.1. Project ``vision`` and project ``audio`` each have a run with
an artifact; a dataset (shared by the whole server) holds two files. Every request
goes through the edge with a teammate's own token, as the SDK would send it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from datatools import Counting

from helpers import AppServer
from lablink.checks.routes import API_PREFIX as API
from lablink.core.datasets.manifest import FileEntry, Manifest
from lablink.core.datasets.packs import PackReader
from lablink.core.lab import Lab
from lablink.errors import Forbidden
from lablink.server.app import create_app
from lablink.server.auth import AuthConfig
from lablink.server.edge import create_edge_app
from lablink.server.edge_access import EdgeAccess
from lablink.server.edge_cache import EdgeCache


class Clock:
    """Time that passes only when the test says so (cache expiry without sleeping)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Setup:
    lab: Lab
    origin: Counting
    edge: EdgeCache
    access: EdgeAccess
    clock: Clock
    url: str  # the edge's
    tokens: dict[str, str]
    vision: str  # an artifact of a vision run
    audio: str  # an artifact of an audio run
    files: list[str]  # the dataset's files


@pytest.fixture
def setup(lab: Lab, tmp_path: Path) -> Iterator[Setup]:
    people = lab.people
    tokens: dict[str, str] = {}
    for name in ("ana", "kenji", "lee", "nobody"):
        people.add_user("root", name, f"{name}@lab.org", admin=name == "ana")
        role = "admin" if name == "ana" else "viewer"  # a server admin's token is unscoped admin
        tokens[name] = people.create_token("root", name, "laptop", None, role).secret
    digests = {}
    for project in ("vision", "audio"):
        run = lab.tracking.create_run("ana", project, "baseline").id
        digest = lab.tracking.put_blob(iter([f"weights of {project}".encode() * 1000]))
        lab.tracking.add_artifact(run, "model.pt", "model", digest)
        digests[project] = digest
    people.grant("root", "vision", "kenji", "viewer")
    people.grant("root", "audio", "lee", "viewer")
    files = [lab.blobs.put_bytes(f"row {i}\n".encode() * 500, "blake3")[0] for i in range(2)]
    entries = [FileEntry(f"part{i}.csv", 3000, d) for i, d in enumerate(files)]
    manifest, _ = lab.blobs.put_bytes(Manifest.build("blake3", entries).encode(), "blake3")
    lab.datasets.commit("ana", "tables", manifest)

    origin = Counting(create_app(lab, ui=False, auth=AuthConfig("required")))
    clock = Clock()
    access = EdgeAccess(clock=clock)
    with AppServer(origin).start() as upstream:
        edge = EdgeCache(tmp_path / "edge", 10**9, upstream.url)
        with AppServer(create_edge_app(edge, access=access)).start() as front:
            yield Setup(
                lab, origin, edge, access, clock, front.url, tokens,
                digests["vision"], digests["audio"], files,
            )  # fmt: skip
        edge.close()


def as_user(setup: Setup, name: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {setup.tokens[name]}"} if name else {}
    return httpx.Client(base_url=setup.url, timeout=20, headers=headers)


def pack(client: httpx.Client, digests: list[str]) -> tuple[dict[str, bytes], list[str]]:
    """Blobs and missing digests of a pack fetched through the edge."""
    answer = client.post(
        f"{API}/data/fetch",
        content=json.dumps({"digests": digests}),
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 200, answer.text
    reader = PackReader(iter([answer.content]))
    got = {digest: b"".join(chunks) for digest, _, chunks in reader}
    return got, list(reader.missing)


def upstream_fetches(setup: Setup) -> int:
    return setup.origin.counts[("POST", f"{API}/data/fetch")]


def test_a_viewer_reads_their_projects_blobs_and_datasets_through_the_edge(setup: Setup) -> None:
    with as_user(setup, "kenji") as kenji:
        got = kenji.get(f"{API}/blobs/{setup.vision}")
        assert got.status_code == 200 and got.content == b"weights of vision" * 1000
        blobs, missing = pack(kenji, setup.files)
        assert sorted(blobs) == sorted(setup.files) and missing == []


def test_a_blob_cached_for_one_caller_is_not_served_to_another(setup: Setup) -> None:
    with as_user(setup, "lee") as lee, as_user(setup, "kenji") as kenji:
        assert lee.get(f"{API}/blobs/{setup.audio}").status_code == 200
        assert setup.edge.cache.has(setup.audio)
        fetched = upstream_fetches(setup)

        refused = kenji.get(f"{API}/blobs/{setup.audio}")
        direct = httpx.get(
            f"{setup.edge.upstream}{API}/blobs/{setup.audio}",
            headers={"Authorization": f"Bearer {setup.tokens['kenji']}"},
        )
        assert refused.status_code == direct.status_code == 404
        assert refused.json()["error"]["code"] == "not_found"
        assert setup.audio not in refused.text or "not stored" in refused.text
        blobs, missing = pack(kenji, [setup.audio, setup.vision])
        assert list(blobs) == [setup.vision] and missing == [setup.audio]
        # nothing hidden came from the cache, and nothing was fetched for kenji's refusal
        assert upstream_fetches(setup) == fetched + 1  # only vision's blob


def test_no_role_anywhere_and_no_credentials_are_refused_as_the_origin_would(
    setup: Setup,
) -> None:
    with as_user(setup, "kenji") as kenji:
        assert kenji.get(f"{API}/blobs/{setup.files[0]}").status_code == 200  # now cached
    with as_user(setup, None) as anonymous, as_user(setup, "nobody") as nobody:
        for client, status, code in ((anonymous, 401, "unauthorized"), (nobody, 403, "forbidden")):
            for answer in (
                client.get(f"{API}/blobs/{setup.files[0]}"),
                client.post(f"{API}/data/fetch", json={"digests": setup.files}),
            ):
                assert answer.status_code == status, answer.text
                assert answer.json()["error"]["code"] == code
        assert anonymous.get(f"{API}/blobs/{setup.files[0]}").headers["www-authenticate"] == (
            "Bearer"
        )
    with as_user(setup, "kenji") as kenji:
        wrong = httpx.Client(
            base_url=setup.url, headers={"Authorization": "Bearer ll_abcdefgh_" + "x" * 43}
        )
        with wrong:
            assert wrong.get(f"{API}/blobs/{setup.files[0]}").status_code == 401


def test_a_revoked_token_is_refused_once_the_edges_yes_expires(setup: Setup) -> None:
    people = setup.lab.people
    brief = people.create_token("root", "kenji", "brief")
    headers = {"Authorization": f"Bearer {brief.secret}"}
    with httpx.Client(base_url=setup.url, timeout=20, headers=headers) as client:
        assert client.get(f"{API}/blobs/{setup.vision}").status_code == 200
        asked = setup.access.stats["asked"]
        people.revoke_token("root", brief.token.id)
        # within the edge's 30 s the yes it remembered still holds, without asking
        assert client.get(f"{API}/blobs/{setup.vision}").status_code == 200
        assert setup.access.stats["asked"] == asked
        setup.clock.now += setup.access.ttl + 1
        refused = client.get(f"{API}/blobs/{setup.vision}")
        assert refused.status_code == 401, refused.text
        assert "revoked" in refused.json()["error"]["message"]
        # refusals are never remembered: each try asks again
        again = client.get(f"{API}/blobs/{setup.vision}")
        assert again.status_code == 401 and setup.access.stats["asked"] == asked + 2


def test_the_origin_answers_which_blobs_a_caller_may_read(setup: Setup) -> None:
    body = {"digests": [setup.vision, setup.audio, *setup.files, "sha256:" + "0" * 64]}
    upstream = setup.edge.upstream
    for name, expected in (
        ("kenji", [setup.vision, *setup.files]),
        ("lee", [setup.audio, *setup.files]),
        ("ana", body["digests"]),  # a server admin reads everything, stored or not
    ):
        answer = httpx.post(
            f"{upstream}{API}/data/access",
            json=body,
            headers={"Authorization": f"Bearer {setup.tokens[name]}"},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["readable"] == expected, name
    refused = httpx.post(f"{upstream}{API}/data/access", json=body)
    assert refused.status_code == 401


def test_a_browsers_session_cookie_reads_through_the_edge(setup: Setup) -> None:
    from lablink.core.sessions import Sessions

    people = setup.lab.people
    people.set_password("root", "kenji", "a long passphrase")
    secret, _ = Sessions(people).sign_in("kenji", "a long passphrase")
    cookie = {"Cookie": f"lablink_session={secret}"}
    with httpx.Client(base_url=setup.url, timeout=20, headers=cookie) as browser:
        assert browser.get(f"{API}/blobs/{setup.vision}").status_code == 200
        assert browser.get(f"{API}/blobs/{setup.audio}").status_code == 404
    with httpx.Client(base_url=setup.url, timeout=20) as forged:
        forged.headers["Cookie"] = "lablink_session=" + "x" * 43
        assert forged.get(f"{API}/blobs/{setup.vision}").status_code == 401


def test_the_sdk_pulls_a_dataset_through_the_edge_with_its_token(
    setup: Setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datatools import client_settings

    from lablink.sdk.data import download

    monkeypatch.chdir(tmp_path)
    for name, works in (("kenji", True), ("nobody", False)):
        settings = client_settings(
            tmp_path / name,
            setup.edge.upstream,
            token=setup.tokens[name],
            data_endpoints=(setup.url,),
        )
        if works:
            download("tables", tmp_path / "out", settings=settings)
            assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
                "part0.csv",
                "part1.csv",
            ]
            assert setup.edge.stats["upstream_blobs"] == 3  # the manifest and both files
        else:
            with pytest.raises(Forbidden, match="not a viewer of any project"):
                download("tables", tmp_path / "refused", settings=settings)


def test_a_sign_in_through_the_edge_does_not_sign_in_the_edge_for_everyone(
    lab: Lab, tmp_path: Path
) -> None:
    """The edge's connection to its origin keeps no cookies: a session cookie the origin
    sets for one browser goes to that browser only, never with another caller's request."""
    import re

    people = lab.people
    people.add_user("root", "kenji", "kenji@lab.org")
    people.set_password("root", "kenji", "a long passphrase")
    lab.tracking.create_run("ana", "vision", "baseline")
    people.grant("root", "vision", "kenji", "viewer")
    with AppServer(create_app(lab, auth=AuthConfig("required"))).start() as origin:
        edge = EdgeCache(tmp_path / "edge", 10**9, origin.url)
        with AppServer(create_edge_app(edge)).start() as front:
            with httpx.Client(base_url=front.url, timeout=20) as browser:
                form = browser.get("/signin")
                token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
                assert token is not None
                signed = browser.post(
                    "/signin",
                    data={
                        "user": "kenji",
                        "password": "a long passphrase",
                        "next": "/",
                        "csrf_token": token.group(1),
                    },
                )
                assert signed.status_code == 303 and "lablink_session" in browser.cookies
                assert browser.get(f"{API}/projects").status_code == 200
            with httpx.Client(base_url=front.url, timeout=20) as anonymous:
                assert anonymous.get(f"{API}/projects").status_code == 401
                assert anonymous.get(f"{API}/runs", params={"project": "vision"}).status_code == 401
        edge.close()
