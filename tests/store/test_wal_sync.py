"""Group commit on SQLite: a write returns only after a WAL sync that began after it.

The sync function is the real ``os.fdatasync`` wrapped so a test can hold the first
sync open and see which commits the next one covers.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from lablink.errors import InvalidInput
from lablink.settings import Settings
from lablink.store import open_store
from lablink.store.sqlite import SqliteStore
from lablink.store.wal_sync import GroupSync


def sqlite_store(tmp_path: Path, durability: str = "commit") -> SqliteStore:
    store = open_store(f"sqlite:///{tmp_path / 'lablink.db'}", durability=durability)
    assert isinstance(store, SqliteStore)
    return store


def wait_until(check, seconds: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_each_sequential_write_waits_for_its_own_sync(tmp_path: Path) -> None:
    store = sqlite_store(tmp_path)
    synced: list[int] = []
    assert store.group_sync is not None
    store.group_sync = GroupSync(
        store.group_sync.wal_path, datasync=lambda fd: (synced.append(fd), os.fdatasync(fd))
    )
    for name in ("a", "b", "c"):
        store.ensure_project(name)
    assert store.group_sync.syncs == 3 == len(synced)
    store.close()


def test_writes_of_one_call_wait_for_one_sync_at_its_end(tmp_path: Path) -> None:
    store = sqlite_store(tmp_path)
    assert store.group_sync is not None
    with store.one_sync():
        for name in ("a", "b", "c"):
            store.ensure_project(name)
        with store.one_sync():  # nested: still the outer one's sync
            store.ensure_project("d")
        assert store.group_sync.syncs == 0  # nothing acknowledged yet
    assert store.group_sync.syncs == 1
    store.ensure_project("e")  # afterwards each write waits for its own again
    assert store.group_sync.syncs == 2
    store.close()


def test_a_call_that_fails_midway_still_syncs_what_it_wrote(tmp_path: Path) -> None:
    store = sqlite_store(tmp_path)
    assert store.group_sync is not None

    def fails_midway() -> None:
        with store.one_sync():
            store.ensure_project("written")
            raise RuntimeError("the call's next step fails")

    with pytest.raises(RuntimeError, match="next step"):
        fails_midway()
    assert store.group_sync.syncs == 1
    assert [p.name for p in store.list_projects()] == ["written"]
    store.close()


def test_commits_that_wait_together_share_one_sync(tmp_path: Path) -> None:
    store = sqlite_store(tmp_path)
    assert store.group_sync is not None
    first_entered, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def held_datasync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 1:
            first_entered.set()
            assert release.wait(10)
        os.fdatasync(fd)

    sync = GroupSync(store.group_sync.wal_path, datasync=held_datasync)
    store.group_sync = sync
    done: list[str] = []

    def write(name: str) -> None:
        store.ensure_project(name)
        done.append(name)

    leader = threading.Thread(target=write, args=("first",))
    leader.start()
    assert first_entered.wait(10)
    followers = [threading.Thread(target=write, args=(n,)) for n in ("second", "third")]
    for thread in followers:
        thread.start()
    wait_until(lambda: sync.committed_count == 3)
    assert done == []  # committed, but nobody is acknowledged before its sync
    release.set()
    for thread in (leader, *followers):
        thread.join(10)
    assert sorted(done) == ["first", "second", "third"]
    assert sync.syncs == 2  # the first commit's sync, then one for both followers
    assert {p.name for p in store.list_projects()} == {"first", "second", "third"}
    store.close()


def test_a_failed_sync_is_not_an_acknowledgement(tmp_path: Path) -> None:
    store = sqlite_store(tmp_path)
    assert store.group_sync is not None
    failures = [OSError(5, "Input/output error")]

    def flaky(fd: int) -> None:
        if failures:
            raise failures.pop()
        os.fdatasync(fd)

    store.group_sync = GroupSync(store.group_sync.wal_path, datasync=flaky)
    with pytest.raises(OSError, match="Input/output"):
        store.ensure_project("lost-ack")
    store.ensure_project("next")  # the next write syncs both
    assert store.group_sync.syncs == 1
    assert {p.name for p in store.list_projects()} == {"lost-ack", "next"}
    store.close()


def test_process_durability_skips_the_sync(tmp_path: Path) -> None:
    store = sqlite_store(tmp_path, "process")
    assert store.group_sync is None
    store.ensure_project("fast")
    assert [p.name for p in store.list_projects()] == ["fast"]
    store.close()


def test_the_setting_names_its_choices(tmp_path: Path) -> None:
    env = {"LABLINK_HOME": str(tmp_path), "LABLINK_DURABILITY": "power"}
    with pytest.raises(InvalidInput, match="durability") as err:
        Settings.load(environ=env, cwd=tmp_path)
    assert "commit" in str(err.value) and "process" in str(err.value)
    env["LABLINK_DURABILITY"] = "process"
    assert Settings.load(environ=env, cwd=tmp_path).durability == "process"
    assert Settings.load(environ={"LABLINK_HOME": str(tmp_path)}, cwd=tmp_path).durability == (
        "commit"
    )
