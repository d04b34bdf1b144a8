"""Blobs on S3 through fsspec (the ``[s3]`` extra), against a real S3-protocol server.

The server is moto's standalone mode (``moto.server.ThreadedMotoServer``) listening on
127.0.0.1: real HTTP, real S3 wire protocol, s3fs and botocore unchanged. Each test
gets its own bucket.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from datatools import client_settings, make_tree, tree_bytes

from helpers import AppServer, make_settings
from lablink.core.lab import Lab
from lablink.sdk.data import add, download
from lablink.server.app import create_app


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    for name, value in {
        "AWS_ENDPOINT_URL": s3_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    import boto3

    name = "lablink-" + uuid.uuid4().hex[:12]
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=name)
    return f"s3://{name}/blobs"


def test_embedded_store_with_blobs_on_s3(bucket: str, tmp_path: Path, work: Path) -> None:
    settings = client_settings(tmp_path / "home", blobs=bucket)
    src = make_tree(work / "src", files=15)
    first = add(src, "on-s3", message="first", settings=settings)
    assert first.uploaded_blobs == 16
    (src / "part1" / "f0001.bin").write_bytes(b"changed")
    assert add(src, "on-s3", settings=settings).uploaded_blobs == 1
    pulled = download("on-s3@v2", work / "out", settings=settings)
    assert tree_bytes(work / "out") == tree_bytes(src)
    assert pulled.materialised.linked == 17  # linked from the local cache, not from S3
    with Lab(settings) as lab:
        assert not lab.blobs.is_local and lab.blobs.exists(pulled.version.digest)


def test_a_server_with_blobs_on_s3(bucket: str, db_url: str, tmp_path: Path, work: Path) -> None:
    home = tmp_path / "server-home"
    home.mkdir()
    with Lab(make_settings(home, db=db_url, blobs=bucket)) as lab:
        server = AppServer(create_app(lab, ui=False)).start()
        try:
            src = make_tree(work / "src", files=20)
            alice = client_settings(tmp_path / "alice", server.url)
            add(src, "team", settings=alice)
            bob = client_settings(tmp_path / "bob", server.url)
            download("team", work / "out", settings=bob)
            assert tree_bytes(work / "out") == tree_bytes(src)
            again = add(src, "team", settings=alice)
            assert not again.created and again.uploaded_blobs == 0
        finally:
            server.stop()


def test_blob_sizes_on_s3_list_folders(bucket: str) -> None:
    from lablink.store.blobs import LIST_THRESHOLD, BlobStore, bytes_digest

    blobs = BlobStore(bucket)
    stored = {blobs.put_bytes(str(i).encode(), "blake3")[0]: len(str(i)) for i in range(5)}
    absent = [bytes_digest(f"absent {i}".encode(), "blake3") for i in range(LIST_THRESHOLD)]
    assert blobs.sizes([*absent, *stored]) == stored  # one listing per folder
    assert blobs.sizes(list(stored)[:2]) == dict(list(stored.items())[:2])  # one call each


def test_a_review_report_reads_blobs_from_s3(bucket: str, tmp_path: Path, work: Path) -> None:
    """Issue 19: files come from the blob store one at a time, here over S3."""
    import polars as pl
    from PIL import Image

    from lablink.core.review_report import ReviewOptions, build_report

    settings = client_settings(tmp_path / "home", blobs=bucket)
    root = work / "mixed"
    for split in ("train", "test"):
        (root / split).mkdir(parents=True)
        pl.DataFrame({"id": [1, 2, 3], "x": [0.5, 1.5, 2.5]}).write_csv(root / split / "t.csv")
    Image.new("RGB", (32, 32), (9, 9, 9)).save(root / "train" / "blank.png")
    (root / "test" / "cut.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    add(root, "mixed", settings=settings)
    with Lab(settings) as lab:
        assert lab.blobs.local_path("blake3:" + "0" * 64) is None  # blobs are not local files
        report = build_report(lab, "mixed", 1, ReviewOptions())
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["leakage.exact"]["evidence"]["files"]["count"] == 1
    assert checks["corruption.decode"]["evidence"]["files"][0]["path"] == "test/cut.png"
    assert checks["corruption.empty"]["evidence"]["blank_images"]["shown"] == ["train/blank.png"]
