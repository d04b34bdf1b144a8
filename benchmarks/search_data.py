"""Runs written straight into a store for the search benchmarks (``tracking.py``).

Creating 100,000 runs through the API takes minutes; these rows are what the SDK leaves
(a package list, a command, a flattened config, a tag on every other run, a summary
metric and a logged one), inserted in bulk. Run on its own it does nothing.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any


def seed_runs(home: Path, project: str, n: int, chunk: int = 5000) -> None:
    """Add ``n`` finished runs to ``project`` in the store under ``home``.

    Run i has ``lr = 10**-(i % 5)``, ``depth = i % 7``, tag ``baseline`` when i is odd,
    summary ``val/acc = (i % 100) / 100`` and a logged ``loss``.
    """
    from lablink.core.lab import Lab
    from lablink.settings import Settings
    from lablink.store import schema as t

    packages = {f"package-{i}": f"{i}.{i % 7}.0" for i in range(150)}
    rng = random.Random(0)
    start_time = time.time() - n
    with Lab(Settings.load({"home": str(home)}, {})) as lab:
        pid = lab.store.ensure_project(project)
        with lab.store.engine.begin() as conn:  # type: ignore[attr-defined]
            for first in range(0, n, chunk):
                runs, params, tags, metrics = [], [], [], []
                for i in range(first, min(n, first + chunk)):
                    rid = f"{project[:8]}{i:012d}"
                    at = start_time + i
                    runs.append(_run_row(rid, pid, i, at, packages))
                    lr = 10 ** -(i % 5)
                    params += [
                        {"run_id": rid, "key": "lr", "value_num": lr, "value_text": json.dumps(lr)},
                        {
                            "run_id": rid,
                            "key": "depth",
                            "value_num": i % 7,
                            "value_text": str(i % 7),
                        },
                    ]
                    if i % 2:
                        tags.append({"run_id": rid, "tag": "baseline"})
                    metrics += [
                        _metric(rid, "val/acc", summary_value=(i % 100) / 100),
                        _metric(
                            rid, "loss", count=100, last_step=99, last_value=rng.random(),
                            last_time=at, min_value=0.01, max_value=2.0,
                        ),
                    ]  # fmt: skip
                conn.execute(t.runs.insert(), runs)
                conn.execute(t.run_params.insert(), params)
                conn.execute(t.run_tags.insert(), tags)
                conn.execute(t.run_metrics.insert(), metrics)


def _run_row(rid: str, pid: int, i: int, at: float, packages: dict[str, str]) -> dict[str, Any]:
    return {
        "id": rid,
        "project_id": pid,
        "name": f"r{i}",
        "user": "bench@example.org",
        "status": "finished" if i % 3 else "failed",
        "created_at": at,
        "ended_at": at + 60,
        "heartbeat_at": at + 60,
        "updated_at": at + 60,
        "git_commit": f"{i:040x}",
        "git_branch": "main",
        "git_dirty": False,
        "command": ["python", "train.py", f"--seed={i}"],
        "host": "node-1",
        "python_version": "3.11.7",
        "packages": packages,
        "gpus": [],
        "config": {"lr": 10 ** -(i % 5), "depth": i % 7},
        "summary": {},
    }


def _metric(rid: str, key: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(
        ("last_step", "last_value", "last_time", "min_value", "max_value", "summary_value")
    )
    return {"run_id": rid, "key": key, "count": 0, **row, **values}
