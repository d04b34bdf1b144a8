"""Web UI benchmarks: each figure beside a reference measured in the same run.

Run with ``python benchmarks/ui.py [--runs 10000] [--points 1000000]``. Never asserts;
read the figures against the targets of issue 3 printed on each line:

- runs table of a project with 10,000 runs: <= 300 ms server time
  (reference: the JSON API's search for the same page);
- chart data of a 1,000,000-point metric: <= 100 ms (references: the JSON API's
  history of the same series, and numpy downsampling of it in memory alone);
- first load of the run page: <= 5 MB transferred (reference: the same bytes
  uncompressed), and what a second load transfers once the browser has cached.

Requests go through ``httpx.ASGITransport`` into ``create_app(lab)``: the full server
stack (middleware, routing, rendering) without the network.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import numpy as np

from lablink.checks.downsample import minmax_indices
from lablink.core.lab import Lab
from lablink.server.app import create_app
from lablink.settings import Settings
from lablink.store import schema as t
from lablink.store.rows import param_columns

PROJECT = "bench"
USER = "bench@example.org"


def line(name: str, value: str, reference: str, target: str) -> None:
    print(f"{name:<46} {value:>10}   ref: {reference:<40} target: {target}")


def build_runs(lab: Lab, n: int) -> None:
    """``n`` finished runs with 4 params, 3 metrics and a tag, in one bulk transaction."""
    rng = random.Random(0)
    project_id = lab.store.ensure_project(PROJECT)
    now = time.time() - n
    runs, params, metrics, tags = [], [], [], []
    for i in range(n):
        rid = uuid.uuid4().hex[:12]
        lr = rng.choice([1e-2, 3e-3, 1e-3, 3e-4, 1e-4])
        config = {"lr": lr, "batch": rng.choice([32, 64, 128]), "seed": i % 5, "opt": "adam"}
        runs.append(
            {
                "id": rid,
                "project_id": project_id,
                "name": f"run-{i:05d}",
                "user": USER,
                "status": "finished" if i % 50 else "failed",
                "created_at": now + i,
                "ended_at": now + i + 600,
                "heartbeat_at": now + i + 600,
                "updated_at": now + i + 600,
                "config": config,
                "summary": {},
                "command": ["python", "train.py"],
                "packages": {},
                "gpus": [],
                "git_dirty": False,
            }
        )
        for key, value in config.items():
            # The store's own encoding, so the benchmark follows any change to it.
            params.append({"run_id": rid, "key": key, **param_columns(value)})
        for key in ("train/loss", "val/loss", "val/acc"):
            value = rng.random()
            metrics.append(
                {
                    "run_id": rid,
                    "key": key,
                    "count": 1000,
                    "last_step": 999,
                    "last_value": value,
                    "last_time": now + i,
                    "min_value": value / 2,
                    "max_value": value * 2,
                }
            )
        if i % 3 == 0:
            tags.append({"run_id": rid, "tag": "baseline"})
    with lab.store.engine.begin() as conn:
        for table, rows in ((t.runs, runs), (t.run_params, params), (t.run_metrics, metrics)):
            conn.execute(table.insert(), rows)
        conn.execute(t.run_tags.insert(), tags)


def build_long_metric(lab: Lab, points: int) -> str:
    """A running run with a ``points``-long ``train/loss`` plus a few shorter metrics."""
    run = lab.tracking.create_run(USER, PROJECT, "long", {"lr": 1e-3, "model": {"depth": 50}})
    chunk = 100_000
    rng = np.random.default_rng(0)
    for seq, start in enumerate(range(0, points, chunk)):
        steps = np.arange(start, min(points, start + chunk))
        values = 1 / (1 + steps / 1e4) + rng.normal(0, 0.01, len(steps))
        batch = {"train/loss": (steps, values)}
        if seq == 0:
            few = np.arange(0, 1000)
            batch.update({"val/acc": (few, few / 1000), "sys/cpu": (few, few % 100)})
        lab.tracking.log_batch(
            run.id,
            seq,
            {
                k: {"steps": s.tolist(), "times": (s * 0.01).tolist(), "values": v.tolist()}
                for k, (s, v) in batch.items()
            },
        )
    return run.id


async def medians_ms(
    first: Callable[[], Awaitable[object]], second: Callable[[], Awaitable[object]], repeat: int
) -> tuple[float, float]:
    """Median milliseconds of two calls, interleaved so that load noise hits both alike."""
    await first()  # warm caches and code paths
    await second()
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for call, out in ((first, samples[0]), (second, samples[1])):
            t0 = time.perf_counter()
            await call()
            out.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples[0]), statistics.median(samples[1])


async def bench(lab: Lab, run_id: str, repeat: int) -> None:
    app = create_app(lab)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

        async def get(url: str, **params: object) -> httpx.Response:
            answer = await client.get(url, params=params)  # type: ignore[arg-type]
            answer.raise_for_status()
            return answer

        views = [
            ("newest first", {}, {}),
            ("sorted by metrics.val/acc", {"sort": "metrics.val/acc"}, {"sort": "metrics.val/acc"}),
            (
                "filter metrics + params",
                {"filter": "metrics.val/acc > 0.5 and params.lr <= 1e-3"},
                {"filter": "metrics.val/acc > 0.5 and params.lr <= 1e-3"},
            ),
            ("page at offset 5000", {"offset": 5000}, {"offset": 5000}),
        ]
        for label, ui, api in views:
            page, ref = await medians_ms(
                lambda ui=ui: get(f"/p/{PROJECT}", **ui),
                lambda api=api: get("/api/v1/runs", project=PROJECT, limit=50, **api),
                repeat,
            )
            line(f"runs table, 50 rows, {label}", f"{page:.1f} ms", f"JSON API search {ref:.1f} ms",
                 "<= 300 ms")  # fmt: skip

        data, api = await medians_ms(
            lambda: get("/ui-data/history", run=run_id, key="train/loss", max_points=1000),
            lambda: get(f"/api/v1/runs/{run_id}/history", key="train/loss", max_points=1000),
            repeat,
        )
        values = lab.store.read_series(run_id, "train/loss", None, None)[2]
        t0 = time.perf_counter()
        for _ in range(repeat):
            minmax_indices(values, 1000)
        numpy_ms = (time.perf_counter() - t0) * 1000 / repeat
        line(f"chart data, {len(values):,} points -> 1000", f"{data:.1f} ms",
             f"API history {api:.1f} ms, numpy alone {numpy_ms:.1f} ms", "<= 100 ms")  # fmt: skip

        # First load of the run page: the HTML, every static file it links, chart data.
        html = await get(f"/r/{run_id}")
        wire = html.num_bytes_downloaded
        raw = len(html.content)
        urls = re.findall(r'(?:src|href)="(/static/[^"]+)"', html.text)
        etags = {}
        for url in urls:
            answer = await client.get(url, headers={"Accept-Encoding": "gzip"})
            wire += answer.num_bytes_downloaded
            raw += len(answer.content)
            etags[url] = answer.headers["etag"]
        keys = re.findall(r'<figure class="chart" data-key="([^"]+)"', html.text)
        for key in keys:
            answer = await client.get(
                "/ui-data/history", params={"run": run_id, "key": key, "max_points": 1000}
            )
            wire += answer.num_bytes_downloaded
            raw += len(answer.content)
        line("run page first load, transferred", f"{wire / 1e6:.2f} MB",
             f"uncompressed {raw / 1e6:.2f} MB", "<= 5 MB")  # fmt: skip
        # A second load: the browser revalidates nothing (immutable URLs); count a
        # conditional request anyway, as a browser that ignores immutable would send.
        again = (await get(f"/r/{run_id}")).num_bytes_downloaded
        for url, etag in etags.items():
            answer = await client.get(url, headers={"If-None-Match": etag})
            again += answer.num_bytes_downloaded
        line("run page reload, HTML + 304s", f"{again / 1e3:.1f} kB",
             f"{len(urls)} static files cached", "cached afterwards")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        settings = Settings.load(overrides={"home": str(home)}, environ={}, cwd=home)
        with Lab(settings) as lab:
            t0 = time.perf_counter()
            build_runs(lab, args.runs)
            run_id = build_long_metric(lab, args.points)
            print(f"built {args.runs:,} runs and a {args.points:,}-point metric "
                  f"in {time.perf_counter() - t0:.1f} s")  # fmt: skip
            asyncio.run(bench(lab, run_id, args.repeat))


if __name__ == "__main__":
    main()
