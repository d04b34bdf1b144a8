"""The hash cache forgets files that are gone (``lablink data cache --tidy``): the rows
kept are exactly those of files that still exist, whatever was deleted, and a folder
that cannot be read keeps its rows."""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from pathlib import Path

import pytest
from datatools import client_settings, make_tree
from typer.testing import CliRunner

from lablink.cli.main import app
from lablink.sdk import scan as scan_module
from lablink.sdk.data import add, download
from lablink.sdk.scan import HashCache, list_files, scan


def hashed_tree(root: Path, hashes: HashCache, rng: random.Random) -> list[str]:
    """A tree of a few folders, every file in the hash cache; its files' paths."""
    root.mkdir()
    (root / "top.txt").write_text(root.name)
    for folder in range(rng.randint(1, 6)):
        for depth in range(rng.randint(1, 3)):
            where = root.joinpath(*[f"d{folder}"] + [f"s{i}" for i in range(depth)])
            where.mkdir(parents=True, exist_ok=True)
            for n in range(rng.randint(0, 5)):
                (where / f"f{n}.bin").write_bytes(rng.randbytes(rng.randint(0, 50)))
    scan(root, list_files(root), hashes=hashes)
    return sorted(str(p) for p in root.rglob("*") if p.is_file())


def delete_some(root: Path, rng: random.Random) -> None:
    """Delete random files and folders (a folder taking its subfolders), replace some
    folders with files of the same name."""
    for path in sorted(root.rglob("*"), reverse=True):
        if not path.exists() or rng.random() > 0.25:
            continue
        if path.is_dir():
            shutil.rmtree(path)
            if rng.random() < 0.3:
                path.write_bytes(b"now a file")
        else:
            path.unlink()


def rows(hashes: HashCache) -> set[str]:
    return set(hashes.under("/"))


@pytest.mark.parametrize("seed", range(12))
def test_the_rows_kept_are_exactly_the_files_that_exist(
    tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(seed)
    if seed % 2:  # several batches, and listings dropped between them
        monkeypatch.setattr(scan_module, "PRUNE_BATCH", 3)
    hashes = HashCache(tmp_path / "hashes.db")
    roots = [tmp_path / f"tree{i}" for i in range(3)]
    for root in roots:
        hashed_tree(root, hashes, rng)
    before = rows(hashes)
    delete_some(tmp_path, rng) if seed % 3 else shutil.rmtree(roots[0])

    forgotten = hashes.forget_gone()
    kept = rows(hashes)
    assert kept == {path for path in before if os.path.isfile(path)}
    assert forgotten == len(before) - len(kept)
    assert hashes.count() == len(kept)
    assert hashes.forget_gone() == 0
    hashes.close()


def test_a_folder_that_cannot_be_listed_keeps_its_rows(tmp_path: Path) -> None:
    hashes = HashCache(tmp_path / "hashes.db")
    tree = make_tree(tmp_path / "tree", files=4)
    scan(tree, list_files(tree), hashes=hashes)
    known = rows(hashes)
    # The folder becomes a symlink loop: listing it fails with ELOOP, not "not found",
    # as an unreachable network mount or a folder without permission does.
    moved = tmp_path / "moved"
    tree.rename(moved)
    tree.symlink_to(tree)
    assert hashes.forget_gone() == 0 and rows(hashes) == known
    tree.unlink()
    assert hashes.forget_gone() == len(known) and rows(hashes) == set()
    hashes.close()


def test_the_cache_command_shows_and_tidies_the_hash_cache(
    tmp_path: Path, work: Path, caplog: pytest.LogCaptureFixture
) -> None:
    runner = CliRunner()
    env = {"COLUMNS": "200", "LABLINK_HOME": str(tmp_path / "home")}

    def cli(*args: str) -> str:
        result = runner.invoke(app, list(args), catch_exceptions=False, env=env)
        assert result.exit_code == 0, (result.stdout, result.stderr)
        return result.stdout

    kept = make_tree(work / "kept", files=5)
    gone = make_tree(work / "gone", files=7)
    cli("data", "add", str(kept), "-n", "kept")
    cli("data", "add", str(gone), "-n", "gone")
    shown = json.loads(cli("data", "cache", "--json"))
    assert shown["hashed_files"] == 16 and shown["hash_cache_bytes"] > 0  # 7 + 9 files
    assert shown["forgotten_hashes"] == 0
    assert "hash cache: 16 files" in cli("data", "cache")

    shutil.rmtree(gone)
    assert json.loads(cli("data", "cache", "--json"))["hashed_files"] == 16  # shown only
    tidied = json.loads(cli("data", "cache", "--tidy", "--json"))
    assert tidied["forgotten_hashes"] == 9 and tidied["hashed_files"] == 7
    assert tidied["evicted_blobs"] == 0  # the blob cache is left alone

    (kept / "same-a.txt").unlink()
    text = cli("data", "cache", "--prune", "100GB")  # a prune tidies too
    assert "evicted 0 blobs" in text and "forgot the hashes of 1 files that are gone" in text

    hashes_db = tmp_path / "home" / "cache" / "hashes.db"
    for leftover in hashes_db.parent.glob("hashes.db*"):
        leftover.unlink()
    hashes_db.mkdir()  # a folder in its place: shown without it, with a warning
    result = runner.invoke(app, ["data", "cache"], catch_exceptions=False, env=env)
    assert result.exit_code == 0 and "blobs" in result.stdout
    assert "hash cache:" not in result.stdout and "cannot be used" in caplog.text


def test_a_full_cache_tidies_before_a_pull_at_most_once_a_day(
    tmp_path: Path, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedded = client_settings(tmp_path / "home")
    hashes_db = embedded.cache_dir / "hashes.db"
    add(make_tree(work / "small", files=5), "small", settings=embedded)
    deleted = make_tree(work / "deleted", files=300, size=(10, 20))
    add(deleted, "big", settings=embedded)
    hashes = HashCache(hashes_db)
    full_size = hashes.size()
    assert len(hashes.under(str(deleted.resolve()))) == 302
    hashes.close()
    shutil.rmtree(deleted)
    monkeypatch.setattr(scan_module, "MAX_PULLED_BYTES", full_size - 1)

    download("small", work / "pulled", settings=embedded)  # tidies, then has room
    hashes = HashCache(hashes_db)
    assert hashes.under(str(deleted.resolve())) == {}
    assert len(hashes.under(str((work / "pulled").resolve()))) == 7
    tidied = hashes.tidied_at()
    assert time.time() - 60 < tidied <= time.time()
    hashes.close()

    # Full again, tidied within the day: the pull records nothing and tidies nothing.
    again = make_tree(work / "again", files=5, seed=1).resolve()
    add(again, "again", settings=embedded)
    shutil.rmtree(again)
    monkeypatch.setattr(scan_module, "MAX_PULLED_BYTES", 0)
    download("small", work / "later", settings=embedded)
    hashes = HashCache(hashes_db)
    assert len(hashes.under(str(again))) == 7  # still there: not tidied
    assert not hashes.under(str((work / "later").resolve())) and hashes.tidied_at() == tidied
    hashes.close()
