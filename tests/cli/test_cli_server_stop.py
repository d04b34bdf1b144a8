"""A clean stop of ``lablink server`` (SIGTERM) checkpoints SQLite and leaves no WAL behind."""

from __future__ import annotations

import json
import signal
import subprocess
import urllib.request
from pathlib import Path

from cli_support import Seeded, lablink_command, stop, wait_for_healthz

from helpers import free_port


def post(url: str, body: dict[str, object]) -> dict[str, object]:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as resp:
        answer: dict[str, object] = json.loads(resp.read())
        return answer


def test_sigterm_checkpoints_the_wal_and_keeps_every_acknowledged_point(
    seeded: Seeded, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    db = seeded.home / "lablink.db"
    wal = Path(f"{db}-wal")
    log = tmp_path / "server.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [*lablink_command(), "server", "--port", str(port), "--home", str(seeded.home)],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_healthz(url, proc)
            run = post(f"{url}/api/v1/runs", {"project": "durable", "name": "r"})
            for seq in range(5):
                steps = list(range(seq * 100, seq * 100 + 100))
                series = {"steps": steps, "times": [1.0] * 100, "values": [0.5] * 100}
                answer = post(
                    f"{url}/api/v1/runs/{run['id']}/batches", {"seq": seq, "metrics": {"x": series}}
                )
                assert answer["ingested"] is True
            assert wal.exists() and wal.stat().st_size > 0  # the writes went to the WAL
            proc.send_signal(signal.SIGTERM)
            # uvicorn re-raises the signal once it has shut down cleanly
            assert proc.wait(timeout=60) in (0, -signal.SIGTERM), log.read_text()[-2000:]
        finally:
            stop(proc)
    assert not wal.exists()
    import sqlite3

    with sqlite3.connect(db) as conn:
        count = conn.execute(
            "SELECT count FROM run_metrics WHERE run_id = ? AND key = 'x'", (run["id"],)
        ).fetchone()
    assert count == (500,)
