"""The watchdog shared by request threads and its timer thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from lablink.checks.watch_rules import Finding
from lablink.core.lab import Lab


def test_threads_hammering_the_watchdog_act_once_and_never_crash(
    make_lab: Callable[..., Lab], monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = make_lab()
    dog = lab.watchdog
    raised: list[str] = []
    monkeypatch.setattr(
        dog.incidents, "raise_finding", lambda run_id, *a, **k: raised.append(run_id) or _Raised()
    )
    finding = Finding("nan", "nan", "error", "alert", "once", "loss is NaN", {})
    start = threading.Barrier(9)
    errors: list[BaseException] = []

    def actor(n: int) -> None:
        start.wait()
        try:
            for i in range(300):
                dog.act("same-run", finding, now=1000.0)  # one claim between all threads
                dog.act(f"run-{n}-{i}", finding, now=1000.0)
                dog.policy_for(f"run-{n}-{i}")
        except BaseException as exc:
            errors.append(exc)

    def forgetter() -> None:
        start.wait()
        try:
            for _ in range(300):
                dog._forget([])  # the timer thread pruning while requests write
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=actor, args=(n,)) for n in range(8)]
    threads.append(threading.Thread(target=forgetter))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    assert raised.count("same-run") == 1


class _Raised:
    outcome = "repeat"
    incident: Any = None
