"""Corruption at the origin seen through an edge cache: reported, quarantined, healed.

An edge that received a corrupt blob from its upstream used to count it and say
"missing": the origin kept serving the bad copy, a re-push said "unchanged" and
uploaded nothing, and every pull through the edge failed with "no endpoint holds them".
Here a real origin and a real edge run on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from datatools import Counting, client_settings, corrupt_file, make_tree, tree_bytes

from helpers import AppServer
from lablink.core.datasets.packs import PackReader
from lablink.core.lab import Lab
from lablink.errors import CorruptBlob
from lablink.sdk.data import add, download, session
from lablink.server.edge_cache import EdgeCache
from lablink.store.blobs import bytes_digest

API = "/api/v1"
Origin = tuple[AppServer, Counting]
EdgeFactory = Callable[..., tuple[AppServer, EdgeCache]]


def test_a_pack_carries_corrupt_frames() -> None:
    digest = bytes_digest(b"x", "blake3")
    reader = PackReader([f"corrupt {digest}\nend\n".encode()])
    assert list(reader) == [] and reader.corrupt == [digest] and reader.complete


def test_the_origin_verifies_a_list_of_digests(lab: Lab, origin: Origin) -> None:
    server, _ = origin
    good = lab.blobs.put_bytes(b"good", "blake3")[0]
    bad = lab.blobs.put_bytes(b"bad", "blake3")[0]
    absent = bytes_digest(b"absent", "blake3")
    corrupt_file(Path(lab.blobs.path(bad)))
    with httpx.Client(base_url=server.url) as http:
        answer = http.post(f"{API}/data/verify", json={"digests": [good, bad, absent]})
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"ok": [good], "corrupt": [bad], "missing": [absent]}
        assert not lab.blobs.exists(bad)  # quarantined: a push uploads it again
        for body in ({}, {"digest": good, "digests": [good]}, {"digests": []}):
            refused = http.post(f"{API}/data/verify", json=body)
            assert refused.status_code == 400, (body, refused.text)
        assert http.post(f"{API}/data/verify", json={"digest": good}).json()["ok"] is True


def test_corruption_at_the_origin_seen_by_an_edge_is_reported_and_a_push_heals_it(
    lab: Lab, origin: Origin, edge_factory: EdgeFactory, tmp_path: Path, work: Path
) -> None:
    server, counted = origin
    owner = client_settings(tmp_path / "owner", server.url)
    src = make_tree(work / "src", files=10)
    add(src, "rot", settings=owner)
    with session(owner) as (remote, cache):
        victim = remote.read_manifest(cache, remote.resolve("rot")).files[4].digest
    corrupt_file(Path(lab.blobs.path(victim)))  # bit rot on the origin's disk
    edge, edge_cache = edge_factory(server.url)
    reader = client_settings(tmp_path / "reader", server.url, data_endpoints=(edge.url,))

    with pytest.raises(CorruptBlob, match="corrupt where they are stored") as caught:
        download("rot", work / "out", settings=reader)
    assert "push the version again" in str(caught.value.hint)
    assert caught.value.details["corrupt"] == [victim]
    assert edge_cache.stats["reported_corrupt"] >= 1  # the edge told the origin
    assert counted.counts[("POST", f"{API}/data/verify")] >= 1
    assert not lab.blobs.exists(victim)  # the origin rehashed and quarantined it
    assert list((Path(lab.blobs.root) / "corrupt").iterdir())

    with httpx.Client(base_url=edge.url) as http:
        answer = http.get(f"{API}/blobs/{victim}")
        assert answer.status_code == 409
        assert answer.json()["error"]["code"] == "corrupt"
        assert "push the version again" in answer.json()["error"]["hint"]

    again = add(src, "rot", settings=owner)  # the re-push uploads the quarantined blob
    assert not again.created and again.uploaded_blobs == 1
    healed = download("rot", work / "out", settings=reader)
    assert tree_bytes(work / "out") == tree_bytes(src)
    assert healed.fetch.corrupt == []
    assert not edge_cache.is_corrupt_upstream(victim)


def test_a_chain_of_edges_passes_the_corruption_on(
    lab: Lab, origin: Origin, edge_factory: EdgeFactory, tmp_path: Path, work: Path
) -> None:
    server, _ = origin
    owner = client_settings(tmp_path / "owner", server.url)
    src = make_tree(work / "src", files=5)
    add(src, "chain", settings=owner)
    with session(owner) as (remote, cache):
        victim = remote.read_manifest(cache, remote.resolve("chain")).files[2].digest
    corrupt_file(Path(lab.blobs.path(victim)))
    regional, regional_cache = edge_factory(server.url, name="regional")
    office, office_cache = edge_factory(regional.url, name="office")
    reader = client_settings(tmp_path / "reader", server.url, data_endpoints=(office.url,))
    with pytest.raises(CorruptBlob, match="corrupt where they are stored"):
        download("chain", work / "out", settings=reader)
    assert not lab.blobs.exists(victim)  # the regional edge reported it to the origin
    assert regional_cache.is_corrupt_upstream(victim)
    assert office_cache.is_corrupt_upstream(victim)  # told by a corrupt frame
    assert office_cache.stats["reported_corrupt"] >= 1  # and passed on, answered 200
    add(src, "chain", settings=owner)
    download("chain", work / "out", settings=reader)
    assert tree_bytes(work / "out") == tree_bytes(src)
