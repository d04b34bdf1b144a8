"""Re-pushing a tree where a few files changed (issue 18): cheap, and never wrong.

A re-push hashes only the files whose size, mtime or inode changed (the hash cache),
asks the server only about blobs the latest version does not name, and makes a
version whose manifest is byte-identical to a cold push of the same tree.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from datatools import Counting, client_settings, make_tree, tree_bytes

from helpers import AppServer
from lablink.core.lab import Lab
from lablink.sdk import scan as scan_module
from lablink.sdk.data import add, download
from lablink.sdk.remote_http import HttpRemote
from lablink.sdk.scan import list_files, scan
from lablink.settings import Settings

Origin = tuple[AppServer, Counting]
OLD_NS = 1_000_000_000 * 1_000_000_000  # 2001: far outside the racy window


def age(root: Path) -> None:
    """Give every file an old mtime, as a dataset written long ago has."""
    for path in root.rglob("*"):
        if path.is_file():
            os.utime(path, ns=(OLD_NS, OLD_NS))


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many digests each ``missing`` request of the HTTP remote asks about."""
    sizes: list[int] = []
    real = HttpRemote.missing

    def counting(self: HttpRemote, digests: list[str]) -> list[str]:
        sizes.append(len(digests))
        return real(self, digests)

    monkeypatch.setattr(HttpRemote, "missing", counting)
    return sizes


def cold_manifest(root: Path) -> bytes:
    """The manifest of ``root`` hashed from scratch (no hash cache)."""
    manifest, _sources, _hashed = scan(root, list_files(root))
    return manifest.encode()


def stored_manifest(lab: Lab, digest: str) -> bytes:
    return lab.blobs.read_bytes(digest)


def test_a_re_push_hashes_and_asks_about_only_the_changed_files(
    origin: Origin, lab: Lab, tmp_path: Path, work: Path, asked: list[int]
) -> None:
    server, _ = origin
    alice = client_settings(tmp_path / "alice", server.url)
    src = make_tree(work / "src", files=60)
    age(src)
    first = add(src, "tree", settings=alice)
    assert first.hashed == 62 and asked == [62]  # 61 distinct blobs and the manifest
    for name in ("part0/f0000.bin", "part1/f0001.bin"):
        (src / name).write_bytes(os.urandom(300))
    again = add(src, "tree", settings=alice)
    assert again.version.ref == "tree@v2" and again.hashed == 2 and again.uploaded_blobs == 2
    assert asked[1] == 3  # the two new blobs and the new manifest, not all 63
    assert stored_manifest(lab, again.version.digest) == cold_manifest(src)
    same = add(src, "tree", settings=alice)
    assert not same.created and same.uploaded_blobs == 0 and asked[2:] == []


def test_a_warm_re_push_makes_the_manifest_of_a_cold_push(
    origin: Origin, lab: Lab, tmp_path: Path, work: Path
) -> None:
    server, _ = origin
    src = make_tree(work / "src", files=40)
    age(src)
    warm = client_settings(tmp_path / "warm", server.url)
    add(src, "warm", settings=warm)
    (src / "part2" / "f0002.bin").write_bytes(b"changed")
    (src / "part0" / "f0003.bin").unlink()
    (src / "part1" / "new.bin").write_bytes(b"added")
    rehashed = add(src, "warm", settings=warm)
    cold = add(src, "cold", settings=client_settings(tmp_path / "cold", server.url))
    assert cold.hashed == 42 and rehashed.hashed == 2
    assert rehashed.version.digest == cold.version.digest
    assert stored_manifest(lab, rehashed.version.digest) == cold_manifest(src)


def test_a_change_within_the_mtime_tick_is_not_missed(tmp_path: Path, work: Path) -> None:
    """Same size, same inode, mtime put back: only the racy rule can see it."""
    embedded = client_settings(tmp_path / "home")
    src = make_tree(work / "src", files=6)
    victim = src / "part0" / "f0000.bin"
    # Its mtime tick has not ended when it is hashed (a minute ahead, so the test does
    # not depend on how fast this machine hashes): the hash cache may not vouch for it.
    tick = time.time_ns() + 60 * 1_000_000_000
    os.utime(victim, ns=(tick, tick))
    add(src, "racy", settings=embedded)
    st = victim.stat()
    with victim.open("r+b") as fh:  # rewrite in place: the inode stays
        fh.write(bytes(b ^ 0xFF for b in victim.read_bytes()))
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = victim.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (
        st.st_size,
        st.st_mtime_ns,
        st.st_ino,
    )
    again = add(src, "racy", settings=embedded)
    assert again.created  # new content, so a new version
    download("racy", work / "out", settings=embedded)
    assert tree_bytes(work / "out") == tree_bytes(src)


def test_a_change_two_seconds_later_on_a_whole_second_file_system_is_not_missed(
    tmp_path: Path, work: Path
) -> None:
    """FAT keeps mtimes in two-second steps: a file hashed 1.5 s after its write and
    rewritten (same size) half a second later keeps its mtime. A whole-second mtime
    must be older than the racy window of coarse clocks before its hash is trusted."""
    embedded = client_settings(tmp_path / "home")
    src = make_tree(work / "src", files=6)
    age(src)
    add(src, "fat", settings=embedded)  # the store made: the next add hashes at once
    victim = src / "part0" / "f0000.bin"
    second = (time.time_ns() - 1_100_000_000) // 1_000_000_000 * 1_000_000_000
    os.utime(victim, ns=(second, second))  # 1.1-2.1 s ago, a whole second
    add(src, "fat", settings=embedded)
    st = victim.stat()
    with victim.open("r+b") as fh:
        fh.write(bytes(b ^ 0xFF for b in victim.read_bytes()))
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert victim.stat().st_mtime_ns == second
    again = add(src, "fat", settings=embedded)
    assert again.created and again.hashed == 1
    download("fat", work / "out", settings=embedded)
    assert tree_bytes(work / "out") == tree_bytes(src)


def test_a_push_after_a_pull_hashes_only_what_changed(tmp_path: Path, work: Path) -> None:
    """A pull places hardlinks to verified blobs and records them in the hash cache: a
    push of the pulled folder after one file changed hashes that file alone, and makes
    the version a cold push of the folder makes."""
    embedded = client_settings(tmp_path / "home")
    src = make_tree(work / "src", files=20)
    add(src, "pulled", settings=embedded)
    download("pulled", work / "first", settings=embedded)  # fetches the blobs
    for blob in (tmp_path / "home" / "cache").rglob("blake3/*/*"):
        os.utime(blob, ns=(OLD_NS, OLD_NS))  # fetched long ago: past the racy window
    dest = work / "second"
    download("pulled", dest, settings=embedded)
    changed = dest / "part1" / "f0004.bin"
    changed.unlink()  # a new file, not a write through the link into the cache
    changed.write_bytes(b"changed after the pull")
    pushed = add(dest, "pulled", settings=embedded)
    assert pushed.created and pushed.hashed == 1
    cold = add(dest, "cold", settings=client_settings(tmp_path / "cold"))
    assert cold.hashed == 22 and cold.version.digest == pushed.version.digest
    # Copies (no hardlinks) are not recorded: their contents were written just now.
    copied = download("pulled@v1", work / "copy", link=False, settings=embedded)
    assert copied.materialised.copied == 22 and not rows_below(embedded, work / "copy")


def test_pulled_rows_are_kept_per_folder_and_bounded(
    tmp_path: Path, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pulling into one folder again replaces its rows; past the size bound, a pull
    records none (and its folder's push hashes every file, as before)."""
    embedded = client_settings(tmp_path / "home")
    src = make_tree(work / "src", files=20)
    add(src, "bounded", settings=embedded)
    dest = work / "dest"
    download("bounded", dest, settings=embedded)
    (src / "part0" / "f0000.bin").unlink()
    add(src, "bounded", settings=embedded)
    monkeypatch.setattr(scan_module.PulledFiles, "BATCH", 5)  # five batches: one replaces
    download("bounded@v2", dest, settings=embedded)
    # v2's 21 files: the row of v1's file is gone, though the pull left the file there
    assert rows_below(embedded, dest) == {
        str(p.resolve()) for p in dest.rglob("*") if p.is_file() and p.name != "f0000.bin"
    }
    monkeypatch.setattr(scan_module, "MAX_PULLED_BYTES", 0)
    download("bounded@v1", work / "other", settings=embedded)
    assert not rows_below(embedded, work / "other")


def test_a_hash_cache_that_cannot_be_opened_fails_neither_pull_nor_push(
    tmp_path: Path, work: Path, caplog: pytest.LogCaptureFixture
) -> None:
    embedded = client_settings(tmp_path / "home")
    src = make_tree(work / "src", files=6)
    add(src, "unwritable", settings=embedded)
    hashes = embedded.cache_dir / "hashes.db"
    hashes.unlink()
    hashes.mkdir()  # not a database: opening it fails
    pulled = download("unwritable", work / "out", settings=embedded)
    assert pulled.materialised.linked == 8
    assert tree_bytes(work / "out") == tree_bytes(src)
    assert "the hash cache" in caplog.text and "cannot be used" in caplog.text
    # A push goes on without it too, hashing every file.
    (src / "part0" / "f0000.bin").write_bytes(b"changed")
    pushed = add(src, "unwritable", settings=embedded)
    assert pushed.created and pushed.hashed == 8


def rows_below(settings: Settings, folder: Path) -> set[str]:
    """The hash cache's paths at or below ``folder``."""
    root = str(folder.resolve())
    with sqlite3.connect(settings.cache_dir / "hashes.db") as db:
        found = {row[0] for row in db.execute("SELECT path FROM hashes")}
    return {p for p in found if p == root or p.startswith(root + os.sep)}


def test_truncated_and_replaced_files_are_hashed_again(tmp_path: Path, work: Path) -> None:
    embedded = client_settings(tmp_path / "home")
    src = make_tree(work / "src", files=12, size=(1000, 2000))
    age(src)
    add(src, "t", settings=embedded)
    truncated, replaced = src / "part0" / "f0000.bin", src / "part1" / "f0001.bin"
    with truncated.open("r+b") as fh:
        fh.truncate(10)
    os.utime(truncated, ns=(OLD_NS, OLD_NS))
    fresh = src / "part1" / "tmp"  # written beside it, renamed over it: a new inode
    fresh.write_bytes(os.urandom(replaced.stat().st_size))
    os.utime(fresh, ns=(OLD_NS, OLD_NS))
    os.replace(fresh, replaced)
    again = add(src, "t", settings=embedded)
    assert again.hashed == 2 and again.uploaded_blobs == 2
    download("t", work / "out", settings=embedded)
    assert tree_bytes(work / "out") == tree_bytes(src)


def test_a_blob_gone_from_the_server_is_sent_again(
    origin: Origin, lab: Lab, tmp_path: Path, work: Path, asked: list[int]
) -> None:
    """The latest version names a blob the server lost: the commit is refused, and the
    push asks about every blob, sends the lost one and commits."""
    server, _ = origin
    alice = client_settings(tmp_path / "alice", server.url)
    src = make_tree(work / "src", files=20)
    age(src)
    first = add(src, "lost", settings=alice)
    manifest, _sources, _hashed = scan(src, list_files(src))
    lost = manifest.files[5].digest
    os.unlink(lab.blobs.path(lost))
    (src / "part0" / "f0000.bin").write_bytes(b"changed")
    again = add(src, "lost", settings=alice)
    assert again.created and again.version.version == first.version.version + 1
    assert again.uploaded_blobs == 2  # the changed file and the lost one
    assert asked[1:] == [2, 22]  # the new blob and manifest; then all 21 blobs, manifest
    bob = client_settings(tmp_path / "bob", server.url)
    download("lost", work / "out", settings=bob)
    assert tree_bytes(work / "out") == tree_bytes(src)


def test_a_re_push_without_the_cached_manifest_asks_about_everything(
    origin: Origin, tmp_path: Path, work: Path, asked: list[int]
) -> None:
    server, _ = origin
    src = make_tree(work / "src", files=10)
    add(src, "other", settings=client_settings(tmp_path / "alice", server.url))
    (src / "part0" / "f0000.bin").write_bytes(b"changed")
    bob = add(src, "other", settings=client_settings(tmp_path / "bob", server.url))
    assert bob.created and bob.uploaded_blobs == 1 and asked[1] == 12


def test_a_push_to_a_server_does_not_import_httpx(
    origin: Origin, tmp_path: Path, work: Path
) -> None:
    """httpx's import was a large part of a re-push's CPU: pushing needs only httpcore,
    and without a proxy variable (on Linux) not even ``urllib.request``."""
    server, _ = origin
    src = make_tree(work / "src", files=5)
    code = (
        "import sys\n"
        "from lablink.sdk.data import add\n"
        "r = add(sys.argv[1], 'light')\n"
        "print(r.version.ref, 'httpx' in sys.modules, 'urllib.request' in sys.modules)\n"
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")},
        "LABLINK_SERVER": server.url,
        "LABLINK_HOME": str(tmp_path / "client"),
        "LABLINK_USER": "tester@example.org",
    }
    done = subprocess.run(
        [sys.executable, "-c", code, str(src)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    light = ["False", "False" if sys.platform.startswith("linux") else "True"]
    assert done.stdout.split() == ["light@v1", *light]


def test_a_touched_file_is_hashed_again_and_makes_no_new_version(
    origin: Origin, tmp_path: Path, work: Path, asked: list[int]
) -> None:
    """A new mtime without new content: the file is hashed again (the cache cannot
    vouch for it), and the same manifest commits to the latest version unchanged."""
    server, _ = origin
    alice = client_settings(tmp_path / "alice", server.url)
    src = make_tree(work / "src", files=20)
    age(src)
    first = add(src, "touched", settings=alice)
    touched = src / "part1" / "f0001.bin"
    os.utime(touched, ns=(OLD_NS + 10**9, OLD_NS + 10**9))
    again = add(src, "touched", settings=alice)
    assert again.hashed == 1 and again.uploaded_blobs == 0
    assert not again.created and again.version.ref == first.version.ref
    assert asked[1:] == []  # the latest version's manifest: nothing to ask about
