"""The SDK's heartbeat thread never dies silently: it says so and run.log restarts it."""

from __future__ import annotations

import ctypes
import dataclasses
import logging
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

import lablink
from helpers import wait_for
from lablink.core.lab import Lab


def kill_thread(thread: threading.Thread) -> None:
    """Raise SystemExit inside ``thread`` (what kills a thread without a word)."""
    assert thread.ident is not None
    done = ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread.ident), ctypes.py_object(SystemExit)
    )
    assert done == 1


def builder(run_id: str) -> threading.Thread:
    [found] = [t for t in threading.enumerate() if t.name == f"lablink-{run_id}"]
    return found


def test_a_dead_heartbeat_thread_is_restarted_and_reported(
    make_lab: Callable[..., Lab],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    lab = make_lab()
    monkeypatch.chdir(tmp_path)
    fast = {"flush_interval": 0.05, "heartbeat_interval": 0.1, "system_metrics": False}
    settings = dataclasses.replace(lab.settings, **fast)
    caplog.set_level(logging.ERROR, logger="lablink.sdk")
    with lablink.init(project="guard", settings=settings) as run:
        assert run.sync()  # init returns before the store has the run
        started = lab.tracking.get_run(run.id).heartbeat_at or 0.0
        wait_for(lambda: (lab.tracking.get_run(run.id).heartbeat_at or 0.0) > started, 30, "a beat")
        old = builder(run.id)
        kill_thread(old)
        wait_for(lambda: not old.is_alive(), 30, "the thread to die")
        died_at = lab.tracking.get_run(run.id).heartbeat_at or 0.0
        step = 0

        def beating_again() -> bool:
            nonlocal step
            run.log({"x": float(step)}, step=step)  # the training loop goes on
            step += 1
            return (lab.tracking.get_run(run.id).heartbeat_at or 0.0) > died_at + 0.2

        wait_for(beating_again, 30, "heartbeats after the restart")
        assert builder(run.id) is not old and builder(run.id).is_alive()
    stored = lab.tracking.get_run(run.id)
    assert stored.status == "finished"
    assert len(lab.tracking.history(run.id, "x").steps) == step  # no point lost
    messages = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert any(level == logging.CRITICAL and "died" in text for level, text in messages)
    assert any(level == logging.ERROR and "restarting it" in text for level, text in messages)
