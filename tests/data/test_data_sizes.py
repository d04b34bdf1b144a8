"""A manifest's sizes must be its blobs' sizes: checked at commit and again on pull.

A 5-byte blob listed as 999,999 bytes used to commit: ``data show`` reported 1 MB and
a pull silently wrote 5 bytes.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from datatools import client_settings

from helpers import AppServer
from lablink.core.datasets.manifest import FileEntry, Manifest
from lablink.core.lab import Lab
from lablink.errors import Conflict
from lablink.sdk.data import download
from lablink.store.blobs import bytes_digest

API = "/api/v1"


def lying_manifest(lab: Lab, sizes: dict[str, int]) -> Manifest:
    """Store ``hello`` under each path, and a manifest listing the given sizes."""
    digest = lab.blobs.put_bytes(b"hello", "blake3")[0]
    return Manifest.build("blake3", [FileEntry(p, s, digest) for p, s in sizes.items()])


def test_blob_sizes_are_read_in_one_call(lab: Lab) -> None:
    stored = lab.blobs.put_bytes(b"hello", "blake3")[0]
    absent = bytes_digest(b"not stored", "blake3")
    assert lab.blobs.sizes([stored, absent, stored]) == {stored: 5}


def test_blob_sizes_of_many_digests_list_folders(lab: Lab) -> None:
    stored = {lab.blobs.put_bytes(str(i).encode(), "blake3")[0]: len(str(i)) for i in range(50)}
    absent = [bytes_digest(f"absent {i}".encode(), "blake3") for i in range(2500)]
    assert lab.blobs.sizes([*absent, *stored]) == stored


def test_a_commit_whose_sizes_lie_is_refused_naming_the_file(
    lab: Lab, origin: tuple[AppServer, object]
) -> None:
    server, _ = origin
    manifest = lying_manifest(lab, {"a/ok.txt": 5, "a/big.bin": 999_999})
    digest = lab.blobs.put_bytes(manifest.encode(), "blake3")[0]
    with httpx.Client(base_url=server.url) as http:
        answer = http.post(f"{API}/datasets/lies/versions", json={"manifest": digest})
    assert answer.status_code == 409, answer.text
    error = answer.json()["error"]
    assert error["code"] == "conflict"
    assert "a/big.bin" in error["message"] and "999999 bytes" in error["message"]
    assert error["details"]["mismatched"] == [{"path": "a/big.bin", "size": 999_999, "stored": 5}]
    assert lab.datasets.list_datasets() == []  # nothing was created
    honest = lying_manifest(lab, {"a/ok.txt": 5, "a/big.bin": 5})
    lab.blobs.put_bytes(honest.encode(), "blake3")
    version, created = lab.datasets.commit("ana", "lies", honest.digest())
    assert created and version.size == 10


def test_a_pull_refuses_a_version_whose_sizes_lie(
    lab: Lab, origin: tuple[AppServer, object], tmp_path: Path, work: Path
) -> None:
    server, _ = origin
    manifest = lying_manifest(lab, {"big.bin": 999_999})
    digest = lab.blobs.put_bytes(manifest.encode(), "blake3")[0]
    # a version committed by a server that did not check sizes
    values = {"digest": digest, "algorithm": "blake3", "files": 1, "size": 999_999}
    lab.datasets.sql.create_version("old", "ana", values, [], None)
    settings = client_settings(tmp_path / "bob", server.url)
    with pytest.raises(Conflict, match=r"big\.bin: the version lists 999999 bytes.* 5 bytes"):
        download("old@v1", work / "out", settings=settings)
    assert not (work / "out" / "big.bin").exists()
