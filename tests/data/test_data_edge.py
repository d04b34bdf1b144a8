"""Edge caches on 127.0.0.1 in front of a real origin: single flight, failover, healing.

Each test runs an origin server over the test's store (SQLite and PostgreSQL) and one
or two edge cache servers (``create_edge_app``) pointing at it, with clients that each
have their own cache folder and list the endpoints they may read from.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from datatools import Counting, client_settings, corrupt_file, make_tree, tree_bytes

from helpers import AppServer, free_port
from lablink.core.lab import Lab
from lablink.sdk.data import add, download, session
from lablink.sdk.endpoints import Endpoints
from lablink.sdk.remote_http import HttpRemote
from lablink.sdk.transfer import pull
from lablink.sdk.wire import auth_headers
from lablink.server.edge_cache import EdgeCache

API = "/api/v1"
Origin = tuple[AppServer, Counting]
EdgeFactory = Callable[..., tuple[AppServer, EdgeCache]]


def fetches(counted: Counting) -> int:
    return counted.counts[("POST", f"{API}/data/fetch")]


def test_twenty_concurrent_requests_for_a_missing_blob_reach_upstream_once(
    origin: Origin, edge_factory: EdgeFactory, lab: Lab
) -> None:
    server, counted = origin
    edge_server, edge = edge_factory(server.url)
    data = bytes(range(256)) * 20_000  # 5 MB, several chunks
    digest, _ = lab.blobs.put_bytes(data, "blake3")
    # The upstream answers only once all twenty have asked the edge: each of them is then
    # a miss whatever the machine's load (a fixed delay let a late client find the blob
    # already cached, a hit), and any second upstream fetch would show in the count.
    counted.hold[f"{API}/data/fetch"] = lambda: edge.stats["misses"] >= 20
    barrier = threading.Barrier(20)

    def ask(_: int) -> bytes:
        with httpx.Client(base_url=edge_server.url, timeout=30) as client:
            barrier.wait()
            return client.get(f"{API}/blobs/{digest}").content

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(ask, range(20)))
    assert all(a == data for a in answers)
    assert fetches(counted) == 1 and edge.stats["upstream_blobs"] == 1
    assert edge.stats["misses"] == 20


def test_twenty_clients_pull_one_version_through_an_edge(
    origin: Origin, edge_factory: EdgeFactory, tmp_path: Path, work: Path
) -> None:
    server, counted = origin
    edge_server, edge = edge_factory(server.url)
    src = make_tree(work / "src", files=30)
    add(src, "popular", settings=client_settings(tmp_path / "owner", server.url))
    counted.delay[f"{API}/data/fetch"] = 0.3
    barrier = threading.Barrier(20)

    def pull_one(i: int) -> dict[str, bytes]:
        settings = client_settings(
            tmp_path / f"c{i}", server.url, data_endpoints=(edge_server.url,)
        )
        barrier.wait()
        download("popular", work / f"out{i}", settings=settings)
        return tree_bytes(work / f"out{i}")

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        trees = list(pool.map(pull_one, range(20)))
    assert all(t == tree_bytes(src) for t in trees)
    assert edge.stats["upstream_blobs"] == 32  # 31 distinct files + the manifest, each once
    assert fetches(counted) <= 4


def test_metadata_and_uploads_pass_through_an_edge(
    origin: Origin, edge_factory: EdgeFactory, tmp_path: Path, work: Path
) -> None:
    server, counted = origin
    edge_server, _ = edge_factory(server.url)
    via_edge = client_settings(tmp_path / "a", edge_server.url)  # the edge as the server
    src = make_tree(work / "src", files=10)
    pushed = add(src, "through", message="via edge", settings=via_edge)
    assert pushed.version.ref == "through@v1"
    assert counted.counts[("POST", f"{API}/datasets/through/versions")] == 1
    with httpx.Client(timeout=10) as client:
        assert (
            client.get(f"{edge_server.url}{API}/datasets").json()
            == client.get(f"{server.url}{API}/datasets").json()
        )
        assert client.get(f"{edge_server.url}/healthz").json()["role"] == "edge"
        status = client.get(f"{edge_server.url}{API}/edge").json()
        assert status["upstream"] == server.url
    download("through", work / "out", settings=via_edge)
    assert tree_bytes(work / "out") == tree_bytes(src)


def test_dead_and_sick_endpoints_are_skipped(
    origin: Origin, edge_factory: EdgeFactory, tmp_path: Path, work: Path
) -> None:
    server, _ = origin
    src = make_tree(work / "src", files=20)
    add(src, "failover", settings=client_settings(tmp_path / "owner", server.url))
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    sick_edge, _ = edge_factory(server.url, name="sick")
    sick = Counting(sick_edge.app)
    sick.delay[f"{API}/data/fetch"] = 5.0  # answers /healthz at once, data never in time
    sick_server = AppServer(sick).start()
    try:
        settings = client_settings(
            tmp_path / "c", server.url, data_endpoints=(dead, sick_server.url, server.url)
        )
        endpoints = Endpoints(
            settings.data_endpoints,
            settings.cache_dir / "endpoints.json",
            auth_headers(settings),
            timeout=httpx.Timeout(1.0, connect=1.0),
        )
        endpoints.probe()
        endpoints._state[server.url]["latency"] = 1.0  # the origin is "far": sick goes first
        assert endpoints.ordered()[:2] == [sick_server.url, server.url]
        assert endpoints.latency(dead) is None
        remote = HttpRemote(settings, endpoints)
        with session(settings) as (_, cache):
            result = pull(remote, cache, "failover", work / "out")
        remote.close()
        assert tree_bytes(work / "out") == tree_bytes(src)
        assert [url for url, _ in result.fetch.failovers] == [sick_server.url] * len(
            result.fetch.failovers
        )
        assert result.fetch.failovers and "Timeout" in result.fetch.failovers[0][1]
    finally:
        sick_server.stop()


class Dying:
    """ASGI middleware that cuts a pack download off mid-body, like a killed process."""

    def __init__(self, app: Any, after: int) -> None:
        self.app = app
        self.after = after
        self.cut = threading.Event()  # set once a download was cut off
        self.dead = True  # False: the process "came back", answers are whole again

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != f"{API}/data/fetch" or not self.dead:
            await self.app(scope, receive, send)
            return
        sent = 0

        async def counting_send(message: Any) -> None:
            nonlocal sent
            if message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
                if sent > self.after:
                    self.cut.set()
                    raise ConnectionAbortedError("edge killed mid-pull")
            await send(message)

        await self.app(scope, receive, counting_send)


def test_an_edge_killed_mid_pull_fails_over_to_another(
    origin: Origin, edge_factory: EdgeFactory, tmp_path: Path, work: Path
) -> None:
    server, _ = origin
    src = make_tree(work / "src", files=60, size=(40_000, 60_000))  # ~3 MB, one pack
    add(src, "big", settings=client_settings(tmp_path / "owner", server.url))
    near, _ = edge_factory(server.url, name="near")
    far, _ = edge_factory(server.url, name="far")
    dying = Dying(near.app, after=1_500_000)  # a first MB arrives, then the cut
    dying_server = AppServer(dying).start()
    try:
        settings = client_settings(
            tmp_path / "c", server.url, data_endpoints=(dying_server.url, far.url)
        )
        with session(settings) as (remote, cache):
            assert isinstance(remote, HttpRemote)
            remote.endpoints.probe()
            remote.endpoints._state[far.url]["latency"] = 1.0  # near is nearer
            result = pull(remote, cache, "big", work / "out")
        assert dying.cut.is_set()
        assert tree_bytes(work / "out") == tree_bytes(src)
        assert result.fetch.failovers and result.fetch.failovers[0][0] == dying_server.url
        assert result.fetch.blobs == 62  # 61 files and the manifest: none fetched twice
    finally:
        dying_server.stop()


def test_a_corrupt_copy_on_an_edge_is_detected_reported_and_healed(
    origin: Origin, edge_factory: EdgeFactory, tmp_path: Path, work: Path
) -> None:
    server, _ = origin
    src = make_tree(work / "src", files=10)
    add(src, "rot", settings=client_settings(tmp_path / "owner", server.url))
    near, near_cache = edge_factory(server.url, name="near")
    far, _ = edge_factory(server.url, name="far")
    warm = client_settings(tmp_path / "warm", server.url, data_endpoints=(near.url,))
    download("rot", work / "warm", settings=warm)
    with session(warm) as (remote, cache):
        victim = remote.read_manifest(cache, remote.resolve("rot")).files[4].digest
    corrupt_file(near_cache.cache.path(victim))  # bit rot on the near edge's disk

    settings = client_settings(tmp_path / "c", server.url, data_endpoints=(near.url, far.url))
    with session(settings) as (remote, cache):
        assert isinstance(remote, HttpRemote)
        remote.endpoints.probe()
        remote.endpoints._state[far.url]["latency"] = 1.0
        result = pull(remote, cache, "rot", work / "out")
    assert tree_bytes(work / "out") == tree_bytes(src)
    assert result.fetch.corrupt == [(near.url, victim)]
    assert result.fetch.healed == [(near.url, victim)]  # the edge dropped its bad copy
    assert near_cache.stats["corrupt"] == 1
    # the near edge fetches a good copy from upstream next time it is asked
    again = client_settings(tmp_path / "again", server.url, data_endpoints=(near.url,))
    clean = download("rot", work / "again", settings=again)
    assert clean.fetch.corrupt == [] and tree_bytes(work / "again") == tree_bytes(src)


def test_an_edge_stays_within_its_size_limit(
    origin: Origin, edge_factory: EdgeFactory, tmp_path: Path, work: Path
) -> None:
    server, _ = origin
    owner = client_settings(tmp_path / "owner", server.url)
    for name in ("a", "b", "c"):
        make_tree(work / name, files=8, seed=ord(name), size=(2000, 3000))
        add(work / name, name, settings=owner)
    edge_server, edge = edge_factory(server.url, limit=40_000)
    for name in ("a", "b", "c"):
        settings = client_settings(
            tmp_path / f"c-{name}", server.url, data_endpoints=(edge_server.url,)
        )
        download(name, work / f"out-{name}", settings=settings)
        assert tree_bytes(work / f"out-{name}") == tree_bytes(work / name)
    assert edge.cache.usage() <= 40_000


def test_a_full_disk_on_an_edge_is_a_clear_error_and_the_client_moves_on(
    origin: Origin, edge_factory: EdgeFactory, tmp_path: Path, work: Path
) -> None:
    server, _ = origin
    src = make_tree(work / "src", files=10, size=(20_000, 30_000))
    add(src, "full", settings=client_settings(tmp_path / "owner", server.url))
    edge_server, edge = edge_factory(server.url)
    # a real ENOSPC from the kernel on every write of the edge's cache
    edge.cache.open_tmp = lambda path: open("/dev/full", "wb")  # type: ignore[method-assign]  # noqa: SIM115
    with session(client_settings(tmp_path / "c0", server.url)) as (remote, cache):
        digest = remote.read_manifest(cache, remote.resolve("full")).files[0].digest
    with httpx.Client(timeout=10) as client:
        answer = client.post(f"{edge_server.url}{API}/data/fetch", json={"digests": [digest]})
    assert answer.status_code == 507
    assert answer.json()["error"]["code"] == "insufficient_storage"
    assert "out of disk space" in answer.json()["error"]["message"]
    assert not list(edge.cache.tmp.iterdir()) and edge.cache.usage() == 0
    settings = client_settings(
        tmp_path / "c", server.url, data_endpoints=(edge_server.url, server.url)
    )
    with session(settings) as (remote, cache):
        assert isinstance(remote, HttpRemote)
        remote.endpoints.probe()
        remote.endpoints._state[server.url]["latency"] = 1.0  # the edge is nearer
        result = pull(remote, cache, "full", work / "out")
    assert tree_bytes(work / "out") == tree_bytes(src)
    assert any(
        "insufficient" in reason.lower() or "507" in reason for _, reason in result.fetch.failovers
    )
    del edge.cache.open_tmp  # room again: the edge serves
    assert edge.ensure([digest]) == {digest} and edge.cache.usage() > 0


def test_an_interrupted_pull_resumes_with_what_arrived(
    lab: Lab, tmp_path: Path, work: Path
) -> None:
    from lablink.errors import ServiceUnavailable
    from lablink.server.app import create_app

    dying = Dying(create_app(lab, ui=False), after=1_500_000)  # packs go out 1 MB at a time
    server = AppServer(dying).start()
    try:
        src = make_tree(work / "src", files=60, size=(40_000, 60_000))
        settings = client_settings(tmp_path / "c", server.url)
        add(src, "resume", settings=settings)
        with pytest.raises(ServiceUnavailable, match="could not be fetched"):
            download("resume", work / "out", settings=settings)  # the only endpoint dies
        with session(settings) as (_, cache):
            kept = sum(1 for p in (cache.root / "blobs" / "blake3").rglob("*") if p.is_file())
        assert dying.cut.is_set() and 1 < kept < 62
        dying.dead = False
        result = download("resume", work / "out", settings=settings)  # server is back
        assert result.fetch.blobs == 62 - kept
        assert tree_bytes(work / "out") == tree_bytes(src)
    finally:
        server.stop()
