"""The MLflow client against lablink, beside the same client against a real MLflow server.

Prints figures and ratios measured in the same run; never asserts.

    python benchmarks/mlflow_compat.py                          # lablink only
    python benchmarks/mlflow_compat.py --mlflow /path/to/mlflow  # and `mlflow server` (SQLite)

Both servers run as child processes on 127.0.0.1 with SQLite stores in a temporary
folder, and the same ``MlflowClient`` (this interpreter's ``mlflow`` or
``mlflow-skinny``) drives them with the same calls:

1. create ``--runs`` runs (each with one param and one metric);
2. ``search_runs`` over them with a filter and an ``order_by`` (all pages), ``--searches``
   times (psutil counts CPU time in 10 ms ticks, about what one search costs);
3. ``log_batch`` of 1,000 metrics, ``--batches`` times, to one run;
4. ``get_metric_history`` of one metric of ``--points`` points (logged 1,000 a batch).

Each figure is printed twice: the wall time the client waited, and the CPU time the
server process spent (``psutil``); the searches' figures, for all of them, are also
printed for one search. The client's own work (building and parsing
protobuf JSON) is the same for both servers and weighs on the wall ratio; on a busy
machine, the server CPU ratio is the steadier comparison of the two servers.

``--mlflow`` names the ``mlflow`` command of a full MLflow install (the server is not in
``mlflow-skinny``; a separate virtualenv keeps its pins away from lablink's). Without it
only lablink's figures are printed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")

import psutil
from mlflow.entities import Metric, Param

from mlflow import MlflowClient


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(command: list[str], log: Path, health: str) -> tuple[subprocess.Popen[bytes], str]:
    """Start a server child; answer it and its URL once ``health`` answers."""
    port = free_port()
    with log.open("wb") as sink:
        proc = subprocess.Popen([*command, "--port", str(port)], stdout=sink, stderr=sink)
    url = f"http://127.0.0.1:{port}"
    # MLflow's server starts four workers: on a busy 2-core machine that takes minutes.
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + health, timeout=1):
                return proc, url
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"{command[0]} did not start: {log.read_text()[-2000:]}")


Figure = tuple[float, float]  # (wall seconds, server CPU seconds)


def tree_cpu(server: psutil.Process) -> float:
    """CPU seconds of a server and its children (``mlflow server`` runs its workers as
    child processes)."""
    total = 0.0
    for proc in (server, *server.children(recursive=True)):
        with contextlib.suppress(psutil.NoSuchProcess):  # a worker that just exited
            total += sum(proc.cpu_times()[:2])
    return total


def timed(server: psutil.Process, what: Callable[[], object]) -> Figure:
    cpu0 = tree_cpu(server)
    t0 = time.perf_counter()
    what()
    took = time.perf_counter() - t0
    cpu = tree_cpu(server) - cpu0
    # progress: runs take minutes
    print(f"  {took:8.2f}s (server CPU {cpu:.2f}s)", file=sys.stderr, flush=True)
    return took, cpu


def measure(
    url: str, pid: int, runs: int, searches: int, batches: int, points: int
) -> dict[str, Figure]:
    """The four figures for the server at ``url`` (process ``pid``)."""
    client = MlflowClient(tracking_uri=url)
    server = psutil.Process(pid)
    eid = client.create_experiment(f"bench-{time.time_ns()}")
    out: dict[str, Figure] = {}

    def create() -> None:
        for i in range(runs):
            rid = client.create_run(eid, run_name=f"r{i}").info.run_id
            client.log_batch(rid, [Metric("acc", i / runs, 0, 0)], [Param("i", str(i))])

    out[f"create {runs} runs (+1 metric, 1 param each)"] = timed(server, create)

    def search() -> None:
        for _ in range(searches):
            page = client.search_runs([eid], "metrics.acc >= 0.1", order_by=["metrics.acc DESC"])
            while page.token:
                page = client.search_runs([eid], "metrics.acc >= 0.1", page_token=page.token)

    out[search_name(runs, searches)] = timed(server, search)

    rid = client.create_run(eid).info.run_id
    now = int(time.time() * 1000)

    def batches_of_1000() -> None:
        for b in range(batches):
            client.log_batch(rid, [Metric(f"m{k}", k * 0.5, now, b) for k in range(1000)])

    out[f"log_batch 1,000 metrics x {batches}"] = timed(server, batches_of_1000)

    long = client.create_run(eid).info.run_id
    for start_step in range(0, points, 1000):
        steps = range(start_step, min(points, start_step + 1000))
        client.log_batch(long, [Metric("loss", s * 1e-3, now + s, s) for s in steps])
    got: list[int] = []
    out[f"get_metric_history of {points:,} points"] = timed(
        server, lambda: got.append(len(client.get_metric_history(long, "loss")))
    )
    assert got == [points], got
    return out


def search_name(runs: int, searches: int) -> str:
    return f"search_runs over {runs} runs x {searches}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mlflow", help="the `mlflow` command of a full MLflow install")
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--searches", type=int, default=20)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--points", type=int, default=100_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lablink-mlflow-bench-"))
    servers = []
    try:
        lablink, lablink_url = start(
            [sys.executable, "-m", "lablink.cli", "server", "--home", str(work / "lablink")],
            work / "lablink.log",
            "/healthz",
        )
        servers.append(lablink)
        results = {
            "lablink": measure(
                lablink_url, lablink.pid, args.runs, args.searches, args.batches, args.points
            )
        }
        if args.mlflow:
            mlflow, mlflow_url = start(
                [
                    args.mlflow,
                    "server",
                    "--host",
                    "127.0.0.1",
                    "--workers",
                    "1",
                    "--backend-store-uri",
                    f"sqlite:///{work / 'mlflow.db'}",
                    "--artifacts-destination",
                    str(work / "mlflow-artifacts"),
                ],
                work / "mlflow.log",
                "/health",
            )
            servers.append(mlflow)
            results["mlflow"] = measure(
                mlflow_url, mlflow.pid, args.runs, args.searches, args.batches, args.points
            )
    finally:
        for proc in servers:
            proc.terminate()
            proc.wait(timeout=30)
    print(f"{'operation':<44}{'lablink':>9}{'mlflow':>9}{'ratio':>7}   server CPU (ratio)")
    for name, (seconds, cpu) in results["lablink"].items():
        theirs = results.get("mlflow", {}).get(name)
        if theirs:
            shown = f"{theirs[0]:>8.2f}s{theirs[0] / seconds:>6.1f}x"
            used = f"{cpu:.2f}s vs {theirs[1]:.2f}s ({theirs[1] / max(cpu, 0.01):.1f}x)"
        else:
            shown, used = f"{'-':>9}{'-':>7}", f"{cpu:.2f}s"
        print(f"{name:<44}{seconds:>8.2f}s{shown}   {used}")
    searched = search_name(args.runs, args.searches)
    one = [
        f"{who} {1000 * wall / args.searches:.1f} ms ({1000 * cpu / args.searches:.1f} ms server CPU)"
        for who, figures in results.items()
        for wall, cpu in [figures[searched]]
    ]
    print(f"one search_runs over {args.runs} runs: {', '.join(one)}")
    if "mlflow" in results:
        print("ratio: MLflow's time over lablink's (above 1: lablink is faster)")
    else:
        print(
            "no MLflow server measured: pass --mlflow with the `mlflow` command of a full install"
        )


if __name__ == "__main__":
    main()
