"""What happens to an op that cannot be delivered: outage, server failure, or refusal.

A server bug on one op must not hold back the ops behind it; a refused or impossible op
must not read as "server unreachable". Run against a real server and the direct store.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy.exc
from sdk_support import Sdk

import lablink
from helpers import LoopbackServer
from lablink import errors
from lablink.sdk import spool
from lablink.sdk.http import HttpTransport
from lablink.sdk.spool import FAILURE, OUTAGE, REFUSAL, Outbox, classify
from lablink.server.errors import database_error


def messages(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage()]


def test_a_server_bug_on_one_op_sets_it_aside_and_the_rest_flow(
    sdk: Sdk, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spool.outbox, "MIN_BACKOFF", 0.01)  # five tries within the test
    transport = sdk.transport()
    # the code that answers the request: in the server for HTTP, in-process for direct
    tracking = sdk.lab.tracking if sdk.kind == "http" else transport.tracking  # type: ignore[attr-defined]
    tries = 0

    def broken_note(*args: Any, **kwargs: Any) -> Any:
        nonlocal tries
        tries += 1
        raise RuntimeError("a bug in the note code")

    monkeypatch.setattr(tracking, "note", broken_note)
    run = lablink.init(project="bug", settings=sdk.settings, transport=transport)
    run.log({"x": 0.0})
    run.note("this note hits the bug")
    for step in range(1, 100):
        run.log({"x": float(step)})
    run.tag("after-the-bug")
    run.finish()

    stored = sdk.client.run(run.id)
    assert stored.status == "finished"
    assert "after-the-bug" in stored.tags
    assert sdk.points(run.id, "x") == list(range(100))
    assert tries == spool.MAX_TRIES
    failed = Path(sdk.settings.spool_dir) / "failed" / f"{run.id}.jsonl"
    [record] = [json.loads(line) for line in failed.read_text().splitlines()]
    assert record["op"] == "note" and record["text"] == "this note hits the bug"
    assert record["error"]
    assert messages(caplog, "set aside") and not messages(caplog, "unreachable")
    assert not (Path(sdk.settings.spool_dir) / f"{run.id}.jsonl").exists()


def test_an_artifact_deleted_before_upload_is_not_an_outage(
    sdk: Sdk, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    transport = sdk.transport()
    run = sdk.client._transport.create_run("art", None, {}, [], None, {})
    outbox = Outbox(transport, run.id, Path(sdk.settings.spool_dir), "t")
    gone = tmp_path / "model.pt"
    op = {"op": "artifact", "run_id": run.id, "path": str(gone), "name": "model", "kind": "file"}
    outbox.deliver(op)
    outbox.deliver({"op": "tag", "run_id": run.id, "add": ["next"], "remove": []})
    assert outbox.online
    assert "next" in sdk.client.run(run.id).tags
    assert not messages(caplog, "unreachable")
    [warning] = messages(caplog, "cannot send")
    assert "model.pt" in warning
    outbox.close()


def test_a_spool_with_a_failing_op_is_replayed_past_it_after_five_tries(
    sdk: Sdk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    transport = sdk.transport()
    run = sdk.client._transport.create_run("leftover", None, {}, [], None, {})
    spool_dir = tmp_path / "leftover-spool"
    header = {"op": "run", "run_id": run.id, "target": "t", "v": 1}
    ops = [
        {"op": "note", "run_id": run.id, "text": "breaks", "outcome": None},
        {"op": "tag", "run_id": run.id, "add": ["behind"], "remove": []},
    ]
    spool_dir.mkdir()
    path = spool_dir / f"{run.id}.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in [header, *ops]))
    tracking = sdk.lab.tracking if sdk.kind == "http" else transport.tracking  # type: ignore[attr-defined]

    def broken_note(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug in the note code")

    monkeypatch.setattr(tracking, "note", broken_note)
    reports = [spool.replay_all(transport, spool_dir, "t") for _ in range(spool.MAX_TRIES)]
    assert [r.left for r in reports[:-1]] == [[path.name]] * (spool.MAX_TRIES - 1)
    assert reports[-1].replayed == [path.name] and not path.exists()
    assert "behind" in sdk.client.run(run.id).tags
    assert (spool_dir / "failed" / f"{run.id}.jsonl").exists()


def test_the_real_status_of_an_unknown_error_code_is_kept(server: LoopbackServer) -> None:
    transport = HttpTransport(dataclasses.replace(server.lab.settings, server=server.url))
    try:
        with pytest.raises(errors.LablinkError, match="not allowed") as caught:
            transport._json("DELETE", "/runs")
    finally:
        transport.close()
    assert caught.value.status == 405 and caught.value.code == "method_not_allowed"
    assert classify(caught.value) == REFUSAL
    internal = errors.from_dict({"error": {"code": "internal", "message": "bug"}}, 500)
    assert (internal.status, internal.code, classify(internal)) == (500, "internal", FAILURE)


def test_database_errors_are_told_apart() -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (k INTEGER PRIMARY KEY)")
    db.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE") as clash:
        db.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(sqlite3.OperationalError, match="no such table") as missing:
        db.execute("SELECT * FROM nowhere")
    db.close()
    integrity = sqlalchemy.exc.IntegrityError("INSERT", {}, clash.value)
    operational = sqlalchemy.exc.OperationalError("SELECT", {}, missing.value)
    programming = sqlalchemy.exc.ProgrammingError("SELECT", {}, missing.value)
    # the direct transport sees these as they are
    assert classify(clash.value) == REFUSAL and classify(integrity) == REFUSAL
    assert classify(operational) == OUTAGE
    assert classify(programming) == FAILURE
    # the server answers them with statuses the HTTP transport classifies the same way
    assert [database_error(e).status for e in (integrity, operational, programming)] == [
        409,
        503,
        500,
    ]


def test_direct_download_checks_the_digest_and_leaves_no_part_file(
    settings: Any, tmp_path: Path
) -> None:
    from lablink.sdk.direct import DirectTransport

    transport = DirectTransport(settings)
    try:
        digest = transport.put_blob(b"the real bytes")
        dest = tmp_path / "out" / "file.bin"
        assert transport.download_blob(digest, dest).read_bytes() == b"the real bytes"
        Path(transport.lab.blobs.path(digest)).write_bytes(b"damaged on disk")
        broken = tmp_path / "out" / "broken.bin"
        with pytest.raises(errors.CorruptBlob, match="do not match"):
            transport.download_blob(digest, broken)
        with pytest.raises(errors.NotFound, match="not stored"):
            transport.download_blob("sha256:" + "0" * 64, tmp_path / "out" / "missing.bin")
    finally:
        transport.close()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["file.bin"]
