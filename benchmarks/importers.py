"""``lablink import mlflow`` speed, beside reading the same runs with MLflow's client alone.

Prints figures measured in the same run; never asserts.

    python benchmarks/importers.py                     # 100 runs x 10,000 points, SQLite store
    python benchmarks/importers.py --server            # the same, read through `mlflow server`
    python benchmarks/importers.py --runs 20 --points 2000

An MLflow SQLite store is filled with ``--runs`` finished runs (5 params, 3 tags, one
metric of ``--points`` points each). The points are inserted into MLflow's ``metrics``
table directly: logging a million points through MLflow would take longer than
everything measured here. Then:

1. the reference: ``MlflowClient`` alone reads every run and every metric history (paged
   ``search_runs``, ``get_metric_history``), which any import must at least do;
2. the import into a fresh embedded lablink store (what ``lablink import mlflow`` runs);
3. the same import again, which finds every run imported and adds nothing.

With ``--server`` the runs are read through ``mlflow server`` (this interpreter's
mlflow-skinny, one worker) on the same database instead of from the file.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")

from mlflow.entities import Param, RunTag

from lablink.importers.engine import import_runs
from lablink.importers.mlflow_source import ORIGIN_TAG, MlflowSource
from lablink.importers.sink_local import LocalSink
from lablink.settings import Settings
from mlflow import MlflowClient

T0 = 1_700_000_000_000


def fill(uri: str, db: Path, runs: int, points: int) -> None:
    """The source store: runs made with the client, their points inserted in bulk."""
    client = MlflowClient(tracking_uri=uri)
    eid = client.create_experiment("bench")
    ids = []
    for i in range(runs):
        run = client.create_run(eid, start_time=T0 + i, run_name=f"r{i}", tags={"team": "a"})
        rid = run.info.run_id
        params = [Param(k, str(v)) for k, v in {"lr": 0.01 * i, "bs": 32, "opt": "adam"}.items()]
        client.log_batch(rid, params=params, tags=[RunTag("seed", str(i))])
        client.set_terminated(rid, "FINISHED", end_time=T0 + 3_600_000)
        ids.append(rid)
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        for rid in ids:
            rows = [("loss", 1.0 / (s + 1), T0 + s, rid, s, 0) for s in range(points)]
            conn.executemany(
                "insert into metrics (key, value, timestamp, run_uuid, step, is_nan) "
                "values (?, ?, ?, ?, ?, ?)",
                rows,
            )
            conn.execute(
                "insert into latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
                "values (?, ?, ?, ?, ?, ?)",
                (*rows[-1][:3], points - 1, 0, rid),
            )


def read_all(uri: str) -> int:
    """Every run and every point of the store, with MLflow's client alone."""
    client = MlflowClient(tracking_uri=uri)
    eid = client.get_experiment_by_name("bench").experiment_id
    seen, token = 0, None
    while True:
        page = client.search_runs([eid], max_results=1000, page_token=token)
        for run in page:
            for key in run.data.metrics:
                seen += len(client.get_metric_history(run.info.run_id, key))
        token = page.token
        if not token:
            return seen


def import_all(uri: str, home: Path) -> int:
    """``lablink import mlflow --from uri`` into the embedded store at ``home``."""
    source = MlflowSource(uri)
    settings = Settings.load({"home": str(home), "user": "bench@example.org"})
    with LocalSink(settings) as sink:
        summary = import_runs(sink, source.runs(source.experiments()), ORIGIN_TAG, str)
    if summary.problems:
        raise SystemExit("\n".join(summary.problems))
    return sum(t.points for t in summary.tallies.values())


def timed(what: str, call: object) -> tuple[float, int]:
    t = time.perf_counter()
    got = call()  # type: ignore[operator]
    took = time.perf_counter() - t
    print(f"  {what}: {took:.2f}s", file=sys.stderr, flush=True)
    return took, int(got)


@contextlib.contextmanager
def mlflow_server(db: Path, work: Path):  # type: ignore[no-untyped-def]
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    with (work / "mlflow.log").open("wb") as log:
        proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("mlflow")), "server", "--host", "127.0.0.1",
             "--port", str(port), "--workers", "1", "--backend-store-uri", f"sqlite:///{db}",
             "--artifacts-destination", str(work / "artifacts")],
            stdout=log, stderr=log, env=env,
        )  # fmt: skip
    try:
        for _ in range(600):
            try:
                with urllib.request.urlopen(url + "/health", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--server", action="store_true", help="read through `mlflow server`")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lablink-import-bench-"))
    db = work / "mlflow.db"
    os.chdir(work)  # MLflow's SQLite store keeps artifacts under ./mlruns
    uri = f"sqlite:///{db}"
    t = time.perf_counter()
    fill(uri, db, args.runs, args.points)
    print(f"  filled the MLflow store: {time.perf_counter() - t:.1f}s", file=sys.stderr)
    with contextlib.ExitStack() as stack:
        if args.server:
            uri = stack.enter_context(mlflow_server(db, work))
        ref_s, ref_n = timed("MLflow client reads", lambda: read_all(uri))
        imp_s, imp_n = timed("lablink import", lambda: import_all(uri, work / "lablink"))
        again_s, again_n = timed("lablink import again", lambda: import_all(uri, work / "lablink"))
    total = args.runs * args.points
    assert ref_n == imp_n == total and again_n == 0, (ref_n, imp_n, again_n)
    source = "mlflow server (SQLite)" if args.server else "MLflow SQLite store"
    print(f"{args.runs} runs x {args.points:,} points = {total:,} points, from the {source}")
    print(f"{'':<40}{'seconds':>10}{'points/s':>12}")
    print(f"{'MLflow client reads them (reference)':<40}{ref_s:>10.2f}{total / ref_s:>12,.0f}")
    print(f"{'lablink import mlflow':<40}{imp_s:>10.2f}{total / imp_s:>12,.0f}")
    print(f"{'lablink import mlflow, again (skips all)':<40}{again_s:>10.2f}{'-':>12}")
    print(f"import time over reading time alone: {imp_s / ref_s:.2f}x")


if __name__ == "__main__":
    main()
