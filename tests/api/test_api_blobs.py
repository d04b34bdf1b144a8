"""Blobs and artifacts over the real server: streamed, verified, deduplicated."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from apitools import API, assert_envelope

from lablink.core.datasets.packs import write_pack
from lablink.core.lab import Lab
from lablink.store.blobs import bytes_digest

OCTETS = {"Content-Type": "application/octet-stream"}


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_upload_head_download_and_missing(api: httpx.Client, lab: Lab) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)  # several chunks, not a multiple of any
    digest = digest_of(data)
    assert api.post(f"{API}/blobs/missing", json={"digests": [digest]}).json() == {
        "missing": [digest]
    }

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(data), 256 * 1024):
            yield data[i : i + 256 * 1024]

    put = api.put(f"{API}/blobs/{digest}", content=chunks())
    assert put.status_code == 201
    assert put.json() == {"digest": digest, "size": len(data)}
    again = api.put(f"{API}/blobs/{digest}", content=data)  # equal bytes: stored once
    assert again.status_code == 201 and again.json()["digest"] == digest

    head = api.head(f"{API}/blobs/{digest}")
    assert head.status_code == 200 and head.headers["content-length"] == str(len(data))
    with api.stream("GET", f"{API}/blobs/{digest}") as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/octet-stream"
        got = b"".join(response.iter_bytes())
    assert got == data
    other = digest_of(b"other")
    answer = api.post(f"{API}/blobs/missing", json={"digests": [digest, other]}).json()
    assert answer == {"missing": [other]}
    assert lab.blobs.read_bytes(digest) == data


def test_wrong_digest_is_refused_and_nothing_is_kept(api: httpx.Client, lab: Lab) -> None:
    data = b"the real bytes"
    claimed = digest_of(b"other bytes")
    refused = api.put(f"{API}/blobs/{claimed}", content=data)
    error = assert_envelope(refused, 400, "bad_request")
    assert digest_of(data) in error["message"]
    assert api.head(f"{API}/blobs/{claimed}").status_code == 404
    assert api.head(f"{API}/blobs/{digest_of(data)}").status_code == 404
    assert not list(lab.blobs.fs.find(f"{lab.blobs.root}/tmp"))  # no half-written leftovers


def test_artifacts_attach_and_list(
    api: httpx.Client, new_run: Callable[..., dict[str, Any]]
) -> None:
    rid = new_run()["id"]
    data = b"weights" * 1000
    digest = digest_of(data)
    api.put(f"{API}/blobs/{digest}", content=data)
    attached = api.post(
        f"{API}/runs/{rid}/artifacts",
        json={"name": "ckpt/model.pt", "kind": "model", "digest": digest},
    )
    assert attached.status_code == 201
    assert attached.json()["size"] == len(data) and attached.json()["run_id"] == rid
    listed = api.get(f"{API}/runs/{rid}/artifacts").json()["artifacts"]
    assert [(a["name"], a["kind"], a["digest"]) for a in listed] == [
        ("ckpt/model.pt", "model", digest)
    ]


def test_a_runs_artifacts_a_page_at_a_time(
    api: httpx.Client, new_run: Callable[..., dict[str, Any]]
) -> None:
    rid = new_run()["id"]
    data = b"chunk"
    digest = digest_of(data)
    api.put(f"{API}/blobs/{digest}", content=data)
    names = ["logs/000003.jsonl", "logs/000001.jsonl", "model.pt", "logs/000002.jsonl"]
    for name in names:
        body = {"name": name, "kind": "log", "digest": digest}
        assert api.post(f"{API}/runs/{rid}/artifacts", json=body).status_code == 201

    def page(**params: Any) -> list[str]:
        answer = api.get(f"{API}/runs/{rid}/artifacts", params=params)
        assert answer.status_code == 200, answer.text
        return [a["name"] for a in answer.json()["artifacts"]]

    logs = sorted(n for n in names if n.startswith("logs/"))
    assert sorted(page()) == sorted(names)  # no parameter: the whole listing, as before
    assert page(prefix="logs/") == logs
    assert page(prefix="logs/", after="logs/000001.jsonl") == logs[1:]
    assert page(prefix="logs/", after="logs/000001.jsonl", limit=1) == logs[1:2]
    assert page(prefix="logs/", after="logs/000003.jsonl") == []
    assert page(limit=2) == sorted(names)[:2]
    assert page(prefix="logs/%_") == []  # LIKE's wildcards are plain characters here


def test_a_projects_artifacts_in_one_call(
    api: httpx.Client, new_run: Callable[..., dict[str, Any]]
) -> None:
    a, b, other = new_run()["id"], new_run()["id"], new_run("audio")["id"]
    data = b"weights"
    digest = digest_of(data)
    api.put(f"{API}/blobs/{digest}", content=data)
    for rid, name, kind in (
        (a, "model.pt", "model"),
        (a, "log.txt", "file"),
        (b, "best.pt", "model"),
        (other, "model.pt", "model"),
    ):
        body = {"name": name, "kind": kind, "digest": digest}
        assert api.post(f"{API}/runs/{rid}/artifacts", json=body).status_code == 201
    every = api.get(f"{API}/projects/vision/artifacts").json()["artifacts"]
    assert sorted((x["run_id"], x["name"]) for x in every) == sorted(
        [(a, "model.pt"), (a, "log.txt"), (b, "best.pt")]
    )
    models = api.get(f"{API}/projects/vision/artifacts", params={"kind": "model"}).json()
    assert sorted((x["run_id"], x["name"]) for x in models["artifacts"]) == sorted(
        [(a, "model.pt"), (b, "best.pt")]
    )
    assert api.get(f"{API}/projects/empty/artifacts").json() == {"artifacts": []}


def test_a_full_disk_is_a_507_and_keeps_nothing(
    api: httpx.Client, lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.urandom(300 * 1024)
    digest = digest_of(data)
    small = b"a small file"
    small_digest = bytes_digest(small, "blake3")
    pack = b"".join(write_pack([(small_digest, len(small))], lambda d: io.BytesIO(small)))
    # Every blob file the store opens is /dev/full: each write fails with ENOSPC.
    full = lambda tmp: open("/dev/full", "wb", buffering=0)  # noqa: E731, SIM115
    monkeypatch.setattr(lab.blobs, "_open_tmp", full)

    refused = api.put(f"{API}/blobs/{digest}", content=data)
    error = assert_envelope(refused, 507, "insufficient_storage")
    assert "out of disk space" in error["message"] and "free disk space" in error["hint"]
    refused = api.post(f"{API}/data/packs", content=pack, headers=OCTETS)
    assert_envelope(refused, 507, "insufficient_storage")
    assert api.head(f"{API}/blobs/{digest}").status_code == 404
    assert api.head(f"{API}/blobs/{small_digest}").status_code == 404

    monkeypatch.undo()  # room again: the same uploads are stored
    assert api.put(f"{API}/blobs/{digest}", content=data).status_code == 201
    assert api.post(f"{API}/data/packs", content=pack, headers=OCTETS).status_code == 201
    assert lab.blobs.read_bytes(small_digest) == small
