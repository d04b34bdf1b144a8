"""A local job's output goes to files that lablink reads behind it (issue 16, capture):
the job never waits for lablink, and what lablink cannot keep up with is skipped with a
line that counts it, never dropped silently."""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers import wait_for
from lablink.launch import tail
from lablink.launch.logs import LogSink, read_lines
from lablink.launch.process import Group
from lablink.sdk.client import Client

HANG = 120  # seconds before a job that should have ended fails the test (not a timing)

# prints LINES lines of 100 bytes, as fast as it can, after saying what its stdout is
PRINTER = """
import os, stat, sys
open("stdout-kind.txt", "w").write("file" if stat.S_ISREG(os.fstat(1).st_mode) else "other")
line = b"%05d" + b"x" * 94 + b"\\n"
out = sys.stdout.buffer
for i in range(int(sys.argv[1])):
    out.write(line % (i % 100000))
out.flush()
print("to stderr", file=sys.stderr)
"""


class Store:
    """The embedded store, which the sink gets only once ``ready`` is set: the way a
    launched job's run is created beside it, and a store slower than the job."""

    def __init__(self, home: Path) -> None:
        self.client = Client(home=str(home))
        self.transport = self.client._transport
        self.run_id = self.transport.create_run("tail", None, {}, [], None, {}).id
        self.ready = threading.Event()

    def open(self) -> Any:
        self.ready.wait()
        return self.transport

    def lines(self) -> list[dict[str, Any]]:
        return [line for _, line in read_lines(self.transport, self.run_id)]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    made = Store(tmp_path / "home")
    yield made
    made.ready.set()
    made.client.close()


def _job(tmp_path: Path, sink: LogSink, lines: int) -> Group:
    script = tmp_path / "printer.py"
    script.write_text(PRINTER)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    return Group([sys.executable, str(script), str(lines)], env, sink, echo=False)


def test_a_job_never_waits_for_the_store(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    sink = LogSink(store.open, store.run_id)
    started = time.time()
    # 8 MB: through a pipe the job would wait for the store to take it
    group = _job(tmp_path, sink, 80_000)
    assert group.proc.wait(HANG) == 0  # while the store is still away
    assert not store.ready.is_set()
    assert (tmp_path / "stdout-kind.txt").read_text() == "file"
    store.ready.set()
    group.release()
    group.finish_output()
    sink.close()
    ended = time.time()
    lines = store.lines()
    out = [line["l"] for line in lines if line["s"] == "out"]
    assert out == [f"{i:05d}" + "x" * 94 for i in range(80_000)]
    assert [line["l"] for line in lines if line["s"] == "err"] == ["to stderr"]
    # each line carries the time its file grew to hold it: while the job ran
    assert all(started <= line["t"] <= ended for line in lines)


def test_what_lablink_cannot_keep_up_with_is_skipped_and_counted(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    # a sink that takes 1 MiB at a time, and 4 MiB allowed behind: the store away, a
    # job printing 16 MB gets far ahead of what is read
    monkeypatch.setattr(tail, "MAX_PENDING", 2 << 20)
    monkeypatch.setattr(tail, "MAX_BEHIND", 4 << 20)
    sink = LogSink(store.open, store.run_id)
    group = _job(tmp_path, sink, 160_000)
    assert group.proc.wait(HANG) == 0
    store.ready.set()
    group.release()
    group.finish_output()
    sink.close()
    lines = store.lines()
    notes = [line["l"] for line in lines if line["l"].startswith("lablink:")]
    skipped = [int(re.match(r"lablink: (\d+) bytes of stdout skipped", n)[1]) for n in notes]  # type: ignore[index]
    assert skipped and all(n > 4 << 20 for n in skipped)
    stored = sum(len(line["l"]) + 1 for line in lines if line["s"] == "out")
    assert stored + sum(skipped) == 160_000 * 100  # every byte stored or counted
    assert any(line["l"] == "to stderr" for line in lines)


def test_what_is_read_gives_its_disk_back(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store.ready.set()
    sink = LogSink(store.open, store.run_id)
    group = _job(tmp_path, sink, 400_000)  # 40 MB
    assert group.proc.wait(HANG) == 0
    out = group.output.streams[0]
    wait_for(lambda: out.read == os.fstat(out.fileno()).st_size, HANG, "the output read")
    allocated = os.fstat(out.fileno()).st_blocks * 512
    group.release()
    group.finish_output()
    sink.close()
    if out.freed == 0:
        pytest.skip("this file system cannot punch holes: the file keeps what was read")
    assert allocated < 40_000_000 - tail.PUNCH_BYTES
    assert len(store.lines()) == 400_001
