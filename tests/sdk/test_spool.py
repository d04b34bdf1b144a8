"""The spool on its own: ordering, locking, damaged files, partial replays."""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any

import pytest

from lablink.errors import InvalidInput, NotFound, ServiceUnavailable
from lablink.sdk.spool import FAILURE, OUTAGE, REFUSAL, Outbox, apply, classify, replay_all


class Recorder:
    """A stand-in transport that records batches and can be down or fail on some seqs."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.down = False
        self.refuse: set[int] = set()

    def log_batch(self, run_id: str, seq: int, metrics: Any) -> dict[str, Any]:
        if self.down:
            raise ServiceUnavailable("down")
        if seq in self.refuse:
            raise InvalidInput("bad batch")
        self.batches.append(seq)
        return {"ingested": True}

    def finish_run(self, run_id: str, status: str, reason: str | None) -> None:
        if self.down:
            raise ServiceUnavailable("down")
        self.batches.append(-1)


def batch(seq: int, run_id: str = "run1") -> dict[str, Any]:
    metrics = {"x": {"steps": [seq], "times": [1.0], "values": [float(seq)]}}
    return {"op": "batch", "run_id": run_id, "seq": seq, "metrics": metrics}


def test_outbox_spools_in_order_and_replays(tmp_path: Path) -> None:
    remote = Recorder()
    outbox = Outbox(remote, "run1", tmp_path, "http://a")  # type: ignore[arg-type]
    outbox.deliver(batch(0))
    remote.down = True
    outbox.deliver(batch(1))
    outbox.deliver(batch(2))
    assert not outbox.online and outbox.spooled == 2
    lines = [json.loads(line) for line in (tmp_path / "run1.jsonl").read_text().splitlines()]
    assert lines[0] == {"op": "run", "run_id": "run1", "target": "http://a", "v": 1}
    assert [line["seq"] for line in lines[1:]] == [1, 2]
    assert not outbox.replay()  # still down
    remote.down = False
    outbox.deliver(batch(3))  # offline until a replay succeeds: spooled behind 1 and 2
    assert outbox.replay()
    assert remote.batches == [0, 1, 2, 3]
    assert not (tmp_path / "run1.jsonl").exists()
    outbox.close()


def test_replay_all_skips_live_and_foreign_spools(tmp_path: Path) -> None:
    remote = Recorder()
    remote.down = True
    live = Outbox(remote, "live", tmp_path, "http://a")  # type: ignore[arg-type]
    live.deliver(batch(0, "live"))  # spooled and locked by this live run
    other = Outbox(remote, "other", tmp_path, "http://b")  # type: ignore[arg-type]
    other.deliver(batch(0, "other"))
    other.close()
    remote.down = False
    report = replay_all(remote, tmp_path, "http://a")  # type: ignore[arg-type]
    assert report.replayed == [] and remote.batches == []
    assert (tmp_path / "live.jsonl").exists() and (tmp_path / "other.jsonl").exists()
    live.close()
    report = replay_all(remote, tmp_path, "http://a")  # type: ignore[arg-type]
    assert report.replayed == ["live.jsonl"] and remote.batches == [0]


def test_partial_replay_keeps_only_what_is_left(tmp_path: Path) -> None:
    remote = Recorder()
    remote.down = True
    outbox = Outbox(remote, "run1", tmp_path, "t")  # type: ignore[arg-type]
    for seq in range(4):
        outbox.deliver(batch(seq))
    outbox.close()
    remote.down = False
    calls = 0
    original = remote.log_batch

    def fail_third(run_id: str, seq: int, metrics: Any) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise ServiceUnavailable("gone again")
        return original(run_id, seq, metrics)

    remote.log_batch = fail_third  # type: ignore[method-assign]
    assert replay_all(remote, tmp_path, "t").left == ["run1.jsonl"]  # type: ignore[arg-type]
    assert replay_all(remote, tmp_path, "t").replayed == ["run1.jsonl"]  # type: ignore[arg-type]
    assert remote.batches == [0, 1, 2, 3]  # nothing sent twice


def test_damaged_lines_and_refused_ops_are_skipped(tmp_path: Path) -> None:
    header = {"op": "run", "run_id": "r", "target": "t", "v": 1}
    lines = [json.dumps(header), json.dumps(batch(0)), "{not json", json.dumps(batch(1))]
    (tmp_path / "r.jsonl").write_text("\n".join(lines) + "\n" + '{"op": "batch", "cut')
    remote = Recorder()
    remote.refuse = {1}
    report = replay_all(remote, tmp_path, "t")  # type: ignore[arg-type]
    assert report.replayed == ["r.jsonl"]
    assert remote.batches == [0]


def test_a_spool_from_a_newer_format_is_left_alone(tmp_path: Path) -> None:
    for name, version in (("old.jsonl", None), ("newer.jsonl", 2)):
        header = {"op": "run", "run_id": name, "target": "t"}
        if version is not None:
            header["v"] = version
        (tmp_path / name).write_text(json.dumps(header) + "\n" + json.dumps(batch(0)) + "\n")
    report = replay_all(Recorder(), tmp_path, "t")  # type: ignore[arg-type]
    assert report.replayed == ["old.jsonl"]
    assert (tmp_path / "newer.jsonl").exists()


def test_refusals_are_reported_a_few_times_not_per_batch(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    remote = Recorder()
    remote.refuse = set(range(10))
    outbox = Outbox(remote, "run1", tmp_path, "t")  # type: ignore[arg-type]
    for seq in range(10):
        outbox.deliver(batch(seq))
    assert outbox.online and outbox.log.count == 10
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 3 and "(3 so far)" in warnings[-1].getMessage()


@pytest.mark.parametrize(
    ("error", "verdict"),
    [
        (ServiceUnavailable("x"), OUTAGE),
        (ConnectionRefusedError(), OUTAGE),
        (OSError(errno.ENOSPC, "disk full"), OUTAGE),
        (InvalidInput("x"), REFUSAL),
        (NotFound("x"), REFUSAL),
        (FileNotFoundError("artifact gone"), REFUSAL),
        (TypeError("x"), FAILURE),
        (OSError(errno.EIO, "i/o error"), FAILURE),
    ],
)
def test_what_counts_as_an_outage(error: Exception, verdict: str) -> None:
    assert classify(error) == verdict


def test_unknown_op_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown spooled op"):
        apply(Recorder(), {"op": "teleport", "run_id": "r"})  # type: ignore[arg-type]


def test_a_spool_replaced_after_it_was_opened_is_not_replayed(tmp_path: Path) -> None:
    from lablink.sdk.spool.replay import _locked

    header = {"op": "run", "run_id": "r", "target": "t", "v": 1}
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(header) + "\n" + json.dumps(batch(0)) + "\n")
    with _locked(path) as fh:
        assert fh is not None  # the file at the path, locked
    with open(path, "rb") as old:
        newer = tmp_path / "r.new"
        newer.write_text(json.dumps(header) + "\n")
        newer.replace(path)  # a rewrite lands between another replayer's open and lock
        from lablink.sdk.spool.ops import lock_file
        from lablink.sdk.spool.replay import _still_at

        assert lock_file(old, blocking=False)
        assert not _still_at(path, old)
