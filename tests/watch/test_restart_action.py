"""A watchdog rule whose action is "restart" (issue 16): a stop request that only the
launcher of a ``lablink launch`` job sees, takes once, and honours by restarting."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from helpers import LoopbackServer, make_settings
from lablink.checks.watch_policy import LAUNCHED_TAG, parse_policy
from lablink.checks.watch_rules import Finding
from lablink.core.lab import Lab
from lablink.errors import InvalidInput
from lablink.sdk.http import HttpTransport

USER = "tester@example.org"
NAN = Finding("nan", "loss", "high", "restart", "reopen", "loss is NaN at step 3", {"step": 3})
REASON = "watchdog: loss: loss is NaN at step 3"


def test_restart_is_a_rule_action() -> None:
    policy = parse_policy({"rules": {"loss": {"metric": "loss", "action": "restart"}}})
    assert policy.metric_rules[0].action == "restart"
    with pytest.raises(InvalidInput, match="action must be one of stop, alert, restart"):
        parse_policy({"rules": {"loss": {"metric": "loss", "action": "reboot"}}})


def test_only_the_launcher_takes_a_restart_and_only_once(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab()
    run = lab.tracking.create_run(USER, "p", "r", tags=[LAUNCHED_TAG])
    lab.watchdog.act(run.id, NAN, now=1000.0)
    assert lab.tracking.get_run(run.id).stop_requested == REASON
    # the code's own SDK is told nothing: the launcher ends the attempt
    assert lab.tracking.heartbeat(run.id) == {"status": "running", "stop": None}
    taken = lab.tracking.heartbeat(run.id, take_restart=True)
    assert taken == {"status": "running", "stop": None, "restart": REASON}
    assert lab.tracking.heartbeat(run.id, take_restart=True) == {"status": "running", "stop": None}
    assert lab.tracking.get_run(run.id).stop_requested is None
    assert lab.watchdog.sql.stop_intent(run.id) is None


def test_a_run_nobody_launched_is_stopped_instead(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab()
    run = lab.tracking.create_run(USER, "p", "plain")
    lab.watchdog.act(run.id, NAN, now=1000.0)
    answer = lab.tracking.heartbeat(run.id, take_restart=True)
    assert answer["stop"] == "loss is NaN at step 3 (watchdog rule loss)"
    assert "restart" not in answer
    ended = lab.tracking.finish_run(USER, run.id, "killed", "stopped")
    assert ended.status == "killed" and ended.status_reason == answer["stop"]


def test_a_stop_after_the_restart_request_wins(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab()
    run = lab.tracking.create_run(USER, "p", "r", tags=[LAUNCHED_TAG])
    lab.watchdog.act(run.id, NAN, now=1000.0)
    lab.tracking.request_stop("cy", run.id, "enough")
    answer = lab.tracking.heartbeat(run.id, take_restart=True)
    assert answer == {"status": "running", "stop": "enough (by cy)"}
    assert lab.tracking.finish_run(USER, run.id, "killed", "stopped").status == "killed"


def test_a_restart_no_launcher_takes_ends_the_run_after_stop_grace(
    make_lab: Callable[..., Lab],
) -> None:
    lab = make_lab('[watch]\nstop_grace = "30s"\nheartbeat_timeout = "off"\n')
    run = lab.tracking.create_run(USER, "p", "r", tags=[LAUNCHED_TAG])
    now = lab.tracking.get_run(run.id).created_at
    lab.watchdog.act(run.id, NAN, now=now)
    lab.watchdog.tick(now=now + 10)
    assert lab.tracking.get_run(run.id).status == "running"
    lab.watchdog.tick(now=now + 31)
    ended = lab.tracking.get_run(run.id)
    assert ended.status == "killed"
    assert ended.status_reason is not None
    assert "no launcher took the restart" in ended.status_reason


def test_the_launcher_takes_a_restart_over_http(
    make_lab: Callable[..., Lab], serve: Callable[[Lab], LoopbackServer], tmp_path: Path
) -> None:
    lab = make_lab()
    server = serve(lab)
    run = lab.tracking.create_run(USER, "p", "r", tags=[LAUNCHED_TAG])
    lab.watchdog.act(run.id, NAN, now=1000.0)
    transport = HttpTransport(make_settings(tmp_path / "client", server=server.url, user=USER))
    try:
        assert transport.heartbeat(run.id, None, None)["stop"] is None
        assert transport.heartbeat(run.id, None, None, take_restart=True)["restart"] == REASON
        assert "restart" not in transport.heartbeat(run.id, None, None, take_restart=True)
    finally:
        transport.close()
