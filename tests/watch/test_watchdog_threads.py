"""The watchdog shared by request threads and its timer thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from lablink.checks.watch_rules import Finding
from lablink.core.lab import Lab
from lablink.errors import InvalidInput


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


def test_a_lab_builds_one_watchdog_when_threads_first_ask_at_once(
    make_lab: Callable[..., Lab],
) -> None:
    lab = make_lab()
    start = threading.Barrier(8)
    seen: list[object] = []

    def ask() -> None:
        start.wait()
        seen.append(lab.watchdog)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(seen) == 8
    assert all(dog is seen[0] for dog in seen)
    assert lab.tracking.observer is seen[0]  # the watchdog sees every write


def test_a_bad_watch_table_fails_the_first_write_and_the_server_not_a_listing(
    make_lab: Callable[..., Lab],
) -> None:
    from lablink.server.app import create_app

    lab = make_lab('[watch]\nheartbeat_timeout = "soon"\n')
    assert lab.tracking.search_runs()[1] == 0  # reading runs builds no watchdog
    with pytest.raises(InvalidInput, match="heartbeat_timeout"):
        lab.tracking.create_run("ana", "p")
    assert lab.tracking.search_runs()[1] == 0  # refused before anything was stored
    with pytest.raises(InvalidInput, match="heartbeat_timeout"):
        create_app(lab)
