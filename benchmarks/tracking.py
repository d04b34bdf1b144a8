"""Tracking benchmarks: prints each figure beside a reference measured in the same run.

Run with ``make bench`` or ``python benchmarks/tracking.py [--points 1000000]``.
Never asserts: these machines are noisy; read the figures against the targets
printed on each line.
"""

from __future__ import annotations

import argparse
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil
from search_data import seed_runs

BARE = [sys.executable, "-c", "import time; time.sleep(5)"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def line(name: str, value: str, reference: str, target: str) -> None:
    print(f"{name:<44} {value:>16}   ref: {reference:<34} target: {target}")


def start_server(home: Path) -> tuple[subprocess.Popen[bytes], str, float]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "LABLINK_HOME": str(home)}
    env.pop("LABLINK_SERVER", None)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("lablink")),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(home.parent / "server.log").open("w"),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url, time.perf_counter() - t0
        except httpx.HTTPError:
            time.sleep(0.01)
    proc.kill()
    raise RuntimeError("server did not start")


def add_admin(home: Path) -> str:
    """Add a server admin to the store under ``home``; their first token."""
    env = {**os.environ, "LABLINK_HOME": str(home)}
    env.pop("LABLINK_SERVER", None)
    added = subprocess.run(
        [
            str(Path(sys.executable).with_name("lablink")),
            *("users", "add", "bench", "--email", "bench@lab.org", "--role", "admin"),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return next(w for w in added.stdout.split() if w.startswith("ll_"))


def bench_auth(tmp: Path, points: int, rounds: int = 3) -> tuple[float, float]:
    """Ingestion (best of ``rounds``) into a server with auth off and one with
    ``--auth required`` and a real token, measured alternately in the same run."""
    on_home = tmp / "auth-on" / "home"
    for folder in ("auth-on", "auth-off"):
        (tmp / folder).mkdir(parents=True, exist_ok=True)
    token = add_admin(on_home)  # a user exists: the server starts with auth required
    servers = {
        "off": start_server(tmp / "auth-off" / "home"),
        "on": start_server(on_home),
    }
    best = {"off": 0.0, "on": 0.0}
    try:
        for _ in range(rounds):
            for mode, (_, url, _) in servers.items():
                os.environ["LABLINK_SERVER"] = url
                if mode == "on":
                    os.environ["LABLINK_TOKEN"] = token
                else:
                    os.environ.pop("LABLINK_TOKEN", None)
                best[mode] = max(best[mode], bench_ingest(points)[0])
    finally:
        os.environ.pop("LABLINK_TOKEN", None)
        for proc, _, _ in servers.values():
            proc.terminate()
            proc.wait(timeout=10)
    return best["on"], best["off"]


def report_auth(tmp: Path, points: int) -> None:
    on, off = bench_auth(tmp, points)
    line(
        "ingestion over HTTP, --auth required", f"{on:,.0f} pts/s", f"auth off {off:,.0f} pts/s", ""
    )
    line("  ratio auth on / off", f"{on / off:.2f}", "", "≥ 0.95")


def bench_durability(tmp: Path, points: int, requests: int, rounds: int = 2) -> dict[str, tuple]:
    """SDK ingestion and 1,000-point batches with ``durability`` commit and process,
    measured alternately in the same run (best of ``rounds``)."""
    servers = {}
    for mode in ("commit", "process"):
        (tmp / f"durability-{mode}").mkdir(parents=True, exist_ok=True)
        os.environ["LABLINK_DURABILITY"] = mode
        servers[mode] = start_server(tmp / f"durability-{mode}" / "home")
    os.environ.pop("LABLINK_DURABILITY", None)
    best = {mode: (0.0, 0.0) for mode in servers}
    try:
        for _ in range(rounds):
            for mode, (_, url, _) in servers.items():
                os.environ["LABLINK_SERVER"] = url
                sdk = bench_ingest(points)[0]
                batches = bench_batches(url, requests)[0]
                best[mode] = (max(best[mode][0], sdk), max(best[mode][1], batches))
    finally:
        for proc, _, _ in servers.values():
            proc.terminate()
            proc.wait(timeout=10)
    return best


def report_durability(tmp: Path, points: int, requests: int) -> None:
    best = bench_durability(tmp, points, requests)
    (sdk_on, batch_on), (sdk_off, batch_off) = best["commit"], best["process"]
    line(
        "ingestion, durability=commit (fsync)",
        f"{sdk_on:,.0f} pts/s",
        f"durability=process {sdk_off:,.0f} pts/s",
        "≥ 250,000/s",
    )
    line(
        "1,000-point batches, durability=commit",
        f"{batch_on:,.0f} pts/s",
        f"durability=process {batch_off:,.0f} pts/s",
        "≥ 250,000/s",
    )


def bare_python_start() -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - t0


def rss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 1e6


def bare_rss() -> float:
    proc = subprocess.Popen(BARE)
    time.sleep(0.5)
    try:
        return rss_mb(proc.pid)
    finally:
        proc.kill()
        proc.wait()


def bench_log_call(n: int) -> tuple[float, float]:
    """Median ns inside run.log (3 scalars, HTTP transport set up by the caller's env)."""
    import lablink

    with lablink.init(project="bench", name="log-call") as run:
        samples = []
        clock = time.perf_counter_ns
        for step in range(n):
            metrics = {"train/loss": 1.0 / (step + 1), "train/acc": 0.5, "lr": 3e-4}
            t0 = clock()
            run.log(metrics, step=step)
            samples.append(clock() - t0)
    ref = []
    sink: list[object] = []
    for step in range(n):
        metrics = {"train/loss": 1.0 / (step + 1), "train/acc": 0.5, "lr": 3e-4}
        t0 = clock()
        sink.append((step, time.time(), metrics))
        ref.append(clock() - t0)
    return statistics.median(samples) / 1000, statistics.median(ref) / 1000


def bench_ingest(points: int) -> tuple[float, str]:
    """Points/s from run.log to durable rows over HTTP (3 keys), timed to finish()."""
    import lablink

    steps = points // 3
    t0 = time.perf_counter()
    with lablink.init(project="bench", name="ingest") as run:
        for step in range(steps):
            run.log({"a": step * 0.5, "b": 1.0 / (step + 1), "c": -step}, step=step)
        run_id = run.id
    return steps * 3 / (time.perf_counter() - t0), run_id


def transport_to(url: str):  # type: ignore[no-untyped-def]
    """The SDK's own transport to ``url``: these figures leave out the Client layer."""
    from lablink.sdk.connect import make_transport
    from lablink.settings import Settings

    return make_transport(Settings.load({"server": url}))


def one_metric_run(url: str, points: int) -> str:
    """A run holding one metric of ``points`` points, sent in large batches."""
    transport = transport_to(url)
    run = transport.create_run("bench", "history", {}, [], None, {})
    chunk = 100_000
    for seq, start in enumerate(range(0, points, chunk)):
        steps = list(range(start, min(points, start + chunk)))
        metrics = {
            "a": {
                "steps": steps,
                "times": [1e9 + s for s in steps],
                "values": [((s * 7919) % 1000) / 1000 for s in steps],
            }
        }
        transport.log_batch(run.id, seq, metrics)
    transport.finish_run(run.id, "finished", None)
    transport.close()
    return str(run.id)


def sqlite_executemany_rate(rows: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(os.path.join(tmp, "ref.db"))
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE m (run TEXT, key TEXT, step INTEGER, time REAL, value REAL)")
        data = [("r", "a", i, 1.0 * i, 0.5 * i) for i in range(rows)]
        t0 = time.perf_counter()
        conn.executemany("INSERT INTO m VALUES (?,?,?,?,?)", data)
        conn.commit()
        rate = rows / (time.perf_counter() - t0)
        conn.close()
    return rate


def sqlite_read_ref(rows: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(os.path.join(tmp, "ref.db"))
        conn.execute("CREATE TABLE m (step INTEGER, time REAL, value REAL)")
        conn.executemany("INSERT INTO m VALUES (?,?,?)", ((i, 1.0 * i, 0.5) for i in range(rows)))
        conn.commit()
        t0 = time.perf_counter()
        conn.execute("SELECT step, time, value FROM m ORDER BY step").fetchall()
        elapsed = time.perf_counter() - t0
        conn.close()
    return elapsed


def timed(fn, repeat: int = 5) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def bench_search(home: Path, url: str, runs: int) -> tuple[float, float]:
    """Median seconds for a metric-filtered search over ``runs`` runs, via HTTP."""
    seed_runs(home, "search", runs)
    import lablink

    client = lablink.Client(url)
    expr = "metrics.val/acc > 0.9 and params.lr <= 1e-3 and tags.baseline"
    elapsed = timed(lambda: client.search("search", expr, limit=100))
    ref_conn = sqlite3.connect(home / "lablink.db")
    ref = timed(
        lambda: ref_conn.execute(
            "SELECT count(*) FROM run_metrics WHERE key='val/acc' AND summary_value > 0.9"
        ).fetchall()
    )
    ref_conn.close()
    client.close()
    return elapsed, ref


def bench_cli_startup(home: Path) -> None:
    """The CLI's start-up figures (``benchmarks/cli_startup.py``) over ``home``."""
    from cli_startup import report

    report(home)


def bench_batches(url: str, requests: int, per_request: int = 1000) -> tuple[float, str]:
    """Points/s of ``per_request``-point log_batch requests over HTTP (one key)."""
    transport = transport_to(url)
    run = transport.create_run("bench", "batches", {}, [], None, {})
    bodies = []
    for seq in range(requests):
        steps = list(range(seq * per_request, (seq + 1) * per_request))
        bodies.append(
            {"a": {"steps": steps, "times": [1e9] * per_request, "values": [0.5] * per_request}}
        )
    t0 = time.perf_counter()
    for seq, metrics in enumerate(bodies):
        transport.log_batch(run.id, seq, metrics)
    rate = requests * per_request / (time.perf_counter() - t0)
    transport.finish_run(run.id, "finished", None)
    transport.close()
    return rate, str(run.id)


def bench_request_cost(url: str, server_pid: int, requests: int = 2000) -> tuple[float, float]:
    """Server CPU milliseconds per 10-point ``log_batch`` request, and per ``GET /healthz``.

    Both are sent back to back, ``requests`` of each, through one keep-alive client;
    the server process's CPU time (psutil, user + system) is read around each series,
    so the figure holds on a loaded machine where the wall clock does not.
    """
    transport = transport_to(url)
    run = transport.create_run("bench", "request-cost", {}, [], None, {})
    per = 10
    bodies = [
        {
            "a": {
                "steps": list(range(s * per, (s + 1) * per)),
                "times": [1e9] * per,
                "values": [0.5] * per,
            }
        }
        for s in range(requests)
    ]
    server = psutil.Process(server_pid)

    def cpu() -> float:
        times = server.cpu_times()
        return float(times.user + times.system)

    for seq in range(20):  # warm: the run's state cached, the connection open
        transport.log_batch(run.id, requests + seq, bodies[seq])
    with httpx.Client(base_url=url) as ping:
        ping.get("/healthz")
        t0 = cpu()
        for _ in range(requests):
            ping.get("/healthz")
        healthz = (cpu() - t0) / requests * 1000
    t0 = cpu()
    for seq, metrics in enumerate(bodies):
        transport.log_batch(run.id, seq, metrics)
    batch = (cpu() - t0) / requests * 1000
    transport.finish_run(run.id, "finished", None)
    transport.close()
    return batch, healthz


def report_request_cost(url: str, server_pid: int, requests: int) -> None:
    batch, healthz = bench_request_cost(url, server_pid, requests)
    line(
        "server CPU per 10-point log_batch request",
        f"{batch:.2f} ms",
        f"GET /healthz {healthz:.2f} ms",
        "≤ 1 ms",
    )


def bench_run_creation(url: str, n: int) -> dict[str, float]:
    """Run creation over HTTP (issue 18), each beside a /healthz round trip of the same run.

    - ``post_ms``: median of one ``POST /runs``; ``ping_ms``: of ``GET /healthz``.
    - ``init_ms``: median of ``lablink.init`` + the first ``run.log`` returning (the
      caller's path), warm, in a small git repository; each run is finished before
      the next starts, so the background work of one never slows the next.
    - ``start_rate``: runs per second from one process when ``n`` runs are started
      (``init`` + first ``log``) back to back; ``init_rate``: the same runs until all are
      finished, that is until the server has every run and point.
    - ``batch_rate``: runs per second through ``Client.create_runs`` (``POST
      /runs/batch``, 1000 a request), over ``max(n, 2000)`` runs.
    """
    import lablink

    client = httpx.Client(base_url=url)
    created, ping = [], []
    for i in range(n):
        t0 = time.perf_counter()
        client.post("/api/v1/runs", json={"project": "create", "name": f"r{i}"}).raise_for_status()
        created.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        client.get("/healthz").raise_for_status()
        ping.append(time.perf_counter() - t0)
    client.close()
    old = Path.cwd()
    with tempfile.TemporaryDirectory() as repo:
        git = ["git", "-c", "user.email=bench@lab.org", "-c", "user.name=bench"]
        (Path(repo) / "train.py").write_text("print('train')\n")
        subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
        subprocess.run([*git, "add", "."], cwd=repo, check=True)
        subprocess.run([*git, "commit", "-qm", "first"], cwd=repo, check=True)
        home = str(Path(repo) / ".lablink")  # lablink's files stay out of the diff
        os.chdir(repo)
        try:
            for _ in range(5):  # warm: imports, the package listing, the connection
                with lablink.init("warm", server=url, home=home, system_metrics=False) as run:
                    run.log({"loss": 1.0})
            inits = []
            for i in range(n):
                t0 = time.perf_counter()
                run = lablink.init("sdk", name=f"r{i}", config={"lr": 0.1}, server=url, home=home)
                run.log({"loss": 1.0})
                inits.append(time.perf_counter() - t0)
                run.finish()
            t0 = time.perf_counter()
            runs = []
            for i in range(n):
                runs.append(
                    lablink.init("burst", name=f"r{i}", server=url, home=home, system_metrics=False)
                )
                runs[-1].log({"loss": 1.0})
            started = time.perf_counter() - t0
            for run in runs:
                run.finish()
            burst = time.perf_counter() - t0
        finally:
            os.chdir(old)
    sdk = lablink.Client(url)
    many = max(n, 2000)
    t0 = time.perf_counter()
    sdk.create_runs([{"project": "batch", "name": f"r{i}"} for i in range(many)])
    batch = time.perf_counter() - t0
    stored = sdk.search("burst", limit=1)[1]
    sdk.close()
    if stored != n:
        raise RuntimeError(f"{stored} of {n} runs reached the server")
    return {
        "post_ms": statistics.median(created) * 1000,
        "ping_ms": statistics.median(ping) * 1000,
        "init_ms": statistics.median(inits) * 1000,
        "start_rate": n / started,
        "init_rate": n / burst,
        "batch_rate": many / batch,
    }


def report_creation(figures: dict[str, float]) -> None:
    """The lines of ``bench_run_creation``."""
    ping = f"GET /healthz round trip {figures['ping_ms']:.1f} ms"
    line("run creation, one POST /runs", f"{figures['post_ms']:.1f} ms median", ping, "-")
    line(
        "lablink.init → first log returned (warm)",
        f"{figures['init_ms']:.2f} ms median",
        ping,
        "≤ 5 ms",
    )
    line(
        "runs started back to back, one process",
        f"{figures['start_rate']:,.0f} runs/s",
        f"one POST /runs at a time {1000 / figures['post_ms']:,.0f}/s",
        "≥ 200/s",
    )
    line(
        "the same runs, until all are on the server",
        f"{figures['init_rate']:,.0f} runs/s",
        f"one POST /runs at a time {1000 / figures['post_ms']:,.0f}/s",
        "-",
    )
    line(
        "POST /runs/batch (Client.create_runs)",
        f"{figures['batch_rate']:,.0f} runs/s",
        f"one POST /runs at a time {1000 / figures['post_ms']:,.0f}/s",
        "≥ 2,000/s",
    )


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_per_call(fn, server_pid: int | None, repeat: int) -> float:  # type: ignore[no-untyped-def]
    """CPU seconds one call of ``fn`` costs this process and the server together: on a
    loaded machine a steadier figure than the wall clock."""
    server = process_cpu(server_pid) if server_pid else 0.0
    t0 = time.process_time()
    for _ in range(repeat):
        fn()
    spent = time.process_time() - t0
    if server_pid:
        spent += process_cpu(server_pid) - server
    return spent / repeat


def bench_search_e2e(
    home: Path, url: str, runs: int, server_pid: int | None = None
) -> dict[str, float]:
    """``Client().runs(project, filter=)`` over ``runs`` runs (half match), in seconds:
    lean rows and full records, embedded and over HTTP, and a raw sqlite3 join; and,
    under ``<name> cpu``, the CPU a call costs caller and server together."""
    from lablink.settings import Settings

    project = f"e2e{runs}"
    seed_runs(home, project, runs)
    import lablink

    expr = "metrics.val/acc >= 0 and tags.baseline"
    out: dict[str, float] = {}
    direct = lablink.Client(settings=Settings.load({"home": str(home)}, {}))
    http = lablink.Client(url)
    for name, client in (("embedded", direct), ("http", http)):
        pid = server_pid if name == "http" else None
        lean = lambda c=client: c.runs(project, filter=expr, fields=["lean"])  # noqa: E731
        full = lambda c=client: c.runs(project, filter=expr)  # noqa: E731
        out[f"{name} lean"] = timed(lean)
        out[f"{name} lean cpu"] = cpu_per_call(lean, pid, 5)
        out[f"{name} full"] = timed(full, repeat=3)
        out[f"{name} full cpu"] = cpu_per_call(full, pid, 3)
        client.close()
    conn = sqlite3.connect(home / "lablink.db")
    out["raw"] = timed(
        lambda: conn.execute(
            "SELECT r.* FROM runs r JOIN projects p ON p.id = r.project_id AND p.name = ? "
            "JOIN run_tags t ON t.run_id = r.id AND t.tag = 'baseline'",
            (project,),
        ).fetchall()
    )
    conn.close()
    return out


def bench_table(home: Path, url: str, runs: int) -> tuple[float, float, float]:
    """The runs table page (``/p/...``, 50 rows and the match count) with a metric filter
    over ``runs`` runs, over HTTP; the unfiltered page; and raw sqlite3 page + count."""
    project = "table"
    seed_runs(home, project, runs)
    client = httpx.Client(base_url=url, timeout=60)

    def page(**params: str) -> None:
        client.get(f"/p/{project}", params=params).raise_for_status()

    filtered = timed(lambda: page(filter="metrics.val/acc > 0.9"))
    unfiltered = timed(page)
    client.close()
    conn = sqlite3.connect(home / "lablink.db")
    match = (
        "FROM runs r JOIN run_metrics m ON m.run_id = r.id AND m.key = 'val/acc' "
        "AND m.summary_value > 0.9 WHERE r.project_id = (SELECT id FROM projects WHERE name = ?)"
    )

    def raw() -> None:
        conn.execute(f"SELECT count(*) {match}", (project,)).fetchall()
        conn.execute(
            f"SELECT r.id, r.name {match} ORDER BY r.created_at DESC LIMIT 50", (project,)
        ).fetchall()

    ref = timed(raw)
    conn.close()
    return filtered, unfiltered, ref


def report_search(
    home: Path, url: str, e2e_runs: int, runs: int, table_runs: int, server_pid: int | None = None
) -> None:
    """The search figures of issue #18."""
    for n in dict.fromkeys((e2e_runs, runs)):
        got = bench_search_e2e(home, url, n, server_pid)
        # The join's plan depends on lablink's indexes; a fixed Python loop does not.
        unit = timed(lambda: sum(range(1_000_000)))
        raw = f"sqlite3 join {got['raw'] * 1000:.1f} ms; py loop {unit * 1000:.0f} ms"
        target = "≤ 20 ms" if n <= 500 else "≤ 100 ms"
        for name in ("embedded lean", "http lean", "embedded full", "http full"):
            lean = name.endswith("lean")
            line(
                f"Client().runs(filter=) {n:,} runs, {name}",
                f"{got[name] * 1000:.1f} ms",
                raw,
                target if lean else "(full records: no target)",
            )
            where = "caller + server" if name.startswith("http") else "caller"
            line(f"  CPU of one call, {where}", f"{got[name + ' cpu'] * 1000:.1f} ms", raw, "-")
    search, ref_search = bench_search(home, url, runs)
    line(
        f"search over {runs:,} runs, metric filter",
        f"{search * 1000:.0f} ms",
        f"raw sqlite3 metric scan {ref_search * 1000:.1f} ms",
        "≤ 100 ms",
    )
    filtered, unfiltered, ref_table = bench_table(home, url, table_runs)
    line(
        f"runs table, metric filter, {table_runs:,} runs",
        f"{filtered * 1000:.0f} ms",
        f"unfiltered {unfiltered * 1000:.0f} ms; sqlite3 page+count {ref_table * 1000:.1f} ms",
        "≤ 100 ms",
    )


def bytes_per_point(home: Path, points: int) -> float:
    """Database bytes (file and WAL) per stored point, after the benchmarks above."""
    db = home / "lablink.db"
    size = db.stat().st_size + sum(p.stat().st_size for p in (Path(f"{db}-wal"),) if p.exists())
    return size / max(points, 1)


def bench_storage(steps: int) -> tuple[float, int]:
    """Bytes a point on disk for realistic curves logged with run.log into an embedded
    store (the run finished and the store closed, so its WAL is folded in)."""
    import numpy as np

    import lablink

    rng = np.random.default_rng(0)
    i = np.arange(steps)
    curves = {
        # float32 training values, as frameworks report them
        "train/loss": (np.exp(-i / (steps / 4)) + 0.05 * rng.standard_normal(steps)).astype(
            np.float32
        ),
        "train/acc": np.round(1 - np.exp(-i / (steps / 5)), 4),
        "lr": 3e-4 * np.cos(np.pi * i / steps / 2),  # full float64 schedule
        "grad/norm": np.abs(1 + 0.3 * rng.standard_normal(steps)),  # float64 noise
    }
    columns = {key: values.tolist() for key, values in curves.items()}
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        env = {"LABLINK_SERVER": os.environ.pop("LABLINK_SERVER", None)}
        try:
            with lablink.init(project="bench", name="storage", home=str(home)) as run:
                for step in range(steps):
                    run.log({key: col[step] for key, col in columns.items()}, step=step)
        finally:
            if env["LABLINK_SERVER"] is not None:
                os.environ["LABLINK_SERVER"] = env["LABLINK_SERVER"]
        db = home / "lablink.db"
        size = db.stat().st_size + sum(p.stat().st_size for p in (Path(f"{db}-wal"),) if p.exists())
    points = steps * len(curves)
    return size / points, points


def report_storage(steps: int) -> None:
    per_point, points = bench_storage(steps)
    line(
        f"bytes a point, {points:,} realistic points",
        f"{per_point:.1f} B",
        "raw int64 step + 2 float64 = 24 B",
        "≤ 10 B (issue 18)",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--log-calls", type=int, default=200_000)
    parser.add_argument(
        "--auth-only", action="store_true", help="Only the auth on vs off ingestion figure."
    )
    parser.add_argument(
        "--durability-only",
        action="store_true",
        help="Only the durability=commit vs process ingestion figures.",
    )
    parser.add_argument(
        "--cli-only", action="store_true", help="Only the CLI start-up figures (no server)."
    )
    parser.add_argument("--batch-requests", type=int, default=500)
    parser.add_argument("--e2e-runs", type=int, default=500)
    parser.add_argument("--creations", type=int, default=200)
    parser.add_argument("--table-runs", type=int, default=100_000)
    parser.add_argument(
        "--search-only", action="store_true", help="Only the run search figures (issue #18)."
    )
    parser.add_argument(
        "--storage-only",
        action="store_true",
        help="Only the bytes a point of realistic curves (embedded store).",
    )
    parser.add_argument(
        "--creation-only", action="store_true", help="Only the run creation figures."
    )
    parser.add_argument(
        "--request-cost-only",
        action="store_true",
        help="Only the server CPU per small log_batch request, beside GET /healthz.",
    )
    parser.add_argument("--cost-requests", type=int, default=2000)
    args = parser.parse_args()
    if args.cli_only:
        from cli_startup import main as cli_main

        sys.argv = sys.argv[:1]
        cli_main()
        return
    if args.storage_only:
        os.environ["LABLINK_SYSTEM_METRICS"] = "false"
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["LABLINK_HOME"] = str(Path(tmp) / "client-home")
            report_storage(args.points // 4)
        return
    if args.creation_only:
        os.environ["LABLINK_SYSTEM_METRICS"] = "false"
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["LABLINK_HOME"] = str(Path(tmp) / "client-home")
            proc, url, _ = start_server(Path(tmp) / "home")
            try:
                report_creation(bench_run_creation(url, args.creations))
            finally:
                proc.terminate()
                proc.wait(30)
        return
    if args.request_cost_only:
        os.environ["LABLINK_SYSTEM_METRICS"] = "false"
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["LABLINK_HOME"] = str(Path(tmp) / "client-home")
            proc, url, _ = start_server(Path(tmp) / "home")
            try:
                report_request_cost(url, proc.pid, args.cost_requests)
            finally:
                proc.terminate()
                proc.wait(30)
        return
    if args.auth_only:
        os.environ["LABLINK_SYSTEM_METRICS"] = "false"
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["LABLINK_HOME"] = str(Path(tmp) / "client-home")
            report_auth(Path(tmp), args.points)
        return
    if args.durability_only:
        os.environ["LABLINK_SYSTEM_METRICS"] = "false"
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["LABLINK_HOME"] = str(Path(tmp) / "client-home")
            report_durability(Path(tmp), args.points, args.batch_requests)
        return

    if args.search_only:
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp) / "home"
            proc, url, _ = start_server(home)
            try:
                report_search(home, url, args.e2e_runs, args.runs, args.table_runs, proc.pid)
            finally:
                proc.terminate()
                proc.wait(timeout=10)
        return

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        proc, url, started = start_server(home)
        try:
            time.sleep(1.0)
            server_rss = rss_mb(proc.pid)
            bare = bare_rss()
            line(
                "server start → first /healthz 200",
                f"{started:.2f} s",
                f"bare python start {bare_python_start():.2f} s",
                "≤ 2 s",
            )
            line(
                "server RSS at idle",
                f"{server_rss:.0f} MB",
                f"bare python {bare:.0f} MB",
                "≤ 150 MB",
            )

            os.environ["LABLINK_SERVER"] = url
            os.environ["LABLINK_HOME"] = str(Path(tmp) / "client-home")
            os.environ["LABLINK_SYSTEM_METRICS"] = "false"
            inside, ref = bench_log_call(args.log_calls)
            line(
                "time inside run.log({3 scalars}), HTTP",
                f"{inside:.2f} µs median",
                f"list.append of the same {ref:.2f} µs",
                "≤ 5 µs",
            )

            rate, _ = bench_ingest(args.points)
            raw = sqlite_executemany_rate(200_000)
            line(
                "ingestion over HTTP into SQLite",
                f"{rate:,.0f} pts/s",
                f"sqlite3 executemany {raw:,.0f} rows/s",
                "≥ 250,000/s",
            )
            line("  ratio to raw executemany", f"{rate / raw:.2f}", "", "≥ 0.5")
            report_auth(Path(tmp), args.points)
            report_durability(Path(tmp), args.points, args.batch_requests)
            os.environ["LABLINK_SERVER"] = url

            batch_rate, _ = bench_batches(url, args.batch_requests)
            line(
                "1,000-point log_batch requests over HTTP",
                f"{batch_rate:,.0f} pts/s",
                f"sqlite3 executemany {raw:,.0f} rows/s",
                "≥ 250,000/s",
            )

            report_request_cost(url, proc.pid, args.cost_requests)
            report_creation(bench_run_creation(url, args.creations))

            import lablink

            client = lablink.Client(url)
            big = one_metric_run(url, args.points)
            n = client.history(big, "a", max_points=1000).total
            down = timed(lambda: client.history(big, "a", max_points=1000))
            full = timed(lambda: client.history(big, "a"), repeat=3)
            ref_read = sqlite_read_ref(n)
            line(
                f"history of {n:,} points → 1,000 (HTTP)",
                f"{down * 1000:.0f} ms",
                f"raw sqlite3 read of all {ref_read * 1000:.0f} ms",
                "≤ 100 ms",
            )
            line(
                f"history of {n:,} points, full (HTTP)",
                f"{full * 1000:.0f} ms",
                "MLflow: ~11 s for 100k (issue)",
                "≤ 1.5 s",
            )
            client.close()

            stored = args.points + (args.points // 3) * 3 + args.batch_requests * 1000
            line(
                "bytes per stored point (SQLite, WAL included)",
                f"{bytes_per_point(home, stored):.1f} B",
                "raw int64 step + 2 float64 = 24 B",
                "≤ 10 B (issue 18)",
            )

            report_search(home, url, args.e2e_runs, args.runs, args.table_runs, proc.pid)

            sdk = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "import lablink, psutil, os, time\n"
                    "r = lablink.init(project='bench', name='rss')\n"
                    "[r.log({'a': i}, step=i) for i in range(10000)]\n"
                    "time.sleep(1)\n"
                    "print(psutil.Process().memory_info().rss / 1e6)\n"
                    "r.finish()",
                ],
                capture_output=True,
                text=True,
                env=os.environ,
                check=True,
            )
            sdk_rss = float(sdk.stdout.strip().splitlines()[-1])
            line(
                "SDK RSS over a bare Python process",
                f"{sdk_rss - bare:.0f} MB",
                f"bare python {bare:.0f} MB",
                "≤ 30 MB",
            )
            bench_cli_startup(home)
        finally:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
