"""Push and pull through a real server on loopback (SQLite and PostgreSQL stores)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from datatools import Counting, client_settings, make_tree, tree_bytes

import lablink
from helpers import AppServer
from lablink.core.lab import Lab
from lablink.errors import Conflict, InvalidInput, NotFound
from lablink.sdk.data import add, download, session
from lablink.sdk.scan import list_files, scan

API = "/api/v1"
Origin = tuple[AppServer, Counting]


def uploads(counted: Counting) -> int:
    """Blob upload requests seen by the origin (packs and single PUTs)."""
    return sum(
        n
        for (m, p), n in counted.counts.items()
        if m in ("POST", "PUT")
        and (p == f"{API}/data/packs" or p.startswith(f"{API}/blobs/blake3:"))
    )


def test_push_then_pull_round_trip(origin: Origin, tmp_path: Path, work: Path) -> None:
    server, counted = origin
    alice = client_settings(tmp_path / "alice", server.url)
    src = make_tree(work / "src", files=50)
    pushed = add(src, "photos", message="first", parents=(), settings=alice)
    assert pushed.created and pushed.version.ref == "photos@v1"
    assert pushed.version.created_by == "tester@example.org"
    assert counted.counts[("POST", f"{API}/data/missing")] == 1  # one round trip
    bob = client_settings(tmp_path / "bob", server.url)
    pulled = download("photos@v1", work / "out", settings=bob)
    assert tree_bytes(work / "out") == tree_bytes(src)
    assert pulled.fetch.blobs == 52 and pulled.fetch.corrupt == []  # 51 files, manifest
    with session(bob) as (remote, _):
        assert [d.name for d in remote.list_datasets()] == ["photos"]
        assert remote.log("photos")[0].message == "first"


def test_a_second_push_sends_only_changed_files(origin: Origin, tmp_path: Path, work: Path) -> None:
    server, counted = origin
    alice = client_settings(tmp_path / "alice", server.url)
    src = make_tree(work / "src", files=100, size=(100, 400))
    add(src, "dedup", settings=alice)
    before = uploads(counted)
    (src / "part2" / "f0002.bin").write_bytes(b"one changed file")
    second = add(src, "dedup", settings=alice)
    assert second.version.version == 2 and second.uploaded_blobs == 1
    assert uploads(counted) - before == 2  # one pack with the changed file, the manifest
    other = make_tree(work / "other", files=100, size=(100, 400))  # same content, new name
    third = add(other, "copy-of-dedup", settings=alice)
    assert third.uploaded_blobs == 0  # blobs are shared across datasets


def test_large_files_stream_and_pack_limits_fall_back(lab: Lab, tmp_path: Path, work: Path) -> None:
    import dataclasses

    from lablink.server.app import create_app

    small = Lab(dataclasses.replace(lab.settings, max_request_bytes=64 * 1024), store=lab.store)
    server = AppServer(create_app(small, ui=False)).start()
    try:
        settings = client_settings(tmp_path / "c", server.url)
        src = work / "big"
        src.mkdir()
        (src / "big.bin").write_bytes(os.urandom(9 * 1024 * 1024))  # over a pack: one PUT
        make_tree(src / "small", files=40, size=(3000, 4000))  # packs over 64 KiB: 413
        add(src, "big", settings=settings)
        download("big", work / "out", settings=client_settings(tmp_path / "d", server.url))
        assert tree_bytes(work / "out") == tree_bytes(src)
    finally:
        server.stop()


def test_an_interrupted_push_leaves_no_version_and_a_retry_completes(
    origin: Origin, tmp_path: Path, work: Path
) -> None:
    server, counted = origin
    settings = client_settings(tmp_path / "alice", server.url)
    src = make_tree(work / "src", files=30)
    manifest, sources, _ = scan(src, list_files(src))
    blobs = manifest.blobs()
    half = dict(list(blobs.items())[: len(blobs) // 2])
    with session(settings) as (remote, _):
        remote.upload(half, sources, None)  # the push dies here
        with pytest.raises(NotFound, match="is not uploaded"):
            remote.commit("half", manifest.digest(), None, (), None, None, None)
        assert remote.put_blob(manifest.encode()) == manifest.digest()
        with pytest.raises(Conflict, match="not uploaded yet"):
            remote.commit("half", manifest.digest(), None, (), None, None, None)
        with pytest.raises(NotFound, match="no dataset named 'half'"):
            remote.resolve("half")
    before = uploads(counted)
    retry = add(src, "half", settings=settings)
    assert retry.version.ref == "half@v1"
    assert retry.uploaded_blobs == len(blobs) - len(half)
    assert uploads(counted) - before >= 1


def test_a_push_killed_mid_upload_is_resumed(
    origin: Origin, lab: Lab, tmp_path: Path, work: Path
) -> None:
    server, counted = origin
    counted.throttle[f"{API}/data/packs"] = 0.01  # a slow uplink: the kill lands mid-push
    # more packs (4 MB each) than upload threads (4): some land while others still travel
    src = make_tree(work / "src", files=500, size=(80_000, 100_000))
    stored = Path(lab.blobs.root) / "blake3"
    env = {
        **os.environ,
        "LABLINK_SERVER": server.url,
        "LABLINK_HOME": str(tmp_path / "child"),
        "LABLINK_USER": "child@example.org",
    }
    code = "from lablink.cli.main import main; main()"
    child = subprocess.Popen(
        [sys.executable, "-c", code, "data", "add", str(src), "--name", "killed"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not (stored.is_dir() and any(stored.rglob("*"))) and time.monotonic() < deadline:
        assert child.poll() is None, "the push ended before it could be killed"
        time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    arrived = sum(1 for p in stored.rglob("*") if p.is_file())
    assert 0 < arrived < 500
    settings = client_settings(tmp_path / "alice", server.url)
    with session(settings) as (remote, _), pytest.raises(NotFound, match="no dataset named"):
        remote.resolve("killed")
    counted.throttle.clear()
    done = add(src, "killed", settings=settings)
    assert done.version.ref == "killed@v1" and done.uploaded_blobs <= 501 - arrived
    download("killed", work / "out", settings=settings)
    assert tree_bytes(work / "out") == tree_bytes(src)


def test_run_inputs_and_lineage_over_http(origin: Origin, tmp_path: Path, work: Path) -> None:
    server, _ = origin
    settings = client_settings(tmp_path / "alice", server.url, system_metrics=False)
    add(make_tree(work / "raw", files=5), "raw", settings=settings)
    add(make_tree(work / "clean", files=4), "clean", parents=["raw@v1"], settings=settings)
    with lablink.init(project="vision", settings=settings) as run:
        ds = lablink.dataset("clean")
        assert (ds.path / "same-a.txt").read_text() == "x" * 5000
    with session(settings) as (remote, _):
        assert remote.resolve("clean").parents == ("raw@v1",)
        used = remote.used_by("clean@v1")
        assert [r["id"] for r in used["runs"]] == [run.id]
        assert [v["ref"] for v in remote.used_by("raw")["versions"]] == ["clean@v1"]
        changes = remote.diff("raw@v1", "clean@v1")
        assert len(changes["removed"]) == 1 and changes["added"] == []
    with lablink.Client(settings=settings) as client:
        assert client.run(run.id).inputs[0]["ref"] == "clean@v1"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "words"),
    [
        ("GET", "/datasets/nope", None, 404, "no dataset named"),
        ("GET", "/datasets/bad%20name", None, 400, "invalid dataset name"),
        ("GET", "/datasets/-/resolve?ref=x@v0", None, 400, "invalid version"),
        ("GET", "/datasets/-/resolve", None, 400, "ref"),
        ("GET", "/datasets/-/diff?old=a&new=b", None, 404, "no dataset named"),
        ("GET", "/datasets/x/versions/v1", None, 404, "no dataset named"),
        ("GET", "/datasets/x/versions/_zz/files", None, 400, "invalid dataset reference"),
        ("POST", "/datasets/x/versions", {}, 400, "manifest"),
        ("POST", "/datasets/x/versions", {"manifest": "md5:1"}, 400, "not a blob id"),
        (
            "POST",
            "/datasets/x/versions",
            {"manifest": "blake3:" + "0" * 64, "colour": 1},
            400,
            "colour",
        ),
        ("POST", "/datasets/x/versions", {"manifest": "blake3:" + "0" * 64}, 404, "not uploaded"),
        (
            "POST",
            "/datasets/x/versions",
            {"manifest": "blake3:" + "0" * 64, "version": 0},
            400,
            "body.version",  # bounded in the request model, so in the spec too
        ),
        (
            "POST",
            "/datasets/bad name/versions",
            {"manifest": "blake3:" + "0" * 64},
            400,
            "invalid dataset name",
        ),
        ("POST", "/data/missing", {"digests": ["nope"]}, 400, "not a blob id"),
        ("POST", "/data/missing", {"digests": "x"}, 400, "digests"),
        ("POST", "/data/fetch", {"digests": ["sha256:zz"]}, 400, "not a blob id"),
        ("POST", "/data/verify", {"digest": "blake3:" + "0" * 64}, 404, "not stored"),
        ("POST", "/data/packs", b"garbage\n", 400, "malformed pack"),
        ("POST", "/data/packs", b"blob blake3:" + b"0" * 64 + b" 10\nabc", 400, "cut off"),
    ],
)
def test_bad_requests_get_a_4xx_json_envelope(
    module_origin: Origin, method: str, path: str, body: object, status: int, words: str
) -> None:
    server, _ = module_origin  # one server for all cases: a refused request stores nothing
    with httpx.Client(base_url=server.url + API, timeout=10) as client:
        if isinstance(body, bytes):
            answer = client.request(
                method, path, content=body, headers={"Content-Type": "application/octet-stream"}
            )
        else:
            answer = client.request(method, path, json=body)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert words in error["message"] or words in str(error.get("details", ""))


def test_a_client_error_is_the_same_class_over_http(origin: Origin, tmp_path: Path) -> None:
    server, _ = origin
    settings = client_settings(tmp_path / "c", server.url)
    with pytest.raises(InvalidInput, match="invalid dataset name"):
        lablink.dataset("bad name", settings=settings)
    with pytest.raises(NotFound, match="no dataset named 'nope'"):
        lablink.dataset("nope@v2", settings=settings)
