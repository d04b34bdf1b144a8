"""Watchdog benchmarks (issue 7): detection latency per rule, the tick's cost at thousands
of active runs, and what metric rules cost ingestion. Prints figures, never asserts.

Run with ``make bench`` or ``python benchmarks/watchdog.py [--runs 5000] [--postgres URL]``.
Latencies are measured against a real ``lablink server`` subprocess (tick: 1 s) with
the SDK or the REST API as a user would drive them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

import httpx

HB_TIMEOUT = 2.0
TOML = f"""
[watch]
heartbeat_timeout = "{HB_TIMEOUT}s"
[watch.rules.loss]
metric = "train/loss"
nan = true
diverge_factor = 3.0
diverge_steps = 20
"""


def line(name: str, value: str, reference: str, target: str) -> None:
    print(f"{name:<46} {value:>14}   ref: {reference:<30} target: {target}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABLINK_")}
    cmd = [str(Path(sys.executable).with_name("lablink")), "server", "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--db", f"sqlite:///{folder / 's.db'}"]
    proc = subprocess.Popen(
        cmd, cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("server did not start")


def poll(predicate: object, timeout: float = 60.0) -> float:
    """Seconds until ``predicate()`` is truthy (polled every 10 ms); inf if never."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if predicate():  # type: ignore[operator]
            return time.perf_counter() - t0
        time.sleep(0.01)
    return math.inf


def new_run(api: httpx.Client, watch: dict[str, object] | None = None) -> str:
    body = {"project": "bench", "capture": {"watch": watch} if watch else {}}
    return str(api.post("/api/v1/runs", json=body).json()["id"])


def batch(api: httpx.Client, run_id: str, seq: int, steps: list[int], values: list[float]) -> None:
    metrics = {
        "train/loss": {"steps": steps, "times": [time.time()] * len(steps), "values": values}
    }
    body = json.dumps({"seq": seq, "metrics": metrics})  # NaN travels as a bare token
    api.post(
        f"/api/v1/runs/{run_id}/batches", content=body, headers={"Content-Type": "application/json"}
    )


def incidents(api: httpx.Client, run_id: str) -> list[dict[str, object]]:
    return list(api.get("/api/v1/incidents", params={"run": run_id}).json()["incidents"])


def bench_latency(tmp: Path) -> None:
    folder = tmp / "repo"
    folder.mkdir()
    (folder / "lablink.toml").write_text(TOML)
    proc, url = start_server(folder)
    try:
        with httpx.Client(base_url=url, timeout=30) as api:
            nan_latencies = []
            for _ in range(5):
                run_id = new_run(api)
                batch(api, run_id, 0, list(range(50)), [1.0 / (s + 1) for s in range(50)])
                batch(api, run_id, 1, [50], [math.nan])
                nan_latencies.append(poll(lambda r=run_id: incidents(api, r)))
            line("NaN: batch ingested → incident visible", f"{statistics.median(nan_latencies) * 1000:.1f} ms",
                 "same request (on ingestion)", "≤ 1 s")  # fmt: skip

            run_id = new_run(api)
            batch(api, run_id, 0, list(range(20)), [1.0] * 20)
            seq, step = 1, 20
            while not incidents(api, run_id) and step < 200:
                batch(api, run_id, seq, [step], [4.0])  # above 3x the minimum from step 20
                seq, step = seq + 1, step + 1
            line(
                "divergence: steps to incident (diverge_steps 20)",
                f"{step - 20}",
                "20 steps over 3x min",
                "= diverge_steps",
            )

            run_id = new_run(api, {"stall": "2s"})
            batch(api, run_id, 0, [0], [1.0])
            stall = poll(
                lambda: (
                    api.post(f"/api/v1/runs/{run_id}/heartbeat", json={}) and incidents(api, run_id)
                )
            )
            line(
                "stall: last point → incident (stall 2 s)",
                f"{stall:.2f} s",
                "stall + ≤ 1 tick",
                "≤ 3 s",
            )

            run_id = new_run(api, {"max_runtime": "2s"})
            runtime = poll(
                lambda: api.post(f"/api/v1/runs/{run_id}/heartbeat", json={}).json()["stop"]
            )
            line(
                "max_runtime: start → stop requested (2 s)",
                f"{runtime:.2f} s",
                "max_runtime + 1 tick",
                "≤ 3 s",
            )

            gpu = {"rules": {"gpu": {"gpu_util_below": 10, "for": "3s"}}}
            run_id = new_run(api, gpu)
            seqs = iter(range(10**6))

            def idle_gpu() -> bool:
                system = {"sys/gpu0/util": 2.0, "sys/gpu0/run_procs": 1.0}
                api.post(
                    f"/api/v1/runs/{run_id}/heartbeat", json={"system": system, "seq": next(seqs)}
                )
                return bool(incidents(api, run_id))

            gpu_latency = poll(idle_gpu)
            line(
                "GPU idle: first low sample → incident (3 s)",
                f"{gpu_latency:.2f} s",
                "window + ≤ 1 s",
                "window + tick",
            )
        bench_crash(folder, url)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def bench_crash(folder: Path, url: str) -> None:
    script = folder / "child.py"
    script.write_text(
        textwrap.dedent("""
        import time, lablink
        run = lablink.init(project="bench", name="child")
        print(run.id, flush=True)
        while True:
            run.log({"x": 1.0})
            time.sleep(0.01)
    """)
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABLINK_")}
    env.update(
        LABLINK_SERVER=url, LABLINK_HEARTBEAT_INTERVAL="0.5", LABLINK_HOME=str(folder / "home")
    )
    latencies = []
    with httpx.Client(base_url=url, timeout=30) as api:
        for _ in range(3):
            child = subprocess.Popen(
                [sys.executable, str(script)],
                cwd=folder,
                env=env,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert child.stdout is not None
            run_id = child.stdout.readline().strip()
            time.sleep(1.5)
            child.kill()
            child.wait()
            latencies.append(
                poll(lambda r=run_id: api.get(f"/api/v1/runs/{r}").json()["status"] == "crashed")
            )
    line("SIGKILL → crashed (heartbeat_timeout 2 s)", f"{max(latencies):.2f} s",
         f"timeout {HB_TIMEOUT:g}s, median {statistics.median(latencies):.2f}s", f"≤ {HB_TIMEOUT + 5:g} s")  # fmt: skip


def bench_tick(db: str, runs: int, label: str) -> None:
    from lablink.core.lab import Lab
    from lablink.settings import Settings

    folder = Path(tempfile.mkdtemp())
    # Live runs: the tick checks every rule of each and acts on none (the common case).
    (folder / "lablink.toml").write_text(TOML.replace(f'"{HB_TIMEOUT}s"', '"10m"'))
    settings = Settings.load(
        overrides={"home": str(folder / "home"), "db": db}, environ={}, cwd=folder
    )
    with Lab(settings) as lab:
        t0 = time.perf_counter()
        ids = []
        for i in range(runs):
            watch = (
                {"stall": "15m"}
                if i % 2
                else {"rules": {"gpu": {"gpu_util_below": 10, "for": "10m"}}}
            )
            ids.append(lab.tracking.create_run("bench", "tick", capture={"watch": watch}).id)
            if i % 2 == 0:
                lab.tracking.heartbeat(
                    ids[-1], {"sys/gpu0/util": 95.0, "sys/gpu0/run_procs": 1.0}, 0
                )
        made = time.perf_counter() - t0
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            checked = lab.watchdog.tick()
            times.append(time.perf_counter() - t0)
            lab.watchdog.gpu._last = 0.0  # evaluate GPU rules on every measured tick
        for run_id in ids:
            lab.tracking.finish_run("bench", run_id)
    line(f"tick over {checked:,} active runs ({label})", f"{statistics.median(times) * 1000:.0f} ms",
         f"setup {made:.0f}s; first tick {times[0] * 1000:.0f} ms", "≤ 1000 ms")  # fmt: skip


def bench_ingest(db: str, label: str, points: int, rounds: int) -> None:
    """log_batch in-process (the hook's cost is largest relative to an in-process call)."""
    from lablink.core.lab import Lab
    from lablink.settings import Settings

    rates: dict[str, list[float]] = {"off": [], "on": []}
    folders = {}
    for mode in ("off", "on"):
        folder = Path(tempfile.mkdtemp())
        (folder / "lablink.toml").write_text(TOML if mode == "on" else "[watch]\n")
        folders[mode] = folder
    labs = {}
    for mode, folder in folders.items():
        settings = Settings.load(
            overrides={"home": str(folder / "home"), "db": db.format(mode=mode)},
            environ={},
            cwd=folder,
        )
        labs[mode] = Lab(settings)
    try:
        for r in range(rounds):
            for mode in ("off", "on") if r % 2 == 0 else ("on", "off"):
                lab = labs[mode]
                run_id = lab.tracking.create_run("bench", f"ingest-{mode}").id
                n = 500
                t0 = time.perf_counter()
                for seq in range(n):
                    steps = list(range(seq * points, (seq + 1) * points))
                    values = [1.0 / (s + 1) for s in steps]
                    series = {"steps": steps, "times": [1.7e9] * points, "values": values}
                    lab.tracking.log_batch(run_id, seq, {"train/loss": series, "lr": series})
                rates[mode].append(n * points * 2 / (time.perf_counter() - t0))
        hook = _hook_cost(labs["on"], points)
    finally:
        for lab in labs.values():
            lab.close()
    on, off = statistics.median(rates["on"]), statistics.median(rates["off"])
    batch_us = 1e6 * points * 2 / off
    line(f"ingest {points}-point batches, rules on ({label})", f"{on:,.0f} pt/s",
         f"off {off:,.0f} pt/s; on/off {on / off:.3f}", "on/off ≥ 0.90")  # fmt: skip
    line(f"  the rule check alone, per {points}-point batch", f"{hook:.1f} µs",
         f"a whole log_batch: {batch_us:,.0f} µs", "≤ 10% of log_batch")  # fmt: skip


def _hook_cost(lab: object, points: int) -> float:
    """Microseconds per call of the ingestion hook on a batch that fires nothing."""
    import numpy as np

    run = lab.tracking.create_run("bench", "hook")  # type: ignore[attr-defined]
    steps = np.arange(points, dtype=np.int64)
    values = 1.0 / (steps + 1.0)
    batch = {"train/loss": (steps, steps * 1.0, values), "lr": (steps, steps * 1.0, values)}
    check = lab.watchdog.batch_ingested  # type: ignore[attr-defined]
    check(run, batch)
    t0 = time.perf_counter()
    for _ in range(2000):
        check(run, batch)
    return (time.perf_counter() - t0) / 2000 * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5000)
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "LABLINK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench_latency(Path(tmp))
        bench_tick(f"sqlite:///{tmp}/tick.db", args.runs, "SQLite")
        bench_ingest(f"sqlite:///{tmp}/ingest-{{mode}}.db", "SQLite", 1, 5)
        bench_ingest(f"sqlite:///{tmp}/ingest100-{{mode}}.db", "SQLite", 100, 5)
    schema = _pg_schema(args.postgres)
    if schema:
        url = f"{args.postgres}?options=-csearch_path%3D{schema}"
        try:
            bench_tick(url, args.runs, "PostgreSQL")
        finally:
            _pg_drop(args.postgres, schema)
    else:
        print("PostgreSQL not reachable: its tick figure skipped")


def _pg_schema(url: str) -> str | None:
    import sqlalchemy as sa

    schema = "bench_" + uuid.uuid4().hex[:8]
    try:
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        engine.dispose()
    except Exception:
        return None
    return schema


def _pg_drop(url: str, schema: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    engine.dispose()


if __name__ == "__main__":
    main()
