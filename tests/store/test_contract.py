"""One contract for every store backend: the `lab` fixture runs it on SQLite and PostgreSQL."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest

from lablink.core.lab import Lab
from lablink.errors import AlreadyExists, FilterSyntaxError, InvalidInput, NotFound, RunNotActive

USER = "tester@example.org"


def series(steps: list[int], values: list[float]) -> dict[str, list[float] | list[int]]:
    return {"steps": steps, "times": [1000.0 + s for s in steps], "values": values}


def test_create_and_get_run_round_trips_config_params_and_tags(lab: Lab) -> None:
    config = {"lr": 3e-4, "model": {"depth": 50, "act": "gelu"}, "layers": [1, 2]}
    run = lab.tracking.create_run(USER, "vision", "resnet", config, ["baseline", "b"])
    got = lab.tracking.get_run(run.id)
    assert got.config == config
    assert got.params == {"lr": 3e-4, "model.depth": 50, "model.act": "gelu", "layers": [1, 2]}
    assert got.tags == ["b", "baseline"]
    assert got.status == "running" and got.user == USER and got.project == "vision"


def test_duplicate_run_id_is_refused_and_first_run_kept(lab: Lab) -> None:
    lab.tracking.create_run(USER, "p", "first", {"a": 1}, run_id="abcd1234")
    with pytest.raises(AlreadyExists, match="already exists"):
        lab.tracking.create_run(USER, "p", "second", {"a": 2}, run_id="abcd1234")
    assert lab.tracking.get_run("abcd1234").name == "first"


def test_id_prefix_resolves_and_unknown_id_is_not_found(lab: Lab) -> None:
    run = lab.tracking.create_run(USER, "p", "r", run_id="feedbeef0001")
    assert lab.tracking.get_run("feedbeef").id == run.id
    with pytest.raises(NotFound, match="no run"):
        lab.tracking.get_run("00000000")


def test_ingest_is_idempotent_by_sequence_number(lab: Lab) -> None:
    run = lab.tracking.create_run(USER, "p", "r")
    batch = {"loss": series([0, 1, 2], [3.0, 2.0, 1.0])}
    assert lab.tracking.log_batch(run.id, 0, batch)["ingested"] is True
    assert lab.tracking.log_batch(run.id, 0, batch)["ingested"] is False
    history = lab.tracking.history(run.id, "loss")
    assert history.steps == [0, 1, 2] and history.values == [3.0, 2.0, 1.0]
    assert lab.store.metric_summaries(run.id)["loss"].count == 3


def test_non_finite_values_are_stored_bit_for_bit(lab: Lab) -> None:
    run = lab.tracking.create_run(USER, "p", "r")
    values = [math.nan, math.inf, -math.inf, 1.7976931348623157e308, 5e-324, -0.0]
    lab.tracking.log_batch(run.id, 0, {"x": series(list(range(6)), values)})
    got = lab.tracking.history(run.id, "x").values
    assert math.isnan(got[0]) and got[1:3] == [math.inf, -math.inf]
    assert got[3:] == values[3:] and math.copysign(1, got[5]) == -1


def test_a_nan_last_value_reads_back_and_sorts_like_postgres(lab: Lab) -> None:
    diverged = lab.tracking.create_run(USER, "nanp", "diverged")
    lab.tracking.log_batch(diverged.id, 0, {"loss": series([0, 1], [0.9, math.nan])})
    fine = lab.tracking.create_run(USER, "nanp", "fine")
    lab.tracking.log_batch(fine.id, 0, {"loss": series([0, 1], [0.9, 0.4])})
    summary = lab.store.metric_summaries(diverged.id)["loss"]
    assert math.isnan(summary.last_value)  # type: ignore[arg-type]
    assert (summary.min_value, summary.max_value) == (0.9, 0.9)
    lab.tracking.set_summary(diverged.id, {"score": math.nan})  # a summary value too
    assert math.isnan(lab.tracking.get_run(diverged.id).summary["score"])
    # NaN is above every number on both dialects, in filters and in sorting
    above, _ = lab.tracking.search_runs("nanp", "metrics.loss > 0.5")
    assert [r.name for r in above] == ["diverged"]
    ordered, _ = lab.tracking.search_runs("nanp", None, "metrics.loss", False)
    assert [r.name for r in ordered] == ["fine", "diverged"]


def test_out_of_order_batches_read_back_in_step_order(lab: Lab) -> None:
    run = lab.tracking.create_run(USER, "p", "r")
    lab.tracking.log_batch(run.id, 1, {"m": series([10, 11], [10.0, 11.0])})
    lab.tracking.log_batch(run.id, 2, {"m": series([0, 1], [0.0, 1.0])})
    assert lab.tracking.history(run.id, "m").steps == [0, 1, 10, 11]
    summary = lab.store.metric_summaries(run.id)["m"]
    assert summary.last_step == 11 and summary.last_value == 11.0
    assert (summary.min_value, summary.max_value) == (0.0, 11.0)


def test_range_reads_and_downsampling_bound(lab: Lab) -> None:
    run = lab.tracking.create_run(USER, "p", "r")
    n = 20_000
    values = np.sin(np.arange(n) / 100.0).tolist()
    values[12_345] = 50.0
    lab.tracking.log_batch(run.id, 0, {"m": series(list(range(n)), values)})
    part = lab.tracking.history(run.id, "m", step_min=100, step_max=199)
    assert part.steps == list(range(100, 200))
    small = lab.tracking.history(run.id, "m", max_points=500)
    assert len(small) <= 500 and small.total == n and small.downsampled
    assert small.steps[0] == 0 and small.steps[-1] == n - 1 and 50.0 in small.values


def test_points_to_a_finished_run_are_refused_and_nothing_changes(lab: Lab) -> None:
    run = lab.tracking.create_run(USER, "p", "r")
    lab.tracking.log_batch(run.id, 0, {"m": series([0], [1.0])})
    lab.tracking.finish_run(USER, run.id)
    with pytest.raises(RunNotActive, match="finished"):
        lab.tracking.log_batch(run.id, 1, {"m": series([1], [2.0])})
    assert lab.tracking.history(run.id, "m").values == [1.0]


@pytest.mark.parametrize(
    ("metrics", "message"),
    [
        ({"": series([0], [1.0])}, "empty"),
        ({"k" * 300: series([0], [1.0])}, "characters long"),
        ({"m": {"steps": [0, 1], "times": [1.0], "values": [1.0]}}, "differ in length"),
        ({"m": {"steps": [-1], "times": [1.0], "values": [1.0]}}, "from 0 to"),
        ({"m": {"steps": [0], "times": [1.0], "values": ["x"]}}, "number"),
        ({"m": [1, 2, 3]}, "expected an object"),
    ],
)
def test_bad_batches_are_refused_whole(lab: Lab, metrics: dict, message: str) -> None:
    run = lab.tracking.create_run(USER, "p", "r")
    good = {"ok": series([0], [1.0])}
    with pytest.raises(InvalidInput, match=message):
        lab.tracking.log_batch(run.id, 0, {**good, **metrics})
    assert lab.store.metric_summaries(run.id) == {}
    assert lab.tracking.log_batch(run.id, 0, good)["ingested"] is True


def test_filter_language_selects_by_metric_param_tag_and_status(lab: Lab) -> None:
    t = lab.tracking
    a = t.create_run(USER, "vision", "a", {"lr": 1e-4}, ["baseline"])
    b = t.create_run(USER, "vision", "b", {"lr": 1e-2}, ["baseline"])
    c = t.create_run(USER, "vision", "c", {"lr": 1e-4})
    t.set_summary(a.id, {"val/acc": 0.95})
    t.log_batch(b.id, 0, {"val/acc": series([0, 1], [0.5, 0.97])})
    t.set_summary(c.id, {"val/acc": 0.99})
    t.finish_run(USER, a.id)

    def ids(expr: str) -> set[str]:
        return {r.name for r in t.search_runs("vision", expr)[0]}

    assert ids("metrics.val/acc > 0.9 and params.lr <= 1e-3 and tags.baseline") == {"a"}
    assert ids("metrics.val/acc > 0.9") == {"a", "b", "c"}
    assert ids('tags.baseline and status = "finished"') == {"a"}
    assert ids("not tags.baseline") == {"c"}
    assert ids('name in ("a", "c") or params.lr > 0.001') == {"a", "b", "c"}
    assert ids('name ~ "b"') == {"b"}
    with pytest.raises(FilterSyntaxError, match="position"):
        t.search_runs("vision", "metrics.val/acc >")


def test_filter_values_are_bound_not_spliced(lab: Lab) -> None:
    t = lab.tracking
    t.create_run(USER, "p", "safe")
    runs, total = t.search_runs("p", "name = \"x' OR '1'='1\"")
    assert (runs, total) == ([], 0)
    assert t.search_runs("p")[1] == 1


def test_search_sorts_pages_and_counts(lab: Lab) -> None:
    t = lab.tracking
    for i in range(7):
        run = t.create_run(USER, "p", f"r{i}", {"i": i})
        t.set_summary(run.id, {"score": float(i % 3)})
    page, total = t.search_runs("p", None, "params.i", False, 3, 3)
    assert total == 7 and [r.name for r in page] == ["r3", "r4", "r5"]
    top = t.search_runs("p", None, "metrics.score", True, 2, 0)[0]
    assert {r.summary["score"] for r in top} == {2.0}


def test_notes_outcome_tags_and_inputs(lab: Lab) -> None:
    t = lab.tracking
    run = t.create_run(USER, "p", "r", tags=["a"])
    t.tag(USER, run.id, add=["b"], remove=["a"])
    t.note(USER, run.id, "lr too high: diverged", outcome="negative")
    t.add_input(run.id, "dataset", "cifar@v3", "sha256:" + "0" * 64)
    got = t.get_run(run.id)
    assert got.tags == ["b"] and got.outcome == "negative"
    assert got.notes[0].text == "lr too high: diverged" and got.notes[0].author == USER
    assert got.inputs[0]["ref"] == "cifar@v3"


def test_projects_count_runs_and_active_runs(lab: Lab) -> None:
    t = lab.tracking
    r1 = t.create_run(USER, "alpha", "1")
    t.create_run(USER, "alpha", "2")
    t.finish_run(USER, r1.id, "failed", "boom")
    (alpha,) = [p for p in t.list_projects() if p.name == "alpha"]
    assert (alpha.run_count, alpha.active_runs) == (2, 1)
    assert t.get_run(r1.id).status_reason == "boom"


def test_artifacts_are_content_addressed(lab: Lab, tmp_path) -> None:
    t = lab.tracking
    run = t.create_run(USER, "p", "r")
    d1 = t.put_blob(iter([b"weights" * 1000]))
    d2 = t.put_blob(iter([b"weights" * 1000]))
    assert d1 == d2 and d1.startswith("sha256:")
    t.add_artifact(run.id, "model.pt", "model", d1)
    (art,) = t.list_artifacts(run.id)
    assert (art.name, art.kind, art.size) == ("model.pt", "model", 7000)
    with pytest.raises(InvalidInput, match="relative path"):
        t.add_artifact(run.id, "../escape", "model", d1)
    # a page of names under a prefix: how a long job's output chunks are read
    for n in (3, 1, 2, 10):
        t.add_artifact(run.id, f"logs/{n:06d}.jsonl", "log", d1)
    t.add_artifact(run.id, "logs_not/x", "log", d1)
    t.add_artifact(run.id, "logs%/y", "log", d1)

    def names(*args: object, **kw: object) -> list[str]:
        return [a.name for a in t.artifact_page(run.id, "logs/", *args, **kw)]  # type: ignore[arg-type]

    assert names() == [f"logs/{n:06d}.jsonl" for n in (1, 2, 3, 10)]
    assert names("logs/000002.jsonl", 2) == ["logs/000003.jsonl", "logs/000010.jsonl"]
    assert names(None, 2, True) == ["logs/000010.jsonl", "logs/000003.jsonl"]
    assert [a.name for a in t.artifact_page(run.id, "logs%")] == ["logs%/y"]
    with pytest.raises(NotFound, match="no run"):
        t.artifact_page("nope0000000", "logs/")
    # each artifact stored is an event: a run page follows a launched job's output by it
    event = next(e for e in lab.store.events_since(0, None, run.id, 100) if e.kind == "artifact")
    assert event.payload == {"name": "model.pt", "kind": "model", "size": 7000}


def test_events_are_ordered_and_wake_watchers(lab: Lab) -> None:
    t = lab.tracking
    run = t.create_run(USER, "p", "r")
    cursor = lab.store.last_event_id()
    woke = threading.Event()

    def watch() -> None:
        lab.store.wait_for_events(cursor, timeout=20)
        woke.set()

    thread = threading.Thread(target=watch)
    thread.start()
    t.log_batch(run.id, 0, {"m": series([0], [1.0])})
    t.finish_run(USER, run.id)
    thread.join(timeout=25)
    assert woke.is_set()
    kinds = [e.kind for e in lab.store.events_since(cursor, "p", run.id, 100)]
    assert kinds == ["points", "status"]


def test_concurrent_writers_lose_nothing(lab: Lab) -> None:
    run = lab.tracking.create_run(USER, "p", "r")
    errors: list[BaseException] = []

    def writer(offset: int) -> None:
        try:
            for i in range(20):
                seq = offset * 100 + i
                lab.tracking.log_batch(run.id, seq, {"m": series([seq], [float(seq)])})
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert len(lab.tracking.history(run.id, "m")) == 80
    assert lab.store.metric_summaries(run.id)["m"].count == 80


def test_bad_heartbeat_metrics_change_nothing(lab: Lab) -> None:
    run = lab.tracking.create_run(USER, "p", "r")
    before = lab.tracking.get_run(run.id).heartbeat_at
    with pytest.raises(InvalidInput, match="empty"):
        lab.tracking.heartbeat(run.id, {"": 1.0}, seq=0)
    assert lab.tracking.get_run(run.id).heartbeat_at == before
    assert lab.store.metric_summaries(run.id) == {}


def test_the_hot_path_reads_the_run_state_not_the_whole_run(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = lab.tracking.create_run("ana", "hot", run_id="hotpath1")
    assert lab.store.run_status(run.id) == ("running", None, None)

    def whole_run(*args: object) -> object:
        raise AssertionError("the hot path loaded the whole run")

    monkeypatch.setattr(lab.store, "get_run", whole_run)
    now = 1.0e9
    lab.tracking.log_batch("hotp", 0, {"x": {"steps": [0], "times": [now], "values": [1.0]}})
    assert lab.tracking.heartbeat(run.id, {"sys/cpu": 5.0}, 1) == {
        "status": "running",
        "stop": None,
    }
    monkeypatch.undo()
    assert lab.tracking.history(run.id, "x").steps == [0]
    with pytest.raises(NotFound, match="no run"):
        lab.store.run_status("nothere")
