"""The idle-GPU rule on the watchdog's timer: "below X% for Y" per GPU the run uses.

The SDK samples NVML with each heartbeat (``lablink.sdk.gpu``) and logs, per GPU,
``sys/gpu{i}/util`` and ``sys/gpu{i}/run_procs``: how many of the training process
and its children ``nvmlDeviceGetComputeRunningProcesses`` lists on that GPU. A GPU is
the run's when its latest ``run_procs`` (within the rule's window) is above zero; a run
that never reported one (no process list from the driver) is taken to use every GPU
it reports. Only GPUs whose *latest* sample is below the threshold have their
window read from the store, so a busy fleet costs one query per evaluation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from lablink.checks.watch_policy import Policy
from lablink.checks.watch_rules import Finding, check_gpu
from lablink.store.base import Store
from lablink.store.watch_sql import WatchSql

_KEY = re.compile(r"sys/gpu([0-9]+)/(util|run_procs)")
MAX_EVERY = 5.0
MIN_EVERY = 1.0


def gpus_in_use(keys: dict[str, tuple[float, float]], since: float) -> dict[int, float]:
    """GPU index → latest utilisation, for the GPUs a run uses (see the module doc)."""
    util: dict[int, float] = {}
    held: set[int] = set()
    reports_held = False
    for key, (value, at) in keys.items():
        match = _KEY.fullmatch(key)
        if match is None:
            continue
        gpu = int(match.group(1))
        if match.group(2) == "util":
            util[gpu] = value
        else:
            reports_held = True
            if value > 0 and at >= since:
                held.add(gpu)
    if not reports_held:
        return util
    return {gpu: value for gpu, value in util.items() if gpu in held}


class GpuWatch:
    """Evaluates GPU rules at most every few seconds."""

    def __init__(self, store: Store, sql: WatchSql) -> None:
        self.store = store
        self.sql = sql
        self._last = 0.0

    def check(self, watched: Sequence[tuple[str, Policy]], now: float) -> list[tuple[str, Finding]]:
        """Findings for runs (with their policies) that have GPU rules."""
        if not watched:
            return []
        shortest = min(rule.window for _, policy in watched for rule in policy.gpu_rules)
        if now - self._last < min(MAX_EVERY, max(MIN_EVERY, shortest / 5)):
            return []
        self._last = now
        keys = self.sql.gpu_keys([run_id for run_id, _ in watched])
        found: list[tuple[str, Finding]] = []
        for run_id, policy in watched:
            for rule in policy.gpu_rules:
                used = gpus_in_use(keys.get(run_id, {}), now - rule.window)
                low = [gpu for gpu, last in used.items() if last < rule.below]
                if not low:
                    continue
                series = {}
                for gpu in low:
                    _, times, values = self.store.read_series(
                        run_id, f"sys/gpu{gpu}/util", int(now - rule.window) - 1, None
                    )
                    series[gpu] = (times.tolist(), values.tolist())
                finding = check_gpu(rule, now, series)
                if finding is not None:
                    found.append((run_id, finding))
        return found
