"""The SDK on the embedded store (no server): add, pull, dataset(), the client cache."""

from __future__ import annotations

import dataclasses
import errno
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from datatools import client_settings, corrupt_file, make_tree, tree_bytes

import lablink
from lablink.errors import CorruptBlob, InsufficientStorage, InvalidInput, NotFound
from lablink.sdk.cache import ClientCache
from lablink.sdk.data import add, dataset, download
from lablink.settings import Settings
from lablink.store.rebuildable import open_rebuildable


@pytest.fixture
def embedded(tmp_path: Path, work: Path) -> Settings:
    return client_settings(tmp_path / "home")


def test_add_then_pull_is_byte_identical_and_deduplicated(embedded: Settings, work: Path) -> None:
    src = make_tree(work / "src", files=60)
    first = add(src, "tree", message="first", settings=embedded)
    assert first.created and first.version.ref == "tree@v1" and first.files == 62
    assert first.uploaded_blobs == 61  # two equal files are one blob
    # change 1 file in 60: only that blob travels, and only it is hashed again
    changed = src / "part0" / "f0000.bin"
    os.utime(src, None)
    changed.write_bytes(b"changed content")
    second = add(src, "tree", message="second", settings=embedded)
    assert second.version.ref == "tree@v2" and second.uploaded_blobs == 1
    unchanged = add(src, "tree", settings=embedded)
    assert not unchanged.created and unchanged.version.ref == "tree@v2"
    assert unchanged.uploaded_blobs == 0
    out = download("tree@v2", work / "out", settings=embedded)
    assert tree_bytes(work / "out") == tree_bytes(src)
    assert out.materialised.linked == 62
    old = download("tree@v1", work / "old", settings=embedded)
    assert old.fetch.blobs == 1  # one file: the rest, its manifest too, was cached by the push
    assert (work / "old" / "part0" / "f0000.bin").read_bytes() != b"changed content"


def test_the_hash_cache_skips_unchanged_files(embedded: Settings, work: Path) -> None:
    src = make_tree(work / "src", files=20)
    old = 1_000_000_000  # files older than the racy window are trusted from the cache
    for path in src.rglob("*"):
        os.utime(path, (old, old))
    assert add(src, "h", settings=embedded).hashed == 22
    assert add(src, "h", settings=embedded).hashed == 0
    (src / "part1" / "f0001.bin").write_bytes(b"new")
    assert add(src, "h", settings=embedded).hashed == 1


def cached_paths(settings: Settings) -> set[str]:
    """The paths the hash cache holds rows for."""
    with sqlite3.connect(settings.cache_dir / "hashes.db") as db:
        return {row[0] for row in db.execute("SELECT path FROM hashes")}


def test_the_hash_cache_forgets_deleted_files_only_under_the_scanned_folder(
    embedded: Settings, work: Path
) -> None:
    src = make_tree(work / "src", files=6)
    sibling = make_tree(work / "src2", files=4, seed=1)  # a name "src" is a prefix of
    add(src, "h", settings=embedded)
    add(sibling, "s", settings=embedded)
    sibling_rows = {str(p.resolve()) for p in sibling.rglob("*") if p.is_file()}
    gone, excluded = src / "part0" / "f0000.bin", src / "part1" / "f0001.bin"
    assert {str(gone.resolve()), str(excluded.resolve())} <= cached_paths(embedded)
    gone.unlink()
    (sibling / "part0" / "f0000.bin").unlink()  # gone too, but its folder is not scanned
    pushed = add(src, "h", exclude=["part1/f0001.bin"], settings=embedded)
    rows = cached_paths(embedded)
    assert str(gone.resolve()) not in rows
    assert str(excluded.resolve()) in rows  # excluded, not deleted: its row stays
    assert sibling_rows <= rows
    assert {str(p.resolve()) for p in src.rglob("*") if p.is_file()} <= rows
    # The re-push holds exactly the files left, and pulls back byte-identical.
    assert pushed.created and pushed.files == 6
    download("h", work / "out", settings=embedded)
    assert tree_bytes(work / "out") == {
        rel: data for rel, data in tree_bytes(src).items() if rel != "part1/f0001.bin"
    }
    again = add(src, "h", exclude=["part1/f0001.bin"], settings=embedded)
    assert not again.created  # nothing changed: the same version


def test_hardlinks_share_the_inode_and_a_second_pull_costs_no_disk(
    embedded: Settings, work: Path
) -> None:
    src = make_tree(work / "src", files=10)
    add(src, "links", settings=embedded)
    download("links", work / "a", settings=embedded)
    second = download("links", work / "b", settings=embedded)
    assert second.fetch.blobs == 0 and second.materialised.linked == 12
    a, b = work / "a" / "part0" / "f0000.bin", work / "b" / "part0" / "f0000.bin"
    assert os.stat(a).st_ino == os.stat(b).st_ino
    cache = ClientCache(embedded.cache_dir, embedded.cache_size)
    try:
        digest = lablink.dataset("links", settings=embedded, record=False).manifest.files[3].digest
        assert os.stat(cache.path(digest)).st_nlink >= 3
    finally:
        cache.close()
    assert not os.access(a, os.W_OK) or os.geteuid() == 0  # read-only (root writes anyway)
    again = download("links", work / "a", settings=embedded)  # resume: nothing to redo
    assert again.materialised.unchanged == 12


def test_copy_where_links_are_impossible(
    embedded: Settings, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = make_tree(work / "src", files=5)
    add(src, "copies", settings=embedded)
    shm = Path("/dev/shm")
    if shm.is_dir() and os.stat(shm).st_dev != os.stat(work).st_dev:
        # a real second file system: links across it fail with EXDEV
        dest = Path(os.environ.get("TMPDIR_SHM", shm)) / f"lablink-test-{os.getpid()}-{id(work)}"
    else:

        def no_link(src: str, dst: str) -> None:
            raise OSError(errno.EXDEV, "Invalid cross-device link")

        monkeypatch.setattr(os, "link", no_link)
        dest = work / "copied"
    try:
        result = download("copies", dest, settings=embedded)
        assert result.materialised.copied == 7 and result.materialised.linked == 0
        assert tree_bytes(dest) == tree_bytes(src)
    finally:
        if dest.is_relative_to(shm):
            subprocess.run(["rm", "-rf", str(dest)], check=True)
    forced = download("copies", work / "forced", link=False, settings=embedded)
    assert forced.materialised.copied == 7


def test_dataset_inside_a_run_records_its_input(embedded: Settings, work: Path) -> None:
    src = make_tree(work / "src", files=8)
    add(src, "inputs", message="v1", settings=embedded)
    with lablink.init(project="vision", settings=embedded, system_metrics=False) as run:
        ds = lablink.dataset("inputs@v1")
        assert ds.ref == "inputs@v1" and ds.version == 1 and len(ds.files) == 10
        assert "same-a.txt" in ds.files
        with ds.open("same-a.txt") as fh:
            assert fh.read() == b"x" * 5000
        assert tree_bytes(ds.path) == tree_bytes(src)
        assert lablink.dataset("inputs@v1").path == ds.path  # one view per version
    with lablink.Client(settings=embedded) as client:
        recorded = client.run(run.id).inputs
    assert [(i["kind"], i["ref"], i["digest"]) for i in recorded] == [
        ("dataset", "inputs@v1", ds.digest)
    ]
    with pytest.raises(NotFound, match="has no file"):
        ds.open("nope.txt")


def test_bad_input_gets_clear_errors(embedded: Settings, work: Path) -> None:
    src = make_tree(work / "src", files=3)
    with pytest.raises(InvalidInput, match="invalid dataset name"):
        add(src, "bad name", settings=embedded)
    with pytest.raises(InvalidInput, match="does not exist"):
        add(work / "missing", "ok", settings=embedded)
    (work / "empty").mkdir()
    with pytest.raises(InvalidInput, match="holds no files"):
        add(work / "empty", "ok", settings=embedded)
    add(src, "ok", settings=embedded)
    with pytest.raises(NotFound, match="ok@v9 does not exist"):
        dataset("ok@v9", settings=embedded)
    with pytest.raises(NotFound, match="no dataset named 'other'"):
        download("other", work / "x", settings=embedded)
    with pytest.raises(InvalidInput, match="invalid version"):
        dataset("ok@v0", settings=embedded)
    with pytest.raises(InvalidInput, match="a dataset reference is text, not NoneType"):
        dataset(None, settings=embedded)  # type: ignore[arg-type]
    with pytest.raises(NotFound, match=r"no dataset named 'nope'"):
        add(src, "child", parents=["nope@v1"], settings=embedded)


def test_single_file_and_unusual_names(embedded: Settings, work: Path) -> None:
    one = work / "table.csv"
    one.write_text("a,b\n1,2\n")
    add(one, "one-file", settings=embedded)
    download("one-file", work / "out", settings=embedded)
    assert (work / "out" / "table.csv").read_text() == "a,b\n1,2\n"
    odd = work / "odd"
    (odd / "spaces and ünïcode").mkdir(parents=True)
    (odd / "spaces and ünïcode" / "fïle #1.txt").write_text("hi")
    (odd / ".hidden").write_text("h")
    add(odd, "odd", settings=embedded)
    download("odd", work / "odd-out", settings=embedded)
    assert tree_bytes(work / "odd-out") == tree_bytes(odd)


def test_cache_evicts_least_recently_used_within_its_limit(tmp_path: Path, work: Path) -> None:
    settings = client_settings(tmp_path / "home", cache_size=60_000)
    for name in ("a", "b", "c"):
        make_tree(work / name, files=8, seed=ord(name), size=(2000, 3000))
        add(work / name, name, settings=settings)
    view_a = lablink.dataset("a", settings=settings, record=False).path
    download("b", work / "out-b", settings=settings)
    download("c", work / "out-c", settings=settings)  # over the limit: a's blobs go first
    cache = ClientCache(settings.cache_dir, settings.cache_size)
    try:
        assert cache.usage() <= 60_000
        ds_a = lablink.dataset("a", settings=settings, record=False)
        ds_b = lablink.dataset("b", settings=settings, record=False)
        ds_c = lablink.dataset("c", settings=settings, record=False)
        # just enough of the least recently used version went, nothing of the others
        assert any(not cache.has(f.digest) for f in ds_a.entries)
        assert all(cache.has(f.digest) for f in (*ds_b.entries, *ds_c.entries))
        assert not view_a.exists()  # the view of the evicted version went with it
    finally:
        cache.close()
    assert tree_bytes(work / "out-b") == tree_bytes(work / "b")  # links outlive eviction
    download("a", work / "out-a", settings=settings)  # fetched again from the store
    assert tree_bytes(work / "out-a") == tree_bytes(work / "a")


def test_a_full_disk_is_a_clear_error_and_the_cache_stays_consistent(
    embedded: Settings, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = make_tree(work / "src", files=10)
    add(src, "full", settings=embedded)
    settings = dataclasses.replace(embedded, cache_dir=work / "small-cache")
    real_copy = __import__("shutil").copyfile
    calls = {"n": 0}

    def full(src_path: str, dst: str) -> None:
        calls["n"] += 1
        if calls["n"] > 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_copy(src_path, dst)

    def no_link(a: str, b: str) -> None:
        raise OSError(errno.EXDEV, "cross-device")

    monkeypatch.setattr("lablink.store.blobcache.os.link", no_link)
    monkeypatch.setattr("lablink.store.blobcache.shutil.copyfile", full)
    with pytest.raises(InsufficientStorage, match="out of disk space"):
        download("full", work / "out", settings=settings)
    cache = ClientCache(settings.cache_dir, settings.cache_size)
    try:
        assert not list(cache.tmp.iterdir())  # nothing half-written
        assert cache.reindex() == 3 and cache.usage() > 0
    finally:
        cache.close()
    monkeypatch.undo()
    download("full", work / "out", settings=settings)  # resumes once there is room
    assert tree_bytes(work / "out") == tree_bytes(src)


def test_a_damaged_hash_cache_or_cache_index_is_made_anew(
    embedded: Settings, work: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Neither holds anything that cannot be made again: a file that is not a database
    is kept aside as ``.corrupt``, with a warning, and the command goes on."""
    src = make_tree(work / "src", files=6)
    add(src, "damaged", settings=embedded)
    download("damaged", work / "first", settings=embedded)
    for name in ("hashes.db", "index.db"):
        for suffix in ("-wal", "-shm"):
            (embedded.cache_dir / f"{name}{suffix}").unlink(missing_ok=True)
        (embedded.cache_dir / name).write_bytes(b"not a database " * 100)
    (src / "part0" / "f0000.bin").write_bytes(b"changed")
    pushed = add(src, "damaged", settings=embedded)
    assert pushed.created and pushed.hashed == 8  # the hashes are gone, not wrong
    pulled = download("damaged@v1", work / "second", settings=embedded)
    assert pulled.fetch.blobs == 0  # the cached files serve it; the index is made anew
    assert tree_bytes(work / "second") == tree_bytes(work / "first")
    for name in ("hashes.db", "index.db"):
        assert (embedded.cache_dir / f"{name}.corrupt").read_bytes().startswith(b"not a")
        assert f"{name} is damaged" in caplog.text


def test_a_cache_database_that_cannot_be_opened_is_no_damage(tmp_path: Path) -> None:
    """A folder where the file should be (or a lock, or no permission) raises as it
    did: only a file that is not a database is replaced."""
    folder = tmp_path / "hashes.db"
    folder.mkdir()
    with pytest.raises(sqlite3.OperationalError, match="unable to open"):
        open_rebuildable(folder, lambda db: db.execute("PRAGMA journal_mode=WAL"))
    assert folder.is_dir() and not (tmp_path / "hashes.db.corrupt").exists()


def test_a_corrupt_blob_in_the_store_is_refused(embedded: Settings, work: Path) -> None:
    src = make_tree(work / "src", files=3)
    add(src, "rot", settings=embedded)
    from lablink.core.lab import Lab

    with Lab(embedded) as lab:
        entry = lab.datasets.manifest("rot")[1].files[0]
        corrupt_file(Path(lab.blobs.path(entry.digest)))
    with pytest.raises(CorruptBlob, match="does not hash to"):
        download("rot", work / "out", settings=embedded)


def test_lablink_dataset_does_not_make_import_heavy() -> None:
    code = "import sys, lablink; lablink.dataset; print('httpx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
