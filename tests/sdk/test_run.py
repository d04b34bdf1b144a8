"""Round trips through ``lablink.init``/``Run`` over both transports and both databases."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pytest
from sdk_support import Sdk

import lablink
from helpers import wait_for


def test_round_trip_of_config_tags_summary_points_and_status(sdk: Sdk, tmp_path: Path) -> None:
    config = {"lr": 3e-4, "model": {"depth": 50, "act": "gelu"}, "seed": 7}
    with sdk.init(name="rt", config=config, tags=["baseline"], notes="first try") as run:
        for step in range(3000):
            run.log({"train/loss": 1.0 / (step + 1), "train/acc": step / 3000}, step=step)
        run.summary["val/acc"] = 0.91
        run.summary["best/epoch"] = np.int64(3)
        run.tag("resnet", remove=["baseline"])
        run.note("worse than baseline", outcome="negative")
        artifact = tmp_path / "model.pt"
        artifact.write_bytes(b"weights" * 1000)
        run.log_artifact(artifact, kind="model")
    stored = sdk.client.run(run.id)
    assert stored.status == "finished"
    assert stored.status_reason is None
    assert run.url == (f"{sdk.settings.server}/r/{run.id}" if sdk.kind == "http" else None)
    assert stored.name == "rt"
    assert stored.project == "sdk"
    assert stored.config == config
    assert stored.params["model.depth"] == 50
    assert sorted(stored.tags) == ["resnet"]
    assert stored.summary == {"val/acc": 0.91, "best/epoch": 3}
    assert [(n.text, n.outcome) for n in stored.notes] == [
        ("first try", None),
        ("worse than baseline", "negative"),
    ]
    assert stored.outcome == "negative"
    assert stored.user == "tester@example.org"
    loss = sdk.client.history(run.id, "train/loss")
    assert loss.steps == list(range(3000))
    assert loss.values == [1.0 / (s + 1) for s in range(3000)]
    assert all(t > 0 for t in loss.times)
    assert stored.metrics["train/acc"].count == 3000
    (saved,) = sdk.client.artifacts(run.id)
    assert (saved.name, saved.kind, saved.size) == ("model.pt", "model", 7000)
    back = sdk.client.download_artifact(run.id, "model.pt", tmp_path / "back.pt")
    assert back.read_bytes() == artifact.read_bytes()


def test_capture_records_command_host_python_and_packages(sdk: Sdk) -> None:
    with sdk.init() as run:
        pass
    stored = sdk.client.run(run.id)
    assert stored.command and stored.host and stored.python_version
    assert "httpx" in {name.lower() for name in stored.packages}
    assert isinstance(stored.gpus, list)
    assert stored.git.commit is None  # the working folder is not a git repository


def test_steps_auto_increment_and_continue_after_explicit_steps(sdk: Sdk) -> None:
    with sdk.init() as run:
        run.log({"a": 1.0})
        run.log({"a": 2.0})
        run.log({"a": 3.0}, step=10)
        run.log({"a": 4.0})
    assert sdk.client.history(run.id, "a").steps == [0, 1, 10, 11]


def test_nan_inf_numpy_scalars_and_0d_arrays_are_stored(sdk: Sdk) -> None:
    values = [math.nan, math.inf, -math.inf, np.float32(0.5), np.int64(7), np.array(2.5), True]
    with sdk.init() as run:
        for value in values:
            run.log({"v": value})
    stored = sdk.client.history(run.id, "v").values
    assert math.isnan(stored[0])
    assert stored[1:] == [math.inf, -math.inf, 0.5, 7.0, 2.5, 1.0]


def test_bad_values_and_keys_are_reported_once_and_skipped(
    sdk: Sdk, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="lablink")
    with sdk.init() as run:
        for step in range(50):
            run.log({"ok": step, "text": "high", "": 1.0, "k" * 300: 1.0, "arr": [1, 2]})
        run.log({"ok": 1.0}, step=-1)
        run.log({"ok": 1.0}, step=2.5)  # type: ignore[arg-type]
        run.log("not a dict")  # type: ignore[arg-type]
        run.summary[""] = 1
    assert sdk.client.history(run.id, "ok").steps == list(range(50))
    assert set(sdk.client.run(run.id).metrics) <= {"ok"} | {
        k for k in sdk.client.run(run.id).metrics if k.startswith("sys/")
    }
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum("'text'" in w for w in warnings) == 1
    assert sum("'arr'" in w for w in warnings) == 1
    assert sum("metric ''" in w for w in warnings) == 1
    assert sum("at most 250" in w for w in warnings) == 1
    assert sum("step -1" in w for w in warnings) == 1  # one warning for every bad step
    assert sum("run.log('not a dict'" in w for w in warnings) == 1
    assert sum("summary key ''" in w for w in warnings) == 1


def train(run: lablink.Run, error: BaseException) -> None:
    """A training loop that logs a point, then raises ``error`` inside ``with run``."""
    with run:
        run.log({"x": 1.0})
        raise error


def test_summary_takes_numpy_values_and_skips_what_is_not_json(
    sdk: Sdk, caplog: pytest.LogCaptureFixture
) -> None:
    with sdk.init() as run:
        run.summary["acc"] = np.float32(0.5)
        run.summary["per_class"] = np.array([0.25, 0.75])
        run.summary["model"] = "resnet"
        run.summary["bad"] = object()
        run.summary.update({"acc": 0.75})
        assert run.summary["acc"] == 0.75 and len(run.summary) == 3
        with pytest.raises(TypeError, match="cannot be deleted"):
            del run.summary["acc"]
    stored = sdk.client.run(run.id)
    assert stored.summary == {"acc": 0.75, "per_class": [0.25, 0.75], "model": "resnet"}
    assert any("'bad' ignored" in r.getMessage() for r in caplog.records)


def test_exception_in_with_marks_failed_with_traceback(sdk: Sdk) -> None:
    run = sdk.init()
    with pytest.raises(ZeroDivisionError, match="division"):
        train(run, ZeroDivisionError("division by zero"))
    stored = sdk.client.run(run.id)
    assert stored.status == "failed"
    assert "ZeroDivisionError: division by zero" in stored.status_reason
    assert "Traceback" in stored.status_reason
    assert sdk.points(run.id, "x") == [0]


def test_keyboard_interrupt_marks_killed_and_sys_exit_0_finished(sdk: Sdk) -> None:
    interrupted, exited, failed = sdk.init(), sdk.init(), sdk.init()
    with pytest.raises(KeyboardInterrupt, match="ctrl-c"):
        train(interrupted, KeyboardInterrupt("ctrl-c"))
    with pytest.raises(SystemExit, match="0"):
        train(exited, SystemExit(0))
    with pytest.raises(SystemExit, match="3"):
        train(failed, SystemExit(3))
    assert sdk.client.run(interrupted.id).status == "killed"
    assert sdk.client.run(exited.id).status == "finished"
    assert sdk.client.run(failed.id).status == "failed"


def test_current_is_the_run_opened_last_that_is_still_open(sdk: Sdk) -> None:
    from lablink.sdk.run import current

    assert current() is None
    first = sdk.init()
    second = sdk.init()
    assert current() is second
    second.finish()
    assert current() is first
    first.finish()
    assert current() is None


def test_finish_with_status_and_log_after_finish_is_ignored(sdk: Sdk) -> None:
    run = sdk.init()
    run.log({"x": 1.0})
    run.finish("failed", "diverged")
    run.finish()  # a second finish does nothing
    run.log({"x": 2.0})
    run.tag("late")
    stored = sdk.client.run(run.id)
    assert (stored.status, stored.status_reason) == ("failed", "diverged")
    assert sdk.points(run.id, "x") == [0]
    assert "late" not in stored.tags


def log_until_stopped(run: lablink.Run) -> int:
    """Log a point every few milliseconds until run.log raises; returns the points logged."""
    step = 0

    def log_one() -> bool:
        nonlocal step
        run.log({"x": step})
        step += 1
        return False

    try:
        wait_for(log_one, 30, "RunStopped")
    except lablink.RunStopped:
        return step
    raise AssertionError("unreachable")


def test_stop_request_raises_run_stopped_in_log(sdk: Sdk) -> None:
    run = sdk.init()
    with run:
        assert run.sync()  # init returns before the server has the run
        sdk.lab.tracking.request_stop("watchdog", run.id, "too slow")
        logged = log_until_stopped(run)
        with pytest.raises(lablink.RunStopped, match="too slow"):
            run.log({"x": 0.0})  # and again, until the run ends
    stored = sdk.client.run(run.id)
    assert stored.status == "killed"  # however the loop ends after a stop request
    assert "too slow" in stored.status_reason
    assert sdk.points(run.id, "x") == list(range(logged))


def test_sigterm_stop_mode_outside_the_main_thread_raises_instead(sdk: Sdk) -> None:
    import dataclasses
    import threading

    settings = dataclasses.replace(sdk.settings, stop_signal="sigterm")
    outcome: dict[str, object] = {}

    def train() -> None:  # no signal handlers outside the main thread
        with lablink.init(project="sdk", settings=settings) as run:
            outcome["id"] = run.id
            assert run.sync()
            sdk.lab.tracking.request_stop("bob", run.id, "enough")
            outcome["logged"] = log_until_stopped(run)

    thread = threading.Thread(target=train)
    thread.start()
    thread.join(60)
    assert not thread.is_alive()
    stored = sdk.client.run(str(outcome["id"]))
    assert stored.status == "killed" and "enough" in stored.status_reason


def test_heartbeats_carry_system_metrics(sdk: Sdk) -> None:
    with sdk.init() as run:
        assert run.sync()
        wait_for(lambda: "sys/cpu_percent" in sdk.client.run(run.id).metrics, 30, "sys/*")
    metrics = sdk.client.run(run.id).metrics
    assert {"sys/cpu_percent", "sys/ram_used_gb", "sys/ram_percent"} <= set(metrics)
    assert metrics["sys/ram_used_gb"].last_value > 0


def test_system_metrics_can_be_switched_off(sdk: Sdk) -> None:
    import dataclasses

    settings = dataclasses.replace(sdk.settings, system_metrics=False)
    with lablink.init(project="sdk", settings=settings) as run:
        assert run.sync()
        wait_for(lambda: (sdk.client.run(run.id).heartbeat_at or 0) > run_started(sdk, run.id))
    assert not any(k.startswith("sys/") for k in sdk.client.run(run.id).metrics)


def run_started(sdk: Sdk, run_id: str) -> float:
    return sdk.client.run(run_id).created_at


def test_full_buffer_makes_log_wait_not_drop(sdk: Sdk) -> None:
    import dataclasses

    settings = dataclasses.replace(sdk.settings, buffer_points=10)
    with lablink.init(project="sdk", settings=settings) as run:
        for step in range(500):
            run.log({"x": step})
    assert sdk.points(run.id, "x") == list(range(500))


def test_bad_project_raises_at_init(sdk: Sdk) -> None:
    with pytest.raises(lablink.InvalidInput, match="project"):
        sdk.init(project="no spaces allowed")


def test_unknown_init_keyword_is_a_type_error(sdk: Sdk) -> None:
    with pytest.raises(TypeError, match="colour"):
        sdk.init(colour="red")


def test_buffer_counts_points_not_log_calls(sdk: Sdk) -> None:
    import dataclasses

    settings = dataclasses.replace(sdk.settings, buffer_points=100)
    with lablink.init(project="sdk", settings=settings) as run:
        run.log({f"k{i}": float(i) for i in range(30)})
        assert run._logged == 30  # one call, thirty points
        for _ in range(1, 50):
            run.log({f"k{i}": float(i) for i in range(30)})
            assert run._logged - run._drained < 100 + 30  # never far past the limit
    assert sdk.points(run.id, "k29") == list(range(50))
